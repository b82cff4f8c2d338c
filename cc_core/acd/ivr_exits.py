"""How an IVR run that does not end in a queue leaves the ACD: transfer, voicemail, callback
request or the script's own hang-up. The interaction is closed as ``exited`` (the store's
``ended``) with the details, then the caller is moved on or hung up. A callback request
also becomes a new interaction waiting in its queue (:mod:`cc_core.acd.callback`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cc_core.acd.callback import request_callback
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.ivr import IvrOutcome, OutcomeKind
from cc_core.logs import log_event
from pbx.port import CallerHungUp, CollectResult, CollectSpec, MediaSession, NoSuchCall, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

TAG = "CC_INTERACTION_ID"
MAILBOX_VARIABLE = "CC_MAILBOX"
# Where IVR exits go when the script names no context: voicemail to the same exit context
# as a max-wait exit; a transfer without a context is dialled as a new inbound call, so
# numbers: in queues.yaml decide where it lands.
EXIT_CONTEXT = "cc-exit"
TRANSFER_CONTEXT = "cc-inbound"


class HangUpLater:
    """The session as the script sees it, except that the script's own hang-up waits until
    the interaction is closed as exited: else the PBX's hang-up event, handled first, would
    close it as abandoned."""

    def __init__(self, session: MediaSession) -> None:
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


def learned(outcome: IvrOutcome) -> dict[str, Any]:
    """What the script found out, for the interaction's attributes (agent context, reports)."""
    found: dict[str, Any] = {k: v for k, v in outcome.attributes.items()
                             if k not in ("caller", "called", "call_id", "interaction_id")}
    found.update(language=outcome.language, ivr_outcome=outcome.kind.value,
                 ivr_path=list(outcome.path))
    if outcome.reason:
        found["ivr_reason"] = outcome.reason
    return found


async def leave(acd: AcdService, session: MediaSession, record: CallRecord,
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
    if outcome.kind is OutcomeKind.CALLBACK:
        # The request becomes its own interaction, waiting in the queue from now on.
        await request_callback(
            acd, number=outcome.callback_number or "", queue=outcome.queue or record.queue,
            requested_at=acd.now(), first_interaction=record.interaction_id,
            language=outcome.language)
    await send_on(acd, session, record, outcome)


async def send_on(acd: AcdService, session: MediaSession, record: CallRecord,
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
