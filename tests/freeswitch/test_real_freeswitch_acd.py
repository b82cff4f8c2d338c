"""Opt-in: the ACD's flows against a real FreeSWITCH running the shipped dialplan.

Needs ``CC_TEST_FREESWITCH=host:port:password`` (the inbound event socket) on a FreeSWITCH 1.10
with ``dialplan/freeswitch`` installed (``ccplane.xml`` in ``conf/dialplan/``, ``vars_cc.xml``
included from ``vars.xml``) and the recorded test extensions of
``../shared/pbx-captures/freeswitch-1.10.12/conf/default.xml`` (``9999`` answers and parks),
which stand in for the agents' phones (``loopback/9999/default``). ``cc_ivr_socket`` in
``vars_cc.xml`` must name where this test's IVR listens: ``CC_TEST_FREESWITCH_IVR=host:port``
(default ``0.0.0.0:8084``, the shipped value's port). Callers are ``originate
loopback/<number>/ccplane``: their B leg enters the ``ccplane`` context like a trunk call.

Skipped without ``CC_TEST_FREESWITCH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.freeswitch import FreeSwitchPort
from tests.acd.conftest import AGENTS_YAML, SALES_NUMBER, wait_for, write_configs

pytestmark = [pytest.mark.freeswitch, pytest.mark.slow]

TARGET = os.environ.get("CC_TEST_FREESWITCH", "")
IVR = os.environ.get("CC_TEST_FREESWITCH_IVR", "0.0.0.0:8084")
if not TARGET:
    pytest.skip(
        "CC_TEST_FREESWITCH=host:port:password is not set: no real FreeSWITCH to test against",
        allow_module_level=True,
    )

AGENT_PHONE = "loopback/9999/default"  # answers and parks: an agent who picks up
SERVED = ["created", "ivr", "queued", "offered", "connected", "wrapup", "ended"]

ACD_YAML = """\
node_id: fs-real
timezone: UTC
api: {host: 127.0.0.1, port: 8080}
esl_outbound: {host: "{ivr_host}", port: {ivr_port}}
store: {url: "{store}"}
live_state: {backend: memory}
pbx:
  - name: fs
    type: freeswitch
    esl: {host: "{host}", port: {port}, password: "{password}"}
    ring_timeout: 5
logging: {level: INFO}
"""


def target() -> tuple[str, int, str]:
    parts = TARGET.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        pytest.fail(f"CC_TEST_FREESWITCH={TARGET!r}: expected host:port:password", pytrace=False)
    return parts[0], int(parts[1]), parts[2]


@dataclass
class RealCentre:
    node: Node
    configs: Path
    placed: list[str] = field(default_factory=list)  # our callers' A legs, hung up at the end

    @property
    def port(self) -> FreeSwitchPort:
        assert self.node.service is not None
        port = getattr(self.node.service.port, "inner", self.node.service.port)
        assert isinstance(port, FreeSwitchPort)
        return port

    async def login(self, agent: str) -> None:
        url = f"http://127.0.0.1:{self.node.api_bound}/api/agents/{agent}/login"
        async with aiohttp.ClientSession() as http, http.post(url, json={}) as resp:
            assert resp.status == 200, await resp.text()

    async def call(self, number: str = SALES_NUMBER) -> str:
        """A caller into ccplane; returns the uuid of the leg the ACD sees (loopback B)."""
        a_leg = await self.port.originate(
            f"loopback/{number}/ccplane", "default", "park", caller_id="2015550177"
        )
        self.placed.append(a_leg)
        b_leg = await wait_for(
            lambda: self.port.get_variable(a_leg, "other_loopback_leg_uuid"),
            what="the caller's loopback B leg",
        )
        return str(b_leg)

    async def rows(self) -> list[Any]:
        assert self.node.service is not None and self.node.store is not None
        await self.node.service.journal.drain()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.interactions.list_open())

    async def events(self, interaction_id: str) -> list[str]:
        assert self.node.service is not None and self.node.store is not None
        await self.node.service.journal.drain()
        async with self.node.store.transaction(readonly=True) as repos:
            return [e.event for e in await repos.events.for_interaction(interaction_id)]

    async def bridged_to(self, call: str) -> str | None:
        try:
            return await self.port.get_variable(call, "bridge_uuid") or None
        except Exception:
            return None


async def start(configs: Path) -> Node:
    node = Node(load_configs(configs), api_port=0)
    await node.start(wait_for_pbx=True)
    return node


@contextlib.asynccontextmanager
async def real_centre(tmp_path: Path, store_url: str) -> AsyncIterator[RealCentre]:
    host, port, password = target()
    ivr_host, _, ivr_port = IVR.rpartition(":")
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=store_url, ring=5)
    (configs / "agents.yaml").write_text(
        AGENTS_YAML.replace("PJSIP/agent1001", AGENT_PHONE).replace(
            "PJSIP/agent1002", "loopback/9998/default"
        )
    )
    yaml_text = ACD_YAML
    for key, value in {
        "host": host,
        "port": port,
        "password": password,
        "store": store_url,
        "ivr_host": ivr_host or "0.0.0.0",
        "ivr_port": ivr_port,
    }.items():
        yaml_text = yaml_text.replace("{" + key + "}", str(value))
    (configs / "acd.yaml").write_text(yaml_text)
    centre = RealCentre(await start(configs), configs)
    try:
        yield centre
    finally:
        for leg in centre.placed:
            with contextlib.suppress(Exception):
                await centre.port.hangup(leg)
        await centre.node.stop()


async def agent_hangs_up(centre: RealCentre, caller: str) -> str:
    """Once the caller talks to the agent, the agent hangs up; returns the interaction id."""
    agent_leg = await wait_for(
        lambda: centre.bridged_to(caller), seconds=20, what="the caller bridged to the agent"
    )
    tag = await centre.port.get_variable(caller, "CC_INTERACTION_ID")
    assert tag, "the caller was bridged untagged"
    await asyncio.sleep(0.5)  # a short talk
    await centre.port.hangup(str(agent_leg))
    return tag


async def test_a_call_is_served_with_every_stage_logged(tmp_path: Path, sqlite_url: str) -> None:
    async with real_centre(tmp_path, sqlite_url) as centre:
        await centre.login("ann")
        caller = await centre.call()
        tag = await agent_hangs_up(centre, caller)

        async def closed() -> bool:
            return not await centre.rows()

        await wait_for(closed, seconds=20, what="the interaction closed")
        assert centre.node.store is not None
        async with centre.node.store.transaction(readonly=True) as repos:
            row = await repos.interactions.get(tag)
        assert (row.pbx_call_id, row.state, row.agent_id) == (caller, "ended", "ann")
        assert await centre.events(row.id) == SERVED
        # The dialplan's served mark names this caller (global_getvar, as after an outage).
        assert await centre.port.served_by([AGENT_PHONE]) == {AGENT_PHONE: caller}


async def test_a_waiting_call_survives_a_link_drop_and_a_restart(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with real_centre(tmp_path, sqlite_url) as centre:
        caller = await centre.call()  # nobody logged in: it waits in cc_hold

        async def queued() -> bool:
            rows = await centre.rows()
            return len(rows) == 1 and rows[0].state == "queued"

        await wait_for(queued, seconds=20, what="queued")
        assert centre.node.service is not None
        before = centre.node.service.resyncs
        centre.port.drop_link("test: link drop")
        service = centre.node.service
        await wait_for(lambda: service.resyncs > before, seconds=30, what="resync")
        assert [r.call_id for r in service.calls] == [caller]
        await centre.node.stop()
        centre.node = await start(centre.configs)
        restarted = centre.node.service
        assert restarted is not None
        await wait_for(lambda: len(restarted.calls) == 1, seconds=20, what="re-adopted")
        await centre.login("ann")
        tag = await agent_hangs_up(centre, caller)

        async def closed() -> bool:
            return not await centre.rows()

        await wait_for(closed, seconds=20, what="served after the restart and closed")
        events = await centre.events(tag)
        assert events[-4:] == ["offered", "connected", "wrapup", "ended"], events
        assert "readopted" in events and "abandoned" not in events, events
