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
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from cc_core.acd.ivr_log import step_sink
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.acd.survey import run_survey
from cc_core.domain import ChannelKind, Interaction, SkillRequirement
from cc_core.ivr import HttpLookupClient, IvrContext, IvrOutcome, OutcomeKind, run_script
from cc_core.ivr.model import Script
from cc_core.logs import log_event
from pbx.port import (
    CallerHungUp,
    CollectResult,
    CollectSpec,
    MediaSession,
    NoSuchCall,
    PbxError,
)

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

TAG = "CC_INTERACTION_ID"
QUEUE_VARIABLE = "CC_QUEUE"
ERROR_VARIABLE = "CC_AGI_ERROR"
MAILBOX_VARIABLE = "CC_MAILBOX"
SCRIPT_PREFIX = "ivr/"
# Where IVR exits go when the script names no context: voicemail to the same exit context
# as a max-wait exit; a transfer without a context is dialled as a new inbound call, so
# numbers: in queues.yaml decide where it lands.
EXIT_CONTEXT = "cc-exit"
TRANSFER_CONTEXT = "cc-inbound"


class FlowSession(MediaSession, Protocol):
    """What the flow needs from a FastAGI session (``pbx.asterisk.fastagi.AgiSession``)."""

    @property
    def args(self) -> list[str]: ...

    @property
    def script(self) -> str: ...


class HangUpLater:
    """The session as the script sees it, except that the script's own hang-up waits until
    the interaction is closed as exited: else the PBX's hang-up event, handled first, would
    close it as abandoned."""

    def __init__(self, session: FlowSession) -> None:
        self._session = session
        self.hangup_wanted = False

    @property
    def call_id(self) -> str:
        return self._session.call_id

    @property
    def caller_num(self) -> str:
        return self._session.caller_num

    @property
    def called_num(self) -> str:
        return self._session.called_num

    async def answer(self) -> None:
        await self._session.answer()

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        return await self._session.play(prompts, interrupt_digits=interrupt_digits)

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        return await self._session.play_and_collect(prompts, spec)

    async def get_variable(self, name: str) -> str | None:
        return await self._session.get_variable(name)

    async def set_variable(self, name: str, value: str) -> None:
        await self._session.set_variable(name, value)

    async def hangup(self) -> None:
        self.hangup_wanted = True


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


def learned(outcome: IvrOutcome) -> dict[str, Any]:
    """What the script found out, for the interaction's attributes (agent context, reports)."""
    found: dict[str, Any] = {k: v for k, v in outcome.attributes.items()
                             if k not in ("caller", "called", "call_id", "interaction_id")}
    found.update(language=outcome.language, ivr_outcome=outcome.kind.value,
                 ivr_path=list(outcome.path))
    if outcome.reason:
        found["ivr_reason"] = outcome.reason
    return found


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
        customer_id=attributes.get("customer_id") or None,
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


async def leave(acd: AcdService, session: FlowSession, record: CallRecord,
                outcome: IvrOutcome) -> None:
    """The script ended the call itself: transfer, voicemail, callback request or hang-up."""
    exit_data: dict[str, Any] = {"exit": outcome.kind.value, "script": outcome.script,
                                 "node": outcome.node}
    if outcome.kind is OutcomeKind.TRANSFER:
        exit_data.update(extension=outcome.extension,
                         context=outcome.context or TRANSFER_CONTEXT)
    elif outcome.kind is OutcomeKind.VOICEMAIL:
        exit_data["mailbox"] = outcome.mailbox
    elif outcome.kind is OutcomeKind.CALLBACK:
        # The request itself is the record: who to call, on which number, for which queue.
        exit_data.update(callback_number=outcome.callback_number, callback_queue=outcome.queue)
    acd.journal.attributes(record.interaction_id, {
        **learned(outcome),
        **{k: v for k, v in exit_data.items() if k not in ("exit", "script", "node")}})

    async def job() -> bool:
        if acd.calls.get(record.interaction_id) is not record or record.stage is not Stage.IVR:
            return False
        old = record.move(Stage.EXITED)
        await acd.journal.moved(record, old, acd.now(), **exit_data)
        acd.calls.drop(record)
        return True

    if not await acd.serial(job):
        return
    await send_on(acd, session, record, outcome)


async def send_on(acd: AcdService, session: FlowSession, record: CallRecord,
                  outcome: IvrOutcome) -> None:
    """Move the caller to where the script sent it; a caller who cannot be moved is hung up
    rather than left in the holding area for a closed interaction."""
    try:
        # The tag goes: a transfer back into cc-inbound must be tagged afresh.
        await session.set_variable(TAG, "")
        if outcome.kind is OutcomeKind.TRANSFER:
            await acd.port.redirect(record.call_id, outcome.context or TRANSFER_CONTEXT,
                                    outcome.extension or "")
            return
        if outcome.kind is OutcomeKind.VOICEMAIL:
            await session.set_variable(MAILBOX_VARIABLE, outcome.mailbox or "")
            await acd.port.redirect(record.call_id, EXIT_CONTEXT, "voicemail")
            return
    except (CallerHungUp, NoSuchCall):
        return
    except PbxError as exc:
        log_event(log, "ivr.exit_failed", logging.WARNING, call=record.call_id,
                  exit=outcome.kind.value, error=str(exc))
    # The script's hang-up, a callback request (the script said goodbye) or a refused exit.
    try:
        await session.hangup()
    except PbxError as exc:
        log_event(log, "call.hangup_failed", logging.WARNING, call=record.call_id,
                  error=str(exc))
