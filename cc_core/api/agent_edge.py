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
    token_valid,
)
from cc_core.acd.agents import AgentError
from cc_core.acd.lifecycle import Stage
from cc_core.acd.service import AcdService

SECRET_KEY = web.AppKey("agent_secret", str)
_desks: weakref.WeakKeyDictionary[AcdService, QualityDesk] = weakref.WeakKeyDictionary()
# Stages in which the call is the agent's to see: ringing, talking, wrapping up.
_AGENT_STAGES = (Stage.OFFERED, Stage.CONNECTED, Stage.WRAP_UP)
PREVIOUS_CONTACTS = 5


def desk_for(acd: AcdService) -> QualityDesk:
    """The ACD's one quality desk (the media fork's ``on_agent_side_score`` goes here too)."""
    desk = _desks.get(acd)
    if desk is None:
        desk = _desks[acd] = QualityDesk(acd)
    return desk


def _authorised_agent(request: web.Request) -> tuple[AcdService, str]:
    from cc_core.api.app import ACD_KEY, _agent_id

    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    secret = request.app.get(SECRET_KEY)
    if not secret:
        raise AgentError(
            403,
            "agent_auth_disabled",
            "agent endpoints are off: set "
            "api.agent_secret in acd.yaml and give each phone its token",
        )
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AgentError(401, "unauthorized", "Authorization: expected 'Bearer <agent token>'")
    if not token_valid(secret, agent_id, token.strip()):
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
    await acd.journal.drain()  # the IVR steps written so far are readable
    async with acd.store.transaction(readonly=True) as repos:
        row = await repos.interactions.get(current["interaction_id"])
        events = await repos.events.for_interaction(row.id)
        previous = []
        if row.customer_id is not None:
            previous = [
                {
                    "interaction_id": p.id,
                    "channel": p.channel,
                    "queue": p.queue,
                    "state": p.state,
                    "agent_id": p.agent_id,
                    "created_at": p.created_at.isoformat(),
                }
                for p in await repos.interactions.for_customer(
                    row.customer_id, limit=PREVIOUS_CONTACTS + 1
                )
                if p.id != row.id
            ][:PREVIOUS_CONTACTS]
    ivr_path = [e.data.get("node") for e in events if e.event == "ivr_node"]
    ivr_inputs = [
        {
            "node": e.data.get("node"),
            "digits": e.data.get("digits"),
            "attribute": e.data.get("attribute"),
        }
        for e in events
        if e.event == "ivr_input"
    ]
    context = {
        **current,
        "customer_id": row.customer_id,
        "attributes": dict(row.attributes or {}),
        "ivr_path": ivr_path,
        "ivr_inputs": ivr_inputs,
        "previous_contacts": previous,
    }
    return web.json_response({"agent_id": agent_id, "interaction": context})


_REPORT_FIELDS = {f.name for f in fields(EdgeReport)}


def add_routes(app: web.Application, agent_secret: str | None) -> None:
    if agent_secret:
        app[SECRET_KEY] = agent_secret
    app.router.add_post("/api/agents/{agent_id}/quality", post_quality)
    app.router.add_get("/api/agents/{agent_id}/quality", get_quality)
    app.router.add_get("/api/agents/{agent_id}/screen-pop", screen_pop)
