"""The built-in call flow, until IVR scripts are interpreted: route by the dialled number.

Served over FastAGI (`AGI(agi://ACD:4573/inbound,${EXTEN})` or `.../ivr/<script>`): it
finds the queue for the dialled number (`numbers:` in queues.yaml), creates the interaction,
tags the channel with CC_INTERACTION_ID and returns; the dialplan then parks the caller in
the holding context and the ACD routes it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from cc_core.logs import log_event
from pbx.port import CallerHungUp, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

TAG = "CC_INTERACTION_ID"
QUEUE_VARIABLE = "CC_QUEUE"
ERROR_VARIABLE = "CC_AGI_ERROR"


class FlowSession(Protocol):
    """What the flow needs from a FastAGI session (``pbx.asterisk.fastagi.AgiSession``)."""

    @property
    def call_id(self) -> str: ...

    @property
    def caller_num(self) -> str: ...

    @property
    def called_num(self) -> str: ...

    @property
    def args(self) -> list[str]: ...

    async def set_variable(self, name: str, value: str) -> None: ...


def choose_queue(acd: AcdService, dialled: str) -> tuple[str | None, str]:
    """(queue, how it was chosen) for a dialled number."""
    queue = acd.centre.queue_for_number(dialled)
    if queue is not None:
        return queue, "number"
    script = acd.centre.ivr_for_number(dialled)
    if script is not None:
        # IVR scripts are not interpreted yet: their callers go to the first voice queue.
        for info in acd.centre.queue_info.values():
            if "voice" in info.channels:
                return info.id, f"ivr {script} (not interpreted yet)"
    return None, "unknown number"


def make_flow(acd: AcdService) -> Callable[[FlowSession], Awaitable[None]]:
    async def flow(session: FlowSession) -> None:
        await run_flow(acd, session)

    return flow


async def run_flow(acd: AcdService, session: FlowSession) -> None:
    dialled = session.args[0] if session.args else session.called_num
    queue, why = choose_queue(acd, dialled)
    if queue is None:
        log_event(log, "ivr.unknown_number", logging.WARNING, number=dialled, call=session.call_id)
        await session.set_variable(ERROR_VARIABLE, f"no queue for dialled number {dialled}")
        return
    interaction_id = await acd.arrive_call(
        call_id=session.call_id, queue=queue, caller_num=session.caller_num, dialled=dialled
    )
    log_event(log, "ivr.routed", number=dialled, queue=queue, chosen_by=why,
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
