"""Choosing and starting the concrete adapters named in acd.yaml: the PBX port, the FastAGI
server, the store, the live state and the API listener. The one place in `cc_core.acd` that
imports concrete adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from cc_core.acd.centre import centre_from_config
from cc_core.acd.ivr import make_flow
from cc_core.acd.service import AcdService
from cc_core.api.app import make_app
from cc_core.config import CentreConfig, PbxSettings
from cc_core.logs import log_event
from cc_core.store.database import Store
from cc_core.store.live import LiveState, open_live_state
from pbx.asterisk.adapter import AsteriskPort
from pbx.asterisk.fastagi import FastAgiServer
from pbx.asterisk.settings import AsteriskSettings
from pbx.port import PbxPort

log = logging.getLogger(__name__)

# FastAGI script paths the built-in flow answers: the shipped dialplan's and the simulator's.
FLOW_PATHS = ("inbound", "ivr/")


class WiringError(ValueError):
    """acd.yaml asks for something this build cannot start (named in the message)."""


def make_port(config: CentreConfig) -> PbxPort:
    """The PBX port for the first `pbx:` entry of acd.yaml."""
    where = f"{config.directory / 'acd.yaml'}"
    if not config.acd.pbx:
        raise WiringError(f"{where}: pbx: expected one PBX connection, found none")
    settings: PbxSettings = config.acd.pbx[0]
    if len(config.acd.pbx) > 1:
        log_event(log, "wiring.extra_pbx_ignored", logging.WARNING,
                  used=settings.name, ignored=",".join(p.name for p in config.acd.pbx[1:]))
    if settings.type != "asterisk":
        raise WiringError(
            f"{where}: pbx[0].type: {settings.type!r} has no adapter in this build yet "
            "(expected 'asterisk')"
        )
    if settings.ami is None:
        raise WiringError(f"{where}: pbx[0].ami: expected host, port, username and secret")
    return AsteriskPort(
        AsteriskSettings(
            host=settings.ami.host,
            port=settings.ami.port,
            username=settings.ami.username,
            secret=settings.ami.secret,
        )
    )


@dataclass
class Node:
    """A running ACD: store, live state, PBX port, service, FastAGI and API listeners."""

    config: CentreConfig
    api_port: int | None = None  # None: acd.yaml's; 0: a free port
    fastagi_port: int | None = None
    migrate: bool = True
    store: Store | None = None
    live: LiveState | None = None
    service: AcdService | None = None
    fastagi: FastAgiServer | None = None
    runner: web.AppRunner | None = None
    api_bound: int = 0

    async def start(self, *, wait_for_pbx: bool = False) -> None:
        acd = self.config.acd
        centre = centre_from_config(self.config)
        port = make_port(self.config)
        self.store = Store.from_url(acd.store.url)
        if self.migrate:
            await self.store.migrate()
        self.live = await open_live_state(
            acd.live_state.backend, acd.live_state.redis_url, acd.node_id
        )
        self.service = AcdService(centre, port, self.store, self.live)
        await self.service.start(wait_for_pbx=wait_for_pbx)
        self.fastagi = FastAgiServer(
            acd.fastagi.host,
            acd.fastagi.port if self.fastagi_port is None else self.fastagi_port,
        )
        flow = make_flow(self.service)
        for path in FLOW_PATHS:
            self.fastagi.route(path, flow)
        await self.fastagi.start()
        self.runner = web.AppRunner(make_app(self.service), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(
            self.runner, acd.api.host, acd.api.port if self.api_port is None else self.api_port
        )
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.api_bound = int(sockets[0].getsockname()[1]) if sockets else 0
        log_event(log, "acd.started", node=acd.node_id, api=self.api_bound,
                  fastagi=self.fastagi.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.fastagi is not None:
            await self.fastagi.close()
        if self.service is not None:
            await self.service.stop()
        if self.live is not None:
            await self.live.aclose()
        if self.store is not None:
            await self.store.dispose()
        log_event(log, "acd.stopped", node=self.config.acd.node_id)
