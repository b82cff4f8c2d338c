"""AMI over TCP: sessions, login, event delivery with a bounded output buffer, dispatch."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.ami.codec import Decoder, Message, encode
from pbx.sim.ami.events import Event
from pbx.sim.ami.filters import EventFilter, FilterSet

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EVENT_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)

Handler = Callable[["Session", Message], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Account:
    """A manager user. Built from a username and secret alone it reads every class, unfiltered;
    from a manager.conf file (``manager_conf.load_accounts``) it has that user's ``read`` and
    ``eventfilter`` lines."""

    username: str
    secret: str
    read: frozenset[str] = EVENT_CLASSES
    filters: tuple[EventFilter, ...] = ()


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)
    # Asterisk waits before answering a failed login, then closes the session.
    auth_fail_delay: float = 1.0
    auth_timeout: float = 30.0
    # A client that stops reading is dropped once this much output is queued for it.
    max_output_bytes: int = 8 * 1024 * 1024


class Session:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.username: str | None = None
        self.event_mask: frozenset[str] = frozenset()
        self.filters: FilterSet | None = None
        self.session_id = "0x" + secrets.token_hex(6)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_scheduled = False
        self.closed = False
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        sock = writer.get_extra_info("sockname") or ("0.0.0.0", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{sock[0]}/{sock[1]}"

    @property
    def authenticated(self) -> bool:
        return self.username is not None

    # ---------------------------------------------------------------- output

    def write(self, data: bytes) -> None:
        """Queue output; everything queued in one loop iteration goes out in one send."""
        if self.closed or self.transport.is_closing():
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        queued = self.transport.get_write_buffer_size() + self._pending_bytes
        if queued > self.server.config.max_output_bytes:
            log.warning("AMI client %s is not reading; dropping the session", self.remote)
            self.abort()
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending or self.transport.is_closing():
            self._pending.clear()
            self._pending_bytes = 0
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self.transport.write(data)

    def send(self, headers: list[tuple[str, str]]) -> None:
        self.write(encode(headers))

    def respond(
        self,
        m: Message,
        response: str = "Success",
        *extra: tuple[str, str],
        message: str | None = None,
    ) -> None:
        """Response block in Asterisk's order: Response, ActionID, Message, then the rest."""
        headers = [("Response", response)]
        if m.has("ActionID"):
            headers.append(("ActionID", m.get("ActionID")))
        if message is not None:
            headers.append(("Message", message))
        headers.extend(extra)
        self.send(headers)

    def error(self, m: Message, message: str) -> None:
        self.respond(m, "Error", message=message)

    def deliver(self, event: Event) -> None:
        if not self.event_mask or self.event_mask.isdisjoint(event.classes):
            return
        if self.filters is not None and not self.filters.allows(event):
            return
        self.write(event.wire())

    def abort(self) -> None:
        self.closed = True
        self._pending.clear()
        self.server.forget(self)
        self.transport.abort()

    async def close_after(self, delay: float) -> None:
        self.flush()
        self.closed = True
        try:
            await asyncio.wait_for(self.writer.drain(), timeout=5)
        except (TimeoutError, ConnectionError):
            pass
        if delay:
            await asyncio.sleep(delay)
        self.transport.close()

    # ----------------------------------------------------------------- input

    async def run(self) -> None:
        self.write(BANNER)
        decoder = Decoder()
        started = time.monotonic()
        try:
            while not self.closed:
                timeout = None
                if not self.authenticated:
                    timeout = max(
                        0.0, self.server.config.auth_timeout - (time.monotonic() - started)
                    )
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), timeout)
                except TimeoutError:
                    log.info("AMI client %s did not log in in time", self.remote)
                    break
                if not data:
                    if decoder.pending:
                        log.info("AMI client %s left in the middle of a message", self.remote)
                    break
                for message in decoder.feed(data):
                    await self.handle(message)
                    if self.closed:
                        break
        except ConnectionError:
            pass
        finally:
            self.server.forget(self)
            if not self.closed:
                self.closed = True
                self.transport.close()

    async def handle(self, m: Message) -> None:
        if m.line_too_long:
            self.error(m, "Failed to parse message: line too long")
            return
        action = m.get("Action")
        if not action:
            self.error(m, "Missing action in request")
            return
        name = action.lower()
        if not self.authenticated and name not in ("login", "logoff", "challenge"):
            self.error(m, "Permission denied")
            return
        handler = self.server.handlers.get(name)
        if handler is None:
            self.error(
                m,
                f"Invalid/unknown command: {action}. "
                "Use Action: ListCommands to show available commands.",
            )
            return
        try:
            result = handler(self, m)
            if result is not None:
                await result
        except Exception:
            log.exception("AMI action %s failed", action)
            self.error(m, f"Internal error while running {action}")

    # ------------------------------------------------------------ login/out

    async def login(self, m: Message) -> None:
        if self.authenticated:
            self.respond(m, message="Already authenticated")
            return
        account = self.server.config.accounts.get(m.get("Username"))
        if account is None or not secrets.compare_digest(account.secret, m.get("Secret")):
            log.warning("AMI login failed for %r from %s", m.get("Username"), self.remote)
            await asyncio.sleep(self.server.config.auth_fail_delay)
            self.error(m, "Authentication failed")
            await self.close_after(0)
            return
        self.username = account.username
        # What the session asked for (Events:) within what the user may read (read =).
        asked = parse_events(m.get("Events")) if m.has("Events") else EVENT_CLASSES
        self.event_mask = asked & account.read
        self.filters = FilterSet(account.filters) if account.filters else None
        self.respond(m, message="Authentication accepted")
        pbx = self.server.pbx
        uptime = int(pbx.clock() - pbx.started)
        booted = ev.fully_booted(uptime, uptime)
        if not self.event_mask.isdisjoint(booted.classes):
            self.write(booted.wire())  # as manager.c: part of the login, never filtered
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        self.server.broadcast(
            ev.successful_auth(now, account.username, self.session_id, self.local, self.remote)
        )

    async def logoff(self, m: Message) -> None:
        self.respond(m, "Goodbye", message="Thanks for all the fish.")
        await self.close_after(0)


def parse_events(value: str) -> frozenset[str]:
    """`Events:` on/off/yes/no or a comma list of classes, as manager.c's set_eventmask."""
    v = value.strip().lower()
    if v in ("on", "yes", "true", "y", "t", "1", "all"):
        return EVENT_CLASSES
    if v in ("off", "no", "false", "n", "f", "0", ""):
        return frozenset()
    return frozenset(c.strip() for c in v.split(",") if c.strip() in EVENT_CLASSES)


class AmiServer:
    def __init__(self, pbx: Pbx, config: ServerConfig) -> None:
        from pbx.sim.ami.actions import handlers

        self.pbx = pbx
        self.config = config
        self.sessions: set[Session] = set()
        self.background: set[asyncio.Task[object]] = set()
        self.handlers: dict[str, Handler] = handlers()
        self._server: asyncio.Server | None = None
        self._unlisten = pbx.listen(self.broadcast)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self.config.port, limit=2**20
        )

    async def stop(self) -> None:
        self._unlisten()
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.run()
        except asyncio.CancelledError:
            session.abort()

    def forget(self, session: Session) -> None:
        self.sessions.discard(session)

    def broadcast(self, event: Event) -> None:
        for s in list(self.sessions):
            if s.authenticated:
                s.deliver(event)
