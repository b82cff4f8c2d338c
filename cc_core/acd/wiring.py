"""Choosing and starting the concrete adapters named in acd.yaml: the PBX port, the FastAGI
server, the store, the live state and the API listener. The one place in `cc_core.acd` that
imports concrete adapters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from cc_core.acd.announce import Announcer
from cc_core.acd.callback import CallbackPort
from cc_core.acd.centre import centre_from_config
from cc_core.acd.customers import links_for
from cc_core.acd.ivr import make_flow
from cc_core.acd.media import MediaMonitor
from cc_core.acd.service import AcdService
from cc_core.acd.standby import Fence, FencedPort, HaControl, fenced_live
from cc_core.api.agent_edge import desk_for
from cc_core.api.app import make_app
from cc_core.config import CentreConfig, PbxSettings
from cc_core.logs import log_event
from cc_core.store.database import Store
from cc_core.store.live import LiveState, open_live_state
from pbx.asterisk.adapter import AsteriskPort
from pbx.asterisk.audiosocket import AudioSocketServer
from pbx.asterisk.fastagi import FastAgiServer
from pbx.asterisk.settings import AsteriskSettings
from pbx.freeswitch import FreeSwitchPort, FreeSwitchSettings
from pbx.freeswitch.media_fork import RecordingFollower
from pbx.freeswitch.outbound import OutboundServer, OutboundSession
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
        log_event(
            log,
            "wiring.extra_pbx_ignored",
            logging.WARNING,
            used=settings.name,
            ignored=",".join(p.name for p in config.acd.pbx[1:]),
        )
    if settings.type == "freeswitch":
        if settings.esl is None:
            raise WiringError(f"{where}: pbx[0].esl: expected host, port and password")
        return FreeSwitchPort(
            FreeSwitchSettings(
                host=settings.esl.host, port=settings.esl.port, password=settings.esl.password
            )
        )
    if settings.type != "asterisk":
        raise WiringError(
            f"{where}: pbx[0].type: {settings.type!r} has no adapter in this build "
            "(expected 'asterisk' or 'freeswitch')"
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
    # FreeSWITCH: the outbound event-socket server the dialplan's `socket` connects to (IVR).
    ivr_socket_port: int | None = None  # None: acd.yaml's esl_outbound; 0: a free port
    ivr_socket: OutboundServer | None = None
    # Asterisk: the AudioSocket server the dialplan's media fork streams call audio to.
    media_port: int | None = None  # None: acd.yaml's media_fork; 0: a free port
    media: AudioSocketServer | None = None
    media_monitor: MediaMonitor | None = None
    # Queue position / expected wait set on waiting calls (acd.yaml announcements:).
    announcer: Announcer | None = None
    # FreeSWITCH: the reader of the media fork's recordings (acd.yaml media_fork.directory).
    recordings: RecordingFollower | None = None
    runner: web.AppRunner | None = None
    api_bound: int = 0
    # Active and standby nodes (acd.yaml ha:); None for a lone node.
    ha: HaControl | None = None
    on_role: Callable[[str], None] | None = None  # told "standby", "starting", "active"...

    async def start(self, *, wait_for_pbx: bool = False) -> None:
        """A lone node starts serving at once; with ``ha.enabled`` it starts as standby and
        serves whenever it holds the lease (`cc_core.acd.standby`)."""
        acd = self.config.acd
        if not acd.ha.enabled:
            await self.start_active(wait_for_pbx=wait_for_pbx)
            return
        # Both nodes of a pair share one live state, named by the cluster, not by node_id.
        self.live = await open_live_state(
            acd.live_state.backend, acd.live_state.redis_url, acd.ha.cluster
        )
        self.ha = HaControl(
            self, self.live, acd.ha, acd.node_id, wait_for_pbx=wait_for_pbx, on_role=self.on_role
        )
        await self.ha.start()

    async def start_active(self, *, wait_for_pbx: bool = False, fence: Fence | None = None) -> None:
        """Everything a serving node runs. With a `fence` (ha), every PBX command and agent
        reservation first checks that this node still holds the lease, and every journal
        transaction carries its token to the store, which refuses it once a newer one wrote."""
        acd = self.config.acd
        centre = centre_from_config(self.config)
        port = make_port(self.config)
        self.store = Store.from_url(acd.store.url)
        if self.migrate:
            await self.store.migrate()
        if self.live is None:
            self.live = await open_live_state(
                acd.live_state.backend, acd.live_state.redis_url, acd.node_id
            )
        live = self.live if fence is None else fenced_live(self.live, fence)
        # Callback requests wait as virtual calls a port wrapper stands in for (both shipped
        # dialplans have the callback context: [cc-callback], cc-callback in ccplane.xml).
        service_port = CallbackPort(
            port if fence is None else FencedPort(port, fence), acd.callback
        )
        self.service = AcdService(centre, service_port, self.store, live, store_fence=fence)
        links_for(self.service).region = acd.customers.phone_region
        service_port.attach(self.service)
        await self.service.start(wait_for_pbx=wait_for_pbx)
        if acd.announcements.enabled:
            self.announcer = Announcer(
                self.service,
                refresh_seconds=acd.announcements.refresh_seconds,
                default_handle_seconds=acd.announcements.default_handle_seconds,
            )
            self.announcer.start()
        flow = make_flow(self.service)
        if isinstance(port, FreeSwitchPort):
            await self._start_ivr_socket(flow)
            await self._start_recording_fork()
        else:
            self.fastagi = FastAgiServer(
                acd.fastagi.host,
                acd.fastagi.port if self.fastagi_port is None else self.fastagi_port,
            )
            for path in FLOW_PATHS:
                self.fastagi.route(path, flow)
            await self.fastagi.start()
            await self._start_media()
        app = make_app(
            self.service,
            agent_secret=acd.api.agent_secret,
            supervisors=self.config.agents.supervisors,
        )
        if self.ha is not None:
            self.ha.add_routes(app)
        self.runner = await self.serve_api(app)
        log_event(
            log,
            "acd.started",
            node=acd.node_id,
            api=self.api_bound,
            fastagi=self.fastagi.port if self.fastagi else 0,
            ivr_socket=self.ivr_socket.port if self.ivr_socket else 0,
        )

    async def serve_api(self, app: web.Application) -> web.AppRunner:
        """Listen with `app` on the API address; once bound, the same port is used again (a
        node changing role swaps its app on that port)."""
        api = self.config.acd.api
        port = self.api_bound or (api.port if self.api_port is None else self.api_port)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, api.host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.api_bound = int(sockets[0].getsockname()[1]) if sockets else 0
        return runner

    async def _start_ivr_socket(self, flow: Callable[[OutboundSession], Awaitable[None]]) -> None:
        """FreeSWITCH callers reach the same flow as FastAGI ones, over the outbound socket.
        The handler leaves the call where the flow left it: the shipped dialplan holds a
        tagged call itself once the socket closes (a transfer from here could land after the
        ACD has already sent the call to an agent)."""
        listener = self.config.acd.esl_outbound
        self.ivr_socket = OutboundServer(
            listener.host,
            listener.port if self.ivr_socket_port is None else self.ivr_socket_port,
            flow,
        )
        await self.ivr_socket.start()

    async def _start_media(self) -> None:
        """Live voice scoring: optional, so a port that cannot be bound is logged, not fatal
        (calls go on unscored)."""
        settings = self.config.acd.media_fork
        if not settings.enabled or self.service is None:
            return
        monitor = MediaMonitor(self.service, self.config.acd.quality)
        # The agent quality feed (the same desk the softphones report to) hears the agent
        # side's score: it joins the agent's edge score that routing ranks by.
        monitor.on_agent_side_score = desk_for(self.service).on_agent_side_score
        server = AudioSocketServer(
            settings.host,
            settings.port if self.media_port is None else self.media_port,
            monitor.open_stream,
        )
        try:
            await server.start()
        except OSError as exc:
            log_event(
                log,
                "media.listen_failed",
                logging.ERROR,
                host=settings.host,
                port=settings.port,
                error=str(exc),
            )
            return
        self.media, self.media_monitor = server, monitor

    async def _start_recording_fork(self) -> None:
        """FreeSWITCH: follow the stereo recordings the dialplan's media fork writes."""
        settings = self.config.acd.media_fork
        if not settings.enabled or self.service is None or settings.directory is None:
            return
        monitor = MediaMonitor(self.service, self.config.acd.quality)
        monitor.on_agent_side_score = desk_for(self.service).on_agent_side_score
        self.recordings = RecordingFollower(
            Path(settings.directory),
            monitor,
            poll_seconds=settings.poll_seconds,
            idle_seconds=settings.idle_seconds,
            keep_files=settings.keep_files,
        )
        await self.recordings.start()
        self.media_monitor = monitor

    async def stop(self) -> None:
        if self.ha is not None:
            await self.ha.stop()  # stops serving first, then releases the lease
        else:
            await self.stop_active()
        if self.live is not None:
            await self.live.aclose()
            self.live = None
        log_event(log, "acd.stopped", node=self.config.acd.node_id)

    async def stop_active(self) -> None:
        """Stop serving: no new caller gets in (IVR listeners first), then the API, then the
        service, whose PBX port closes before the journal is drained. The live state stays
        open (an ha node keeps its lease loop)."""
        if self.fastagi is not None:
            await self.fastagi.close()
        if self.ivr_socket is not None:
            await self.ivr_socket.close()
        if self.recordings is not None:
            await self.recordings.close()
        if self.media is not None:
            await self.media.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.announcer is not None:
            self.announcer.close()
            self.announcer = None
        if self.service is not None:
            await self.service.stop()
        if self.store is not None:
            await self.store.dispose()
        self.runner = self.recordings = self.media = self.media_monitor = None
        self.fastagi = self.ivr_socket = self.service = self.store = None
