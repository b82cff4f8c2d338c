"""`AcdService`: one serial event loop over the PBX port, the routing engine, the store and the
live state.

Everything that changes the ACD's picture (a PBX event, an API request, the engine's timer)
runs as one job at a time from one queue, so engine calls, store writes and PBX commands
happen in a single order. The engine's timers are driven by one asyncio timer armed at
``engine.next_timer()``; nothing polls.

A job never waits for the PBX: it sends a command (`command`) and goes on; the answer comes
back as a job of its own. So one slow or lost answer delays nothing else, and the commands of
consecutive jobs still reach the PBX in the order they were decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cc_core.acd import adoption, agents, customers, eager, offers, wrapup
from cc_core.acd.callback import CALL_PREFIX, request_callback
from cc_core.acd.centre import Centre
from cc_core.acd.journal import Journal, StoreFence
from cc_core.acd.lifecycle import CallBook, CallRecord, Stage
from cc_core.acd.live_sync import LiveSync
from cc_core.domain import ChannelKind, ExitKind, Interaction
from cc_core.logs import log_event
from cc_core.routing import (
    AgentAutoNotReady,
    Exited,
    Offer,
    OfferExpired,
    Outcome,
    Overflowed,
    WrapUpEnded,
)
from cc_core.store.database import Store
from cc_core.store.live import LiveState
from pbx.port import (
    CallHungUp,
    ConnectionLost,
    ConnectionRestored,
    DialEnded,
    EndpointRegistered,
    EndpointUnregistered,
    EventSubscription,
    NoSuchCall,
    PbxError,
    PbxEvent,
    PbxPort,
    Resynced,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_HANDLED = (
    DialEnded,
    CallHungUp,
    Resynced,
    EndpointRegistered,
    EndpointUnregistered,
    ConnectionLost,
    ConnectionRestored,
)

# Where an interaction that waited too long leaves to (dialplan context, exten = exit kind).
EXIT_CONTEXT = "cc-exit"
# Calls adopted at start from which the objects then alive are frozen out of the collector.
FREEZE_BACKLOG = 1000


class AcdService:
    """The ACD for one centre and one PBX."""

    def __init__(
        self,
        centre: Centre,
        port: PbxPort,
        store: Store,
        live: LiveState,
        *,
        clock: Callable[[], float] = time.time,
        store_fence: StoreFence | None = None,
    ) -> None:
        self.centre = centre
        self.port = port
        self.store = store
        self.live = live
        self.engine = centre.new_engine()
        self.calls = CallBook()
        # HA: the journal's transactions carry the lease token (cc_core.acd.journal).
        self.journal = Journal(store, live, fence=store_fence)
        self.live_sync = LiveSync(self)
        self._wall = clock
        self._last = float("-inf")
        self._jobs: deque[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = deque()
        # The task running jobs, while there are any (see `_enqueue`).
        self._runner: asyncio.Task[None] | None = None
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        # PBX commands sent and not yet answered.
        self._commands: set[asyncio.Task[Any]] = set()
        # Calls whose hang-up the PBX reported and whose job has not run yet: an offer for one
        # of them is not sent (it would only come back as NoSuchCall).
        self.hung_up: set[str] = set()
        self._subscription: EventSubscription | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None
        self.resyncs = 0
        # Interaction id -> the offer that was ringing when the PBX link last dropped.
        self.offers_at_loss: dict[str, int] = {}
        self.started = False

    # ------------------------------------------------------------------ life cycle

    def now(self) -> float:
        """Wall-clock seconds, never going back (the engine refuses a clock that does)."""
        self._last = max(self._last, self._wall())
        return self._last

    async def start(self, *, wait_for_pbx: bool = True) -> None:
        """Load agents, subscribe to the PBX, start the loop, connect the PBX.

        Calls already waiting in the PBX are re-adopted when the port reports ``Resynced``.
        """
        # HA: the token first, so the previous active node writes nothing more once this one
        # reads the store (a newer token already there: `StoreFenced`, the node steps down).
        await self.journal.claim()
        now = self.now()
        for agent in self.centre.agents:
            self.engine.add_agent(agent, now)
        await self.live_sync.restore_agents()
        await self.live_sync.restore_queues()
        await self._load_service_history()
        self.journal.start()
        self._subscription = self.port.events()
        self._tasks.append(asyncio.create_task(self._pump(self._subscription), name="acd-pbx"))
        self.started = True
        try:
            start = self.port.start
            if wait_for_pbx:
                await start()
            else:
                await start(wait=False)
        except PbxError as exc:
            # The port keeps reconnecting; calls are adopted when it gets through.
            log_event(log, "pbx.not_yet_connected", logging.WARNING, error=str(exc))

    async def _load_service_history(self) -> None:
        # Before any call is routed; a store that cannot answer costs stickiness, not calls.
        try:
            await customers.load_service_history(self)
        except Exception as exc:
            log_event(log, "customer.history_failed", logging.WARNING, error=str(exc))

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._subscription is not None:
            self._subscription.close()
        with contextlib.suppress(Exception):
            await self.port.close()
        runner = [self._runner] if self._runner is not None else []
        for task in [*self._tasks, *runner, *self._commands]:
            task.cancel()
        await asyncio.gather(*self._tasks, *runner, *self._commands, return_exceptions=True)
        self._tasks.clear()
        self._commands.clear()
        self._jobs.clear()
        await self.journal.close()
        self.started = False

    # ------------------------------------------------------------------ the serial loop

    async def serial(self, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` in the ACD's order and return its result (or raise its error)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(job, future)
        return await future

    def submit(self, job: Callable[[], Awaitable[Any]]) -> None:
        """Queue ``job`` without waiting for it (timers, fire-and-forget)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._enqueue(job, future)

    def _enqueue(self, job: Callable[[], Awaitable[Any]], future: asyncio.Future[Any]) -> None:
        self._jobs.append((job, future))
        if self._running:
            return  # the runner takes it in turn
        # Nothing running: the jobs start now, in the caller's turn of the loop. A job that
        # waits for no I/O (the usual case) is done, its PBX command written, before this
        # returns; one that waits goes on as a task, and later jobs queue behind it.
        # The collector waits until then: a collection of the young objects takes 1-10 ms
        # under load, and it is the loop's time between jobs, not a decision's, it may take.
        collecting = gc.isenabled()
        gc.disable()
        try:
            runner = eager.start(self._run_jobs(), name="acd-jobs")
        finally:
            if collecting:
                gc.enable()
        if not runner.done():
            self._runner = runner

    async def _run_jobs(self) -> None:
        self._running = True
        try:
            while self._jobs:
                job, future = self._jobs.popleft()
                try:
                    result = await job()
                except Exception as exc:  # one failed job must never stop the ACD
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
                try:
                    await self.live_sync.flush()
                except Exception:
                    log.exception("live state sync failed")
                self._arm_timer()
        finally:
            self._running = False
            self._runner = None

    def command(
        self,
        send: Awaitable[Any],
        then: Callable[[BaseException | None], Awaitable[None]] | None = None,
    ) -> None:
        """Send a PBX command without waiting for its answer.

        ``send`` (a port call) starts on the loop's next turn, before the next job; ``then``
        gets the answer (None, or the error) as a job of its own, in the ACD's order. Without
        ``then`` a failure is only logged.
        """
        # Started at once: the command is on the socket when the job goes on.
        task = eager.start(send) if asyncio.iscoroutine(send) else asyncio.ensure_future(send)
        self._commands.add(task)

        def answered(done: asyncio.Future[Any]) -> None:
            self._commands.discard(task)
            if done.cancelled():
                return
            error = done.exception()
            if then is not None:
                self.submit(lambda: then(error))
            elif error is not None and not isinstance(error, NoSuchCall):
                log_event(log, "pbx.command_failed", logging.WARNING, error=str(error))

        task.add_done_callback(answered)

    async def _pump(self, subscription: EventSubscription) -> None:
        # Events are queued as jobs without waiting for each to run: their order among
        # themselves is kept, and a hang-up is known (`hung_up`) before its job's turn.
        async for event in subscription:
            if not isinstance(event, _HANDLED):
                continue  # ringing, answer, bridge and DTMF events change nothing here
            if isinstance(event, CallHungUp):
                self.hung_up.add(event.call_id)
            self.submit(lambda e=event: self._event_job(e))

    async def _event_job(self, event: PbxEvent) -> None:
        try:
            await self.on_pbx_event(event)
        except Exception:
            log.exception("PBX event %r failed", event)

    def _arm_timer(self) -> None:
        due = self.engine.next_timer()
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due
        if due is None:
            return
        delay = max(0.0, due - self.now())
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_due = None
        self.submit(self._on_timer)

    async def _on_timer(self) -> None:
        await self.apply(self.engine.on_timer(self.now()))

    # ------------------------------------------------------------------ PBX events

    async def on_pbx_event(self, event: PbxEvent) -> None:
        if isinstance(event, DialEnded):
            await offers.dial_ended(self, event)
        elif isinstance(event, CallHungUp):
            self.hung_up.discard(event.call_id)
            record = self.calls.by_call(event.call_id)
            if record is not None:
                await wrapup.caller_left(self, record, cause=event.cause.text)
        elif isinstance(event, Resynced):
            self.resyncs += 1
            await adoption.adopt(self, event.calls)
            if self.resyncs == 1 and len(self.calls) >= FREEZE_BACKLOG:
                # A large backlog just loaded lives as long as its calls: moved out of the
                # collector's sight, a full collection of it (~350 ms at 100k interactions)
                # cannot land inside one call's handling.
                gc.collect()
                gc.freeze()
                log_event(
                    log, "acd.gc_frozen", calls=len(self.calls), objects=gc.get_freeze_count()
                )
        elif isinstance(event, EndpointRegistered):
            await agents.endpoint_registered(self, event.endpoint)
        elif isinstance(event, EndpointUnregistered):
            await agents.endpoint_unregistered(self, event.endpoint)
        elif isinstance(event, ConnectionLost):
            log_event(log, "pbx.connection_lost", logging.WARNING, reason=event.reason)
            adoption.link_lost(self)
        elif isinstance(event, ConnectionRestored):
            log_event(log, "pbx.connection_restored")

    # ------------------------------------------------------------------ engine outcomes

    async def apply(self, outcomes: Sequence[Outcome]) -> None:
        """Carry out the engine's decisions in order (each may lead to more)."""
        for outcome in outcomes:
            if isinstance(outcome, Offer):
                await offers.place(self, outcome)
            elif isinstance(outcome, OfferExpired):
                await offers.expired(self, outcome)
            elif isinstance(outcome, WrapUpEnded):
                await wrapup.wrap_up_ended(self, outcome)
            elif isinstance(outcome, Overflowed):
                await self._overflowed(outcome)
            elif isinstance(outcome, Exited):
                await self._exited(outcome)
            elif isinstance(outcome, AgentAutoNotReady):
                self.live_sync.agent_changed(outcome.agent_id)
                await self.journal.agent_event(
                    outcome.agent_id,
                    "auto_not_ready",
                    outcome.at,
                    reason=outcome.reason,
                    missed=outcome.missed,
                )

    async def _overflowed(self, outcome: Overflowed) -> None:
        record = self.calls.get(outcome.interaction_id)
        if record is None:
            return
        old = record.move(Stage.OVERFLOWED)
        record.queue = outcome.to_queue
        await self.journal.moved(record, old, outcome.at, from_queue=outcome.from_queue)
        self.live_sync.queue_changed(outcome.from_queue)
        old = record.move(Stage.QUEUED)
        await self.journal.moved(record, old, outcome.at)
        self.live_sync.queue_changed(outcome.to_queue)

    async def _exited(self, outcome: Exited) -> None:
        record = self.calls.get(outcome.interaction_id)
        if record is None:
            return
        old = record.move(Stage.EXITED)
        callback = outcome.exit is ExitKind.CALLBACK and not record.call_id.startswith(CALL_PREFIX)
        extra = {"callback_number": record.caller_num, "callback_queue": record.queue}
        await self.journal.moved(
            record, old, outcome.at, exit=outcome.exit.value, **(extra if callback else {})
        )
        self.calls.drop(record)
        self.live_sync.queue_changed(record.queue)
        self.command(self._leave(record.call_id, outcome.exit.value))
        if callback:
            # Placed like an IVR's callback request; as a task, since it queues a job of its
            # own and this runs inside one.
            self.command(
                request_callback(
                    self,
                    number=record.caller_num,
                    queue=record.queue,
                    requested_at=outcome.at,
                    first_interaction=record.interaction_id,
                )
            )

    async def _leave(self, call_id: str, exit_kind: str) -> None:
        """Send a caller to its exit; the interaction is already closed, so nothing waits."""
        try:
            await self.port.redirect(call_id, EXIT_CONTEXT, exit_kind)
            return
        except NoSuchCall:
            return
        except PbxError as exc:
            # No exit in the dialplan: better a clear end than a caller left on hold for ever.
            log_event(
                log,
                "call.exit_failed",
                logging.WARNING,
                call=call_id,
                exit=exit_kind,
                error=str(exc),
            )
        try:
            await self.port.hangup(call_id)
        except PbxError as exc:
            log_event(log, "call.hangup_failed", logging.WARNING, call=call_id, error=str(exc))

    # ------------------------------------------------------------------ calls (IVR side)

    async def arrive_call(
        self, *, call_id: str, queue: str, caller_num: str = "", dialled: str = ""
    ) -> str:
        """A caller reached the built-in flow: create the interaction (arrived, then ivr)."""

        info = self.centre.queue_info[queue]
        at = self.now()
        # Written outside the job loop: the id is needed now, and other jobs need not wait.
        interaction_id = await self.journal.created(
            call_id=call_id,
            queue=queue,
            priority=info.priority,
            attributes={"dialled": dialled, "caller": caller_num},
            at=at,
        )
        self.calls.expect(interaction_id)
        customers.link_caller(self, interaction_id, caller_num)  # queued, not awaited

        async def job() -> str:
            record = CallRecord(interaction_id, call_id, queue, at, caller_num=caller_num)
            self.calls.add(record)
            old = record.move(Stage.IVR)
            await self.journal.moved(record, old, at, dialled=dialled, flow="built-in")
            return interaction_id

        return await self.serial(job)

    async def enqueue(self, interaction_id: str) -> bool:
        """The caller left the IVR for the holding area: route it. False if it is gone."""

        async def job() -> bool:
            record = self.calls.get(interaction_id)
            if record is None or record.stage is not Stage.IVR:
                return False
            await self.queue_record(record)
            return True

        return await self.serial(job)

    async def abandon(self, interaction_id: str, reason: str) -> None:
        """The caller left before reaching the queue (e.g. hung up during the IVR)."""

        async def job() -> None:
            record = self.calls.get(interaction_id)
            if record is not None:
                await wrapup.caller_left(self, record, cause=reason)

        await self.serial(job)

    async def queue_record(self, record: CallRecord, **data: Any) -> None:
        """Move a known record into its queue and hand it to the engine."""
        at = self.now()
        old = record.move(Stage.QUEUED)
        await self.journal.moved(record, old, at, **data)
        self.live_sync.queue_changed(record.queue)
        await self.apply(self.engine.arrive(self.interaction_of(record), at))

    def interaction_of(self, record: CallRecord) -> Interaction:
        info = self.centre.queue_info[record.queue]
        return Interaction(
            record.interaction_id,
            record.queue,
            ChannelKind.VOICE,
            record.arrival,
            language=info.language,
            priority=info.priority,
            customer_id=customers.routing_key(record.caller_num),
        )

    # ------------------------------------------------------------------ snapshots (API)

    def agent_snapshot(self, agent_id: str) -> dict[str, Any]:
        state = self.engine.agent_state(agent_id)
        contacts, talk = self.engine.agent_counters(agent_id)
        return {
            "id": agent_id,
            "name": self.centre.agent_names.get(agent_id, agent_id),
            "endpoint": self.centre.endpoints.get(agent_id),
            "state": state.value,
            "reason": self.engine.agent_reason(agent_id),
            "interactions": [
                r.interaction_id
                for r in self.calls
                if r.agent_id == agent_id
                and r.stage in (Stage.OFFERED, Stage.CONNECTED, Stage.WRAP_UP)
            ],
            "contacts": contacts,
            "talk_seconds": round(talk, 3),
        }

    def queue_snapshot(self, queue_id: str) -> dict[str, Any]:
        return {
            "id": queue_id,
            "waiting": self.engine.waiting_count(queue_id),
            "longest_wait_since": self.calls.waiting_since(queue_id),
            "offered": sum(
                1 for r in self.calls if r.queue == queue_id and r.stage is Stage.OFFERED
            ),
            "connected": sum(
                1 for r in self.calls if r.queue == queue_id and r.stage is Stage.CONNECTED
            ),
        }

    def call_snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "interaction_id": r.interaction_id,
                "call_id": r.call_id,
                "queue": r.queue,
                "stage": r.stage.value,
                "agent_id": r.agent_id,
                "arrival": r.arrival,
            }
            for r in self.calls
        ]


def _consume(future: asyncio.Future[Any]) -> None:
    # Fire-and-forget jobs: report the failure rather than "exception never retrieved".
    if not future.cancelled() and future.exception() is not None:
        log.error("ACD job failed", exc_info=future.exception())
