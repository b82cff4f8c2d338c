"""The inbound event socket (mod_event_socket listener): password, then commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pbx.sim.esl import codec
from pbx.sim.esl.session import MAX_PENDING, EslSession
from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger("pbx.sim.esl")


class InboundSession(EslSession):
    def __init__(
        self,
        sw: FsSwitch,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        password: str,
    ) -> None:
        super().__init__(sw)
        self.attach(reader, writer)
        self.password = password
        self.authed = False

    async def handle(self, cmd: codec.Command) -> None:
        if not self.authed:
            word, _, rest = cmd.line.partition(" ")
            if word.lower() != "auth":
                # Anything before auth is refused; the connection stays for a proper auth.
                self.reply("-ERR invalid")
                return
            if rest.strip() == self.password:
                self.authed = True
                self.reply("+OK accepted")
                return
            self.reply("-ERR invalid")
            self.send(codec.disconnect_notice())
            self.closing = True
            return
        if cmd.line.lower().startswith("auth"):
            self.reply("-ERR already authenticated")
            return
        await super().handle(cmd)


class InboundServer:
    """Listens like `event_socket.conf.xml` says: listen-ip, listen-port, password."""

    def __init__(
        self, sw: FsSwitch, host: str = "127.0.0.1", port: int = 8021, password: str = "ClueCon"
    ) -> None:
        self.sw = sw
        self.host = host
        self.port = port
        self.password = password
        self.sessions: set[InboundSession] = set()
        self.max_pending = MAX_PENDING  # unsent bytes per client before its events are dropped
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = InboundSession(self.sw, reader, writer, self.password)
        session.max_pending = self.max_pending
        self.sessions.add(session)
        try:
            session.send(codec.frame([("Content-Type", "auth/request")]))
            await session.serve()
        finally:
            self.sessions.discard(session)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # All at once: each may wait out its drain timeout for a client that stopped
            # reading, and N of those in turn made a stop take N times as long.
            await asyncio.gather(*(s.close() for s in list(self.sessions)), return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
