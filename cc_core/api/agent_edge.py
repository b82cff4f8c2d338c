"""What an agent's own softphone talks to: edge-quality reports and the screen-pop.

Both need the agent's bearer token, ``HMAC-SHA256(api.agent_secret, "cc-agent:" + agent id)``
(`cc_core.acd.agent_quality.agent_token`): a report moves routing and a screen-pop shows a
customer's data, so a phone may speak only for its own agent. One secret in acd.yaml rather
than a token per agent in agents.yaml: agents.yaml is edited and shared by people who should
not hold credentials, and a derived token needs no list to keep in step. Without
``api.agent_secret`` both endpoints answer 403 and say what to set.

    POST /api/agents/{id}/quality      body: EdgeReport fields -> the agent's quality now
    GET  /api/agents/{id}/quality      the agent's quality (score, parts, figures, eligibility)
    GET  /api/agents/{id}/screen-pop   the context of the agent's ringing or current call
    GET  /api/interactions/{id}/context  any interaction's context (`cc_core.api.context`):
                                       a supervisor's token (``supervisor_token``) or the
                                       token of the agent it was offered to

Agents are not pushed the pop: the API has no agent websocket yet, so the phone polls.
"""

from __future__ import annotations

import weakref
from dataclasses import fields
from typing import Any

from aiohttp import web

from cc_core.acd.agent_quality import (
    EdgeReport,
    QualityDesk,
    ReportError,
    parse_report,
    supervisor_token_valid,
    token_valid,
)
from cc_core.acd.agents import AgentError
from cc_core.acd.lifecycle import Stage
from cc_core.acd.service import AcdService
from cc_core.api.access import bearer_token
from cc_core.api.context import read_context
from cc_core.store.errors import NotFound

SECRET_KEY = web.AppKey("agent_secret", str)
_desks: weakref.WeakKeyDictionary[AcdService, QualityDesk] = weakref.WeakKeyDictionary()
# Stages in which the call is the agent's to see: ringing, talking, wrapping up.
_AGENT_STAGES = (Stage.OFFERED, Stage.CONNECTED, Stage.WRAP_UP)


def desk_for(acd: AcdService) -> QualityDesk:
    """The ACD's one quality desk (the media fork's ``on_agent_side_score`` goes here too)."""
    desk = _desks.get(acd)
    if desk is None:
        desk = _desks[acd] = QualityDesk(acd)
    return desk


def _bearer(request: web.Request) -> tuple[str, str]:
    """The configured secret and the presented token (401 without one, 403 when off)."""
    secret = request.app.get(SECRET_KEY)
    if not secret:
        raise AgentError(
            403,
            "agent_auth_disabled",
            "agent endpoints are off: set "
            "api.agent_secret in acd.yaml and give each phone its token",
        )
    return secret, bearer_token(request, "agent token")


def _authorised_agent(request: web.Request) -> tuple[AcdService, str]:
    from cc_core.api.app import ACD_KEY, _agent_id

    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    secret, token = _bearer(request)
    if not token_valid(secret, agent_id, token):
        raise AgentError(403, "forbidden", f"the token is not agent {agent_id!r}'s")
    return acd, agent_id


async def post_quality(request: web.Request) -> web.Response:
    from cc_core.api.app import read_body

    acd, agent_id = _authorised_agent(request)
    body = await read_body(request, _REPORT_FIELDS)
    try:
        report = parse_report(body)
    except ReportError as exc:
        raise AgentError(400, "invalid_report", f"body.{exc}") from None
    return web.json_response(await desk_for(acd).report(agent_id, report))


async def get_quality(request: web.Request) -> web.Response:
    acd, agent_id = _authorised_agent(request)
    desk = desk_for(acd)

    async def job() -> dict[str, Any]:
        return desk.snapshot(agent_id)

    return web.json_response(await acd.serial(job))


async def _context(acd: AcdService, interaction_id: str) -> dict[str, Any]:
    await acd.journal.drain()  # the IVR steps and the customer link written so far
    async with acd.store.transaction(readonly=True) as repos:
        try:
            return await read_context(repos, interaction_id)
        except NotFound:
            raise AgentError(
                404, "unknown_interaction", f"no interaction {interaction_id!r}"
            ) from None


async def screen_pop(request: web.Request) -> web.Response:
    acd, agent_id = _authorised_agent(request)

    async def job() -> dict[str, Any] | None:
        for record in acd.calls:
            if record.agent_id == agent_id and record.stage in _AGENT_STAGES:
                return {
                    "interaction_id": record.interaction_id,
                    "call_id": record.call_id,
                    "queue": record.queue,
                    "stage": record.stage.value,
                    "caller": record.caller_num,
                    "arrival": record.arrival,
                }
        return None

    current = await acd.serial(job)
    if current is None:
        return web.json_response({"agent_id": agent_id, "interaction": None})
    context = await _context(acd, current["interaction_id"])
    return web.json_response({"agent_id": agent_id, "call": current, **context})


async def interaction_context(request: web.Request) -> web.Response:
    """Any interaction's context: for a supervisor's token, or for the agent it is (or was)
    offered to."""
    from cc_core.api.app import ACD_KEY

    acd = request.app[ACD_KEY]
    interaction_id = request.match_info["interaction_id"]
    secret, token = _bearer(request)
    if supervisor_token_valid(secret, token):
        return web.json_response(await _context(acd, interaction_id))

    async def live_agent() -> str | None:
        record = acd.calls.get(interaction_id)
        return None if record is None else record.agent_id

    context = await _context(acd, interaction_id)
    agents = {await acd.serial(live_agent), context["interaction"]["agent_id"]} - {None}
    if not any(token_valid(secret, agent, token) for agent in agents):
        raise AgentError(
            403,
            "forbidden",
            f"interaction {interaction_id!r}: expected a supervisor's token or that of the "
            "agent it was offered to",
        )
    return web.json_response(context)


_REPORT_FIELDS = {f.name for f in fields(EdgeReport)}


def add_routes(app: web.Application, agent_secret: str | None) -> None:
    if agent_secret:
        app[SECRET_KEY] = agent_secret
    app.router.add_post("/api/agents/{agent_id}/quality", post_quality)
    app.router.add_get("/api/agents/{agent_id}/quality", get_quality)
    app.router.add_get("/api/agents/{agent_id}/screen-pop", screen_pop)
    app.router.add_get("/api/interactions/{interaction_id}/context", interaction_context)
