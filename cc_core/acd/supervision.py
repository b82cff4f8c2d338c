"""A supervisor listening to, whispering to or barging into an agent's call.

The PBX rings the supervisor's phone and joins it to the agent's leg of the call (Asterisk:
``ChanSpy`` in the dialplan's ``cc-spy``; FreeSWITCH: ``eavesdrop``). Every such action is
written to the audit log, which is why phones get no spy feature codes of their own.

Supervisors act through the API with a token of their own, ``HMAC-SHA256(api.agent_secret,
"cc-supervisor:" + supervisor id)`` (`supervisor_token`): the audit log names who listened,
so a token must speak for one person. ``cc-admin supervisor-token`` prints it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
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


class UnknownInteraction(SpyRefused):
    """No call in progress has this interaction id."""


class NoAgentTalking(SpyRefused):
    """The call is in progress but no agent is talking on it (queued, ringing, wrap-up...)."""


def supervisor_token(secret: str, supervisor_id: str) -> str:
    """The supervisor's own bearer token. A different HMAC message than an agent's
    (``cc-agent:<id>``) or the shared context token (``cc-supervisor``), so neither passes
    for it."""
    message = b"cc-supervisor:" + supervisor_id.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def supervisor_token_valid(secret: str, supervisor_id: str, presented: str) -> bool:
    return hmac.compare_digest(supervisor_token(secret, supervisor_id), presented)


def find_supervisor(supervisors: Iterable[Supervisor], name: str) -> Supervisor | None:
    """The supervisor called ``name``: by id, else by phone endpoint (``PJSIP/1900``), else by
    the endpoint's device alone (``1900``) when exactly one supervisor's phone is that."""
    known = list(supervisors)
    for match in (
        lambda s: s.id == name,
        lambda s: s.endpoint == name,
        lambda s: s.endpoint.partition("/")[2] == name,
    ):
        found = [s for s in known if match(s)]
        if len(found) == 1:
            return found[0]
        if found:
            return None  # ambiguous: the caller must say more
    return None


async def agent_leg(acd: AcdService, interaction_id: str) -> tuple[str, str]:
    """(agent id, the agent's call id) of an interaction talking to an agent.

    The agent's leg, not the caller's: a whisper must reach the agent only. The ACD keeps the
    caller's call id; the PBX's live calls name the leg bridged to it. The ACD's state is read
    as one of its jobs (never halfway through another); the PBX is asked after it, so the
    ACD's jobs do not wait for that round trip."""

    async def connected() -> tuple[str, str]:
        record = acd.calls.get(interaction_id)
        if record is None:
            raise UnknownInteraction(f"interaction {interaction_id!r} is not a call in progress")
        if record.stage is not Stage.CONNECTED or record.agent_id is None:
            raise NoAgentTalking(
                f"interaction {interaction_id!r} is {record.stage.value}, not connected to an agent"
            )
        return record.agent_id, record.call_id

    agent_id, call_id = await acd.serial(connected)
    for call in await acd.port.list_live_calls():
        if call.call_id == call_id and call.bridged_with:
            return agent_id, call.bridged_with
    raise NoAgentTalking(
        f"interaction {interaction_id!r}: the PBX shows no agent leg bridged to it"
    )


@dataclass(frozen=True)
class Spying:
    """A supervisor's call into an agent's call, as the PBX accepted it."""

    spy_call: str  # the supervisor's leg
    agent_id: str
    agent_call: str  # the agent's leg it listens to


async def spy(acd: AcdService, supervisor: Supervisor, interaction_id: str, mode: SpyMode) -> str:
    """Ring ``supervisor``'s phone into the interaction's call in ``mode``; returns the
    supervisor's call id (see `start_spy`)."""
    return (await start_spy(acd, supervisor, interaction_id, mode)).spy_call


async def start_spy(
    acd: AcdService, supervisor: Supervisor, interaction_id: str, mode: SpyMode
) -> Spying:
    """Ring ``supervisor``'s phone into the interaction's call in ``mode``. Written to the
    audit log (actor: the supervisor, action: the mode, target: ``agent:<id>``) once the PBX
    accepted the call. Not to be awaited inside one of the ACD's jobs (it queues one)."""
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
    return Spying(spy_call, agent_id, target)
