"""The call flow on FastAGI: route by dialled number, or run the number's IVR script.

Served on ``inbound`` and ``ivr/*`` (``AGI(agi://ACD:4573/ivr/<script>,${EXTEN})``):

* a number mapped straight to a queue (``numbers:`` in queues.yaml) creates the interaction,
  tags the channel with CC_INTERACTION_ID and queues it;
* a number mapped to an IVR script (or, failing that, the script in the AGI path) creates the
  interaction, tags the channel, runs the script over the session with every step in the
  interaction's event log, then acts on the outcome: queue, transfer, callback, voicemail,
  hang-up, the caller hanging up (abandoned in the IVR), or a failure (the number's default
  queue);
* a survey script (``ivr/csat``, after the agent hung up) is :mod:`cc_core.acd.survey`.

Once the AGI ends the dialplan parks a tagged caller in the holding context; the ACD routes it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from cc_core.acd.customers import link_caller, routing_key
from cc_core.acd.ivr_exits import TAG, HangUpLater, learned, leave
from cc_core.acd.ivr_log import step_sink
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.acd.survey import run_survey
from cc_core.domain import ChannelKind, Interaction, SkillRequirement
from cc_core.ivr import HttpLookupClient, IvrContext, IvrOutcome, OutcomeKind, run_script
from cc_core.ivr.model import Script
from cc_core.logs import log_event
from pbx.port import CallerHungUp, MediaSession, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

QUEUE_VARIABLE = "CC_QUEUE"
ERROR_VARIABLE = "CC_AGI_ERROR"
SCRIPT_PREFIX = "ivr/"


class FlowSession(MediaSession, Protocol):
    """What the flow needs from a FastAGI session (``pbx.asterisk.fastagi.AgiSession``)."""

    @property
    def args(self) -> list[str]: ...

    @property
    def script(self) -> str: ...


def make_flow(acd: AcdService) -> Callable[[FlowSession], Awaitable[None]]:
    async def flow(session: FlowSession) -> None:
        await run_flow(acd, session)

    return flow


def path_script(acd: AcdService, session: FlowSession) -> Script | None:
    """The script named by the AGI path (``ivr/<name>``), when the library has it."""
    path = session.script
    if not path.startswith(SCRIPT_PREFIX):
        return None
    return acd.centre.ivr.scripts.get(path.removeprefix(SCRIPT_PREFIX))


async def run_flow(acd: AcdService, session: FlowSession) -> None:
    by_path = path_script(acd, session)
    if by_path is not None and by_path.survey is not None:
        await run_survey(acd, session, by_path, session.args[0] if session.args else "")
        return
    dialled = session.args[0] if session.args else session.called_num
    queue = acd.centre.queue_for_number(dialled)
    if queue is not None:
        await queue_directly(acd, session, dialled, queue)
        return
    name = acd.centre.ivr_for_number(dialled)
    script = acd.centre.ivr.scripts.get(name) if name else by_path
    fallback = acd.centre.default_queue(dialled) if name else acd.centre.first_voice_queue()
    if script is None or fallback is None:
        why = f"no queue or IVR script for dialled number {dialled}"
        if name and fallback is not None:
            why = f"IVR script {name!r} of number {dialled} is not loaded"
        log_event(log, "ivr.unknown_number", logging.WARNING, number=dialled,
                  call=session.call_id, script=session.script, error=why)
        await session.set_variable(ERROR_VARIABLE, why)
        return
    await run_ivr(acd, session, dialled, script, fallback)


# ---------------------------------------------------------------------------- straight to a queue


async def queue_directly(acd: AcdService, session: FlowSession, dialled: str, queue: str) -> None:
    interaction_id = await acd.arrive_call(
        call_id=session.call_id, queue=queue, caller_num=session.caller_num, dialled=dialled
    )
    log_event(log, "ivr.routed", number=dialled, queue=queue, chosen_by="number",
              interaction=interaction_id)
    try:
        await session.set_variable(TAG, interaction_id)
        await session.set_variable(QUEUE_VARIABLE, queue)
    except CallerHungUp:
        await acd.abandon(interaction_id, "hung up in the IVR")
        return
    except PbxError as exc:
        # Untagged, the call cannot be re-adopted after a restart; it is still served.
        log_event(log, "ivr.tag_failed", logging.WARNING, call=session.call_id, error=str(exc))
    await acd.enqueue(interaction_id)


# ---------------------------------------------------------------------------- an IVR script


def ivr_clock(acd: AcdService) -> Callable[[], dt.datetime]:
    # Business hours follow the ACD's own clock, like everything else it decides.
    return lambda: dt.datetime.fromtimestamp(acd.now(), dt.UTC)


async def arrive_in_ivr(acd: AcdService, session: FlowSession, dialled: str, script: str,
                        queue: str) -> CallRecord:
    """The interaction exists from the first prompt, in the number's default queue until the
    script decides; the record is tracked so a hang-up or a resync finds it."""
    at = acd.now()
    info = acd.centre.queue_info[queue]
    interaction_id = await acd.journal.created(
        call_id=session.call_id, queue=queue, priority=info.priority,
        attributes={"dialled": dialled, "caller": session.caller_num, "ivr_script": script},
        at=at,
    )
    acd.calls.expect(interaction_id)
    link_caller(acd, interaction_id, session.caller_num)  # queued, not awaited

    async def job() -> CallRecord:
        record = CallRecord(interaction_id, session.call_id, queue, at,
                            caller_num=session.caller_num)
        acd.calls.add(record)
        old = record.move(Stage.IVR)
        await acd.journal.moved(record, old, at, dialled=dialled, flow="script", script=script)
        return record

    return await acd.serial(job)


async def run_ivr(acd: AcdService, session: FlowSession, dialled: str, script: Script,
                  fallback: str) -> None:
    record = await arrive_in_ivr(acd, session, dialled, script.name, fallback)
    try:
        # Tagged at once: if the ACD stops mid-script, the held call is re-adopted.
        await session.set_variable(TAG, record.interaction_id)
    except CallerHungUp:
        await acd.abandon(record.interaction_id, "hung up in the IVR")
        return
    except PbxError as exc:
        log_event(log, "ivr.tag_failed", logging.WARNING, call=session.call_id, error=str(exc))
    async with HttpLookupClient() as lookups:
        outcome = await run_script(script, HangUpLater(session), IvrContext(
            prompts=acd.centre.ivr.prompts,
            sink=step_sink(acd, record.interaction_id, record.queue),
            lookup=lookups, clock=ivr_clock(acd),
            attributes={"interaction_id": record.interaction_id, "dialled": dialled}))
    log_event(log, "ivr.outcome", interaction=record.interaction_id, script=script.name,
              outcome=outcome.kind.value, node=outcome.node, reason=outcome.reason)
    await act_on(acd, session, record, outcome, fallback)


async def act_on(acd: AcdService, session: FlowSession, record: CallRecord, outcome: IvrOutcome,
                 fallback: str) -> None:
    match outcome.kind:
        case OutcomeKind.QUEUE:
            queue = outcome.queue or fallback
            if not _voice_queue(acd, queue):
                log_event(log, "ivr.unknown_queue", logging.ERROR, queue=queue,
                          script=outcome.script, node=outcome.node, fallback=fallback)
                queue = fallback
            await to_queue(acd, session, record, outcome, queue)
        case OutcomeKind.FAILED:
            await to_queue(acd, session, record, outcome, fallback)
        case OutcomeKind.CALLER_HUNG_UP:
            await acd.abandon(record.interaction_id, "hung up in the IVR")
        case _:
            await leave(acd, session, record, outcome)


def _voice_queue(acd: AcdService, queue: str) -> bool:
    info = acd.centre.queue_info.get(queue)
    return info is not None and "voice" in info.channels


def routed_interaction(acd: AcdService, record: CallRecord, outcome: IvrOutcome,
                       at: float) -> Interaction:
    """The engine's view: the script's skills, language and priority (on top of the queue's)."""
    info = acd.centre.queue_info[record.queue]
    chosen = outcome.kind is OutcomeKind.QUEUE
    skills = tuple(SkillRequirement(s, lvl) for s, lvl in outcome.skills.items()) if chosen else ()
    attributes = {k: str(v) for k, v in outcome.attributes.items()}
    return Interaction(
        record.interaction_id, record.queue, ChannelKind.VOICE, at,
        skills=skills,
        language=(outcome.language or info.language) if chosen else info.language,
        priority=info.priority + (outcome.priority if chosen else 0),
        customer_id=attributes.get("customer_id") or routing_key(record.caller_num),
        attributes=attributes,
    )


async def to_queue(acd: AcdService, session: FlowSession, record: CallRecord, outcome: IvrOutcome,
                   queue: str) -> None:
    acd.journal.attributes(record.interaction_id, learned(outcome))
    try:
        await session.set_variable(QUEUE_VARIABLE, queue)
    except CallerHungUp:
        await acd.abandon(record.interaction_id, "hung up in the IVR")
        return
    except PbxError as exc:
        log_event(log, "ivr.tag_failed", logging.WARNING, call=session.call_id, error=str(exc))

    async def job() -> None:
        if acd.calls.get(record.interaction_id) is not record or record.stage is not Stage.IVR:
            return  # the caller hung up meanwhile; that closed it
        at = acd.now()
        record.queue = queue
        record.arrival = at  # waiting starts in the queue: time in the IVR is not wait
        interaction = routed_interaction(acd, record, outcome, at)
        old = record.move(Stage.QUEUED)
        data: dict[str, Any] = {
            "script": outcome.script, "ivr_outcome": outcome.kind.value,
            "skills": dict(outcome.skills), "language": interaction.language,
            "priority": interaction.priority,
        }
        if outcome.kind is OutcomeKind.FAILED:
            data["reason"] = outcome.reason
        await acd.journal.moved(record, old, at, **data)
        acd.live_sync.queue_changed(queue)
        await acd.apply(acd.engine.arrive(interaction, at))

    await acd.serial(job)
