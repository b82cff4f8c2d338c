"""Bearer tokens on the agent-state routes and the snapshots (cc_core/api/access.py).

With api.agent_secret: an agent's login, state, logout and wrap-up end take the agent's own
token or any supervisor's; GET /api/agents, /api/queues, /api/calls a supervisor's; GET
/api/agents/{id} the agent's own or a supervisor's. Without it, everything stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent_softphone.client import AcdClient, AcdError
from cc_core.acd.agent_quality import agent_token
from cc_core.acd.agent_quality import supervisor_token as shared_context_token
from cc_core.acd.supervision import supervisor_token
from cc_core.api.access import exposed_without_secret
from cc_core.cli.acd import warn_if_open
from cc_core.cli.admin import cli as admin_cli
from tests.acd.conftest import (
    AGENTS_YAML,
    Centre,
    make_sim,
    running_centre,
    wait_for,
    write_configs,
)

SECRET = "auth-test-secret-0123456789"
SUPERVISORS = """\
supervisors:
  - {id: sup-maria, name: Maria, endpoint: PJSIP/sup1900}
"""
MARIA = supervisor_token(SECRET, "sup-maria")
ANN = agent_token(SECRET, "ann")
BEN = agent_token(SECRET, "ben")
# Tokens that are nobody's here: garbage, ann's under another secret, the shared context
# token (it names no supervisor), a supervisor's id that agents.yaml does not have.
STRANGERS = (
    "not-a-token",
    agent_token("another-secret-0123456789", "ann"),
    shared_context_token(SECRET),
    supervisor_token(SECRET, "sup-nobody"),
)


@contextlib.asynccontextmanager
async def centre_with(tmp_path: Path, store_url: str, secret: str | None) -> AsyncIterator[Centre]:
    """A simulated PBX and the node's own API, as `cc-acd run` serves it: agents.yaml's
    supervisors wired in, api.agent_secret set or not."""
    async with running_centre(
        tmp_path, store_url, agents_yaml=AGENTS_YAML + SUPERVISORS, agent_secret=secret, wrap=60
    ) as centre:
        yield centre


@pytest.fixture
async def locked(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    async with centre_with(tmp_path, store_url, SECRET) as centre:
        yield centre


def state_of(centre: Centre, agent_id: str) -> str:
    assert centre.node.service is not None
    return centre.node.service.engine.agent_state(agent_id).value


async def refused_everyone_but(
    centre: Centre, method: str, path: str, body: Any, allowed: set[str | None]
) -> None:
    """No token: 401; each token not in ``allowed``: 403; the JSON error body either way."""
    for token in (None, *STRANGERS, ANN, BEN, MARIA):
        if token in allowed:
            continue
        status, answer = await centre.request(method, path, body, token=token)
        expected = (401, "unauthorized") if token is None else (403, "forbidden")
        assert (status, answer["error"]["code"]) == expected, (method, path, token)
        assert answer["error"]["message"], answer


async def agent_events(centre: Centre, agent_id: str) -> list[tuple[str, dict[str, Any]]]:
    assert centre.node.store is not None
    await centre.settled()
    async with centre.node.store.transaction(readonly=True) as repos:
        return [
            (e.event, dict(e.data))
            async for e in repos.events.between(
                datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            )
            if e.agent_id == agent_id
        ]


async def into_wrap_up(centre: Centre, agent_id: str) -> None:
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, what="connected")
    centre.hang_up(chan)
    await wait_for(lambda: state_of(centre, agent_id) == "wrap_up", what="wrap-up")


async def test_presence_takes_the_agents_own_token_or_a_supervisors(locked: Centre) -> None:
    login = ("POST", "/api/agents/ann/login", {"state": "ready"})
    await refused_everyone_but(locked, *login, allowed={ANN, MARIA})
    assert state_of(locked, "ann") == "logged_out"  # no refusal changed anything
    status, body = await locked.request(*login, token=ANN)
    assert (status, body["state"]) == (200, "ready")

    state = ("PUT", "/api/agents/ann/state", {"state": "not_ready", "reason": "lunch"})
    await refused_everyone_but(locked, *state, allowed={ANN, MARIA})
    assert state_of(locked, "ann") == "ready"
    status, body = await locked.request(*state, token=ANN)
    assert (status, body["state"]) == (200, "not_ready")
    status, body = await locked.request(*state[:2], {"state": "ready"}, token=MARIA)
    assert (status, body["state"]) == (200, "ready")

    logout = ("POST", "/api/agents/ann/logout", None)
    await refused_everyone_but(locked, *logout, allowed={ANN, MARIA})
    assert state_of(locked, "ann") == "ready"
    status, body = await locked.request(*logout, token=MARIA)  # forced by a supervisor
    assert (status, body["state"]) == (200, "logged_out")
    status, body = await locked.request(*login, token=MARIA)
    assert (status, body["state"]) == (200, "ready")
    status, body = await locked.request(*logout, token=ANN)
    assert (status, body["state"]) == (200, "logged_out")

    # Who forced it is in the agent's events; the agent's own changes name nobody.
    events = [(e, d.get("supervisor")) for e, d in await agent_events(locked, "ann")]
    assert events == [
        ("agent_login", None),
        ("agent_ready", None),
        ("agent_not_ready", None),
        ("agent_ready", "sup-maria"),
        ("agent_logout", "sup-maria"),
        ("agent_login", "sup-maria"),
        ("agent_ready", "sup-maria"),
        ("agent_logout", None),
    ]


async def test_wrap_up_end_takes_the_agents_own_token_or_a_supervisors(locked: Centre) -> None:
    await locked.login("ann")
    locked.phones["agent1001"].answers(after=0.1)
    end = ("POST", "/api/agents/ann/wrap-up/end", None)
    await into_wrap_up(locked, "ann")
    await refused_everyone_but(locked, *end, allowed={ANN, MARIA})
    assert state_of(locked, "ann") == "wrap_up"
    status, body = await locked.request(*end, token=ANN)
    assert (status, body["state"]) == (200, "ready")
    await into_wrap_up(locked, "ann")
    status, body = await locked.request(*end, token=MARIA)
    assert (status, body["state"]) == (200, "ready")
    done = [
        d.get("supervisor")
        for e, d in await agent_events(locked, "ann")
        if e == "agent_wrap_up_done"
    ]
    assert done == [None, "sup-maria"]


async def test_snapshots_take_a_supervisors_token(locked: Centre) -> None:
    for path, key in (
        ("/api/agents", "agents"),
        ("/api/queues", "queues"),
        ("/api/calls", "calls"),
    ):
        await refused_everyone_but(locked, "GET", path, None, allowed={MARIA})
        status, body = await locked.request("GET", path, token=MARIA)
        assert status == 200 and key in body, (path, body)
    # One agent's snapshot: the agent's own token too, not another agent's.
    await refused_everyone_but(locked, "GET", "/api/agents/ann", None, allowed={ANN, MARIA})
    for token in (ANN, MARIA):
        status, body = await locked.request("GET", "/api/agents/ann", token=token)
        assert (status, body["id"]) == (200, "ann")
    status, body = await locked.request("GET", "/health")
    assert status == 200, body


async def test_unknown_agents_are_not_revealed_without_a_token(locked: Centre) -> None:
    status, body = await locked.request("GET", "/api/agents/zed")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await locked.request("POST", "/api/agents/zed/login", {}, token=ANN)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await locked.request("POST", "/api/agents/zed/login", {}, token=MARIA)
    assert (status, body["error"]["code"]) == (404, "unknown_agent")


async def test_without_a_secret_the_routes_stay_open(tmp_path: Path, store_url: str) -> None:
    async with centre_with(tmp_path, store_url, None) as centre:
        for path in ("/api/agents", "/api/queues", "/api/calls", "/api/agents/ann"):
            status, _ = await centre.request("GET", path)
            assert status == 200, path
        status, body = await centre.request("POST", "/api/agents/ann/login", {})
        assert (status, body["state"]) == (200, "ready")
        status, body = await centre.request(
            "PUT", "/api/agents/ann/state", {"state": "not_ready"}, token="ignored"
        )
        assert (status, body["state"]) == (200, "not_ready")
        status, body = await centre.request("POST", "/api/agents/ann/wrap-up/end")
        assert (status, body["error"]["code"]) == (409, "not_in_wrap_up")
        status, body = await centre.request("POST", "/api/agents/ann/logout")
        assert (status, body["state"]) == (200, "logged_out")


async def test_the_softphone_sends_its_token_for_presence(locked: Centre) -> None:
    phone = AcdClient(locked.api, "ann", ANN)
    assert (await asyncio.to_thread(phone.login))["state"] == "ready"
    assert (await asyncio.to_thread(phone.set_state, "not_ready", "lunch"))["state"] == "not_ready"
    assert (await asyncio.to_thread(phone.me))["reason"] == "lunch"
    assert (await asyncio.to_thread(phone.logout))["state"] == "logged_out"
    tokenless = AcdClient(locked.api, "ann")
    with pytest.raises(AcdError) as refused:
        await asyncio.to_thread(tokenless.login)
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")


# ------------------------------------------------------------------------------------------
# cc-admin agent-token; cc-acd run's warning
# ------------------------------------------------------------------------------------------


def test_admin_prints_an_agents_token(tmp_path: Path) -> None:
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url="sqlite+aiosqlite://")
    runner = CliRunner()
    result = runner.invoke(admin_cli, ["agent-token", "ann", "--configs", str(configs)])
    assert result.exit_code == 1 and "api.agent_secret is not set" in result.output
    acd_yaml = configs / "acd.yaml"
    acd_yaml.write_text(
        acd_yaml.read_text().replace("port: 8080}", f"port: 8080, agent_secret: {SECRET}}}")
    )
    result = runner.invoke(admin_cli, ["agent-token", "ann", "--configs", str(configs)])
    assert (result.exit_code, result.output.strip()) == (0, ANN)
    result = runner.invoke(admin_cli, ["agent-token", "zed", "--configs", str(configs)])
    assert result.exit_code == 1 and "known: ann, ben" in result.output


@pytest.mark.parametrize(
    ("host", "secret", "exposed"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.0.2.10", None, True),
        ("0.0.0.0", SECRET, False),
    ],
)
def test_exposed_without_secret(host: str, secret: str | None, exposed: bool) -> None:
    assert exposed_without_secret(host, secret) is exposed


def test_warn_if_open_logs_once_only_when_open(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cc_core.cli.acd"):
        warn_if_open("127.0.0.1", None)
        warn_if_open("0.0.0.0", SECRET)
        assert caplog.records == []
        warn_if_open("0.0.0.0", None)
    (record,) = caplog.records
    assert record.getMessage() == "acd.api_open"


async def test_run_warns_when_the_api_is_open_beyond_loopback(
    tmp_path: Path, sqlite_url: str
) -> None:
    from tests.acd.test_cli import CC_ACD, free_port, use_ports

    sim = make_sim(1)
    await sim.start()
    configs = write_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url)
    use_ports(configs, free_port(), free_port())
    acd_yaml = configs / "acd.yaml"
    acd_yaml.write_text(
        acd_yaml.read_text().replace("api: {host: 127.0.0.1", "api: {host: 0.0.0.0")
    )
    proc = await asyncio.create_subprocess_exec(
        *CC_ACD,
        "run",
        "--configs",
        str(configs),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("cc-acd: API on 0.0.0.0:"), line
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        warnings = [x for x in err.decode().splitlines() if "event=acd.api_open" in x]
        assert len(warnings) == 1, err.decode()
        assert "level=warning" in warnings[0] and "api.agent_secret" in warnings[0]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await sim.stop()
