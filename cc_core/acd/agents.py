"""Agents logging in and out and changing state: from the REST API and from SIP registration.

A phone registering logs its agent in as ready; unregistering logs the agent out. Presence
goes to the engine (which re-routes at once), the event log and the live state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cc_core.domain import PRESENCE_STATES, AgentState
from cc_core.routing import UnknownAgent

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

_EVENT = {
    AgentState.READY: "ready",
    AgentState.NOT_READY: "not_ready",
    AgentState.LOGGED_OUT: "logout",
}


class AgentError(ValueError):
    """A request about an agent that cannot be honoured; ``status`` is the HTTP meaning."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


def parse_state(value: object) -> AgentState:
    names = sorted(s.value for s in PRESENCE_STATES)
    if not isinstance(value, str):
        raise AgentError(400, "invalid_state", f"state: expected one of {', '.join(names)}, "
                         f"got {value!r}")
    try:
        state = AgentState(value)
    except ValueError:
        state = None
    if state is None or state not in PRESENCE_STATES:
        raise AgentError(400, "invalid_state", f"state: expected one of {', '.join(names)}, "
                         f"got {value!r} (reserved, busy and wrap_up follow from calls)")
    return state


async def set_presence(
    acd: AcdService,
    agent_id: str,
    state: AgentState,
    reason: str | None,
    *,
    source: str,
    supervisor: str | None = None,
) -> dict[str, object]:
    """Login (logged out -> ready/not ready), a state change, or logout; inside a job.
    ``supervisor``: who forced it, when not the agent (kept in the agent's events)."""
    by = {} if supervisor is None else {"supervisor": supervisor}
    try:
        before = acd.engine.agent_state(agent_id)
    except UnknownAgent:
        raise AgentError(404, "unknown_agent", f"no agent {agent_id!r} in agents.yaml") from None
    now = acd.now()
    if state is AgentState.NOT_READY and not reason:
        reason = "break"
    if before in (AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY):
        await acd.live_sync.write_presence(agent_id, state.value, reason or "")
    outcomes = acd.engine.set_state(agent_id, state, now, reason)
    # Reserved, busy or in wrap-up the state shown does not change, but the presence taken
    # afterwards (kept in the live state for a restart) does.
    acd.live_sync.agent_changed(agent_id)
    if before is AgentState.LOGGED_OUT and state is not AgentState.LOGGED_OUT:
        await acd.journal.agent_event(agent_id, "login", now, source=source, **by)
    await acd.journal.agent_event(
        agent_id,
        _EVENT[state],
        now,
        source=source,
        reason=reason or "",
        previous=before.value,
        **by,
    )
    await acd.apply(outcomes)
    return acd.agent_snapshot(agent_id)


async def end_wrap_up(
    acd: AcdService, agent_id: str, *, supervisor: str | None = None
) -> dict[str, object]:
    try:
        state = acd.engine.agent_state(agent_id)
    except UnknownAgent:
        raise AgentError(404, "unknown_agent", f"no agent {agent_id!r} in agents.yaml") from None
    if state is not AgentState.WRAP_UP:
        raise AgentError(409, "not_in_wrap_up", f"agent {agent_id!r} is {state.value}, "
                         "not in wrap-up")
    now = acd.now()
    by = {} if supervisor is None else {"supervisor": supervisor}
    await acd.journal.agent_event(agent_id, "wrap_up_done", now, **by)
    acd.live_sync.agent_changed(agent_id)
    await acd.apply(acd.engine.end_wrap_up(agent_id, now))
    return acd.agent_snapshot(agent_id)


async def endpoint_registered(acd: AcdService, endpoint: str) -> None:
    agent_id = acd.centre.agent_for_endpoint(endpoint)
    if agent_id is None or acd.engine.agent_state(agent_id) is not AgentState.LOGGED_OUT:
        return
    await set_presence(acd, agent_id, AgentState.READY, None, source="sip-register")


async def endpoint_unregistered(acd: AcdService, endpoint: str) -> None:
    agent_id = acd.centre.agent_for_endpoint(endpoint)
    if agent_id is None or acd.engine.agent_state(agent_id) is AgentState.LOGGED_OUT:
        return
    await set_presence(acd, agent_id, AgentState.LOGGED_OUT, None, source="sip-unregister")
