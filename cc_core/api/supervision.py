"""What a supervisor's console talks to: the calls in progress, and listen / whisper / barge.

    GET  /api/interactions?state=connected   calls in progress (any stage without ``state``)
    POST /api/interactions/{id}/spy          {"supervisor": id or endpoint,
                                              "mode": "listen" | "whisper" | "barge"}
                                             -> 200 {"spy_call", "interaction_id", "agent_id",
                                                     "supervisor", "endpoint", "mode"}

Both need a supervisor's own bearer token, ``HMAC-SHA256(api.agent_secret, "cc-supervisor:"
+ supervisor id)`` (`cc_core.acd.supervision.supervisor_token`, printed by ``cc-admin
supervisor-token``). One per person rather than the shared context token: every spy is
written to the audit log under the supervisor who asked, and the token must say who that
is. The supervisors (id, name, phone) are those of agents.yaml. Without ``api.agent_secret``
both answer 403 and say what to set.

Refusals: 400 naming the field and what it expects, 401 without a token, 403 for a token
that is not the named supervisor's, 404 for an interaction that is not a call in progress,
409 for one no agent is talking on, 502 when the PBX refuses to ring the supervisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from cc_core.acd import supervision
from cc_core.acd.agents import AgentError
from cc_core.acd.lifecycle import Stage
from cc_core.acd.service import AcdService
from cc_core.api.access import bearer_token, supervisor_holding
from cc_core.config import Supervisor
from pbx.port import NoSuchCall, PbxError, SpyMode

SUPERVISORS_KEY = web.AppKey("supervisors", tuple)
_MODES = ", ".join(m.value for m in SpyMode)
_STAGES = tuple(s.value for s in Stage if not s.is_final)


def _acd(request: web.Request) -> AcdService:
    from cc_core.api.app import ACD_KEY

    return request.app[ACD_KEY]


def _supervisors(request: web.Request) -> tuple[Supervisor, ...]:
    supervisors: tuple[Supervisor, ...] | None = request.app.get(SUPERVISORS_KEY)
    if supervisors is None:
        raise AgentError(
            503,
            "supervision_unavailable",
            "this API was started without the supervisors of agents.yaml",
        )
    if not supervisors:
        raise AgentError(403, "no_supervisors", "no supervisors in agents.yaml")
    return supervisors


def _bearer(request: web.Request) -> tuple[str, str]:
    """The configured secret and the presented token (401 without one, 403 when off)."""
    from cc_core.api.agent_edge import SECRET_KEY

    secret = request.app.get(SECRET_KEY)
    if not secret:
        raise AgentError(
            403,
            "supervision_auth_disabled",
            "supervision is off: set api.agent_secret in acd.yaml and give each supervisor "
            "their token (cc-admin supervisor-token)",
        )
    return secret, bearer_token(request, "supervisor token")


def _token_holder(request: web.Request) -> Supervisor:
    """The supervisor whose token was presented (403 if it is nobody's)."""
    supervisors = _supervisors(request)
    secret, token = _bearer(request)
    found = supervisor_holding(supervisors, secret, token)
    if found is None:
        raise AgentError(403, "forbidden", "the token is no supervisor's")
    return found


async def list_interactions(request: web.Request) -> web.Response:
    acd = _acd(request)
    _token_holder(request)
    unknown = sorted(set(request.query) - {"state"})
    if unknown:
        raise AgentError(
            400,
            "unknown_parameter",
            f"query: unknown parameter(s) {', '.join(unknown)}; expected state",
        )
    state = request.query.get("state")
    if state is not None and state not in _STAGES:
        raise AgentError(
            400, "invalid_state", f"state: expected one of {', '.join(_STAGES)}, got {state!r}"
        )

    async def job() -> list[dict[str, Any]]:
        now = acd.now()
        return [
            {
                "interaction_id": r.interaction_id,
                "state": r.stage.value,
                "queue": r.queue,
                "agent_id": r.agent_id,
                "agent_name": None
                if r.agent_id is None
                else acd.centre.agent_names.get(r.agent_id, r.agent_id),
                "arrival": r.arrival,
                "waited_seconds": round(max(0.0, now - r.arrival), 1),
            }
            for r in acd.calls
            if state is None or r.stage.value == state
        ]

    return web.json_response({"interactions": await acd.serial(job)})


def _text_field(body: dict[str, Any], name: str, expected: str) -> str:
    value = body.get(name)
    if value is None:
        raise AgentError(400, "missing_field", f"{name}: required ({expected})")
    if not isinstance(value, str) or not value.strip():
        raise AgentError(400, f"invalid_{name}", f"{name}: expected {expected}, got {value!r}")
    return value.strip()


async def spy(request: web.Request) -> web.Response:
    from cc_core.api.app import read_body

    acd = _acd(request)
    supervisors = _supervisors(request)
    secret, token = _bearer(request)
    interaction_id = request.match_info["interaction_id"]
    body = await read_body(request, {"supervisor", "mode"})
    named = _text_field(body, "supervisor", "a supervisor id or phone endpoint")
    mode_name = _text_field(body, "mode", _MODES)
    try:
        mode = SpyMode(mode_name)
    except ValueError:
        raise AgentError(
            400, "invalid_mode", f"mode: expected {_MODES}, got {mode_name!r}"
        ) from None
    supervisor = supervision.find_supervisor(supervisors, named)
    if supervisor is None:
        known = ", ".join(f"{s.id} ({s.endpoint})" for s in supervisors)
        raise AgentError(
            400,
            "unknown_supervisor",
            f"supervisor: expected one supervisor's id or phone in agents.yaml ({known}), "
            f"got {named!r}",
        )
    if not supervision.supervisor_token_valid(secret, supervisor.id, token):
        raise AgentError(403, "forbidden", f"the token is not supervisor {supervisor.id!r}'s")
    try:
        spying = await supervision.start_spy(acd, supervisor, interaction_id, mode)
    except supervision.UnknownInteraction as exc:
        raise AgentError(404, "unknown_interaction", str(exc)) from None
    except supervision.NoAgentTalking as exc:
        raise AgentError(409, "no_agent", str(exc)) from None
    except NoSuchCall as exc:  # the agent's leg ended between the two looks
        raise AgentError(409, "no_agent", f"interaction {interaction_id!r}: {exc}") from None
    except PbxError as exc:
        raise AgentError(
            502, "pbx_refused", f"the PBX did not ring {supervisor.endpoint}: {exc}"
        ) from None
    return web.json_response(
        {
            "spy_call": spying.spy_call,
            "interaction_id": interaction_id,
            "agent_id": spying.agent_id,
            "supervisor": supervisor.id,
            "endpoint": supervisor.endpoint,
            "mode": mode.value,
        }
    )


def add_routes(app: web.Application, supervisors: Sequence[Supervisor] | None) -> None:
    if supervisors is not None:
        app[SUPERVISORS_KEY] = tuple(supervisors)
    app.router.add_get("/api/interactions", list_interactions)
    app.router.add_post("/api/interactions/{interaction_id}/spy", spy)
