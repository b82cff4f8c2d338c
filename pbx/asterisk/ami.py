"""One supervised AMI connection on panoramisk: login, keep-alive, reconnect with backoff.

panoramisk gives us the framing, the ``Message`` parser and ActionID-correlated futures. Its
``Manager`` lifecycle does not fit a service that must never lose track of calls, so this module
narrows it: each TCP connection gets a fresh ``Manager`` that never reconnects or re-sends by
itself (panoramisk re-sends unanswered actions after a reconnect, which could hang a call up
twice); reconnecting, backoff, keep-alive with a deadline and failing in-flight commands with
:class:`NotConnected` are done here.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from pbx.asterisk.settings import AsteriskSettings
from pbx.port import CommandTimeout, NoSuchCall, NotConnected, PbxError, with_timeout

log = logging.getLogger(__name__)

EventHandler = Callable[[Message], None]


class AuthenticationFailed(PbxError):
    """Asterisk refused the AMI login (wrong user or secret, or the address is not permitted)."""


def header(message: Message, name: str) -> str:
    """One header's value as text; a header repeated by mistake yields its last value."""
    # The message's own table (lower-case key -> (key, value)), as its lookups read it:
    # one dict lookup instead of Mapping.get's chain, for each of an event's many headers.
    entry = message._store.get(name.lower())
    if entry is None:
        return ""
    value = entry[1]
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return str(value)


# Asterisk's words for "that channel is gone" (manager.c): Redirect says the first, the rest the
# second.
_NO_CHANNEL = ("no such channel", "channel does not exist")


def check_response(command: str, response: Message, call_id: str | None = None) -> Message:
    """Return ``response`` when Asterisk accepted the action, else raise the typed error."""
    if response.success:
        return response
    text = header(response, "Message") or "(no message)"
    if call_id is not None and any(words in text.lower() for words in _NO_CHANNEL):
        raise NoSuchCall(call_id, text)
    raise PbxError(f"{command}: Asterisk answered {header(response, 'Response')!r}: {text}")


class _Action(Action):
    """panoramisk's Action, except that a list action refused outright (``Response: Error``,
    e.g. "Permission denied") completes with that answer instead of waiting forever."""

    def add_message(self, message: Message) -> bool | None:
        refused = not self.responses and "event" not in message and not message.success
        if refused and not self.future.done():
            self.responses.append(message)
            self.future.set_result([message] if self.as_list else message)
            return True
        return super().add_message(message)


_EOM = "\r\n\r\n"
# Answers that carry no body (panoramisk keeps a body for "Follows" and "Fail" only).
_PLAIN_RESPONSES = ("Response: Success\r\n", "Response: Error\r\n")
# How long received AMI messages may hold the event loop in one turn.
SLICE_SECONDS = 0.002
_BANNER = "Asterisk Call Manager/"


def event_message(block: str) -> Message:
    """A block of header lines only (an event, or a response with no body; no blank line) as
    panoramisk's ``Message``.

    The same object ``Message.from_line`` builds (a repeated header becomes a list; keys keep
    their case, lookups ignore it; ``content`` is empty), built without its per-header
    ``MutableMapping`` calls: events and plain answers are nearly all that AMI sends."""
    store: dict[str, tuple[str, Any]] = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        lower = key.lower()
        if lower == "result":
            value = unquote(value).strip()  # panoramisk's quoted_keys
        old = store.get(lower)
        if old is None:
            store[lower] = (key, value)
        elif isinstance(old[1], list):
            old[1].append(value)
        else:
            store[lower] = (key, [old[1], value])
    store["content"] = ("content", "")
    message = Message.__new__(Message)
    message._store = store
    message.manager = None
    return message


class _Collector:
    """Takes a corked protocol's writes (see :meth:`_Protocol.corked`)."""

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)


class _Protocol(AMIProtocol):
    """panoramisk's protocol, made safe and cheaper on events.

    Upstream decodes every TCP chunk on its own (a UTF-8 character split across two reads is
    dropped) and lets any exception escape ``data_received``, which makes asyncio close the
    connection. Here the stream is decoded once, split into blocks here, and events are built
    by :func:`event_message` and handed to the manager's ``direct`` handler without
    panoramisk's pattern dispatch; an event the owner does not read (``wanted``) and that
    answers no action is skipped before it is parsed. Responses keep panoramisk's parser.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        # Blocks received and not handled yet: a burst is handled a slice at a time.
        self._blocks: deque[str] = deque()
        self._resume: asyncio.Handle | None = None
        self._paused = False

    def data_received(self, data: bytes) -> None:
        try:
            buffer = self._buffer + self._decoder.decode(data)
            if self.version is None and buffer.startswith(_BANNER) and "\r\n" in buffer:
                banner, _, buffer = buffer.partition("\r\n")  # a line of its own
                self.version = banner[len(_BANNER) :].strip()
            if _EOM not in buffer:
                self._buffer = buffer
                return
            blocks = buffer.split(_EOM)
            self._buffer = blocks.pop()
        except Exception:
            log.exception("AMI: could not split %d received bytes into messages", len(data))
            return
        self._blocks.extend(blocks)
        if self._resume is None:
            self._handle_blocks(SLICE_SECONDS)

    def _handle_blocks(self, budget: float | None) -> None:
        """Handle received blocks in order, for at most ``budget`` seconds (None: all). What
        is left waits for the loop's next turn, with reading paused so the order holds: a
        burst of events must not hold up the ACD's other sockets and timers."""
        self._resume = None
        factory = self.factory
        wanted = factory.wanted if isinstance(factory, _Manager) else None
        deadline = None if budget is None else time.perf_counter() + budget
        blocks = self._blocks
        while blocks:
            self._handle_block(blocks.popleft().strip(), wanted)
            if blocks and deadline is not None and time.perf_counter() > deadline:
                if not self._paused and self.transport is not None:
                    self.transport.pause_reading()
                    self._paused = True
                self._resume = asyncio.get_running_loop().call_soon(
                    self._handle_blocks, SLICE_SECONDS
                )
                return
        if self._paused and budget is not None:
            self._paused = False
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def _handle_block(self, block: str, wanted: frozenset[str] | None) -> None:
        try:
            if block.startswith("Event: "):
                if wanted is not None and "\r\nActionID: " not in block:
                    end = block.find("\r\n")
                    name = block[7:] if end < 0 else block[7:end]
                    if name.lower() not in wanted:
                        return
                message: Message | None = event_message(block)
            elif block.startswith(_PLAIN_RESPONSES):
                message = event_message(block)  # every Setvar and Redirect is answered so
            else:
                message = Message.from_line(block)
        except Exception:
            log.exception("AMI: skipped a block that could not be parsed: %r", block[:200])
            return
        if message is not None:
            self.handle_message(message)

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        """Actions sent inside the block leave in one ``write`` at its end: one system call
        and one TCP segment for a connect's ``Setvar``s and ``Redirect``, not one each (and
        Asterisk reads them in one go)."""
        transport = self.transport
        collector = _Collector()
        self.transport = collector  # panoramisk's ``send`` writes to ``self.transport``
        try:
            yield
        finally:
            self.transport = transport
            if collector.chunks and transport is not None and not transport.is_closing():
                transport.write(b"".join(collector.chunks))

    def connection_lost(self, exc: Exception | None) -> None:
        # What arrived before the loss is handled first, in order.
        if self._resume is not None:
            self._resume.cancel()
        self._handle_blocks(None)
        super().connection_lost(exc)

    def handle_message(self, message: Message) -> None:
        try:
            message_id = message.id
            answered = message_id is not None and (
                message_id in self.responses or message.action_id in self.responses
            )
            if not answered and "event" in message:
                factory = self.factory
                direct = factory.direct if isinstance(factory, _Manager) else None
                if direct is not None and message["event"].lower() != "shutdown":
                    direct(factory, message)
                    return
            if not answered and "event" not in message:
                # An error about a malformed action carries no ActionID (Asterisk 22: "Missing
                # action in request", "line too long"); nobody waits for it.
                log.warning("AMI: answer matches no pending action: %r", message)
                factory = self.factory
                if isinstance(factory, _Manager):
                    factory.unmatched.append(message)
                return
            super().handle_message(message)
        except Exception:
            log.exception("AMI: skipped a message that could not be handled: %r", message)


class _Manager(Manager):
    """A panoramisk ``Manager`` for exactly one TCP connection: no reconnect, no re-send,
    no pinger of its own. Loss is reported to ``on_lost``."""

    def __init__(self, on_lost: Callable[[_Manager, str], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost
        self.unmatched: deque[Message] = deque(maxlen=100)
        # Events that answer no action go straight here (panoramisk's dispatch is skipped).
        self.direct: Callable[[Manager, Message], None] | None = None
        # Lower-case names of the events the owner reads; None: every event is parsed.
        self.wanted: frozenset[str] | None = None

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # the caller of connect() sees the error and owns the retry
        super().connection_made(f)

    def connection_lost(self, exc: BaseException | Message | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self.awaiting_actions.clear()
        if isinstance(exc, Message):
            detail = header(exc, "Shutdown") or "no detail"
            reason = f"Asterisk sent {header(exc, 'Event')} ({detail})"
        else:
            reason = f"connection closed by Asterisk ({exc or 'EOF'})"
        self._on_lost(self, reason)

    def ping(self) -> None:
        """Disabled: the keep-alive lives in :class:`AmiConnection` because it needs a deadline."""


class _Link:
    """One logged-in connection and the commands in flight on it."""

    def __init__(self, manager: _Manager) -> None:
        self.manager = manager
        self.pending: set[asyncio.Future[Any]] = set()
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @property
    def alive(self) -> bool:
        return not self.lost.done()

    def send(self, action: dict[str, Any], as_list: bool) -> tuple[str, asyncio.Future[Any]]:
        if not self.alive:
            raise NotConnected(f"AMI link lost: {self.lost.result()}")
        prepared = _Action(dict(action), as_list=as_list)
        future = self.manager.send_action(prepared, as_list=as_list)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)
        return str(prepared.action_id), future

    def send_all(self, actions: list[dict[str, Any]]) -> list[tuple[str, asyncio.Future[Any]]]:
        """:meth:`send` each action, all in one write to the socket."""
        protocol = self.manager.protocol
        if not isinstance(protocol, _Protocol):
            return [self.send(action, False) for action in actions]
        with protocol.corked():
            return [self.send(action, False) for action in actions]

    def forget(self, action_id: str) -> None:
        protocol = self.manager.protocol
        if protocol is not None:
            protocol.responses.pop(action_id, None)

    def fail(self, reason: str) -> None:
        if self.lost.done():
            return
        self.lost.set_result(reason)
        for future in list(self.pending):
            if not future.done():
                future.set_exception(NotConnected(f"AMI link lost: {reason}"))
        self.pending.clear()

    def drop(self, reason: str) -> None:
        self.manager.close()
        self.fail(reason)


class AmiConnection:
    """Keeps one AMI session alive and reports what happens on it.

    ``on_event`` gets every AMI event that is not part of a command's answer, ``on_up`` runs
    after every successful login (the adapter resyncs there; the link is usable meanwhile),
    ``on_down`` after the loss of a logged-in link (failed attempts only set ``last_error``).
    ``request`` sends one action and waits for its answer.
    """

    def __init__(
        self,
        settings: AsteriskSettings,
        *,
        on_event: EventHandler,
        on_up: Callable[[], Awaitable[None]],
        on_down: Callable[[str], None],
        events: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        # The events on_event reads (case ignored); others are dropped unparsed. None: all.
        self._wanted = (
            None if events is None else frozenset(e.lower() for e in events) | {"shutdown"}
        )
        self._on_up = on_up
        self._on_down = on_down
        self._link: _Link | None = None
        self._manager: _Manager | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self.logins = 0
        # Why the last connection attempt failed (None once logged in).
        self.last_error: Exception | None = None
        # Set when Asterisk refused our login, until a login succeeds (other failures of later
        # attempts do not hide it).
        self.refused: AuthenticationFailed | None = None
        # Answers that matched no pending action (kept for diagnostics, newest last).
        self.unmatched: deque[Message] = deque(maxlen=100)

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.alive and not self._closing

    def start(self) -> None:
        if self._runner is None:
            self._closing = False
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"ami {self.settings.host}:{self.settings.port}"
            )

    async def close(self) -> None:
        """Log off (best effort) and stop reconnecting."""
        self._closing = True
        link = self._link
        if link is not None and link.alive:
            with contextlib.suppress(PbxError):
                await self._request_on(link, {"Action": "Logoff"}, timeout=1.0, name="Logoff")
            link.drop("closed by the adapter")
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    def drop(self, reason: str) -> None:
        """Close the current link as if it had failed (the adapter then reconnects)."""
        if self._link is not None:
            self._link.drop(reason)

    async def request(
        self,
        action: dict[str, Any],
        *,
        timeout_s: float | None = None,
        as_list: bool = False,
        call_id: str | None = None,
    ) -> Any:
        """Send ``action``; return its answer (a list of messages when ``as_list``).

        Raises :class:`NotConnected`, :class:`CommandTimeout`, :class:`NoSuchCall` (when
        ``call_id`` is given and Asterisk says the channel is gone) or :class:`PbxError`.
        """
        link = self._link
        if link is None or not link.alive or self._closing:
            raise NotConnected(
                f"{action.get('Action')}: not connected to Asterisk AMI at "
                f"{self.settings.host}:{self.settings.port}"
            )
        name = str(action.get("Action", "?"))
        answer = await self._request_on(
            link,
            action,
            timeout=timeout_s or self.settings.command_timeout,
            name=name,
            as_list=as_list,
        )
        first = answer[0] if isinstance(answer, list) else answer
        check_response(name, first, call_id)
        return answer

    async def request_all(
        self,
        actions: list[dict[str, Any]],
        *,
        timeout_s: float | None = None,
        call_id: str | None = None,
    ) -> list[Any]:
        """Send ``actions`` back to back and return their answers, in order.

        Every action is written before the first ``await`` (AMI runs them in the order sent),
        so a caller that starts this coroutine as a task has its bytes on the socket once the
        task has run one step; one deadline covers all the answers. Raises like
        :meth:`request`, for the first action (in order) that failed.
        """
        link = self._link
        if not actions:
            return []
        name = str(actions[-1].get("Action", "?"))
        if link is None or not link.alive or self._closing:
            raise NotConnected(
                f"{name}: not connected to Asterisk AMI at "
                f"{self.settings.host}:{self.settings.port}"
            )
        sent = link.send_all(actions)
        try:
            answers = await with_timeout(
                name,
                timeout_s or self.settings.command_timeout,
                asyncio.gather(*(future for _, future in sent)),
            )
        except CommandTimeout:
            for action_id, _ in sent:
                link.forget(action_id)  # late answers must not linger in panoramisk's table
            raise
        for action, answer in zip(actions, answers, strict=True):
            check_response(str(action.get("Action", "?")), answer, call_id)
        return list(answers)

    async def _request_on(
        self,
        link: _Link,
        action: dict[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109 - the deadline is this command's, not the caller's
        name: str,
        as_list: bool = False,
    ) -> Any:
        action_id, future = link.send(action, as_list)
        try:
            return await with_timeout(name, timeout, future)
        except CommandTimeout:
            link.forget(action_id)  # a late answer must not linger in panoramisk's table
            raise

    async def _run(self) -> None:
        delay = self.settings.reconnect_initial
        where = f"{self.settings.host}:{self.settings.port}"
        while not self._closing:
            try:
                link = await self._open()
            except AuthenticationFailed as exc:
                log.error("AMI login to %s refused: %s", where, exc)
                self.last_error = self.refused = exc
            except (OSError, PbxError) as exc:
                log.warning("AMI connect to %s failed: %s", where, exc)
                self.last_error = exc
            except Exception as exc:
                # A bug must not end reconnecting for good: log it and try again later.
                log.exception("AMI connect to %s failed unexpectedly", where)
                self.last_error = exc
            else:
                self.last_error = self.refused = None
                delay = self.settings.reconnect_initial
                reason = await self._serve(link)
                if self._closing:
                    return
                log.warning("AMI link to %s lost: %s", where, reason)
                self._on_down(reason)
            # Jitter spreads reconnects of several ACD nodes after an Asterisk restart.
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max)

    async def _open(self) -> _Link:
        loop = asyncio.get_running_loop()
        holder: list[_Link] = []
        early: list[str] = []

        def lost(manager: _Manager, reason: str) -> None:
            if holder:
                holder[0].fail(reason)
            else:
                early.append(reason)

        manager = _Manager(
            lost,
            host=self.settings.host,
            port=self.settings.port,
            loop=loop,
            events=self.settings.events,
            protocol_factory=_Protocol,
            ping_delay=3600,
            reconnect_timeout=3600,
        )
        manager.unmatched = self.unmatched
        manager.direct = self._dispatch
        manager.wanted = self._wanted
        self._manager = manager
        await with_timeout("connect", self.settings.connect_timeout, manager.connect())
        link = _Link(manager)
        holder.append(link)
        if early:
            link.fail(early[0])
        try:
            answer = await self._request_on(
                link,
                {
                    "Action": "Login",
                    "Username": self.settings.username,
                    "Secret": self.settings.secret,
                    "Events": self.settings.events,
                },
                timeout=self.settings.connect_timeout,
                name="Login",
            )
        except BaseException:  # no answer, or cancelled by close(): do not leak the socket
            link.drop("login not answered")
            raise
        if not answer.success:
            link.drop("login refused")
            text = header(answer, "Message")
            raise AuthenticationFailed(f"Login as {self.settings.username!r}: {text}")
        self.logins += 1
        return link

    async def _serve(self, link: _Link) -> str:
        self._link = link
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(link))
        try:
            try:
                await self._on_up()
            except PbxError as exc:
                # Without a resync our picture of the calls is unknown: start over.
                link.drop(f"resync failed: {exc}")
            except Exception as exc:
                log.exception("AMI: resync after login failed unexpectedly")
                link.drop(f"resync failed: {exc!r}")
            return await link.lost
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            if self._link is link:
                self._link = None

    async def _keepalive(self, link: _Link) -> None:
        while link.alive:
            await asyncio.sleep(self.settings.ping_interval)
            try:
                await self._request_on(
                    link, {"Action": "Ping"}, timeout=self.settings.ping_timeout, name="Ping"
                )
            except CommandTimeout:
                link.drop(f"no answer to Ping within {self.settings.ping_timeout:g} s")
                return
            except NotConnected:
                return

    def _dispatch(self, manager: Manager, message: Message) -> None:
        if manager is not self._manager or self._closing:
            return  # a stale link's last words
        try:
            self._on_event(message)
        except Exception:
            log.exception("AMI: event handler failed on %r", message)

    async def ping(self, timeout_s: float | None = None) -> float:
        """Round trip of an AMI Ping, in seconds."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.request({"Action": "Ping"}, timeout_s=timeout_s)
        return loop.time() - started
