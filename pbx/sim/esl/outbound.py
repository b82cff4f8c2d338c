"""The `socket` application: FreeSWITCH connects out to an event-socket server (our IVR) and
lets it drive the channel (`connect`, `myevents`, `linger`, `getvar`, `sendmsg execute`...)."""

from __future__ import annotations

import asyncio
import logging

from pbx.sim.esl import codec
from pbx.sim.esl.apps import idle
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.events import Event
from pbx.sim.esl.session import EslSession
from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger("pbx.sim.esl")

CONNECT_TIMEOUT = 5.0


class OutboundSession(EslSession):
    def __init__(
        self,
        sw: FsSwitch,
        ch: FsChannel,
        host: str,
        port: int,
        fallbacks: tuple[tuple[str, int], ...] = (),
    ) -> None:
        super().__init__(sw)
        self.ch = ch
        self.host = host
        self.port = port
        # Further hosts of a "host1:port|host2:port" socket, tried in order (see `socket`).
        self.fallbacks = fallbacks
        self.async_mode = False
        self.full = False
        self._parked = False
        self._ended = False
        self._released = False

    def bound_uuid(self) -> str:
        return self.ch.uuid

    async def run(self) -> None:
        sw, ch = self.sw, self.ch
        for host, port in ((self.host, self.port), *self.fallbacks):
            # As mod_event_socket: socket_host names each host as it is tried.
            ch.set_var("socket_host", host)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError) as e:
                log.error("%s: socket %s:%s failed: %s", ch.name, host, port, e)
                continue
            self.host, self.port = host, port
            break
        else:
            # No host answered: the application just returns (no variable says so), and the
            # dialplan goes on with its next action.
            return
        self.attach(reader, writer)
        sw.spawn(self.serve())
        # The call stays in the socket application (parked) until it hangs up or is
        # transferred; messages queued by sendmsg run meanwhile.
        await idle(sw, ch)
        self._released = True  # from here on, closing the socket leaves the call alone
        if ch.up and not ch.transfer_to:
            ch.interrupt.clear()  # socket_resume: the dialplan carries on
        if self._parked:
            self._parked = ch.parked = False
            sw.chan_event("CHANNEL_UNPARK", ch)
        # The session itself lives on: with linger it sees the hangup through to the end.

    # -- events ---------------------------------------------------------------------------
    def wants(self, ev: Event) -> bool:
        # As captured: an outbound session's myevents does not carry CHANNEL_CALLSTATE.
        if self.my_uuid and ev.name == "CHANNEL_CALLSTATE":
            return False
        return super().wants(ev)

    def on_event(self, ev: Event) -> None:
        if self._ended and self.my_uuid:
            return  # the session let go of the channel at CHANNEL_HANGUP_COMPLETE
        super().on_event(ev)
        if ev.get("Unique-ID") != self.ch.uuid or self._ended:
            return
        if ev.name == "CHANNEL_HANGUP_COMPLETE" and self.linger:
            self._ended = True
            self.send(
                self._notice("linger", [("Channel-Name", self.ch.name), ("Linger-Time", "-1")], b"")
            )
        elif ev.name == "CHANNEL_HANGUP" and not self.linger:
            self._ended = True
            self.send(self._notice("disconnect", [], codec.DISCONNECT_BODY.encode()))
            self.closing = True
            self.writer.close()

    def _notice(self, disposition: str, extra: list[tuple[str, str]], body: bytes) -> bytes:
        head = [
            ("Content-Type", "text/disconnect-notice"),
            ("Controlled-Session-UUID", self.ch.uuid),
            ("Content-Disposition", disposition),
            *extra,
            ("Content-Length", str(len(body))),
        ]
        return "".join(f"{k}: {v}\n" for k, v in head).encode() + b"\n" + body

    def disconnect_notice(self) -> bytes:
        return self._notice("disconnect", [], codec.DISCONNECT_BODY.encode())

    async def close(self) -> None:
        await super().close()
        # The controlling socket went away: a call still in the socket app is hung up,
        # unless socket_resume=true lets it carry on with the next dialplan action.
        if self.ch.up and not self._released and not self.ch.transfer_to:
            if self.ch.get_var("socket_resume") == "true":
                self.ch.interrupt.set()
            else:
                await self.sw.hangup(self.ch, "NORMAL_CLEARING")

    # -- commands -------------------------------------------------------------------------
    async def cmd_connect(self, rest: str, cmd: codec.Command) -> None:
        sw, ch = self.sw, self.ch
        headers = sw.identity.core_headers("CHANNEL_DATA", "CHANNEL_DATA")
        headers[9:12] = [
            ("Event-Calling-File", "mod_event_socket.c"),
            ("Event-Calling-Function", "parse_command"),
            ("Event-Calling-Line-Number", "2021"),
        ]
        headers += ch.profile_headers("Channel")
        headers += ch.data_headers()
        headers += [("variable_" + k, v) for k, v in ch.variables.items()]
        headers += [
            ("Content-Type", "command/reply"),
            ("Reply-Text", "+OK\n"),
            ("Socket-Mode", "async" if self.async_mode else "static"),
            ("Control", "full" if self.full else "single-channel"),
        ]
        self.send(codec.event_plain_body(headers))

    async def cmd_getvar(self, rest: str, cmd: codec.Command) -> None:
        self.reply(self.ch.lookup(rest.strip()))

    async def cmd_resume(self, rest: str, cmd: codec.Command) -> None:
        self.reply("+OK")

    async def cmd_divert_events(self, rest: str, cmd: codec.Command) -> None:
        self.reply("+OK events diverted" if rest.strip() == "on" else "+OK events not diverted")

    def after_sendmsg(self, ch: object) -> None:
        if not self._parked and self.ch.up:
            self._parked = True
            self.ch.parked = True
            self.sw.chan_event("CHANNEL_PARK", self.ch)
