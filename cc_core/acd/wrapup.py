"""The end of a call: abandoned before an agent answered, or finished and into wrap-up, whose
timer is the engine's (the slot stays held for the queue's wrap-up seconds)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cc_core.acd.announce import call_handled
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.domain import AgentState
from cc_core.logs import log_event
from cc_core.routing import RoutingError, WrapUpEnded

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

_ROUTED = (Stage.QUEUED, Stage.OVERFLOWED, Stage.OFFERED)


async def caller_left(acd: AcdService, record: CallRecord, *, cause: str) -> None:
    """The caller's channel is gone (hang-up, or vanished while the ACD was away)."""
    now = acd.now()
    stage = record.stage
    if stage.is_final:
        acd.calls.drop(record)
        return
    if stage in (Stage.ARRIVED, Stage.IVR) or stage in _ROUTED:
        agent_id = record.agent_id
        outcomes = []
        if stage in _ROUTED:
            try:
                outcomes = acd.engine.end(record.interaction_id, now)
            except RoutingError as exc:  # not routed yet (e.g. adopted, being re-queued)
                log_event(log, "call.end_unrouted", logging.INFO, error=str(exc))
        old = record.move(Stage.ABANDONED)
        record.offer_id = None
        waited = round(now - record.arrival, 3)
        await acd.journal.moved(record, old, now, cause=cause, waited=waited)
        acd.calls.drop(record)
        acd.live_sync.queue_changed(record.queue)
        if agent_id:
            acd.live_sync.agent_changed(agent_id)
        if stage in _ROUTED:
            # Leaving in the IVR is not abandoning the queue (its SLA counts queue callers).
            await acd.live_sync.count(record.queue, "abandoned")
        await acd.apply(outcomes)
        return
    if stage is Stage.CONNECTED:
        await _finished(acd, record, now, cause)
        return
    # WRAP_UP: the call is already over; the wrap-up timer closes it.


async def _finished(acd: AcdService, record: CallRecord, now: float, cause: str) -> None:
    agent_id = record.agent_id or ""
    acd.live_sync.agent_changed(agent_id)
    if record.outside_engine:
        # Adopted while talking after a restart: the engine never held this slot.
        old = record.move(Stage.CLOSED)
        await acd.journal.moved(record, old, now, cause=cause)
        acd.calls.drop(record)
        if acd.engine.agent_reason(agent_id) == ADOPTED_CALL:
            await acd.apply(acd.engine.set_state(agent_id, AgentState.READY, now))
        return
    outcomes = acd.engine.end(record.interaction_id, now)
    # The engine holds the slot for the queue's wrap-up; none configured frees it at once.
    in_wrap_up = acd.centre.wrap_up(record.queue) > 0
    old = record.move(Stage.WRAP_UP if in_wrap_up else Stage.CLOSED)
    await acd.journal.moved(record, old, now, cause=cause)
    if not in_wrap_up:
        call_handled(acd, record, now)
        acd.calls.drop(record)
    await acd.apply(outcomes)


async def wrap_up_ended(acd: AcdService, outcome: WrapUpEnded) -> None:
    acd.live_sync.agent_changed(outcome.agent_id)
    record = acd.calls.get(outcome.interaction_id)
    if record is None or record.stage is not Stage.WRAP_UP:
        return
    old = record.move(Stage.CLOSED)
    await acd.journal.moved(record, old, outcome.at)
    call_handled(acd, record, outcome.at)
    acd.calls.drop(record)


# The not-ready reason given to an agent found talking on a call adopted after a restart.
ADOPTED_CALL = "adopted-call"
