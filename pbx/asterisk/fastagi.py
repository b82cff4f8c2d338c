"""FastAGI server: the port's IVR media session for Asterisk callers.

Asterisk dials ``agi://host:port/<script>`` (``AGI()`` in the dialplan); the script path picks
a handler from the registry and the handler drives an :class:`AgiSession`.

Our own small server, not ``panoramisk.fast_agi``: that one busy-loops when a peer closes
before the end of the environment block, fails with ``ValueError`` when the socket closes
mid-command, reads the asynchronous ``HANGUP`` line as the answer to the running command (every
later answer is then one behind), reads only one line of a multi-line ``520`` usage answer, and
turns plain functions into ``asyncio.coroutine`` (gone in 3.11). Reading AGI answers in step is
the whole job here, so it is done in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pbx.port import (
    DTMF_DIGITS,
    CallerHungUp,
    CollectEnd,
    CollectResult,
    CollectSpec,
    InvalidArgument,
    PbxError,
    check_variable_name,
)

log = logging.getLogger(__name__)

AgiHandler = Callable[["AgiSession"], Awaitable[None]]

# Escape digits for prompts played before collecting: any DTMF digit interrupts and counts.
_ALL_DIGITS = "0123456789*#ABCD"
_REPLY = re.compile(r"^(\d{3})(?:[ -](.*))?$")
_RESULT = re.compile(r"^result=(?P<result>\S*)(?:\s+\((?P<data>.*)\))?(?P<rest>.*)$")
_PROMPT = re.compile(r"^[A-Za-z0-9_./-]+$")
_MAX_ENV_BYTES = 32 * 1024


class AgiProtocolError(PbxError):
    """Asterisk sent something that is not an AGI answer."""


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One AGI answer: ``200 result=1 (value) endpos=0`` -> code 200, result "1", data
    "value", extras {"endpos": "0"}."""

    code: int
    result: str = ""
    data: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    line: str = ""

    @property
    def number(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            raise AgiProtocolError(f"expected a numeric result in {self.line!r}") from None


def parse_reply(line: str) -> AgiReply:
    match = _REPLY.match(line)
    if match is None:
        raise AgiProtocolError(f"unreadable AGI answer {line!r}")
    code, rest = int(match.group(1)), match.group(2) or ""
    if code != 200:
        return AgiReply(code, line=line)
    result = _RESULT.match(rest)
    if result is None:
        raise AgiProtocolError(f"AGI answer 200 without result=: {line!r}")
    extras = dict(pair.split("=", 1) for pair in result.group("rest").split() if "=" in pair)
    return AgiReply(code, result.group("result"), result.group("data"), extras, line)


def quote(value: str) -> str:
    """An AGI argument in double quotes (Asterisk's parser honours backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_prompt(prompt: object) -> str:
    if not isinstance(prompt, str) or not _PROMPT.match(prompt):
        raise InvalidArgument("prompt", prompt, "a sound name like welcome or digits/1")
    return prompt


def _check_digits(digits: object) -> str:
    if not isinstance(digits, str) or any(d not in DTMF_DIGITS for d in digits):
        raise InvalidArgument("interrupt_digits", digits, "DTMF digits from 0-9 * # A-D")
    return digits


def _unknown(value: str) -> str:
    return "" if value in ("unknown", "<unknown>") else value


class AgiSession:
    """One caller in the IVR, over one FastAGI connection (implements ``MediaSession``)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: dict[str, str]
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.env = env
        self._hung_up = False
        self._lock = asyncio.Lock()  # one command at a time: answers come back in order

    # What Asterisk told us about the call --------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def caller_num(self) -> str:
        return _unknown(self.env.get("agi_callerid", ""))

    @property
    def caller_name(self) -> str:
        return _unknown(self.env.get("agi_calleridname", ""))

    @property
    def called_num(self) -> str:
        return _unknown(self.env.get("agi_dnid", "")) or self.env.get("agi_extension", "")

    @property
    def script(self) -> str:
        return script_of(self.env)

    @property
    def args(self) -> list[str]:
        """``AGI(agi://host/script,a,b)`` -> ``["a", "b"]``."""
        out = []
        for n in range(1, 100):
            value = self.env.get(f"agi_arg_{n}")
            if value is None:
                break
            out.append(value)
        return out

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    # Wire ---------------------------------------------------------------------------------

    async def command(self, text: str) -> AgiReply:
        """Send one AGI command and return its ``200`` answer.

        Raises :class:`CallerHungUp` when the channel hung up (``HANGUP`` line, ``511``, or the
        socket closed) and :class:`PbxError` for any other refusal.
        """
        if "\n" in text or "\r" in text:
            raise InvalidArgument("command", text, "one line")
        async with self._lock:
            if self._hung_up:
                raise CallerHungUp(self.call_id)
            try:
                self._writer.write(text.encode() + b"\n")
                await self._writer.drain()
            except ConnectionError:
                self._hung_up = True
                raise CallerHungUp(self.call_id) from None
            reply = await self._read_reply(text)
            if self._hung_up or reply.code == 511:
                self._hung_up = True
                raise CallerHungUp(self.call_id)
            if reply.code != 200:
                raise PbxError(f"AGI {text.split(' ', 1)[0]}: Asterisk answered {reply.line!r}")
            return reply

    async def _readline(self) -> str:
        try:
            raw = await self._reader.readline()
        except (ConnectionError, ValueError):  # ValueError: line over the reader's limit
            raw = b""
        if not raw:
            self._hung_up = True  # Asterisk closed the socket: the channel is gone
            raise CallerHungUp(self.call_id)
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def _read_reply(self, command: str) -> AgiReply:
        while True:
            line = await self._readline()
            if line == "HANGUP":
                # Sent on its own whenever the channel hangs up; the answer still follows.
                self._hung_up = True
                continue
            if line.startswith("100"):
                continue  # "100 result=0 Trying..." precedes the real answer
            if line.startswith("520-"):
                usage = [line]
                while not line.startswith("520 "):
                    line = await self._readline()
                    usage.append(line)
                raise PbxError(f"AGI {command!r}: usage error: " + " / ".join(usage))
            return parse_reply(line)

    # MediaSession -------------------------------------------------------------------------

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.number != 0:
            raise PbxError(f"AGI ANSWER failed: {reply.line!r}")

    async def _stream(self, prompt: str, escape: str) -> str:
        reply = await self.command(f"STREAM FILE {prompt} {quote(escape)}")
        number = reply.number
        if number < 0:
            # -1 without a HANGUP notice: the file could not be opened (Asterisk logs which).
            raise PbxError(f"AGI STREAM FILE {prompt!r}: the prompt could not be played")
        return chr(number) if number > 0 else ""

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        names = [_check_prompt(p) for p in prompts]
        escape = _check_digits(interrupt_digits)
        for name in names:
            digit = await self._stream(name, escape)
            if digit:
                return digit
        return ""

    async def wait_for_digit(self, seconds: float) -> str:
        """One DTMF digit, or ``""`` after ``seconds`` of silence."""
        reply = await self.command(f"WAIT FOR DIGIT {max(1, round(seconds * 1000))}")
        number = reply.number
        if number < 0:
            raise PbxError(f"AGI WAIT FOR DIGIT failed: {reply.line!r}")
        return chr(number) if number > 0 else ""

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        """STREAM FILE with every digit as escape, then WAIT FOR DIGIT per digit: unlike
        GET DATA this honours min/max digits, any terminator and the inter-digit timeout."""
        if not isinstance(spec, CollectSpec):
            raise InvalidArgument("spec", spec, "a CollectSpec")
        digits = ""
        digit = await self.play(prompts, interrupt_digits=_ALL_DIGITS) if prompts else ""
        while True:
            if not digit:
                digit = await self.wait_for_digit(spec.timeout)
                if not digit:
                    return CollectResult(digits, CollectEnd.TIMEOUT)
            if spec.terminator and digit == spec.terminator:
                return CollectResult(digits, CollectEnd.TERMINATOR)
            digits += digit
            if len(digits) >= spec.max_digits:
                return CollectResult(digits, CollectEnd.MAX_DIGITS)
            digit = ""

    async def get_variable(self, name: str) -> str | None:
        check_variable_name(name)
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        check_variable_name(name)
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise InvalidArgument("value", value, "text without CR or LF")
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def hangup(self) -> None:
        await self.command("HANGUP")
        self._hung_up = True


def script_of(env: dict[str, str]) -> str:
    """The script path of ``agi://host:port/ivr/main?x`` -> ``ivr/main``."""
    script = env.get("agi_network_script", "")
    return script.split("?", 1)[0].strip("/")


class FastAgiServer:
    """Accepts FastAGI connections and runs the handler registered for each script path.

    ``route("ivr/main", h)`` serves exactly that path; ``route("ivr/", h)`` every path below
    ``ivr/`` (the longest registered prefix wins). ``port=0`` binds a free port.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 4573, *, env_timeout: float = 10.0
    ) -> None:
        self.host = host
        self._port = port
        self.env_timeout = env_timeout
        self._routes: dict[str, AgiHandler] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions_served = 0

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    def route(self, path: str, handler: AgiHandler) -> None:
        if not isinstance(path, str) or not path.strip("/"):
            raise InvalidArgument("path", path, "a script path such as ivr/main or ivr/")
        if not asyncio.iscoroutinefunction(handler):
            raise InvalidArgument("handler", handler, "an async function taking an AgiSession")
        key = path.lstrip("/")
        if key in self._routes:
            raise InvalidArgument("path", path, "a path not registered yet")
        self._routes[key] = handler

    def handler_for(self, script: str) -> AgiHandler | None:
        if script in self._routes:
            return self._routes[script]
        prefixes = [p for p in self._routes if p.endswith("/") and script.startswith(p)]
        return self._routes[max(prefixes, key=len)] if prefixes else None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        log.info("FastAGI listening on %s:%s", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            env = await asyncio.wait_for(read_env(reader), self.env_timeout)
        except (TimeoutError, AgiProtocolError, ConnectionError) as exc:
            log.warning("FastAGI from %s: no usable environment (%s)", peer, exc or "timeout")
            return
        session = AgiSession(reader, writer, env)
        handler = self.handler_for(session.script)
        if handler is None:
            log.error("FastAGI: no handler for script %r (from %s)", session.script, peer)
            with contextlib.suppress(PbxError):
                await session.set_variable("CC_AGI_ERROR", f"no handler for {session.script}")
            return
        self.sessions_served += 1
        try:
            await handler(session)
        except CallerHungUp:
            log.info("FastAGI %s: caller on %s hung up", session.script, session.call_id)
        except PbxError as exc:
            log.warning("FastAGI %s on %s: %s", session.script, session.call_id, exc)
        except Exception:
            log.exception("FastAGI handler for %r failed on %s", session.script, session.call_id)


async def read_env(reader: asyncio.StreamReader) -> dict[str, str]:
    """The ``agi_*: value`` lines Asterisk sends first, up to the blank line."""
    env: dict[str, str] = {}
    size = 0
    while True:
        try:
            raw = await reader.readline()
        except ValueError:
            raise AgiProtocolError("environment line over the size limit") from None
        if not raw:
            raise AgiProtocolError("connection closed before the end of the environment")
        size += len(raw)
        if size > _MAX_ENV_BYTES:
            raise AgiProtocolError(f"environment over {_MAX_ENV_BYTES} bytes")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            return env
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            log.warning("FastAGI: skipped environment line %r", line)
            continue
        env[key] = value
