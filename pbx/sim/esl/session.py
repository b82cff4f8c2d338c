"""One event-socket connection: commands, event subscription and filters, output queue.

Shared by the inbound server (password first) and outbound sessions (bound to a channel).
A session never lets a bad command or a failing handler take the server down: the client
gets FreeSWITCH's `-ERR` reply and the connection carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid as uuidlib

from pbx.sim.esl import api, codec
from pbx.sim.esl.events import SIMULATED_EVENTS, Event
from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger("pbx.sim.esl")

# FreeSWITCH knows more event names than the simulator raises; subscribing to them is allowed.
KNOWN_EVENTS = SIMULATED_EVENTS | {
    "CHANNEL_ORIGINATE",
    "CHANNEL_OUTGOING",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_UUID",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_DATA",
    "CALL_UPDATE",
    "CODEC",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "RECORD_START",
    "RECORD_STOP",
    "PRESENCE_IN",
    "RE_SCHEDULE",
    "MESSAGE_QUERY",
    "MESSAGE_WAITING",
    "PRIVATE_COMMAND",
    "DETECTED_SPEECH",
    "CONFERENCE_DATA",
    "SHUTDOWN",
    "MODULE_LOAD",
    "RELOADXML",
    "NOTIFY",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "LOG",
    "ALL",
}
# Bound the bytes queued for a client that does not read; beyond it events are dropped, as
# FreeSWITCH drops events for a listener whose queue is full.
MAX_PENDING = 8 * 1024 * 1024
# How long closing a session waits for its client to take what is still queued.
CLOSE_DRAIN_TIMEOUT = 2.0
NO_REPLY = "-ERR no reply\n"  # an `api` reply when the command printed nothing


class EslSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def __init__(self, sw: FsSwitch) -> None:
        self.sw = sw
        self.decoder = codec.CommandDecoder()
        self.format = ""  # plain | json once events are enabled
        self.all_events = False
        self.events: set[str] = set()
        self.subclasses: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.my_uuid = ""  # myevents: only this channel's events
        self.linger = False
        self.closing = False
        self.dropped = 0
        self.max_pending = MAX_PENDING
        self.close_drain_timeout = CLOSE_DRAIN_TIMEOUT
        self._listening = False
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    # -- output ---------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(data)

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.send(codec.command_reply(text, extra or []))

    def on_event(self, ev: Event) -> None:
        if not self.format or self.writer.is_closing():
            return
        if not self.wants(ev):
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > self.max_pending:
            self.dropped += 1
            return
        if self.format == "json":
            self.send(codec.event_json(ev.headers, ev.body))
        else:
            self.send(codec.event_plain(ev.headers, ev.body))

    def wants(self, ev: Event) -> bool:
        if self.my_uuid and ev.get("Unique-ID") != self.my_uuid:
            return False
        if ev.name == "CUSTOM":
            if not (self.all_events or ev.subclass in self.subclasses or "CUSTOM" in self.events):
                return False
        elif not (self.all_events or ev.name in self.events):
            return False
        if self.filters:
            return any(ev.get(h) == v for h, v in self.filters)
        return True

    def listen(self) -> None:
        if not self._listening:
            self.sw.listeners.append(self.on_event)
            self._listening = True

    def unlisten(self) -> None:
        if self._listening:
            with contextlib.suppress(ValueError):
                self.sw.listeners.remove(self.on_event)
            self._listening = False

    # -- input loop -----------------------------------------------------------------------
    async def serve(self) -> None:
        try:
            while not self.closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    commands = self.decoder.feed(data)
                except codec.FrameTooLarge as e:
                    log.warning("event socket client sent an oversized frame: %s", e)
                    self.reply("-ERR command too long")
                    break
                for cmd in commands:
                    try:
                        await self.handle(cmd)
                    except Exception:
                        log.exception("event socket command %r failed", cmd.line)
                        self.reply("-ERR command failed")
                    if self.closing:
                        break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        """Flush what is queued for the client, then close. A client that stops reading gets
        ``close_drain_timeout`` seconds; then its connection is aborted with the rest unsent
        (a plain close would keep the socket open until the data went out, and the
        simulator's stop would wait for it forever)."""
        self.unlisten()
        self.closing = True
        if self.writer.is_closing():
            return
        try:
            await asyncio.wait_for(self.writer.drain(), self.close_drain_timeout)
        except TimeoutError:
            log.warning(
                "event socket client did not read for %g s; closed with %d bytes unsent",
                self.close_drain_timeout,
                self.writer.transport.get_write_buffer_size(),
            )
            self.writer.transport.abort()
            return
        except Exception:
            pass  # the connection is gone already: nothing is left to flush
        self.writer.close()

    async def handle(self, cmd: codec.Command) -> None:
        word, _, rest = cmd.line.partition(" ")
        word = word.lower()
        handler = getattr(self, "cmd_" + word, None)
        if handler is None:
            self.reply("-ERR command not found")
            return
        await handler(rest.strip(), cmd)

    # -- commands -------------------------------------------------------------------------
    async def cmd_event(self, rest: str, cmd: codec.Command) -> None:
        words = rest.split()
        fmt = "plain"
        if words and words[0].lower() in ("plain", "json", "xml"):
            fmt = words.pop(0).lower()
        if fmt == "xml":
            self.reply("-ERR xml format is not supported by the simulator")
            return
        custom = False  # names after CUSTOM are subclasses (sofia::register ...)
        picked: set[str] = set()
        for w in words:
            name = w.upper()
            if name == "ALL":
                self.all_events = True
            elif name == "CUSTOM":
                custom = True
            elif "::" in w or (custom and name not in KNOWN_EVENTS):
                picked.add(w)
            elif name in KNOWN_EVENTS:
                self.events.add(name)
        self.subclasses |= picked
        if custom and not picked:
            self.events.add("CUSTOM")  # CUSTOM alone: every subclass
        self.format = fmt
        self.listen()
        self.reply(f"+OK event listener enabled {fmt}")

    async def cmd_noevents(self, rest: str, cmd: codec.Command) -> None:
        self.format = ""
        self.all_events = False
        self.events.clear()
        self.subclasses.clear()
        self.unlisten()
        self.reply("+OK no longer listening for events")

    async def cmd_nixevent(self, rest: str, cmd: codec.Command) -> None:
        for w in rest.split():
            self.events.discard(w.upper())
            self.subclasses.discard(w)
        self.reply("+OK events nixed")

    async def cmd_filter(self, rest: str, cmd: codec.Command) -> None:
        words = rest.split(None, 1)
        if not words:
            self.reply("-ERR invalid syntax")
            return
        if words[0].lower() == "delete":
            args = words[1].split(None, 1) if len(words) > 1 else []
            if not args:
                self.reply("-ERR invalid syntax")
                return
            header = args[0]
            value = args[1].strip() if len(args) > 1 else ""
            if header == "all":
                self.filters.clear()
            else:
                self.filters = [
                    (h, v)
                    for h, v in self.filters
                    if not (h == header and (not value or v == value))
                ]
            self.reply(f"+OK filter deleted. [{header}][{value}]")
            return
        header, _, value = rest.partition(" ")
        value = value.strip()
        if not value:
            self.reply("-ERR invalid syntax")
            return
        self.filters.append((header, value))
        self.reply(f"+OK filter added. [{header}]=[{value}]")

    async def cmd_linger(self, rest: str, cmd: codec.Command) -> None:
        self.linger = True
        self.reply("+OK will linger")

    async def cmd_nolinger(self, rest: str, cmd: codec.Command) -> None:
        self.linger = False
        self.reply("+OK will not linger")

    async def cmd_myevents(self, rest: str, cmd: codec.Command) -> None:
        words = rest.split()
        uuid = words[0] if words and words[0] not in ("plain", "json", "xml") else ""
        fmt = words[-1] if words and words[-1] in ("plain", "json") else "plain"
        target = uuid or self.bound_uuid()
        if not target:
            self.reply("-ERR invalid syntax")
            return
        self.my_uuid = target
        self.all_events = True
        self.format = fmt
        self.listen()
        self.reply("+OK Events Enabled")

    def bound_uuid(self) -> str:
        return ""

    async def cmd_exit(self, rest: str, cmd: codec.Command) -> None:
        self.reply("+OK bye")
        self.send(self.disconnect_notice())
        self.closing = True

    def disconnect_notice(self) -> bytes:
        return codec.disconnect_notice()

    async def cmd_api(self, rest: str, cmd: codec.Command) -> None:
        if not rest:
            self.send(codec.api_response("-ERR no command specified\n"))
            return
        # Run here, before the next command is read (mod_event_socket's listener thread runs
        # an `api` itself; only `bgapi` gets a thread): commands written back to back take
        # effect in order, and their replies come back in order. The API event follows the
        # reply, as the listener sends queued events only once the reply is out.
        result = await api.execute(self.sw, rest)
        # mod_event_socket answers an `api` whose command printed nothing with this text
        # (seen on 1.10.12: `api global_getvar <unset>`); a `bgapi` job's body stays empty.
        self.send(codec.api_response(result.body or NO_REPLY))
        self._fire_api_event(rest)
        if result.after is not None:
            result.after()

    def _fire_api_event(self, line: str) -> None:
        name, _, arg = line.strip().partition(" ")
        self.sw.fire(self.sw.identity.api_event(name, arg.strip()))

    async def cmd_bgapi(self, rest: str, cmd: codec.Command) -> None:
        job = cmd.get("Job-UUID") or str(uuidlib.uuid4())
        self.reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
        if not rest:
            return

        async def run() -> None:
            try:
                result = await api.execute(self.sw, rest)
            except Exception:
                log.exception("bgapi %r failed", rest)
                result = api.ApiResult("-ERR command failed\n")
            self._fire_api_event(rest)
            name, _, arg = rest.strip().partition(" ")
            self.sw.fire(self.sw.identity.background_job(job, name, arg.strip(), result.body))
            if result.after is not None:
                result.after()

        self.sw.spawn(run())

    async def cmd_sendmsg(self, rest: str, cmd: codec.Command) -> None:
        uuid = rest.split()[0] if rest.strip() else self.bound_uuid()
        ch = self.sw.channels.get(uuid)
        if ch is None or not ch.up:
            self.reply(f"-ERR invalid session id [{uuid}]")
            return
        command = cmd.get("call-command").lower()
        if command == "execute":
            app = cmd.get("execute-app-name")
            arg = cmd.get("execute-app-arg") or cmd.body
            loops = cmd.get("loops")
            for _ in range(int(loops) if loops.isdigit() else 1):
                ch.app_queue.append((app, arg, cmd.get("Event-UUID")))
            ch.wake.set()
        elif command == "hangup":
            await self.sw.hangup(ch, cmd.get("hangup-cause") or "NORMAL_CLEARING")
        elif command in ("unicast", "nomedia", "xferext", "unhold", "hold"):
            pass  # no media in the simulator: accepted and ignored
        else:
            self.reply("-ERR invalid command")
            return
        self.reply("+OK")
        self.after_sendmsg(ch)

    def after_sendmsg(self, ch: object) -> None:
        """Hook for outbound sessions (the first message starts the park loop)."""
