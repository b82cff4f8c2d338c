"""Offers: atomic reservation, then the PBX command; the ring's outcome back into the engine.

The reservation (live-state compare-and-set) comes before any PBX command, so two ACD nodes,
or a stale decision, can never ring one agent twice. The connect command is sent without
waiting for the PBX's answer (`AcdService.command`); the answer comes back as a job of its own
(`connect_answered`): the caller gone (NoSuchCall) closes the interaction, any other failure
(link down, no answer in time) marks the ring to be sent again after the next resync, with
the engine's offer timer as the backstop. A ring that ends without an answer puts
the caller back on hold and lets the engine re-route (its `no_answer` also applies the
agent's consecutive no-answer rule). An answer within the queue's SLA seconds also counts
`answered_in_sla` on the queue's live counters, for the wallboard's "SLA so far".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from cc_core.acd.agent_quality import offer_quality_fields
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.logs import log_event
from cc_core.routing import Offer, OfferExpired
from cc_core.store.live import LiveStateError
from pbx.port import DialEnded, DialStatus, NoSuchCall, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

SURVEY_VARIABLE = "CC_SURVEY"


async def place(acd: AcdService, offer: Offer) -> None:
    record = acd.calls.get(offer.interaction_id)
    if record is None:  # the engine only offers what we gave it; defensive all the same
        log_event(log, "offer.unknown_interaction", logging.ERROR, interaction=offer.interaction_id)
        await acd.apply(acd.engine.end(offer.interaction_id, acd.now()))
        return
    agent_id = offer.agent_id
    if record.call_id in acd.hung_up:
        # The PBX already said this caller hung up (its job is still queued): close it now
        # rather than reserve an agent and ring for nobody.
        from cc_core.acd.wrapup import caller_left

        acd.live_sync.agent_changed(agent_id)
        await caller_left(acd, record, cause="hung up before ringing")
        return
    expected = acd.live_sync.written_state(agent_id)
    try:
        reserved = await acd.live.reserve(agent_id, expected, record.interaction_id)
    except LiveStateError as exc:
        log_event(log, "offer.reserve_failed", logging.WARNING, agent=agent_id, error=str(exc))
        reserved = None
    if reserved is None:
        # Someone else changed the agent (another node, a stale record): not this agent now.
        log_event(
            log,
            "offer.not_reserved",
            logging.WARNING,
            agent=agent_id,
            interaction=record.interaction_id,
            expected=expected,
        )
        acd.live_sync.agent_changed(agent_id)
        await acd.apply(acd.engine.reject(offer.offer_id, acd.now()))
        return
    acd.live_sync.remember(reserved)
    record.agent_id = agent_id
    record.offer_id = offer.offer_id
    old = record.move(Stage.OFFERED)
    await ring(acd, record)  # first: the caller waits for this, the records below do not
    await acd.journal.moved(
        record,
        old,
        offer.at,
        offer_id=offer.offer_id,
        trigger=offer.reason.trigger.value,
        step=offer.reason.step,
        requirements=offer.reason.requirements,
        **offer_quality_fields(offer.reason),  # the agent's score and the queue's minimum
    )
    acd.live_sync.queue_changed(record.queue)
    acd.live_sync.agent_changed(agent_id)
    await acd.live_sync.count(record.queue, "offered")


async def ring(acd: AcdService, record: CallRecord) -> None:
    """Tell the PBX to ring the reserved agent for ``record``; the answer is a later job
    (nothing here waits: a coroutine only for its callers)."""
    agent_id = record.agent_id or ""
    endpoint = acd.centre.endpoints[agent_id]
    info = acd.centre.queue_info[record.queue]
    # In flight is not failed: a resync meanwhile must not send it a second time.
    record.connect_failed = False
    record.connects += 1
    attempt, offer_id = record.connects, record.offer_id
    connect = acd.port.connect_agent(
        record.call_id,
        endpoint,
        ring_timeout=info.ring_timeout,
        caller_id=record.caller_num or None,
    )
    if info.csat_survey:
        # Set when ringing, not in the IVR: overflow or adoption may have changed the queue.
        # Sent first: the PBX runs the two in the order they are written.
        send: Awaitable[object] = _with_survey(acd, record.call_id, connect)
    else:
        send = connect

    async def then(error: BaseException | None) -> None:
        await connect_answered(acd, record, offer_id, attempt, error)

    acd.command(send, then)


async def connect_answered(
    acd: AcdService,
    record: CallRecord,
    offer_id: int | None,
    attempt: int,
    error: BaseException | None,
) -> None:
    """The PBX's answer to a connect command, in the ACD's order."""
    if (
        acd.calls.get(record.interaction_id) is not record
        or record.stage is not Stage.OFFERED
        or record.offer_id != offer_id
        or record.connects != attempt
    ):
        return  # the offer moved on meanwhile (answered, hung up, timed out, sent again)
    if error is None:
        return
    agent_id = record.agent_id or ""
    if isinstance(error, NoSuchCall):
        from cc_core.acd.wrapup import caller_left

        log_event(
            log,
            "offer.call_not_found",
            logging.WARNING,
            call=record.call_id,
            agent=agent_id,
            error=str(error),
        )
        await caller_left(acd, record, cause="call gone before ringing")
        return
    # Link down or no answer in time (or an adapter bug): ring again after the next resync;
    # the engine's offer timer (ring time plus a grace) re-routes the call if that never comes.
    record.connect_failed = True
    level = logging.WARNING if isinstance(error, PbxError) else logging.ERROR
    log_event(
        log,
        "offer.connect_failed",
        level,
        call=record.call_id,
        agent=agent_id,
        error=str(error) or type(error).__name__,
    )


async def dial_ended(acd: AcdService, event: DialEnded) -> None:
    record = acd.calls.by_call(event.call_id)
    if record is None or record.stage is not Stage.OFFERED or record.offer_id is None:
        return
    expected = acd.centre.endpoints.get(record.agent_id or "", "")
    if expected.lower() != event.endpoint.lower():
        return  # a dial we did not ask for (e.g. a transfer inside the PBX)
    now = acd.now()
    if event.status is DialStatus.ANSWER:
        await answered(acd, record, now)
        return
    if event.status is DialStatus.CANCEL:
        return  # the caller hung up or was moved; that event tells the rest
    # Busy is the phone's answer, not the agent missing a call: it does not count.
    counts = event.status is not DialStatus.BUSY
    await missed(acd, record, now, event.status.value, counts_against_agent=counts)


async def missed(
    acd: AcdService, record: CallRecord, now: float, reason: str, *, counts_against_agent: bool
) -> None:
    """The ring ended without an answer: re-route; the engine's no-answer rule applies when
    the agent is to blame."""
    assert record.offer_id is not None
    if not counts_against_agent:
        outcomes = acd.engine.reject(record.offer_id, now)
    else:
        outcomes = acd.engine.no_answer(record.offer_id, now)
    await back_to_queue(acd, record, now, reason=reason)
    await acd.apply(outcomes)
    await _hold_if_waiting(acd, record)


async def answered(acd: AcdService, record: CallRecord, now: float, **data: object) -> None:
    """The offered agent picked up (seen as DialEnd ANSWER, or bridged after a resync)."""
    assert record.offer_id is not None
    outcomes = acd.engine.accept(record.offer_id, now)
    record.offer_id = None
    record.connected_at = now
    old = record.move(Stage.CONNECTED)
    await acd.journal.moved(record, old, now, **data)
    acd.live_sync.agent_changed(record.agent_id or "")
    await acd.live_sync.count(record.queue, "answered")
    await count_sla(acd, record, now)
    await acd.apply(outcomes)


async def count_sla(acd: AcdService, record: CallRecord, now: float) -> None:
    """`answered_in_sla` when the wait (arrival in the queue to answer) met the queue's SLA.

    A late answer adds 0, so the counter exists once the queue has answered anything and the
    wallboard shows 0 % rather than nothing."""
    sla = acd.centre.queue_info[record.queue].sla_seconds
    if sla is None:
        return
    within = now - record.arrival <= sla
    try:
        await acd.live.incr_counter(record.queue, "answered_in_sla", 1 if within else 0)
    except LiveStateError as exc:
        log_event(log, "live.counter_failed", logging.WARNING, queue=record.queue, error=str(exc))


async def _with_survey(acd: AcdService, call_id: str, connect: Awaitable[None]) -> None:
    """Ask for the survey, then connect: both written before either answer is awaited."""
    survey, ringing = await asyncio.gather(
        acd.port.set_variable(call_id, SURVEY_VARIABLE, "1"), connect, return_exceptions=True
    )
    if isinstance(ringing, BaseException):
        raise ringing
    if isinstance(survey, PbxError) and not isinstance(survey, NoSuchCall):
        # No survey for this call is better than no agent for it.
        log_event(log, "offer.survey_not_set", logging.WARNING, call=call_id, error=str(survey))


async def expired(acd: AcdService, outcome: OfferExpired) -> None:
    """The engine gave up on an offer whose ring outcome never came: stop ringing."""
    record = acd.calls.get(outcome.interaction_id)
    if record is None or record.stage is not Stage.OFFERED:
        return
    await back_to_queue(acd, record, outcome.at, reason="offer timeout")
    await _hold_if_waiting(acd, record)


async def back_to_queue(acd: AcdService, record: CallRecord, at: float, *, reason: str) -> None:
    agent_id = record.agent_id
    record.offer_id = None
    record.connect_failed = False
    old = record.move(Stage.QUEUED)
    await acd.journal.moved(record, old, at, reason=reason, missed_agent=agent_id)
    record.agent_id = None
    acd.live_sync.queue_changed(record.queue)
    if agent_id:
        acd.live_sync.agent_changed(agent_id)


async def _hold_if_waiting(acd: AcdService, record: CallRecord) -> None:
    # Re-offered at once: the connect command moves the caller anyway.
    if record.stage is not Stage.QUEUED or acd.calls.get(record.interaction_id) is None:
        return
    acd.command(_hold(acd, record.call_id))


async def _hold(acd: AcdService, call_id: str) -> None:
    try:
        await acd.port.hold(call_id)
    except NoSuchCall:
        return  # hung up meanwhile; its hang-up event closes the interaction
    except PbxError as exc:
        log_event(log, "call.hold_failed", logging.WARNING, call=call_id, error=str(exc))
