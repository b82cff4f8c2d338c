"""Outbound event socket server: the port's IVR media session for FreeSWITCH callers.

The dialplan hands a caller over with ``socket <host>:<port> async full``; FreeSWITCH connects
here, and a handler drives an :class:`OutboundSession` (a :class:`pbx.port.MediaSession`).

Why an outbound socket rather than the inbound link (``uuid_broadcast`` and
``play_and_get_digits`` on a parked call): the socket belongs to one call, so its events
(``myevents``) come to the session that needs them and nowhere else; applications queue in order
on the channel (``event-lock``) and each one's end is named by our ``Event-UUID``; a hang-up ends
the session's socket, so an IVR can never act on a stranger's call; and an ACD restart does not
stop the IVRs running (each socket is independent of the inbound link). The cost is one TCP
connection per caller in the IVR, which FreeSWITCH handles routinely.

asyncio is enough here (no greenswitch): the protocol is the same framing, and each session is
strictly one command at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from pbx.freeswitch.protocol import (
    EVENT_TYPES,
    REPLY_TYPES,
    EslEvent,
    EslReply,
    MalformedFrame,
    content_length,
    parse_event,
    parse_headers,
)
from pbx.freeswitch.variables import VariableNames
from pbx.port import (
    DTMF_DIGITS,
    CallerHungUp,
    CollectEnd,
    CollectResult,
    CollectSpec,
    CommandTimeout,
    HangupCause,
    InvalidArgument,
    PbxError,
    check_dialplan_target,
    check_timeout,
    check_variable_name,
)

log = logging.getLogger(__name__)

OutboundHandler = Callable[["OutboundSession"], Awaitable[None]]

_SOUND = re.compile(r"^[A-Za-z0-9_./-]+$")
_STREAM = re.compile(r"^[a-z_]+://[^\s!]+$")
_UNSET = ("", "_undef_")
# The channel variable play_and_get_digits stores digits in.
DIGITS_VARIABLE = "pagd_digits"
# Set by the shipped dialplan before `socket`: the IVR script to run and the dialled number.
IVR_SCRIPT_VARIABLE = "cc_ivr_script"
IVR_ARG_VARIABLE = "cc_ivr_arg"
ENTRY_NUMBER_VARIABLE = "cc_entry_number"
SCRIPT_PREFIX = "ivr/"
# The connect reply carries every channel variable as a header.
_MAX_HEADER_BYTES = 1024 * 1024


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a reply or application future's error as seen: at a hang-up every pending one
    fails with CallerHungUp, often after its awaiter has already left with the same error
    (or timed out), and asyncio would log each as "never retrieved"."""
    if not future.cancelled():
        future.exception()


class OutboundProtocolError(PbxError):
    """FreeSWITCH sent something on the outbound socket that is not ESL."""


def prompt_path(prompt: object, extension: str) -> str:
    """A sound name (``welcome``, ``digits/1``) as a file FreeSWITCH resolves under its
    ``sound_prefix``; ``tone_stream://...`` and other ``scheme://`` sources pass unchanged."""
    if isinstance(prompt, str) and _STREAM.match(prompt):
        return prompt
    if not isinstance(prompt, str) or not _SOUND.match(prompt) or ".." in prompt:
        raise InvalidArgument("prompt", prompt, "a sound name like welcome or digits/1")
    last = prompt.rsplit("/", 1)[-1]
    return prompt if "." in last or not extension else f"{prompt}.{extension}"


def file_string(prompts: Sequence[str], extension: str) -> str:
    paths = [prompt_path(p, extension) for p in prompts]
    if not paths:
        return "silence_stream://1"
    return paths[0] if len(paths) == 1 else "file_string://" + "!".join(paths)


def _check_digits(digits: object) -> str:
    if not isinstance(digits, str) or any(d not in DTMF_DIGITS for d in digits):
        raise InvalidArgument("interrupt_digits", digits, "DTMF digits from 0-9 * # A-D")
    return digits


async def read_frame(reader: asyncio.StreamReader) -> tuple[Mapping[str, str], str]:
    """One frame: its headers (raw) and body. ``IncompleteReadError`` at end of stream."""
    try:
        head = await reader.readuntil(b"\n\n")
    except asyncio.LimitOverrunError:
        raise OutboundProtocolError("a header block longer than the read limit") from None
    while head == b"\n\n" or head.strip() == b"":
        head = await reader.readuntil(b"\n\n")
    try:
        headers = parse_headers(head.decode("utf-8", "replace"), decode=False)
        length = content_length(headers)
    except MalformedFrame as exc:
        raise OutboundProtocolError(str(exc)) from None
    body = (await reader.readexactly(length)).decode("utf-8", "replace") if length else ""
    return headers, body


class OutboundSession:
    """One caller on one outbound socket (implements :class:`pbx.port.MediaSession`)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = 10.0,
        prompt_extension: str = "wav",
        names: VariableNames | None = None,
    ) -> None:
        self._reader = reader
        # The IVR speaks the port's names (CC_INTERACTION_ID); the channel gets the dialplan's.
        self.names = names or VariableNames()
        self._writer = writer
        self.command_timeout = check_timeout(command_timeout, "command_timeout")
        self.prompt_extension = prompt_extension
        self.channel_data: dict[str, str] = {}
        self._replies: list[asyncio.Future[EslReply]] = []
        self._executing: dict[str, asyncio.Future[EslEvent]] = {}
        self._digits: list[str] = []
        self._send_lock = asyncio.Lock()
        self._reader_task: asyncio.Task[None] | None = None
        self.hangup_cause: HangupCause | None = None
        self.disconnected = False
        self._hangup_sent = False
        self._lingering = asyncio.Event()
        self.transferred = False
        self.events: list[EslEvent] = []

    # MediaSession identity -------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.channel_data.get("Unique-ID", "")

    @property
    def caller_num(self) -> str:
        return self.channel_data.get("Caller-Caller-ID-Number", "")

    @property
    def called_num(self) -> str:
        return self.channel_data.get("Caller-Destination-Number", "")

    @property
    def script(self) -> str:
        """The IVR the dialplan asked for, as a FastAGI script path: ``ivr/<name>`` from the
        ``cc_ivr_script`` channel variable, ``inbound`` when it is not set."""
        name = self.channel_variable(IVR_SCRIPT_VARIABLE)
        return f"{SCRIPT_PREFIX}{name}" if name else "inbound"

    @property
    def args(self) -> list[str]:
        """What FastAGI passes as arguments: ``cc_ivr_arg`` when the dialplan set one (the
        survey passes the interaction id), else the number the caller dialled, as the dialplan
        kept it in ``cc_entry_number`` (the destination number changes on every transfer)."""
        arg = self.channel_variable(IVR_ARG_VARIABLE) or self.channel_variable(
            ENTRY_NUMBER_VARIABLE
        )
        return [arg] if arg else []

    def channel_variable(self, name: str) -> str:
        """A channel variable as the ``connect`` reply carried it (names are case-blind)."""
        key = f"variable_{name}".lower()
        return next((v for k, v in self.channel_data.items() if k.lower() == key), "")

    @property
    def still_here(self) -> bool:
        """The caller is on the line and nobody moved or ended the call."""
        return not (self.hung_up or self.transferred or self._hangup_sent)

    @property
    def hung_up(self) -> bool:
        return self.hangup_cause is not None or self.disconnected

    # Session life ----------------------------------------------------------------------------

    async def open(self) -> None:
        """``connect`` (the channel's data comes back), ``linger`` (events after a hang-up
        still arrive), ``myevents`` (this call's events only) and ``resume`` (when we close the
        socket the dialplan carries on, instead of FreeSWITCH hanging the call up)."""
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())
        reply = await self._command("connect")
        self.channel_data = {k: _decode(v) for k, v in reply.headers.items()}
        if not self.call_id:
            raise OutboundProtocolError("connect answered without the channel's Unique-ID")
        await self._command("linger")
        await self._command("myevents")
        await self._command("resume")

    async def close(self) -> None:
        """End the session. A live call goes on in the dialplan after the ``socket`` app; after a
        hang-up, ``exit`` tells the lingering FreeSWITCH we are done."""
        said_exit = False
        if (self.hung_up or self._hangup_sent) and not self.disconnected:
            # After a hang-up FreeSWITCH lingers: the disconnect notice first, then our exit.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lingering.wait(), self.command_timeout)
            with contextlib.suppress(PbxError, OSError):
                await self._command("exit", timeout_s=1.0)
                said_exit = True
        if self._reader_task is not None:
            if said_exit and not self._writer.is_closing():
                # FreeSWITCH closes after its goodbye; wait a moment for that, then close. A
                # live call is not waited for: closing is what lets its dialplan carry on.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._reader_task), 0.5)
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()
        self._fail_all(self._gone())

    # Reading ---------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                headers, body = await read_frame(self._reader)
                self._dispatch(headers, body)
        except (asyncio.IncompleteReadError, ConnectionError, OutboundProtocolError) as exc:
            if isinstance(exc, OutboundProtocolError):
                log.warning("outbound socket %s: %s", self.call_id or "?", exc)
            self.disconnected = True
            self._fail_all(self._gone())

    def _dispatch(self, headers: Mapping[str, str], body: str) -> None:
        ctype = headers.get("Content-Type", "")
        if ctype in REPLY_TYPES:
            if not self._replies:
                log.warning("outbound socket: a reply matched no command: %r", headers)
                return
            future = self._replies.pop(0)
            if not future.done():
                future.set_result(EslReply(headers, body))
        elif ctype in EVENT_TYPES:
            try:
                self._event(parse_event(ctype, body))
            except MalformedFrame as exc:
                log.warning("outbound socket: ignored malformed event (%s)", exc)
        elif ctype == "text/disconnect-notice":
            if headers.get("Content-Disposition") == "linger":
                # The caller is gone; events keep coming until we say exit.
                self.hangup_cause = self.hangup_cause or HangupCause.from_freeswitch("NONE")
                self._lingering.set()
            self._fail_executing(self._gone())

    def _event(self, event: EslEvent) -> None:
        self.events.append(event)
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            future = self._executing.pop(event.get("Application-UUID"), None)
            if future is not None and not future.done():
                future.set_result(event)
        elif name == "DTMF":
            digit = event.get("DTMF-Digit")
            if digit:
                self._digits.append(digit)
        elif name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            if self.hangup_cause is None or self.hangup_cause.code == 0:
                self.hangup_cause = HangupCause.from_freeswitch(event.get("Hangup-Cause"))
            self._fail_executing(self._gone())

    def _gone(self) -> CallerHungUp:
        return CallerHungUp(self.call_id or "?", self.hangup_cause)

    def _fail_executing(self, error: Exception) -> None:
        executing, self._executing = self._executing, {}
        for future in executing.values():
            if not future.done():
                future.set_exception(error)

    def _fail_all(self, error: Exception) -> None:
        replies, self._replies = self._replies, []
        for future in replies:
            if not future.done():
                future.set_exception(error)
        self._fail_executing(error)

    # Commands --------------------------------------------------------------------------------

    async def _command(self, text: str, *, timeout_s: float | None = None) -> EslReply:
        if self.disconnected or self._writer.is_closing():
            raise self._gone()
        future: asyncio.Future[EslReply] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        async with self._send_lock:  # replies pair with commands by order
            self._replies.append(future)
            self._writer.write((text + "\n\n").encode())
            try:
                await self._writer.drain()
            except ConnectionError:
                raise self._gone() from None
        seconds = self.command_timeout if timeout_s is None else timeout_s
        try:
            return await asyncio.wait_for(asyncio.shield(future), seconds)
        except TimeoutError:
            raise CommandTimeout(text.split("\n", 1)[0], seconds) from None

    async def _execute(self, app: str, arg: str = "", *, wait: bool = True) -> EslEvent | None:
        """Run a dialplan application on the channel; with ``wait``, until it completes."""
        if self.hung_up:
            raise self._gone()
        if "\n" in arg or "\r" in arg:
            raise InvalidArgument(app, arg, "an argument without line breaks")
        event_uuid = str(uuid.uuid4())
        future: asyncio.Future[EslEvent] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        if wait:
            self._executing[event_uuid] = future
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg:
            lines.append(f"execute-app-arg: {arg}")
        lines += ["event-lock: true", f"Event-UUID: {event_uuid}"]
        try:
            reply = await self._command("\n".join(lines))
            if not reply.text.startswith("+OK"):
                raise PbxError(f"{app}: FreeSWITCH answered {reply.text!r}")
            if not wait:
                return None
            # An application runs as long as it runs (a prompt, a digit wait); a hang-up or the
            # socket closing ends the wait.
            return await future
        finally:
            self._executing.pop(event_uuid, None)

    # MediaSession ----------------------------------------------------------------------------

    async def answer(self) -> None:
        await self._execute("answer")

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        digits = _check_digits(interrupt_digits)
        source = file_string(prompts, self.prompt_extension)
        self._digits.clear()
        await self._execute("set", f"playback_terminators={digits or 'none'}", wait=False)
        done = await self._execute("playback", source)
        if not digits:
            return ""
        used = done.get("variable_playback_terminator_used") if done is not None else ""
        if used and used in digits:
            return used
        return next((d for d in self._digits if d in digits), "")

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        source = file_string(prompts, self.prompt_extension)
        self._digits.clear()
        timeout_ms = int(spec.timeout * 1000)
        args = " ".join(
            [
                str(spec.min_digits),
                str(spec.max_digits),
                "1",
                str(timeout_ms),
                spec.terminator or "none",
                source,
                "silence_stream://250",
                DIGITS_VARIABLE,
                r"^[0-9*#A-D]*$",
                str(timeout_ms),
            ]
        )
        # A value left from an earlier collect must not read as this one's digits.
        await self._execute("unset", DIGITS_VARIABLE, wait=False)
        done = await self._execute("play_and_get_digits", args)
        assert done is not None
        key = f"variable_{DIGITS_VARIABLE}"
        if key in done.headers:
            digits = done.headers[key]
        else:  # a FreeSWITCH that leaves variables out of events: ask
            digits = await self.get_variable(DIGITS_VARIABLE) or ""
        if spec.terminator:
            digits = digits.replace(spec.terminator, "")
        if len(digits) >= spec.max_digits:
            ended = CollectEnd.MAX_DIGITS
        elif done.get("variable_read_terminator_used") or (
            spec.terminator and spec.terminator in self._digits
        ):
            ended = CollectEnd.TERMINATOR
        else:
            ended = CollectEnd.TIMEOUT
        return CollectResult(digits, ended)

    async def get_variable(self, name: str) -> str | None:
        check_variable_name(name)
        if self.hung_up:
            raise self._gone()
        name = self.names.to_freeswitch(name)
        reply = await self._command(f"getvar {name}")
        text = reply.text
        if text.startswith("-ERR"):
            raise PbxError(f"getvar {name}: FreeSWITCH answered {text}")
        return None if text in _UNSET else text

    async def set_variable(self, name: str, value: str) -> None:
        check_variable_name(name)
        if not isinstance(value, str):
            raise InvalidArgument(name, value, "a string")
        await self._execute("set", f"{self.names.to_freeswitch(name)}={value}")

    async def transfer(self, exten: str, context: str, dialplan: str = "XML") -> None:
        """Send the call on in the dialplan (FreeSWITCH only, not part of ``MediaSession``),
        e.g. to hold once the IVR is done."""
        check_dialplan_target(context, exten, 1)
        if any(c.isspace() for c in dialplan) or not dialplan:
            raise InvalidArgument("dialplan", dialplan, "a name such as XML")
        if self.hung_up:
            raise self._gone()
        reply = await self._command(
            f"api uuid_transfer {self.call_id} {exten} {dialplan} {context}"
        )
        if not reply.text.startswith("+OK"):
            raise PbxError(f"uuid_transfer: FreeSWITCH answered {reply.text.strip()!r}")
        self.transferred = True

    async def hangup(self) -> None:
        if self.hung_up:
            return
        self._hangup_sent = True
        reply = await self._command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
        if not reply.text.startswith("+OK"):
            raise PbxError(f"hangup: FreeSWITCH answered {reply.text!r}")


def _decode(value: str) -> str:
    return unquote(value)


class OutboundServer:
    """Accepts FreeSWITCH's outbound socket connections and runs ``handler`` for each call."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: OutboundHandler,
        *,
        command_timeout: float = 10.0,
        prompt_extension: str = "wav",
        then_transfer_to: tuple[str, str] | None = None,
    ) -> None:
        """``then_transfer_to`` = (extension, context): where a call goes when its handler
        returns with the caller still there, for a dialplan that expects the IVR to move the call
        on (the shipped one: ``("cc_hold", "ccplane")``); ``None`` leaves it to the dialplan."""
        if then_transfer_to is not None:
            check_dialplan_target(then_transfer_to[1], then_transfer_to[0], 1)
        self.then_transfer_to = then_transfer_to
        self.host = host
        self.port = port
        self.handler = handler
        self.command_timeout = check_timeout(command_timeout, "command_timeout")
        self.prompt_extension = prompt_extension
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.sessions_served = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=_MAX_HEADER_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self, grace_s: float = 2.0) -> None:
        """Stop accepting; sessions get ``grace_s`` seconds to end on their own (a session
        saying goodbye to FreeSWITCH), then are cancelled."""
        if self._server is not None:
            self._server.close()
        sessions = set(self._sessions)
        if sessions:
            _, running = await asyncio.wait(sessions, timeout=grace_s)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        session = OutboundSession(
            reader,
            writer,
            command_timeout=self.command_timeout,
            prompt_extension=self.prompt_extension,
        )
        try:
            await session.open()
            await self.handler(session)
            if self.then_transfer_to is not None and session.still_here:
                await session.transfer(*self.then_transfer_to)
        except CallerHungUp:
            log.info("outbound socket %s: caller hung up", session.call_id or "?")
        except PbxError as exc:
            log.warning("outbound socket %s: %s", session.call_id or "?", exc)
        except Exception:
            # One caller's failing IVR must not take the server down.
            log.exception("outbound socket %s: IVR handler failed", session.call_id or "?")
        finally:
            self.sessions_served += 1
            await session.close()
