"""The REST API: agents log in and out and change state; snapshots of agents, queues and
calls; health. Every error is JSON ``{"error": {"code", "message"}}``; bad input is a 4xx
naming the field, never a 500. With ``api.agent_secret`` set, every route here but
``/health`` needs a bearer token (`cc_core.api.access`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from cc_core.acd import agents
from cc_core.acd.agents import AgentError
from cc_core.acd.service import AcdService
from cc_core.api import access
from cc_core.config import Supervisor
from cc_core.domain import AgentState
from cc_core.routing import UnknownAgent
from cc_core.store.errors import StoreError
from cc_core.store.live import LiveStateError

log = logging.getLogger(__name__)
T = TypeVar("T")

ACD_KEY = web.AppKey("acd", AcdService)
MAX_BODY = 16 * 1024
_REASON_MAX = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AgentError as exc:
        return error(exc.status, exc.code, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)
    except (LiveStateError, StoreError, SQLAlchemyError) as exc:
        log.warning("API %s %s: backend unavailable: %s", request.method, request.path, exc)
        return error(503, "backend_unavailable", f"store or live state unavailable: {exc}")
    except Exception:
        log.exception("API %s %s failed", request.method, request.path)
        return error(500, "internal", "internal error; the ACD logged the details")


async def read_body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    """The JSON object body (empty allowed); unknown fields are refused by name."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise AgentError(413, "too_large", f"body: expected at most {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise AgentError(413, "too_large", f"body: expected at most {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AgentError(400, "invalid_json", f"body: expected a JSON object ({exc})") from None
    if not isinstance(body, dict):
        raise AgentError(
            400, "invalid_body", f"body: expected a JSON object, got {type(body).__name__}"
        )
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise AgentError(
            400,
            "unknown_field",
            f"body: unknown field(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(allowed)) or 'none'}",
        )
    return body


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is None:
        return None
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > _REASON_MAX
        or not reason.isprintable()
    ):
        raise AgentError(
            400,
            "invalid_reason",
            f"reason: expected printable text of 1 to {_REASON_MAX} characters, got {reason!r}",
        )
    return reason.strip()


def _agent_id(request: web.Request) -> str:
    acd = request.app[ACD_KEY]
    agent_id = request.match_info["agent_id"]
    if agent_id not in acd.centre.endpoints:
        raise AgentError(404, "unknown_agent", f"no agent {agent_id!r} in agents.yaml")
    return agent_id


async def health(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    ok = acd.started and acd.port.connected
    body = {
        "status": "ok" if ok else "degraded",
        "pbx_connected": acd.port.connected,
        "resyncs": acd.resyncs,
        "calls": len(acd.calls),
        "journal_backlog": acd.journal.backlog,
        "journal_kept": acd.journal.kept,
        "journal_failed": acd.journal.failed,
        "journal_fenced": acd.journal.fenced,
    }
    return web.json_response(body, status=200 if ok else 503)


async def list_agents(request: web.Request) -> web.Response:
    access.supervisor(request)
    acd = request.app[ACD_KEY]
    agents_now = await acd.serial(
        lambda: _now([acd.agent_snapshot(a) for a in acd.engine.agent_ids()])
    )
    return web.json_response({"agents": agents_now})


async def get_agent(request: web.Request) -> web.Response:
    access.agent_or_supervisor(request, request.match_info["agent_id"])
    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    return web.json_response(await acd.serial(lambda: _now(acd.agent_snapshot(agent_id))))


async def presence(request: web.Request, state: AgentState | None) -> web.Response:
    caller = access.agent_or_supervisor(request, request.match_info["agent_id"])
    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    body = await read_body(request, {"reason"} if state is not None else {"state", "reason"})
    if state is None:
        if "state" not in body:
            raise AgentError(
                400, "missing_field", "state: required (ready, not_ready or logged_out)"
            )
        state = agents.parse_state(body["state"])
    reason = _reason(body)

    async def job() -> dict[str, object]:
        assert state is not None
        return await agents.set_presence(
            acd, agent_id, state, reason, source="api", supervisor=caller.supervisor_id
        )

    return web.json_response(await acd.serial(job))


async def login(request: web.Request) -> web.Response:
    caller = access.agent_or_supervisor(request, request.match_info["agent_id"])
    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    body = await read_body(request, {"state", "reason"})
    state = agents.parse_state(body.get("state", AgentState.READY.value))
    if state is AgentState.LOGGED_OUT:
        raise AgentError(400, "invalid_state", "state: expected ready or not_ready at login")
    reason = _reason(body)
    try:
        current = acd.engine.agent_state(agent_id)
    except UnknownAgent:
        raise AgentError(404, "unknown_agent", f"no agent {agent_id!r}") from None
    if current is not AgentState.LOGGED_OUT:
        raise AgentError(
            409, "already_logged_in", f"agent {agent_id!r} is already logged in ({current.value})"
        )

    async def job() -> dict[str, object]:
        return await agents.set_presence(
            acd, agent_id, state, reason, source="api", supervisor=caller.supervisor_id
        )

    return web.json_response(await acd.serial(job))


async def logout(request: web.Request) -> web.Response:
    return await presence(request, AgentState.LOGGED_OUT)


async def set_state(request: web.Request) -> web.Response:
    return await presence(request, None)


async def end_wrap_up(request: web.Request) -> web.Response:
    caller = access.agent_or_supervisor(request, request.match_info["agent_id"])
    acd = request.app[ACD_KEY]
    agent_id = _agent_id(request)
    await read_body(request, set())
    # Named only when a supervisor forced it: scripts/bench_acd.py wraps end_wrap_up(acd, id).
    by = {} if caller.supervisor_id is None else {"supervisor": caller.supervisor_id}
    return web.json_response(await acd.serial(lambda: agents.end_wrap_up(acd, agent_id, **by)))


async def list_queues(request: web.Request) -> web.Response:
    access.supervisor(request)
    acd = request.app[ACD_KEY]
    live = await acd.live.queue_snapshot()
    snapshots = await acd.serial(
        lambda: _now([acd.queue_snapshot(q) for q in acd.engine.queue_ids()])
    )
    queues = []
    for item in snapshots:
        queue_id = item["id"]
        stats = live.get(queue_id)
        item["counters"] = dict(stats.counters) if stats is not None else {}
        queues.append(item)
    return web.json_response({"queues": queues})


async def list_calls(request: web.Request) -> web.Response:
    access.supervisor(request)
    acd = request.app[ACD_KEY]
    return web.json_response({"calls": await acd.serial(lambda: _now(acd.call_snapshot()))})


async def _now(value: T) -> T:
    """Snapshots are taken between two jobs of the ACD, never halfway through one."""
    return value


def make_app(
    acd: AcdService,
    *,
    agent_secret: str | None = None,
    supervisors: Sequence[Supervisor] | None = None,
) -> web.Application:
    """The API on ``acd``. ``supervisors`` (agents.yaml's) enable the supervisor's routes
    (`cc_core.api.supervision`); ``None`` leaves them answering 503."""
    from cc_core.api import agent_edge, supervision

    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY)
    app[ACD_KEY] = acd
    app.router.add_get("/health", health)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_post("/api/agents/{agent_id}/login", login)
    app.router.add_post("/api/agents/{agent_id}/logout", logout)
    app.router.add_put("/api/agents/{agent_id}/state", set_state)
    app.router.add_post("/api/agents/{agent_id}/wrap-up/end", end_wrap_up)
    app.router.add_get("/api/queues", list_queues)
    app.router.add_get("/api/calls", list_calls)
    agent_edge.add_routes(app, agent_secret)  # the agent's softphone: quality, screen-pop
    supervision.add_routes(app, supervisors)  # calls in progress, listen / whisper / barge
    return app
