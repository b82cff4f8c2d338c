"""Assembly of the FreeSWITCH flavour: switch + dialplan + inbound event socket + heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from pbx.sim.esl import dialplan as xml_dialplan
from pbx.sim.esl.server import InboundServer
from pbx.sim.esl.sofia import register, unregister
from pbx.sim.esl.switch import FsSwitch, SwitchConfig, UserEndpoint


@dataclass
class FsSimConfig:
    dialplan_paths: list[Path] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    time_scale: float = 1.0
    heartbeat: float = 20.0  # seconds between HEARTBEAT events (event-heartbeat-interval)
    domain: str = "127.0.0.1"
    hostname: str = "sim"
    globals: dict[str, str] = field(default_factory=dict)
    preprocess: dict[str, str] = field(default_factory=dict)  # overrides X-PRE-PROCESS set


class FsSimulator:
    def __init__(self, config: FsSimConfig) -> None:
        self.config = config
        plan = xml_dialplan.XmlDialplan(overrides=dict(config.preprocess))
        for p in config.dialplan_paths:
            xml_dialplan.load(p, plan)
        self.switch = FsSwitch(
            plan, SwitchConfig(config.time_scale, config.domain, config.hostname)
        )
        self.switch.globals.update(config.globals)
        self.server = InboundServer(self.switch, config.host, config.port, config.password)
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()
        self._heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        sw = self.switch
        while True:
            await asyncio.sleep(self.config.heartbeat)
            sw.fire(
                sw.identity.heartbeat(
                    sw.started, len(sw.channels), sw.sessions_since_startup, sw.peak
                )
            )

    def register(self, user: UserEndpoint) -> None:
        """A phone registers: sofia::register, and `user/<id>` reaches it."""
        register(self.switch, user)

    def unregister(self, user: str, expired: bool = False) -> None:
        unregister(self.switch, user, expired)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self.server.stop()
        await self.switch.close()
