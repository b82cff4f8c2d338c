"""Who may use the agent-state routes and the snapshots (`cc_core.api.app`).

With ``api.agent_secret`` set, an agent's login, logout, state and wrap-up end take the
agent's own token or any supervisor's (a supervisor may force an agent's state); the
snapshots of agents, queues and calls take a supervisor's token, and an agent's own token
reads its own ``GET /api/agents/{id}``. The tokens are the ones the other routes use:
``agent_token`` (``cc-agent:<id>``) and each supervisor's own ``supervisor_token``
(``cc-supervisor:<id>``); the shared context token does not pass, so every forced state
names the supervisor who forced it.

Without a secret these routes stay open, as they always were: the API listens on loopback by
default. ``exposed_without_secret`` tells ``cc-acd run`` when that is not so.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from aiohttp import web

from cc_core.acd.agent_quality import token_valid
from cc_core.acd.agents import AgentError
from cc_core.acd.supervision import supervisor_token_valid
from cc_core.config import Supervisor


@dataclass(frozen=True)
class Caller:
    """Whose token the request carried; both ``None`` when the routes are open (no secret)."""

    agent_id: str | None = None
    supervisor_id: str | None = None


OPEN = Caller()


def _secret(request: web.Request) -> str | None:
    from cc_core.api.agent_edge import SECRET_KEY

    secret: str | None = request.app.get(SECRET_KEY)
    return secret or None


def _supervisors(request: web.Request) -> tuple[Supervisor, ...]:
    from cc_core.api.supervision import SUPERVISORS_KEY

    # An API built without agents.yaml's supervisors knows no supervisor token.
    return tuple(request.app.get(SUPERVISORS_KEY) or ())


def bearer_token(request: web.Request, expected: str) -> str:
    """The ``Authorization: Bearer`` token (401 naming ``expected`` without one); every route
    that takes a token reads it here."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AgentError(401, "unauthorized", f"Authorization: expected 'Bearer <{expected}>'")
    return token.strip()


def supervisor_holding(
    supervisors: tuple[Supervisor, ...], secret: str, token: str
) -> Supervisor | None:
    """The supervisor whose own token ``token`` is, if any."""
    for supervisor in supervisors:
        if supervisor_token_valid(secret, supervisor.id, token):
            return supervisor
    return None


def _supervisor(request: web.Request, secret: str, token: str) -> str | None:
    found = supervisor_holding(_supervisors(request), secret, token)
    return None if found is None else found.id


def agent_or_supervisor(request: web.Request, agent_id: str) -> Caller:
    """The agent's own token or any supervisor's; 401 without a token, 403 with another."""
    secret = _secret(request)
    if secret is None:
        return OPEN
    token = bearer_token(request, "the agent's or a supervisor's token")
    if token_valid(secret, agent_id, token):
        return Caller(agent_id=agent_id)
    supervisor = _supervisor(request, secret, token)
    if supervisor is not None:
        return Caller(supervisor_id=supervisor)
    raise AgentError(
        403, "forbidden", f"the token is neither agent {agent_id!r}'s nor a supervisor's"
    )


def supervisor(request: web.Request) -> Caller:
    """Any supervisor's token; 401 without a token, 403 with another."""
    secret = _secret(request)
    if secret is None:
        return OPEN
    token = bearer_token(request, "a supervisor's token")
    supervisor_id = _supervisor(request, secret, token)
    if supervisor_id is None:
        raise AgentError(403, "forbidden", "the token is no supervisor's")
    return Caller(supervisor_id=supervisor_id)


def exposed_without_secret(host: str, secret: str | None) -> bool:
    """True when the API would serve its open routes beyond this machine: no secret, and
    ``host`` is not loopback only (a name counts as loopback when all its addresses are)."""
    if secret:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return True  # cannot tell: say so rather than stay silent
    addresses = {info[4][0] for info in infos}
    return not addresses or not all(_loopback(a) for a in addresses)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.partition("%")[0]).is_loopback
    except ValueError:
        return False
