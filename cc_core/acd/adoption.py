"""Re-adopting calls after an ACD restart or an AMI link loss.

The PBX lists what is alive (`Resynced`), the store lists the open interactions. A call both
know is taken back: waiting calls are re-queued with their first arrival time (so they keep
their place), a call found talking to an agent is tracked to its end, and an interaction whose
call vanished is closed (abandoned if nobody had answered it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cc_core.acd.lifecycle import FROM_STORE, CallRecord, Stage
from cc_core.acd.offers import answered, missed, ring
from cc_core.acd.wrapup import ADOPTED_CALL, caller_left
from cc_core.domain import AgentState, Interaction, SkillRequirement
from cc_core.logs import log_event
from cc_core.store.models import Interaction as InteractionRow
from cc_core.store.models import InteractionEvent
from pbx.port import LiveCall, NoSuchCall, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

TAG = "CC_INTERACTION_ID"
DNIS = "CC_DNIS"
IVR_FAILED = "CC_IVR_FAILED"
FALLBACK_QUEUE = "CC_FALLBACK_QUEUE"
QUEUE = "CC_QUEUE"  # the queue the IVR chose (set with the tag)
# The dialplan's record of the last ring's DIALSTATUS ([cc-connect]; empty while ringing).
RING_RESULT = "CC_RING_RESULT"


async def adopt(acd: AcdService, live_calls: Sequence[LiveCall]) -> None:
    by_call = {call.call_id: call for call in live_calls}
    by_tag = {call.variables[TAG]: call for call in live_calls if call.variables.get(TAG)}
    # Calls we track whose channel the PBX no longer lists: gone while we could not see.
    await _reconcile(acd, by_call)
    if acd.resyncs > 1:
        # After a link loss only the calls in memory can have changed: the store holds
        # nothing open that this node does not track (it closed the rest at start).
        await _adopt_untagged_calls(acd, live_calls)
        return
    await acd.journal.drain()  # the store must know everything recorded so far
    async with acd.store.transaction(readonly=True) as repos:
        rows = await repos.interactions.list_open()
        # What the IVR chose for each waiting call (skills, language, priority): re-queued,
        # it must be routed as it was, not by its queue's defaults.
        routing = {
            row.id: routing_choice(await repos.events.for_interaction(row.id))
            for row in rows
            if row.channel == "voice"
            and acd.calls.get(row.id) is None
            and (by_call.get(row.pbx_call_id or "") or by_tag.get(row.id)) is not None
        }
    adopted = closed = 0
    open_ids = {row.id for row in rows}
    served = await _served_while_away(acd, rows, by_call, by_tag)
    for row in sorted(rows, key=lambda r: r.created_at):
        if row.channel != "voice" or acd.calls.get(row.id) is not None:
            continue
        if row.id in acd.calls.expected:
            continue  # arriving in this process now: the list may predate its call
        call = by_call.get(row.pbx_call_id or "") or by_tag.get(row.id)
        if call is None:
            await _close_vanished(acd, row, served.get(row.pbx_call_id or ""))
            closed += 1
        else:
            await _take_back(acd, row, call, routing.get(row.id, {}))
            adopted += 1
    untagged = await _adopt_untagged_calls(acd, live_calls)
    stale = [t for t in by_tag if t not in open_ids and acd.calls.get(t) is None]
    if stale:
        # Tagged, and the store has no such interaction at all: its row was still in the
        # journal (ids are handed out before the commit) when the ACD died. Queue the call
        # under the same id, as an untagged one would be. A closed interaction whose call
        # lives on (a caller in the post-call survey) is left alone.
        recorded = await _recorded(acd, stale)
        for interaction_id in [t for t in stale if t not in recorded]:
            if await _adopt_unrecorded(acd, by_tag[interaction_id], interaction_id):
                untagged += 1
        stale = [t for t in stale if acd.calls.get(t) is None]
    if stale:
        log_event(
            log,
            "acd.tagged_calls_without_interaction",
            logging.WARNING,
            interactions=",".join(sorted(stale)),
        )
    log_event(
        log, "acd.adopted", calls=adopted, closed=closed, untagged=untagged, live=len(live_calls)
    )


def link_lost(acd: AcdService) -> None:
    """The PBX link dropped: the outcome of every ring under way may fall into the outage.
    Remember which offers those were; the next resync judges them, and only them."""
    for record in acd.calls:
        if record.stage is Stage.OFFERED and record.offer_id is not None:
            acd.offers_at_loss[record.interaction_id] = record.offer_id


async def _reconcile(acd: AcdService, by_call: dict[str, LiveCall]) -> None:
    """Calls in memory against what the PBX lists: what happened while we could not see."""
    at_loss, acd.offers_at_loss = acd.offers_at_loss, {}
    for record in list(acd.calls):
        call = by_call.get(record.call_id)
        if call is None:
            if record.stage is not Stage.WRAP_UP:
                await caller_left(acd, record, cause="vanished")
            continue
        if record.stage is not Stage.OFFERED or record.offer_id is None:
            continue
        if call.bridged_with:
            # Answered while the link was down: the DialEnd was lost, the bridge is not.
            await answered(acd, record, acd.now(), seen_in="resync")
        elif record.connect_failed and not call.ringing:
            await ring(acd, record)
        elif record.connect_failed:
            # The connect's answer was lost, not the connect: the ring is under way and its
            # end comes as an event.
            record.connect_failed = False
        elif at_loss.get(record.interaction_id) != record.offer_id:
            continue  # rung over the link that is up now: its DialEnd comes as an event
        elif not call.ringing:
            await _ring_outcome(acd, record)


async def _ring_outcome(acd: AcdService, record: CallRecord) -> None:
    """A ring from before the link loss, not ringing nor bridged in the list. The list may
    predate the connect command taking effect, so ask the dialplan's record of the ring."""
    try:
        result = await acd.port.get_variable(record.call_id, RING_RESULT)
    except PbxError as exc:
        # Gone (its hang-up event tells) or unreadable: the offer timer is the backstop.
        log_event(
            log, "offer.ring_result_unreadable", logging.INFO, call=record.call_id, error=str(exc)
        )
        return
    if not result:
        return  # the ring has not ended yet; its DialEnd comes as an event
    now = acd.now()
    if result.upper() == "ANSWER":
        # Answered and already over (the agent hung up): the hang-up event follows.
        await answered(acd, record, now, seen_in="resync")
    else:
        # Ended unanswered while the link was down. Whether the agent let it ring out is
        # unknown: do not count it against them.
        await missed(
            acd, record, now, "ended while the PBX link was down", counts_against_agent=False
        )


async def _adopt_untagged_calls(acd: AcdService, live_calls: Sequence[LiveCall]) -> int:
    untagged = 0
    for call in live_calls:
        if (
            acd.calls.by_call(call.call_id) is None
            and not call.variables.get(TAG)
            and call.variables.get(DNIS)
            and await _adopt_untagged(acd, call)
        ):
            untagged += 1
    return untagged


async def _adopt_untagged(acd: AcdService, call: LiveCall) -> bool:
    """A caller the IVR could not tag (the ACD was down): the dialplan held it with
    CC_IVR_FAILED and CC_FALLBACK_QUEUE (a queue id or a dialled number) for us."""
    try:
        failed = await acd.port.get_variable(call.call_id, IVR_FAILED)
        if not failed:
            return False  # still in the IVR, or not a contact-centre call
        fallback = await acd.port.get_variable(call.call_id, FALLBACK_QUEUE) or ""
    except PbxError as exc:
        log_event(
            log, "acd.untagged_unreadable", logging.WARNING, call=call.call_id, error=str(exc)
        )
        return False
    dnis = call.variables.get(DNIS, "")
    queue = fallback if fallback in acd.centre.queue_info else None
    if queue is None:
        # The number's queue, or for a number that leads to an IVR script the centre's
        # default voice queue: where the IVR itself would have sent a failed run.
        queue = acd.centre.default_queue(fallback or dnis)
    if queue is None:
        log_event(
            log,
            "acd.untagged_no_queue",
            logging.WARNING,
            call=call.call_id,
            number=fallback or dnis,
        )
        return False
    attributes = {"dialled": dnis, "caller": call.caller_num, "ivr_failed": failed}
    record = await _record_call(acd, call, queue, attributes)
    try:
        await acd.port.set_variable(call.call_id, TAG, record.interaction_id)
    except NoSuchCall:
        await caller_left(acd, record, cause="vanished")
        return False
    except PbxError as exc:
        log_event(log, "acd.tag_failed", logging.WARNING, call=call.call_id, error=str(exc))
    await acd.queue_record(record, adopted_untagged=True, ivr_failed=failed)
    return True


async def _recorded(acd: AcdService, interaction_ids: Sequence[str]) -> set[str]:
    async with acd.store.transaction(readonly=True) as repos:
        found = await repos.session.scalars(
            select(InteractionRow.id).where(InteractionRow.id.in_(interaction_ids))
        )
        return set(found)


async def _adopt_unrecorded(acd: AcdService, call: LiveCall, interaction_id: str) -> bool:
    """A tagged call whose interaction never reached the store: recorded again under its tag,
    in the queue the IVR had chosen (``CC_QUEUE``) or the number's default one."""
    if call.bridged_with is not None:
        return False  # talking: no queue to put it in (left to the warning below)
    try:
        chosen = await acd.port.get_variable(call.call_id, QUEUE)
    except PbxError as exc:
        log_event(
            log, "acd.unrecorded_unreadable", logging.WARNING, call=call.call_id, error=str(exc)
        )
        return False
    dnis = call.variables.get(DNIS, "")
    queue = chosen if chosen in acd.centre.queue_info else acd.centre.default_queue(dnis)
    if queue is None:
        log_event(log, "acd.untagged_no_queue", logging.WARNING, call=call.call_id, number=dnis)
        return False
    attributes = {"dialled": dnis, "caller": call.caller_num, "unrecorded": True}
    record = await _record_call(acd, call, queue, attributes, interaction_id)
    log_event(
        log,
        "acd.adopted_unrecorded",
        logging.WARNING,
        interaction=interaction_id,
        call=call.call_id,
        queue=queue,
    )
    await acd.queue_record(record, adopted_untagged=True, unrecorded=True)
    return True


async def _record_call(
    acd: AcdService,
    call: LiveCall,
    queue: str,
    attributes: dict[str, Any],
    interaction_id: str | None = None,
) -> CallRecord:
    """A live call the store does not know, recorded now (under ``interaction_id`` if it
    has one) and tracked."""
    at = acd.now()
    interaction_id = await acd.journal.created(
        call_id=call.call_id,
        queue=queue,
        priority=acd.centre.queue_info[queue].priority,
        attributes=attributes,
        at=at,
        interaction_id=interaction_id,
    )
    # Its wait counts from when the PBX says the call began, not from now.
    arrival = at - max(0.0, call.duration_s)
    record = CallRecord(interaction_id, call.call_id, queue, arrival, caller_num=call.caller_num)
    acd.calls.add(record)
    return record


def _record(acd: AcdService, row: InteractionRow, call_id: str) -> CallRecord:
    return CallRecord(
        row.id,
        call_id,
        row.queue or "",
        row.created_at.timestamp(),
        stage=FROM_STORE.get(row.state, Stage.QUEUED),
        agent_id=row.agent_id,
        caller_num=str((row.attributes or {}).get("caller", "")),
    )


async def _served_while_away(
    acd: AcdService,
    rows: Sequence[InteractionRow],
    by_call: Mapping[str, LiveCall],
    by_tag: Mapping[str, LiveCall],
) -> dict[str, str]:
    """Vanished calls an agent answered while the ACD was away (either side may have hung
    up first), by the dialplan's served marks: call id -> agent. The store may not say so:
    the last facts before a crash can be lost (the journal commits a moment later), and the
    agent may have answered only after the ACD stopped."""
    vanished = {
        row.pbx_call_id
        for row in rows
        if row.pbx_call_id
        and FROM_STORE.get(row.state) not in (Stage.CONNECTED, Stage.WRAP_UP)
        and by_call.get(row.pbx_call_id) is None
        and by_tag.get(row.id) is None
    }
    if not vanished:
        return {}
    agents = {endpoint: agent for agent, endpoint in acd.centre.endpoints.items()}
    try:
        marks = await acd.port.served_by(list(agents))
    except PbxError as exc:
        log_event(log, "acd.served_marks_unreadable", logging.WARNING, error=str(exc))
        return {}
    return {call: agents[ep] for ep, call in marks.items() if call in vanished and ep in agents}


async def _close_vanished(
    acd: AcdService, row: InteractionRow, served_by: str | None = None
) -> None:
    record = _record(acd, row, row.pbx_call_id or f"gone-{row.id}")
    now = acd.now()
    old = record.stage
    if served_by is not None and old not in (Stage.CONNECTED, Stage.WRAP_UP):
        # Answered and over while the ACD was away (the served mark says so).
        record.agent_id = served_by
        record.stage = Stage.CLOSED
        await acd.journal.moved(
            record, old, now, cause="served while the ACD was away", served_mark=True
        )
        return
    final = Stage.CLOSED if old in (Stage.CONNECTED, Stage.WRAP_UP) else Stage.ABANDONED
    record.stage = final  # not through `move`: this skips whatever happened while away
    await acd.journal.moved(record, old, now, cause="vanished while the ACD was away")
    if final is Stage.ABANDONED and record.queue:
        await acd.live_sync.count(record.queue, "abandoned")


def routing_choice(events: Sequence[InteractionEvent]) -> dict[str, Any]:
    """The routing the last queuing chose (its ``queued`` event's skills, language and
    priority); empty when none was recorded (queued straight by number)."""
    for event in reversed(events):
        data = event.data or {}
        if event.event == "queued" and "skills" in data:
            return {key: data[key] for key in ("skills", "language", "priority") if key in data}
    return {}


def routed(acd: AcdService, record: CallRecord, choice: Mapping[str, Any]) -> Interaction:
    """The engine's view of a re-queued call: its queue's defaults, then what was chosen."""
    interaction = acd.interaction_of(record)
    if not choice:
        return interaction
    skills = choice.get("skills") or {}
    try:
        return replace(
            interaction,
            skills=tuple(SkillRequirement(str(s), int(level)) for s, level in skills.items()),
            language=choice.get("language") or interaction.language,
            priority=float(choice.get("priority", interaction.priority)),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        # A record the domain refuses must not keep the caller from being served.
        log_event(
            log,
            "acd.adopt_routing_unreadable",
            logging.WARNING,
            interaction=record.interaction_id,
            error=str(exc),
        )
        return interaction


async def _take_back(
    acd: AcdService, row: InteractionRow, call: LiveCall, choice: Mapping[str, Any]
) -> None:
    record = _record(acd, row, call.call_id)
    if record.queue not in acd.centre.queue_info:
        log_event(
            log, "acd.adopt_unknown_queue", logging.ERROR, interaction=row.id, queue=record.queue
        )
        await _close_vanished(acd, row)
        await _hang_up(acd, call.call_id)
        return
    acd.calls.add(record)
    now = acd.now()
    talking = call.bridged_with is not None
    if talking and record.stage in (Stage.OFFERED, Stage.CONNECTED) and record.agent_id:
        await _adopt_talking(acd, record, now)
        return
    if record.stage is Stage.WRAP_UP:
        # The PBX still has the caller although the store says the talk was over: close it.
        old = record.move(Stage.CLOSED)
        await acd.journal.moved(record, old, now, cause="re-adopted after wrap-up")
        acd.calls.drop(record)
        return
    if record.stage in (Stage.OFFERED, Stage.CONNECTED):
        # Ringing an agent (or left there) when the ACD stopped: back to hold, then re-route.
        try:
            await acd.port.hold(call.call_id)
        except NoSuchCall:
            await caller_left(acd, record, cause="vanished")
            return
        except PbxError as exc:
            log_event(log, "call.hold_failed", logging.WARNING, call=call.call_id, error=str(exc))
        # Connected but no longer bridged counts as an offer that did not last: re-route.
        record.stage = Stage.OFFERED
    if record.stage is Stage.QUEUED:
        await acd.journal.note(record, "readopted", now)
    else:
        old = record.move(Stage.QUEUED)
        await acd.journal.moved(record, old, now, readopted=True)
    record.agent_id = None
    acd.live_sync.queue_changed(record.queue)
    await acd.apply(acd.engine.arrive(routed(acd, record, choice), now))


async def _adopt_talking(acd: AcdService, record: CallRecord, now: float) -> None:
    agent_id = record.agent_id or ""
    record.outside_engine = True
    if record.stage is Stage.OFFERED:
        old = record.move(Stage.CONNECTED)
        await acd.journal.moved(record, old, now, readopted=True)
    if agent_id in acd.centre.endpoints and not _chose_presence(acd, agent_id):
        # Keep the engine from offering this agent anything until the adopted call ends.
        await acd.apply(acd.engine.set_state(agent_id, AgentState.NOT_READY, now, ADOPTED_CALL))
        acd.live_sync.agent_changed(agent_id)


def _chose_presence(acd: AcdService, agent_id: str) -> bool:
    """True when the live state gave this agent back as not ready, or as logged out by its
    own request during the call: it keeps that after the adopted call instead of turning
    ready. (Logged out for want of any record, as with the memory backend, is not a choice.)"""
    state = acd.engine.agent_state(agent_id)
    if state is AgentState.NOT_READY:
        return True
    return (
        state is AgentState.LOGGED_OUT
        and acd.live_sync.recorded_presence(agent_id) == AgentState.LOGGED_OUT.value
    )


async def _hang_up(acd: AcdService, call_id: str) -> None:
    try:
        await acd.port.hangup(call_id)
    except PbxError as exc:
        log_event(log, "call.hangup_failed", logging.WARNING, call=call_id, error=str(exc))
