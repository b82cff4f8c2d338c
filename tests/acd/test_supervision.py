"""A supervisor listens, whispers and barges through the API and ``cc-admin``: the simulated
Asterisk (the shipped dialplan) rings the supervisor's phone into [cc-spy], which runs ChanSpy
on the agent's channel; every spy is in the audit log; refusals say why."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cc_core.acd.agent_quality import agent_token
from cc_core.acd.agent_quality import supervisor_token as shared_context_token
from cc_core.acd.supervision import supervisor_token
from cc_core.cli.admin import cli
from pbx.asterisk.commands import SPY_OPTIONS
from pbx.port import SpyMode
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint
from tests.acd.conftest import (
    AGENTS_YAML,
    SUPPORT_NUMBER,
    Centre,
    running_centre,
    wait_for,
)

SECRET = "supervision-test-secret-0123"
SUPERVISORS = """\
supervisors:
  - {id: sup-maria, name: Maria, endpoint: PJSIP/sup1900}
  - {id: sup-james, name: James, endpoint: PJSIP/sup1901}
"""


@dataclass
class Desk:
    """The centre and the API with agents.yaml's supervisors, as a supervisor reaches it."""

    centre: Centre
    api: str

    async def call(
        self, method: str, path: str, token: str | None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with self.centre.http.request(
            method, self.api + path, json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()

    async def spy(
        self, interaction: str, body: Any, token: str | None = None, *, who: str = "sup-maria"
    ) -> tuple[int, Any]:
        token = supervisor_token(SECRET, who) if token is None else token
        return await self.call("POST", f"/api/interactions/{interaction}/spy", token, body)

    async def audit(self) -> list[Any]:
        assert self.centre.node.store is not None
        async with self.centre.node.store.transaction(readonly=True) as repos:
            return list(await repos.audit.entries())


@contextlib.asynccontextmanager
async def running_desk(tmp_path: Path, store_url: str, secret: str | None) -> AsyncIterator[Desk]:
    supervisors = tuple(
        Endpoint(name, port=port, behaviour=Behaviour(ring_delay=0.05, answer_delay=0.1))
        for name, port in (("sup1900", 5200), ("sup1901", 5201))
    )
    async with running_centre(
        tmp_path,
        store_url,
        endpoints=supervisors,
        agents_yaml=AGENTS_YAML + SUPERVISORS,
        agent_secret=secret,
    ) as centre:
        # The node's own API, as `cc-acd run` serves it (agents.yaml's supervisors wired in).
        yield Desk(centre, f"http://127.0.0.1:{centre.node.api_bound}")


@pytest.fixture
async def desk(tmp_path: Path, store_url: str) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path, store_url, SECRET) as d:
        yield d


async def talking(desk: Desk) -> tuple[str, Channel, Channel]:
    """(interaction id, caller's channel, ann's channel) of a call ann is talking on."""
    centre = desk.centre
    await centre.login("ann")
    caller = centre.call()
    await wait_for(lambda: caller.bridge is not None, what="caller bridged to ann")
    assert centre.node.service is not None
    (record,) = [r for r in centre.node.service.calls if r.call_id == caller.uniqueid]
    await wait_for(lambda: record.stage.value == "connected", what="connected in the ACD")
    assert caller.bridge is not None
    (agent,) = [c for c in caller.bridge.members if c is not caller]
    assert agent.name.startswith("PJSIP/agent1001-")
    return record.interaction_id, caller, agent


def spy_leg(desk: Desk, spy_call: str) -> Channel | None:
    for chan in desk.centre.sim.pbx.channels.values():
        if chan.uniqueid == spy_call:
            return chan
    return None


@pytest.mark.parametrize("mode", list(SpyMode))
async def test_a_supervisor_joins_an_agents_call_through_the_api(desk: Desk, mode: SpyMode) -> None:
    interaction, caller, agent = await talking(desk)
    token = supervisor_token(SECRET, "sup-maria")

    status, listed = await desk.call("GET", "/api/interactions?state=connected", token)
    assert status == 200, listed
    (row,) = listed["interactions"]
    assert (row["interaction_id"], row["state"], row["agent_id"], row["agent_name"]) == (
        interaction,
        "connected",
        "ann",
        "Ann",
    )

    status, body = await desk.spy(interaction, {"supervisor": "sup-maria", "mode": mode.value})
    assert status == 200, body
    assert (body["agent_id"], body["supervisor"], body["mode"]) == ("ann", "sup-maria", mode.value)

    def spying() -> Channel | None:
        chan = spy_leg(desk, body["spy_call"])
        return chan if chan is not None and chan.appl == "ChanSpy" else None

    leg = await wait_for(spying, what="the supervisor's leg running ChanSpy")
    assert leg.name.startswith("PJSIP/sup1900-")
    assert leg.context == "cc-spy"
    assert leg.data == f"{agent.name},{SPY_OPTIONS[mode]}"
    assert leg.variables["CC_SPY_TARGET"] == agent.name
    assert leg.variables["CC_SPY_MODE"] == mode.value
    assert leg in agent.spied_by  # on the agent's leg, not the caller's
    assert leg not in caller.spied_by

    (entry,) = await desk.audit()
    assert (entry.actor, entry.action, entry.target) == ("sup-maria", mode.value, "agent:ann")
    assert entry.details == {
        "interaction": interaction,
        "call": agent.uniqueid,
        "spy_call": body["spy_call"],
    }


async def test_the_supervisor_may_be_named_by_phone(desk: Desk) -> None:
    interaction, _, _ = await talking(desk)
    status, body = await desk.spy(
        interaction, {"supervisor": "sup1901", "mode": "listen"}, who="sup-james"
    )
    assert status == 200, body
    assert (body["supervisor"], body["endpoint"]) == ("sup-james", "PJSIP/sup1901")
    leg = await wait_for(lambda: spy_leg(desk, body["spy_call"]), what="the spy leg")
    assert leg.name.startswith("PJSIP/sup1901-")


async def test_a_call_no_agent_talks_on_is_409_and_an_unknown_one_404(desk: Desk) -> None:
    centre = desk.centre
    caller = centre.call(SUPPORT_NUMBER)  # nobody is logged in: it waits

    def queued() -> str | None:
        assert centre.node.service is not None
        rows = [r for r in centre.node.service.calls if r.call_id == caller.uniqueid]
        return rows[0].interaction_id if rows and rows[0].stage.value == "queued" else None

    interaction = await wait_for(queued, what="the call queued")
    status, body = await desk.spy(interaction, {"supervisor": "sup-maria", "mode": "barge"})
    assert status == 409, body
    assert body["error"]["code"] == "no_agent"
    assert "queued, not connected" in body["error"]["message"]

    status, body = await desk.spy("01NOSUCHCALL", {"supervisor": "sup-maria", "mode": "listen"})
    assert status == 404, body
    assert body["error"]["code"] == "unknown_interaction"

    assert await desk.audit() == []
    assert not [c for c in centre.sim.pbx.channels.values() if c.name.startswith("PJSIP/sup")]
    centre.hang_up(caller)


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"supervisor": "sup-maria", "mode": "shout"}, "invalid_mode", "mode: expected listen"),
        ({"supervisor": "sup-maria"}, "missing_field", "mode: required"),
        ({"mode": "listen"}, "missing_field", "supervisor: required"),
        ({"supervisor": 7, "mode": "listen"}, "invalid_supervisor", "supervisor: expected"),
        ({"supervisor": "nobody", "mode": "listen"}, "unknown_supervisor", "sup-maria"),
        ({"supervisor": "sup-maria", "mode": "listen", "x": 1}, "unknown_field", "x"),
        ([1, 2], "invalid_body", "JSON object"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    desk: Desk, body: Any, code: str, words: str
) -> None:
    interaction, _, _ = await talking(desk)
    status, answer = await desk.spy(interaction, body)
    assert status == 400, answer
    assert answer["error"]["code"] == code
    assert words in answer["error"]["message"]
    assert await desk.audit() == []


async def test_only_the_named_supervisors_own_token_is_accepted(desk: Desk) -> None:
    interaction, _, _ = await talking(desk)
    listen = {"supervisor": "sup-maria", "mode": "listen"}
    path = f"/api/interactions/{interaction}/spy"
    status, body = await desk.call("POST", path, None, listen)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    for token in (
        supervisor_token(SECRET, "sup-james"),  # another supervisor's
        agent_token(SECRET, "ann"),  # an agent's
        shared_context_token(SECRET),  # the shared context token names nobody
        supervisor_token("another-secret-of-16+", "sup-maria"),
    ):
        status, body = await desk.call("POST", path, token, listen)
        assert (status, body["error"]["code"]) == (403, "forbidden"), token
    status, body = await desk.call("GET", "/api/interactions", agent_token(SECRET, "ann"))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await desk.call("GET", "/api/interactions", None)
    assert status == 401
    assert await desk.audit() == []
    assert not [c for c in desk.centre.sim.pbx.channels.values() if c.name.startswith("PJSIP/sup")]


async def test_without_a_secret_supervision_is_off(tmp_path: Path, store_url: str) -> None:
    async with running_desk(tmp_path, store_url, None) as desk:
        status, body = await desk.spy("x", {"supervisor": "sup-maria", "mode": "listen"}, "t")
        assert status == 403
        assert "api.agent_secret" in body["error"]["message"]


async def test_listing_refuses_an_unknown_state(desk: Desk) -> None:
    token = supervisor_token(SECRET, "sup-maria")
    status, body = await desk.call("GET", "/api/interactions?state=talking", token)
    assert status == 400
    assert body["error"]["message"].startswith("state: expected one of")
    status, body = await desk.call("GET", "/api/interactions", token)
    assert (status, body) == (200, {"interactions": []})


# ------------------------------------------------------------------------------------------
# cc-admin calls / spy / supervisor-token, through the API
# ------------------------------------------------------------------------------------------


async def admin(*args: str, env: dict[str, str] | None = None) -> Result:
    """``cc-admin`` in a thread: its HTTP client blocks, the API runs on this loop."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)


async def test_cli_lists_connected_calls_and_spies_on_one(desk: Desk) -> None:
    interaction, _, agent = await talking(desk)
    token = await admin("supervisor-token", "sup-maria", "--configs", str(desk.centre.configs))
    assert token.exit_code == 0, token.output
    env = {"CC_ACD_URL": desk.api, "CC_SUPERVISOR_TOKEN": token.output.strip()}

    listed = await admin("calls", env=env)
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.splitlines()
    assert header.split()[:4] == ["INTERACTION", "STATE", "QUEUE", "AGENT"]
    assert row.split()[:4] == [interaction, "connected", "sales", "Ann"]

    spied = await admin(
        "spy", interaction, "--mode", "whisper", "--supervisor", "sup-maria", env=env
    )
    assert spied.exit_code == 0, spied.output
    assert spied.output.startswith("PJSIP/sup1900 is ringing: whisper on agent ann")
    leg = await wait_for(lambda: agent.spied_by, what="the agent's leg spied on")
    (chan,) = leg
    assert chan.data == f"{agent.name},{SPY_OPTIONS[SpyMode.WHISPER]}"
    (entry,) = await desk.audit()
    assert (entry.actor, entry.action) == ("sup-maria", "whisper")


async def test_cli_errors_are_the_acds_own_words(desk: Desk) -> None:
    env = {"CC_ACD_URL": desk.api, "CC_SUPERVISOR_TOKEN": supervisor_token(SECRET, "sup-maria")}
    refused = await admin(
        "spy", "01NOSUCH", "--mode", "listen", "--supervisor", "sup-maria", env=env
    )
    assert refused.exit_code == 1
    assert "refused (404 unknown_interaction)" in refused.output
    assert "not a call in progress" in refused.output

    wrong = await admin("calls", env={**env, "CC_SUPERVISOR_TOKEN": "nope"})
    assert wrong.exit_code == 1 and "403 forbidden" in wrong.output

    mode = await admin("spy", "x", "--mode", "shout", "--supervisor", "sup-maria", env=env)
    assert mode.exit_code == 2 and "'shout' is not one of" in mode.output

    down = await admin("calls", env={**env, "CC_ACD_URL": "http://127.0.0.1:9"})
    assert down.exit_code == 2 and "cannot reach the ACD at http://127.0.0.1:9" in down.output

    unknown = await admin("supervisor-token", "nobody", "--configs", str(desk.centre.configs))
    assert unknown.exit_code == 1 and "known: sup-maria, sup-james" in unknown.output
