"""Big runs: 1,000 calls over 20 agents with AMI link drops; SIGKILL of the ACD mid-traffic."""

from __future__ import annotations

import asyncio
import collections
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cc_core.config import load_configs
from cc_core.store.database import Store
from pbx.asterisk.adapter import AsteriskPort
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from tests.acd.conftest import INBOUND, SALES_NUMBER, make_sim, point_at, start_node, wait_for
from tests.acd.conftest import write_configs as write_base_configs

pytestmark = pytest.mark.slow

AGENTS = 20
CALLS = 1000
LINK_DROPS = 20


def agents_yaml(count: int) -> str:
    lines = ["skills:", "  - {id: sales}", "  - {id: support}", "languages:", "  - {id: en}",
             "agents:"]
    for i in range(count):
        lines.append(
            f"  - {{id: a{i:02d}, name: Agent {i}, endpoint: PJSIP/agent{1001 + i}, "
            f"skills: {{sales: {1 + i % 5}, support: 1}}, languages: [en], queues: {{sales: 1}}}}"
        )
    return "\n".join(lines) + "\n"


def add_phones(sim_endpoints: object, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"agent{1001 + i}"
        endpoint = sim_endpoints.get(name)  # type: ignore[attr-defined]
        behaviour = Behaviour(ring_delay=0.02, answer_delay=0.05, talk_time_mean=0.4,
                              talk_time_min=0.2)
        if endpoint is None:
            sim_endpoints.add(Endpoint(name, port=5200 + i, behaviour=behaviour))  # type: ignore[attr-defined]
        else:
            endpoint.behaviour = behaviour
        names.append(name)
    return names


async def logged_events(store_url: str) -> collections.Counter[str]:
    """Interaction events by name; abandonments by name and cause."""
    store = Store.from_url(store_url)
    try:
        async with store.transaction(readonly=True) as repos:
            counts: collections.Counter[str] = collections.Counter()
            async for e in repos.events.between(datetime(2000, 1, 1, tzinfo=UTC),
                                                datetime(2100, 1, 1, tzinfo=UTC)):
                if e.interaction_id:
                    counts[e.event] += 1
                    if e.event == "abandoned":
                        counts[f"abandoned: {e.data.get('cause')}"] += 1
            return counts
    finally:
        await store.dispose()


async def test_thousand_calls_twenty_agents_through_link_drops(
    tmp_path: Path, sqlite_url: str
) -> None:
    sim = make_sim(1)
    phones = add_phones(sim.endpoints, AGENTS)
    await sim.start()
    configs = write_base_configs(tmp_path / "configs", ami_port=sim.ami_port,
                                 store_url=sqlite_url, wrap=0, ring=5)
    (configs / "agents.yaml").write_text(agents_yaml(AGENTS))
    node = await start_node(configs)
    point_at(sim, node)
    try:
        assert node.service is not None
        service = node.service
        for name in phones:
            sim.endpoints.register(name)  # agents log in through registration
        await wait_for(lambda: all(service.engine.agent_state(f"a{i:02d}").value != "logged_out"
                                   for i in range(AGENTS)), what="all agents logged in")
        port = service.port
        assert isinstance(port, AsteriskPort)
        bridged: set[str] = set()

        async def place_calls() -> None:
            for n in range(CALLS):
                chan = inbound_call(sim.pbx, SALES_NUMBER, context=INBOUND,
                                    caller_num=f"2015{n:06d}")
                watch(chan)
                await asyncio.sleep(0.025)

        def watch(chan: object) -> None:
            async def until_bridged() -> None:
                while getattr(chan, "bridge", None) is None:
                    if getattr(chan, "hung_up", False):
                        return
                    await asyncio.sleep(0.1)
                bridged.add(chan.uniqueid)  # type: ignore[attr-defined]
            asyncio.get_running_loop().create_task(until_bridged())

        async def drop_links() -> None:
            for _ in range(LINK_DROPS):
                await asyncio.sleep(1.0)
                before = service.resyncs
                port.drop_link("test: link drop")
                await wait_for(lambda b=before: service.resyncs > b, seconds=20,
                               what="resync after a link drop")

        await asyncio.gather(place_calls(), drop_links())

        async def all_done() -> bool:
            return len(service.calls) == 0 and sim.pbx.calls_total >= CALLS

        await wait_for(all_done, seconds=120, what="every call closed")
        await service.journal.drain()
        counts = await logged_events(sqlite_url)
        assert counts["created"] == CALLS
        # Every caller reached an agent (nobody hangs up early in this run); a call that rang
        # and ended entirely inside a link outage is logged as vanished, never lost.
        left = [(c.name, c.context, c.exten, c.appl, sim.pbx.get_var(c, "CC_INTERACTION_ID"),
                 sim.pbx.get_var(c, "CC_IVR_FAILED")) for c in sim.pbx.channels.values()]
        assert len(bridged) == CALLS, (counts, left)
        assert counts["ended"] + counts["abandoned"] == CALLS, counts
        assert counts["abandoned"] == counts["abandoned: vanished"], counts
        assert counts["abandoned"] <= LINK_DROPS * 2, counts
        assert service.journal.failed == 0
        assert service.resyncs >= LINK_DROPS + 1
    finally:
        await node.stop()
        await sim.stop()
    assert load_configs(configs) is not None
