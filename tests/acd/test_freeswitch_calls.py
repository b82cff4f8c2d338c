"""The ACD over FreeSWITCH: the simulated FreeSWITCH (real ESL over TCP, in-process) running the
shipped XML dialplan (dialplan/freeswitch), the ACD node wired from an acd.yaml with
``type: freeswitch``: inbound event socket for control, outbound socket for the IVR."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cc_core.acd.callback import CallbackPort
from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.freeswitch import FreeSwitchPort
from pbx.sim.esl import dialplan as xml_dialplan
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import AGENTS_YAML, SALES_NUMBER, wait_for, write_configs
from tests.paths import ROOT

SHIPPED = ROOT / "dialplan" / "freeswitch"
DIALPLAN = [SHIPPED / "vars_cc.xml", SHIPPED / "dialplan" / "ccplane.xml"]
CONTEXT = "ccplane"
PHONES = {"ann": "1001", "ben": "1002"}
SERVED = ["created", "ivr", "queued", "offered", "connected", "wrapup", "ended"]

ACD_YAML = """\
node_id: fs-test
timezone: UTC
api: {host: 127.0.0.1, port: 8080}
esl_outbound: {host: 127.0.0.1, port: 8084}
store: {url: "{store}"}
live_state: {backend: memory}
pbx:
  - name: fs
    type: freeswitch
    esl: {host: 127.0.0.1, port: {esl}, password: ClueCon}
    ring_timeout: 2
logging: {level: INFO}
"""


@dataclass
class FsCentre:
    sim: FsSimulator
    node: Node
    http: aiohttp.ClientSession
    phones: dict[str, UserEndpoint]
    configs: Path
    callers: int = 0

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.node.api_bound}{path}"
        async with self.http.request(method, url, json=body) as resp:
            return resp.status, await resp.json()

    async def login(self, agent_id: str) -> None:
        status, body = await self.request(
            "POST", f"/api/agents/{agent_id}/login", {"state": "ready"}
        )
        assert status == 200, body

    def call(self, number: str = SALES_NUMBER) -> FsChannel:
        """A SIP caller on the trunk profile, straight into the ccplane context."""
        self.callers += 1
        return self.sim.switch.inbound_call(number, f"20155501{self.callers:02d}", context=CONTEXT)

    async def hang_up(self, ch: FsChannel) -> None:
        await self.sim.switch.hangup(ch, "NORMAL_CLEARING")

    async def rows(self) -> list[Any]:
        """Open interactions, once everything recorded so far is in the store."""
        assert self.node.service is not None and self.node.store is not None
        await self.node.service.journal.drain()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.interactions.list_open())

    async def events(self, interaction_id: str) -> list[Any]:
        assert self.node.service is not None and self.node.store is not None
        await self.node.service.journal.drain()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.events.for_interaction(interaction_id))


def shipped_dialplan(ivr_port: int) -> xml_dialplan.XmlDialplan:
    """The shipped files, with the IVR socket where this ACD listens (what an admin edits in
    vars_cc.xml before `reloadxml`)."""
    plan = xml_dialplan.XmlDialplan(overrides={"cc_ivr_socket": f"127.0.0.1:{ivr_port}"})
    for path in DIALPLAN:
        xml_dialplan.load(path, plan)
    return plan


@contextlib.asynccontextmanager
async def running(tmp_path: Path, store_url: str, ring: int = 2) -> AsyncIterator[FsCentre]:
    sim = FsSimulator(FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    phones = {
        agent: UserEndpoint(user, "127.0.0.1", f"sip:{user}@127.0.0.1:5099", answer_delay=0.2)
        for agent, user in PHONES.items()
    }
    for phone in phones.values():
        sim.register(phone)  # before the ACD connects: agents log in over the API
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=store_url, ring=ring)
    agents = AGENTS_YAML
    for user in PHONES.values():
        agents = agents.replace(f"PJSIP/agent{user}", f"user/{user}")
    (configs / "agents.yaml").write_text(agents)
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url)
        .replace("{esl}", str(sim.port))
        .replace("ring_timeout: 2", f"ring_timeout: {ring}")
    )
    node = await start_node(sim, configs)
    http = aiohttp.ClientSession()
    try:
        yield FsCentre(sim, node, http, phones, configs)
    finally:
        await http.close()
        await node.stop()
        await sim.stop()


async def start_node(sim: FsSimulator, configs: Path) -> Node:
    """An ACD node on these configs, the dialplan's IVR socket pointed at it."""
    node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
    await node.start(wait_for_pbx=True)
    assert node.ivr_socket is not None
    sim.switch.dialplan = shipped_dialplan(node.ivr_socket.port)
    return node


@pytest.fixture
async def centre(tmp_path: Path, sqlite_url: str) -> AsyncIterator[FsCentre]:
    async with running(tmp_path, sqlite_url) as c:
        yield c


def in_hold(ch: FsChannel) -> bool:
    return ch.up and ch.get_var("cc_state") == "holding" and ch.other is None


async def test_the_freeswitch_port_and_ivr_socket_are_wired(centre: FsCentre) -> None:
    assert centre.node.service is not None
    # Under the ACD's own wrapper (callback requests), as on Asterisk.
    assert isinstance(centre.node.service.port, CallbackPort)
    assert isinstance(centre.node.service.port.inner, FreeSwitchPort)
    assert centre.node.fastagi is None  # no Asterisk here: no FastAGI listener
    status, body = await centre.request("GET", "/health")
    assert status == 200, body


async def test_calls_are_served_end_to_end_with_every_stage_logged(centre: FsCentre) -> None:
    for phone in centre.phones.values():
        phone.talk_time = 0.6  # the agent ends the call after a short talk
    await centre.login("ann")
    await centre.login("ben")
    calls = [centre.call() for _ in range(3)]
    # Two agents for three callers: the third waits in the PBX's holding extension, tagged.
    third = await wait_for(
        lambda: next((c for c in calls if in_hold(c)), None),
        what="a caller tagged and held while both agents talk",
    )
    assert third.get_var("cc_interaction_id")
    assert not third.get_var("cc_ivr_failed")
    bridged: set[str] = set()

    def all_talked() -> bool:
        bridged.update(c.uuid for c in calls if c.other is not None)
        return len(bridged) == 3 and not any(c.up for c in calls)

    await wait_for(all_talked, seconds=20, what="every caller bridged to an agent, then done")

    async def all_closed() -> bool:
        return not await centre.rows()

    await wait_for(all_closed, seconds=10, what="every interaction ended after wrap-up")
    assert centre.node.store is not None
    for ch in calls:
        # The IVR tagged each channel with its interaction, under the dialplan's spelling.
        tag = ch.get_var("cc_interaction_id")
        async with centre.node.store.transaction(readonly=True) as repos:
            row = await repos.interactions.get(tag)
        assert (row.pbx_call_id, row.state, row.queue) == (ch.uuid, "ended", "sales")
        events = await centre.events(tag)
        assert [e.event for e in events] == SERVED, ch.uuid
        assert next(e for e in events if e.event == "offered").agent_id in ("ann", "ben")
    assert centre.node.ivr_socket is not None
    assert centre.node.ivr_socket.sessions_served == 3
    status, agents = await centre.request("GET", "/api/agents")
    assert status == 200
    assert sum(a["contacts"] for a in agents["agents"]) == 3
    assert {a["state"] for a in agents["agents"]} == {"ready"}


async def test_a_pair_socket_reaches_the_node_that_listens(centre: FsCentre) -> None:
    """Active/standby: cc_ivr_socket names both nodes, "a|b"; a node that is not active
    does not listen, and FreeSWITCH's socket application tries the next host."""
    assert centre.node.ivr_socket is not None
    with socket.socket() as probe:  # a port nobody listens on: the node that is down
        probe.bind(("127.0.0.1", 0))
        down = probe.getsockname()[1]
    plan = xml_dialplan.XmlDialplan(
        overrides={"cc_ivr_socket": f"127.0.0.1:{down}|127.0.0.1:{centre.node.ivr_socket.port}"}
    )
    for path in DIALPLAN:
        xml_dialplan.load(path, plan)
    centre.sim.switch.dialplan = plan
    await centre.login("ann")
    ch = centre.call()
    await wait_for(lambda: ch.other is not None, seconds=15, what="answered by ann")
    (row,) = await centre.rows()
    assert row.pbx_call_id == ch.uuid
    assert ch.get_var("socket_host") == "127.0.0.1"
    assert centre.node.ivr_socket.sessions_served == 1
    await centre.hang_up(ch)


async def test_ring_no_answer_reroutes_to_the_next_agent(centre: FsCentre) -> None:
    centre.phones["ann"].no_answer = True
    await centre.login("ann")  # longest idle: rung first
    await centre.login("ben")
    ch = centre.call()
    await wait_for(lambda: ch.other is not None, seconds=15, what="answered by ben")
    assert ch.other is not None and ch.other.name.startswith("sofia/internal/1002")
    (row,) = await centre.rows()
    events = await centre.events(row.id)
    assert [e.event for e in events] == [
        "created",
        "ivr",
        "queued",
        "offered",
        "queued",
        "offered",
        "connected",
    ]
    assert [e.agent_id for e in events if e.event == "offered"] == ["ann", "ben"]
    requeued = events[4]
    assert requeued.data["reason"] == "NOANSWER" and requeued.data["missed_agent"] == "ann"
    await centre.hang_up(ch)

    async def closed() -> bool:
        return not await centre.rows()

    await wait_for(closed, seconds=10, what="closed after wrap-up")
    assert [e.event for e in await centre.events(row.id)][-2:] == ["wrapup", "ended"]


async def test_an_untagged_caller_is_held_and_marked_for_adoption(centre: FsCentre) -> None:
    ch = centre.call("5559999")  # no queue and no IVR script for this number
    await wait_for(lambda: in_hold(ch), what="held after the IVR")
    assert ch.get_var("cc_ivr_failed") == "true"
    assert not ch.get_var("cc_interaction_id")
    assert ch.get_var("cc_agi_error").startswith("no queue or IVR script")
    assert await centre.rows() == []
    await centre.hang_up(ch)


async def test_a_caller_the_ivr_never_reached_is_adopted_after_a_resync(
    centre: FsCentre,
) -> None:
    assert centre.node.ivr_socket is not None and centre.node.service is not None
    # The IVR socket cannot be reached (the ACD's listener moved, say): the dialplan holds
    # the call untagged, marked, with the dialled number.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    centre.sim.switch.dialplan = shipped_dialplan(dead_port)
    ch = centre.call()
    await wait_for(lambda: in_hold(ch), what="held untagged")
    assert ch.get_var("cc_ivr_failed") == "true"
    assert ch.get_var("cc_entry_number") == SALES_NUMBER
    assert await centre.rows() == []
    centre.sim.switch.dialplan = shipped_dialplan(centre.node.ivr_socket.port)
    await centre.login("ben")
    # The next resync (here after a link drop) lists the call with its CC_DNIS and the ACD
    # reads CC_IVR_FAILED: port names, read under the dialplan's cc_entry_number and
    # cc_ivr_failed.
    port = getattr(centre.node.service.port, "inner", None)
    assert isinstance(port, FreeSwitchPort)
    port.drop_link("test: link cut")
    await wait_for(lambda: ch.other is not None, seconds=15, what="adopted call answered")
    (row,) = await centre.rows()
    assert (row.pbx_call_id, row.queue, row.agent_id) == (ch.uuid, "sales", "ben")
    assert row.attributes["ivr_failed"] == "true"
    assert ch.get_var("cc_interaction_id") == row.id
    assert [e.event for e in await centre.events(row.id)] == [
        "created",
        "queued",
        "offered",
        "connected",
    ]
    await centre.hang_up(ch)


async def test_a_call_answered_while_away_whose_caller_hung_up_first(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The agent answers while the ACD is down and the caller hangs up first (the caller's
    dialplan ends inside bridge): the served mark, set by the bridge's execute_on_answer as
    the agent answered, closes the call as served by that agent, not abandoned."""
    async with running(tmp_path, sqlite_url, ring=60) as centre:
        centre.phones["ann"].no_answer = True  # rings until the test answers for it
        await centre.login("ann")
        ch = centre.call()

        def ringing() -> FsChannel | None:
            legs = [c for c in centre.sim.switch.channels.values() if c.other is ch and c.up]
            return legs[0] if legs and not legs[0].answered.is_set() else None

        leg = await wait_for(ringing, what="ann's phone ringing")

        async def offered() -> bool:
            rows = await centre.rows()
            return len(rows) == 1 and rows[0].state == "offered"

        await wait_for(offered, what="offer recorded")
        (row,) = await centre.rows()
        await centre.node.stop()
        centre.sim.switch.answer(leg)  # the agent picks up while the ACD is away
        await wait_for(lambda: ch.uuid in centre.sim.switch.bridges, what="bridged")
        await centre.hang_up(ch)  # the caller hangs up first
        await wait_for(lambda: not ch.up and not leg.up, what="both gone")
        centre.node = await start_node(centre.sim, centre.configs)
        try:

            async def closed() -> bool:
                return not await centre.rows()

            await wait_for(closed, what="interaction closed")
            events = await centre.events(row.id)
            assert centre.node.store is not None
            async with centre.node.store.transaction(readonly=True) as repos:
                final = await repos.interactions.get(row.id)
        finally:
            await centre.node.stop()
    assert (final.state, final.agent_id) == ("ended", "ann")
    assert "abandoned" not in [e.event for e in events]
    assert events[-1].event == "ended"
    assert events[-1].data["cause"] == "served while the ACD was away"
