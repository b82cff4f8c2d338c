"""The agent REST API: log in, change state, log out, end wrap-up; errors are JSON 4xx."""

from __future__ import annotations

from typing import Any

import pytest

from tests.acd.conftest import Centre, wait_for


async def test_login_state_changes_and_logout(centre: Centre) -> None:
    agent = await centre.login("ben", state="not_ready")
    assert (agent["state"], agent["reason"]) == ("not_ready", "break")
    status, agent = await centre.request("PUT", "/api/agents/ben/state",
                                         {"state": "not_ready", "reason": "lunch"})
    assert (status, agent["state"], agent["reason"]) == (200, "not_ready", "lunch")
    status, agent = await centre.request("PUT", "/api/agents/ben/state", {"state": "ready"})
    assert (status, agent["state"], agent["reason"]) == (200, "ready", None)
    assert centre.node.live is not None
    record = await centre.node.live.get_agent("ben")
    assert record is not None and record.state == "ready"
    status, agent = await centre.request("POST", "/api/agents/ben/logout")
    assert (status, agent["state"]) == (200, "logged_out")
    _, listing = await centre.request("GET", "/api/agents")
    assert {a["id"]: a["state"] for a in listing["agents"]} == {
        "ann": "logged_out", "ben": "logged_out",
    }
    assert centre.node.store is not None
    await centre.settled()
    async with centre.node.store.transaction(readonly=True) as repos:
        from datetime import UTC, datetime

        events = [
            (e.event, e.data.get("source"))
            async for e in repos.events.between(datetime(2000, 1, 1, tzinfo=UTC),
                                                datetime(2100, 1, 1, tzinfo=UTC))
            if e.agent_id == "ben"
        ]
    assert events == [
        ("agent_login", "api"), ("agent_not_ready", "api"), ("agent_not_ready", "api"),
        ("agent_ready", "api"), ("agent_logout", "api"),
    ]


async def test_wrap_up_can_be_ended_early(tmp_path: Any, store_url: str) -> None:
    from tests.acd.conftest import running_centre

    async with running_centre(tmp_path, store_url, wrap=60) as centre:
        await centre.login("ann")
        chan = centre.call()
        await wait_for(lambda: chan.bridge is not None, what="connected")
        status, body = await centre.request("POST", "/api/agents/ann/wrap-up/end")
        assert (status, body["error"]["code"]) == (409, "not_in_wrap_up")
        centre.hang_up(chan)

        async def in_wrap_up() -> bool:
            _, ann = await centre.request("GET", "/api/agents/ann")
            return ann["state"] == "wrap_up"

        await wait_for(in_wrap_up, what="wrap-up")
        status, ann = await centre.request("POST", "/api/agents/ann/wrap-up/end")
        assert (status, ann["state"]) == (200, "ready")
        assert not await centre.interactions()


async def test_sip_registration_logs_agents_in_and_out(centre: Centre) -> None:
    centre.sim.endpoints.unregister("agent1002")
    centre.sim.endpoints.register("agent1002")

    async def ben_is(state: str) -> bool:
        _, ben = await centre.request("GET", "/api/agents/ben")
        return ben["state"] == state

    await wait_for(lambda: ben_is("ready"), what="ben logged in by registering")
    centre.sim.endpoints.unregister("agent1002")
    await wait_for(lambda: ben_is("logged_out"), what="ben logged out by unregistering")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "mentions"),
    [
        ("GET", "/api/agents/nobody", None, 404, "unknown_agent", "nobody"),
        ("POST", "/api/agents/nobody/login", {}, 404, "unknown_agent", "nobody"),
        ("PUT", "/api/agents/ann/state", {"state": "busy"}, 400, "invalid_state", "busy"),
        ("PUT", "/api/agents/ann/state", {"state": 3}, 400, "invalid_state", "ready"),
        ("PUT", "/api/agents/ann/state", {}, 400, "missing_field", "state"),
        ("PUT", "/api/agents/ann/state", [1], 400, "invalid_body", "list"),
        ("PUT", "/api/agents/ann/state", {"state": "ready", "colour": 1}, 400, "unknown_field",
         "colour"),
        ("PUT", "/api/agents/ann/state", {"state": "not_ready", "reason": "x" * 65}, 400,
         "invalid_reason", "reason"),
        ("POST", "/api/agents/ann/login", {"state": "logged_out"}, 400, "invalid_state",
         "login"),
        ("GET", "/api/nothing", None, 404, "not_found", "Not Found"),
        ("DELETE", "/api/agents/ann", None, 405, "method_not_allowed", "Method Not Allowed"),
    ],
)
async def test_bad_requests_get_json_errors(
    centre: Centre, method: str, path: str, body: Any, status: int, code: str, mentions: str
) -> None:
    got_status, got = await centre.request(method, path, body)
    assert got_status == status
    assert got["error"]["code"] == code
    assert mentions in got["error"]["message"]


async def test_malformed_json_and_double_login(centre: Centre) -> None:
    async with centre.http.post(centre.api + "/api/agents/ann/login", data=b"{not json") as r:
        body = await r.json()
        assert r.status == 400 and body["error"]["code"] == "invalid_json"
    await centre.login("ann")
    status, body = await centre.request("POST", "/api/agents/ann/login")
    assert (status, body["error"]["code"]) == (409, "already_logged_in")


async def test_health_and_snapshots(centre: Centre) -> None:
    status, health = await centre.request("GET", "/health")
    assert status == 200 and health["pbx_connected"] is True and health["resyncs"] >= 1
    _, queues = await centre.request("GET", "/api/queues")
    assert [q["id"] for q in queues["queues"]] == ["sales", "support"]
    _, calls = await centre.request("GET", "/api/calls")
    assert calls == {"calls": []}
