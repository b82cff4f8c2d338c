"""A supervisor listening to, whispering to or barging into an agent's call.

The PBX rings the supervisor's phone and joins it to the agent's leg of the call (Asterisk:
``ChanSpy`` in the dialplan's ``cc-spy``; FreeSWITCH: ``eavesdrop``). Every such action is
written to the audit log, which is why phones get no spy feature codes of their own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cc_core.acd.lifecycle import Stage
from cc_core.config import Supervisor
from cc_core.logs import log_event
from pbx.port import SpyMode

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)


class SpyRefused(ValueError):
    """The interaction cannot be supervised now (unknown, not talking to an agent)."""


async def agent_leg(acd: AcdService, interaction_id: str) -> tuple[str, str]:
    """(agent id, the agent's call id) of an interaction talking to an agent.

    The agent's leg, not the caller's: a whisper must reach the agent only. The ACD keeps the
    caller's call id; the PBX's live calls name the leg bridged to it."""
    record = acd.calls.get(interaction_id)
    if record is None:
        raise SpyRefused(f"interaction {interaction_id!r} is not a call in progress")
    if record.stage is not Stage.CONNECTED or record.agent_id is None:
        raise SpyRefused(
            f"interaction {interaction_id!r} is {record.stage.value}, not connected to an agent"
        )
    for call in await acd.port.list_live_calls():
        if call.call_id == record.call_id and call.bridged_with:
            return record.agent_id, call.bridged_with
    raise SpyRefused(f"interaction {interaction_id!r}: the PBX shows no agent leg bridged to it")


async def spy(acd: AcdService, supervisor: Supervisor, interaction_id: str, mode: SpyMode) -> str:
    """Ring ``supervisor``'s phone into the interaction's call in ``mode``; returns the
    supervisor's call id. Written to the audit log (actor: the supervisor, action: the mode,
    target: ``agent:<id>``) once the PBX accepted the call."""
    if not isinstance(mode, SpyMode):
        raise SpyRefused(f"mode {mode!r}: expected listen, whisper or barge")
    agent_id, target = await agent_leg(acd, interaction_id)
    spy_call = await acd.port.spy(supervisor.endpoint, target, mode)
    details = {"interaction": interaction_id, "call": target, "spy_call": spy_call}
    async with acd.store.transaction() as repos:
        await repos.audit.record(supervisor.id, mode.value, f"agent:{agent_id}", details)
    log_event(
        log,
        "acd.spy",
        supervisor=supervisor.id,
        mode=mode.value,
        agent=agent_id,
        interaction=interaction_id,
        spy_call=spy_call,
    )
    return spy_call
