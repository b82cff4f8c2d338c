"""Active and standby ACD nodes: the lease in the live state decides which node drives the PBX.

With ``ha.enabled`` a node starts as standby: its live state (Redis) is open and its API
answers ``/health`` and ``/api/ha``, nothing else; it holds no PBX link, no FastAGI or
outbound-socket listener, no store. Whenever its lease keeper holds the lease it starts the
ACD exactly as a lone node does (store, PBX, resync, adoption, FastAGI, full API); when the
lease is lost it stops again. Between the lease deadline and that stop, the fence below
refuses every PBX command and agent reservation, so a node whose lease ran out stops acting
at once even while it is still shutting its links. Reservations also carry the lease token,
which Redis checks in the same step as the reservation: a node paused past its lease that
still believes itself active is refused there too; the journal's store transactions carry
it as well, and the SQL store refuses them once a newer token has written
(`cc_core.store.repos.fences`). PBX commands are fenced locally only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from cc_core.config.acd_file import HaSettings
from cc_core.logs import log_event
from cc_core.store.live import (
    AgentLive,
    FenceRefused,
    Lease,
    LeaseFence,
    LeaseKeeper,
    LiveState,
    LiveStateError,
)
from pbx.port import EventSubscription, LiveCall, NotConnected, PbxPort

if TYPE_CHECKING:
    from cc_core.acd.wiring import Node

log = logging.getLogger(__name__)

STANDBY, STARTING, ACTIVE, STOPPING = "standby", "starting", "active", "stopping"


class Fence:
    """May this node act as the active one right now? The lease keeper's clock says."""

    def __init__(self, keeper: LeaseKeeper) -> None:
        self.keeper = keeper

    @property
    def open(self) -> bool:
        return self.keeper.active

    @property
    def token(self) -> LeaseFence | None:
        """What a fenced write carries while the fence is open (the lease and its token)."""
        token = self.keeper.token
        return None if token is None else LeaseFence(self.keeper.name, token)

    @property
    def lease(self) -> str:
        return self.keeper.name

    def held(self) -> int | None:
        """The token the journal's store transactions carry (`cc_core.acd.journal`): the
        newest this node was granted, kept while it drains after its deadline."""
        return self.keeper.last_token

    def lost(self, token: int) -> None:
        """The store has seen a newer token: close the fence now (as a refused reservation
        does), so the node stops acting and steps down."""
        self.keeper.lost(token)

    def check(self, what: str) -> None:
        if not self.keeper.active:
            raise NotConnected(f"{what}: refused, this ACD node no longer holds the lease")


class FencedPort(PbxPort):
    """The PBX port of an active node: every command first asks the fence. Reads pass."""

    def __init__(self, inner: PbxPort, fence: Fence) -> None:
        self.inner = inner
        self.fence = fence

    def __getattr__(self, name: str) -> Any:
        # Adapter-specific attributes (settings, counters) of the real port.
        return getattr(self.inner, name)

    async def start(self, *args: Any, **kwargs: Any) -> None:
        await self.inner.start(*args, **kwargs)

    async def close(self) -> None:
        await self.inner.close()

    def events(self) -> EventSubscription:
        return self.inner.events()

    @property
    def connected(self) -> bool:
        return self.inner.connected

    async def served_by(self, endpoints: Sequence[str], **kwargs: Any) -> dict[str, str]:
        return await self.inner.served_by(endpoints, **kwargs)

    async def hold(self, call_id: str, **kwargs: Any) -> None:
        self.fence.check("hold")
        await self.inner.hold(call_id, **kwargs)

    async def connect_agent(self, call_id: str, endpoint: str, **kwargs: Any) -> None:
        self.fence.check("connect_agent")
        await self.inner.connect_agent(call_id, endpoint, **kwargs)

    async def redirect(
        self, call_id: str, context: str, exten: str, *args: Any, **kwargs: Any
    ) -> None:
        self.fence.check("redirect")
        await self.inner.redirect(call_id, context, exten, *args, **kwargs)

    async def hangup(self, call_id: str, **kwargs: Any) -> None:
        self.fence.check("hangup")
        await self.inner.hangup(call_id, **kwargs)

    async def originate(
        self, endpoint: str, context: str, exten: str, *args: Any, **kwargs: Any
    ) -> Any:
        self.fence.check("originate")
        return await self.inner.originate(endpoint, context, exten, *args, **kwargs)

    async def spy(self, *args: Any, **kwargs: Any) -> Any:
        self.fence.check("spy")
        return await self.inner.spy(*args, **kwargs)

    async def start_recording(self, *args: Any, **kwargs: Any) -> Any:
        self.fence.check("start_recording")
        return await self.inner.start_recording(*args, **kwargs)

    async def stop_recording(self, call_id: str, **kwargs: Any) -> None:
        self.fence.check("stop_recording")
        await self.inner.stop_recording(call_id, **kwargs)

    async def set_variable(self, call_id: str, name: str, value: str, **kwargs: Any) -> None:
        self.fence.check("set_variable")
        await self.inner.set_variable(call_id, name, value, **kwargs)

    async def get_variable(self, call_id: str, name: str, **kwargs: Any) -> str | None:
        return await self.inner.get_variable(call_id, name, **kwargs)

    async def list_live_calls(self, **kwargs: Any) -> list[LiveCall]:
        return await self.inner.list_live_calls(**kwargs)


class FencedLive:
    """The live state of an active node: an agent is reserved for an offer only while the
    fence is open, and the reservation carries the lease token so that Redis refuses it when
    the lease has moved on (a node paused past its lease). Either refusal is a `reject` to the
    engine: nothing is rung, the call waits."""

    def __init__(self, inner: LiveState, fence: Fence) -> None:
        self._inner = inner
        self._fence = fence
        self._fenced_token: int | None = None  # the token whose refusal was last logged

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def reserve(
        self, agent_id: str, expected_state: str, interaction_id: str, **kwargs: Any
    ) -> AgentLive | None:
        token = self._fence.token
        if token is None:
            log_event(
                log,
                "ha.reserve_refused",
                logging.WARNING,
                agent=agent_id,
                interaction=interaction_id,
            )
            return None
        try:
            return await self._inner.reserve(
                agent_id, expected_state, interaction_id, fence=token, **kwargs
            )
        except FenceRefused as exc:
            # The store knows better than this node's clock: the fence closes now, so PBX
            # commands stop too and the node steps down without waiting for its deadline.
            self._fence.keeper.lost(exc.token)
            if self._fenced_token != exc.token:  # once per token, not at every offer
                self._fenced_token = exc.token
                log_event(
                    log,
                    "ha.reserve_fenced",
                    logging.ERROR,
                    agent=agent_id,
                    interaction=interaction_id,
                    lease=exc.lease,
                    token=exc.token,
                    current=exc.current,
                )
            return None


def fenced_live(live: LiveState, fence: Fence) -> LiveState:
    return cast(LiveState, FencedLive(live, fence))


class _GrantClock:
    """The Leases the keeper uses: the live state's, noting when each granted acquire or renew
    was sent, which gives the deadline the keeper itself counts from (ttl - margin later)."""

    def __init__(self, live: LiveState, monotonic: Callable[[], float]) -> None:
        self._live = live
        self._monotonic = monotonic
        self.granted_sent = float("-inf")
        self.reachable = True

    async def _timed(self, call: Awaitable[Lease | None], sent: float) -> Lease | None:
        try:
            lease = await call
        except LiveStateError:
            self.reachable = False
            raise
        self.reachable = True
        if lease is not None:
            self.granted_sent = sent
        return lease

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        sent = self._monotonic()
        return await self._timed(self._live.acquire_lease(name, holder, ttl), sent)

    async def renew_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        sent = self._monotonic()
        return await self._timed(self._live.renew_lease(name, holder, ttl), sent)

    async def release_lease(self, name: str, holder: str) -> bool:
        return await self._live.release_lease(name, holder)

    async def lease_holder(self, name: str) -> Lease | None:
        return await self._live.lease_holder(name)


class HaControl:
    """Runs one node's lease loop and turns the node active or standby to follow it."""

    def __init__(
        self,
        node: Node,
        live: LiveState,
        settings: HaSettings,
        node_id: str,
        *,
        wait_for_pbx: bool = False,
        on_role: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.live = live
        self.settings = settings
        self.node_id = node_id
        self.wait_for_pbx = wait_for_pbx
        self.on_role = on_role
        self._monotonic = monotonic
        self._grants = _GrantClock(live, monotonic)
        self.keeper = LeaseKeeper(
            self._grants,
            settings.lease,
            node_id,
            settings.ttl_seconds,
            margin=settings.margin,
            monotonic=monotonic,
        )
        self.fence = Fence(self.keeper)
        self.role = STANDBY
        self.token: int | None = None  # the token this node became active with
        self._changed = asyncio.Event()
        self._released = asyncio.Event()  # another node let the lease go
        self._channel = f"ha.{settings.lease}"
        self._hold_off_until = float("-inf")
        self._tasks: list[asyncio.Task[None]] = []
        self._standby_api: web.AppRunner | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Standby API up, then the lease loop; returns at once (activation follows)."""
        await self._start_standby_api()
        self._tasks = [
            asyncio.create_task(self._lease_loop(), name="ha-lease"),
            asyncio.create_task(self._follow(), name="ha-roles"),
            asyncio.create_task(self._hear_releases(), name="ha-releases"),
        ]

    async def stop(self) -> None:
        """Stop acting, then give the lease up: the standby takes over without waiting for
        expiry, and finds everything this node recorded already in the store. The lease is
        renewed while the journal drains, so nobody adopts from a store still being written."""
        lease_loop, others = self._tasks[0:1], self._tasks[1:]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self.node.service is not None or self.role != STANDBY:
            await self._set_role(STOPPING)
            await self.node.stop_active()
        for task in lease_loop:
            task.cancel()
        await asyncio.gather(*lease_loop, return_exceptions=True)
        self._tasks.clear()
        held = self.keeper.token is not None
        await self.keeper.stop(release=True)
        if held:
            await self._announce_release()
        await self._stop_standby_api()
        log_event(log, "ha.stopped", node=self.node_id, lease=self.settings.lease)

    # ------------------------------------------------------------------ the lease loop

    async def _lease_loop(self) -> None:
        """A round every ttl/3; while active it also wakes at the deadline, and a round the
        backend does not answer is not waited for past it: the node steps down on time."""
        period = self.settings.ttl_seconds / 3
        while True:
            if self._monotonic() >= self._hold_off_until or self.keeper.active:
                step = asyncio.ensure_future(self.keeper.step())
                try:
                    while True:
                        deadline = self._deadline()
                        timeout = (
                            None if deadline is None else max(0.0, deadline - self._monotonic())
                        )
                        done, _ = await asyncio.wait({step}, timeout=timeout)
                        self._changed.set()
                        if done:
                            step.result()  # the keeper never raises on backend trouble
                            break
                finally:
                    # Stopped mid-round: a late answer must not make the keeper active again.
                    step.cancel()
            next_step = self._monotonic() + period
            self._released.clear()
            while True:
                deadline = self._deadline()
                wake = next_step if deadline is None else min(next_step, deadline)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._released.wait(), max(0.0, wake - self._monotonic())
                    )
                self._changed.set()
                if self._released.is_set() or self._monotonic() >= next_step:
                    break

    async def _hear_releases(self) -> None:
        """A node that stops gracefully says so on `ha.<lease>`: the standby then tries at
        once instead of at its next round. Without Redis it listens again a round later."""
        period = self.settings.ttl_seconds / 3
        while True:
            try:
                async with await self.live.subscribe(self._channel) as sub:
                    async for event in sub:
                        if event.data.get("released_by") != self.node_id:
                            self._released.set()
            except LiveStateError as exc:
                log_event(log, "ha.release_channel_unavailable", logging.INFO, error=str(exc))
            await asyncio.sleep(period)

    async def _announce_release(self) -> None:
        try:
            await self.live.publish(self._channel, {"released_by": self.node_id})
        except LiveStateError as exc:
            # The standby then takes over at its next round instead.
            log_event(log, "ha.release_not_announced", logging.WARNING, error=str(exc))

    def _deadline(self) -> float | None:
        """When this node must stop acting (None while it is not active)."""
        if not self.keeper.active:
            return None
        return self._grants.granted_sent + self.keeper.ttl - self.keeper.margin

    async def _follow(self) -> None:
        """Turns the node active or standby after the keeper; one change at a time."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            want = self.keeper.active
            if want and self.role == STANDBY:
                await self._activate()
            elif not want and self.role == ACTIVE:
                log_event(
                    log,
                    "ha.lease_lost",
                    logging.ERROR,
                    node=self.node_id,
                    lease=self.settings.lease,
                    token=self.token,
                )
                await self._set_role(STOPPING)
                await self.node.stop_active()
                await self._to_standby()

    async def _activate(self) -> None:
        self.token = self.keeper.token
        log_event(
            log,
            "ha.activating",
            logging.WARNING,
            node=self.node_id,
            lease=self.settings.lease,
            token=self.token,
        )
        await self._set_role(STARTING)
        await self._stop_standby_api()
        try:
            await self.node.start_active(wait_for_pbx=self.wait_for_pbx, fence=self.fence)
        except Exception as exc:  # a node that cannot serve must not keep the lease
            log_event(
                log,
                "ha.activation_failed",
                logging.ERROR,
                node=self.node_id,
                token=self.token,
                error=f"{type(exc).__name__}: {exc}",
            )
            await self.node.stop_active()
            await self.keeper.stop(release=True)
            # Give the other node a chance before trying again.
            self._hold_off_until = self._monotonic() + self.settings.ttl_seconds
            await self._to_standby()
            return
        if not self.keeper.active:
            # Lost while starting: the loop has set _changed, so _follow steps down next.
            log_event(log, "ha.lost_while_starting", logging.WARNING, node=self.node_id)
        await self._set_role(ACTIVE)
        log_event(
            log,
            "ha.active",
            logging.WARNING,
            node=self.node_id,
            lease=self.settings.lease,
            token=self.token,
        )
        self._changed.set()

    async def _to_standby(self) -> None:
        self.token = None
        await self._start_standby_api()
        await self._set_role(STANDBY)
        log_event(log, "ha.standby", logging.WARNING, node=self.node_id, lease=self.settings.lease)
        self._changed.set()

    async def _set_role(self, role: str) -> None:
        self.role = role
        if self.on_role is not None:
            self.on_role(role)

    # ------------------------------------------------------------------ what the API shows

    async def status(self) -> dict[str, Any]:
        holder: Lease | None = None
        error = None
        try:
            holder = await self.live.lease_holder(self.settings.lease)
        except LiveStateError as exc:
            error = str(exc)
        body: dict[str, Any] = {
            "node": self.node_id,
            "role": self.role,
            "cluster": self.settings.cluster,
            "lease": self.settings.lease,
            "ttl_seconds": self.settings.ttl_seconds,
            "holder": holder.holder if holder else None,
            "token": holder.token if holder else None,
            "expires_in": round(holder.ttl_left, 3) if holder else None,
            "my_token": self.keeper.token,
        }
        if error is not None:
            body["live_state_error"] = error
        return body

    def add_routes(self, app: web.Application) -> None:
        """/api/ha on both roles; /api/ha/active answers 200 only on the active node (for a
        load balancer's check)."""
        app.router.add_get("/api/ha", self._ha)
        app.router.add_get("/api/ha/active", self._is_active)

    async def _ha(self, request: web.Request) -> web.Response:
        return web.json_response(await self.status())

    async def _is_active(self, request: web.Request) -> web.Response:
        active = self.role == ACTIVE and self.keeper.active
        return web.json_response(
            {"node": self.node_id, "role": self.role}, status=200 if active else 503
        )

    # ------------------------------------------------------------------ the standby API

    async def _start_standby_api(self) -> None:
        if self._standby_api is not None:
            return
        app = web.Application()
        app.router.add_get("/health", self._standby_health)
        self.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._standby_refusal)
        self._standby_api = await self.node.serve_api(app)

    async def _stop_standby_api(self) -> None:
        if self._standby_api is not None:
            runner, self._standby_api = self._standby_api, None
            await runner.cleanup()

    async def _standby_health(self, request: web.Request) -> web.Response:
        # Healthy standby = able to take over: the live state answers the lease rounds.
        ok = self._grants.reachable
        body = {
            "status": "standby" if ok else "degraded",
            "role": self.role,
            "node": self.node_id,
            "live_state_reachable": ok,
        }
        return web.json_response(body, status=200 if ok else 503)

    async def _standby_refusal(self, request: web.Request) -> web.Response:
        status = await self.status()
        return web.json_response(
            {
                "error": "standby",
                "message": f"this ACD node ({self.node_id}) is {self.role}; "
                f"the active node is {status['holder'] or 'none yet'}",
                "active": status["holder"],
            },
            status=503,
            headers={"Retry-After": str(max(1, round(self.settings.ttl_seconds)))},
        )
