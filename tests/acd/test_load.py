"""Big runs: 1,000 calls over 20 agents; calls through 20 AMI link drops."""

from __future__ import annotations

import asyncio
import collections
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cc_core.acd.wiring import Node
from cc_core.store.database import Store
from pbx.asterisk.adapter import AsteriskPort
from pbx.asterisk.channels import endpoint_of
from pbx.sim.ami.events import Event
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint, Endpoints
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.acd.conftest import (
    INBOUND,
    SALES_NUMBER,
    make_sim,
    point_at,
    start_node,
    wait_for,
    write_configs,
)

pytestmark = pytest.mark.slow

AGENTS = 20


def agents_yaml(count: int) -> str:
    lines = [
        "skills:",
        "  - {id: sales}",
        "  - {id: support}",
        "languages:",
        "  - {id: en}",
        "agents:",
    ]
    for i in range(count):
        lines.append(
            f"  - {{id: a{i:02d}, name: Agent {i}, endpoint: PJSIP/agent{1001 + i}, "
            f"skills: {{sales: {1 + i % 5}, support: 1}}, languages: [en], queues: {{sales: 1}}}}"
        )
    return "\n".join(lines) + "\n"


def add_phones(endpoints: Endpoints, count: int) -> list[str]:
    """Phones that answer at once and hang up after a short talk."""
    names = []
    for i in range(count):
        name = f"agent{1001 + i}"
        behaviour = Behaviour(
            ring_delay=0.02, answer_delay=0.05, talk_time_mean=0.4, talk_time_min=0.2
        )
        endpoint = endpoints.get(name)
        if endpoint is None:
            endpoints.add(Endpoint(name, port=5200 + i, behaviour=behaviour))
        else:
            endpoint.behaviour = behaviour
        names.append(name)
    return names


async def logged_events(store_url: str) -> collections.Counter[str]:
    """Interaction events by name; abandonments also by name and cause."""
    store = Store.from_url(store_url)
    try:
        async with store.transaction(readonly=True) as repos:
            counts: collections.Counter[str] = collections.Counter()
            async for e in repos.events.between(
                datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            ):
                if e.interaction_id:
                    counts[e.event] += 1
                    if e.event == "abandoned":
                        counts[f"abandoned: {e.data.get('cause')}"] += 1
            return counts
    finally:
        await store.dispose()


class Run:
    """A simulated PBX with 20 answering phones and an ACD whose agents log in by SIP.

    The simulated callers never hang up by themselves (their patience is endless): every call
    ends with the agent's hang-up after talking, so an abandoned interaction is a lost call.
    """

    def __init__(self, sim: Simulator, node: Node) -> None:
        self.sim, self.node = sim, node
        self.callers: set[str] = set()
        # Callers that entered a bridge, from the PBX's own BridgeEnter events (polling the
        # channel misses a short talk when the machine is busy).
        self.bridged: set[str] = set()
        # The most channels any one agent phone had at once, seen by the PBX itself.
        self.most_per_phone: collections.Counter[str] = collections.Counter()
        self._unlisten = sim.pbx.listen(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.name == "BridgeEnter":
            uniqueid = dict(event.headers).get("Uniqueid", "")
            if uniqueid in self.callers:
                self.bridged.add(uniqueid)
            return
        if event.name != "Newchannel":
            return
        channel = dict(event.headers).get("Channel", "")
        phone = endpoint_of(channel)
        if not phone.startswith("PJSIP/agent"):
            return
        held = sum(
            1
            for c in self.sim.pbx.channels.values()
            if not c.hung_up and endpoint_of(c.name) == phone
        )
        self.most_per_phone[phone] = max(self.most_per_phone[phone], held)

    def call(self, n: int) -> Channel:
        chan = inbound_call(self.sim.pbx, SALES_NUMBER, context=INBOUND, caller_num=f"2015{n:06d}")
        self.callers.add(chan.uniqueid)
        return chan

    def leftovers(self) -> str:
        """What is still open, on both sides: the message of a run that did not finish."""
        service = self.node.service
        assert service is not None
        records = [
            f"{r.interaction_id} {r.stage.value} call={r.call_id} agent={r.agent_id}"
            for r in service.calls
        ]
        channels = [
            f"{c.name} id={c.uniqueid} at {c.context},{c.exten},{c.priority} app={c.appl} "
            f"tag={c.variables.get('CC_INTERACTION_ID', '')} "
            f"ivr_failed={c.variables.get('CC_IVR_FAILED', '')}"
            for c in self.sim.pbx.channels.values()
        ]
        return f"ACD records: {records or 'none'}; PBX channels: {channels or 'none'}"

    async def finish(self, calls: int) -> collections.Counter[str]:
        service = self.node.service
        assert service is not None
        try:
            await wait_for(
                lambda: len(service.calls) == 0 and not self.sim.pbx.channels,
                seconds=120,
                what="every call closed",
            )
        except AssertionError as exc:
            await service.journal.drain()
            counts = await logged_events(self.node.config.acd.store.url)
            abandoned = {k: n for k, n in counts.items() if k.startswith("abandoned")}
            raise AssertionError(f"{exc}; {self.leftovers()}; {abandoned}") from None
        await service.journal.drain()
        self._unlisten()
        assert self.most_per_phone, "no agent phone ever rang"
        doubled = {p: n for p, n in self.most_per_phone.items() if n > 1}
        assert not doubled, f"agents offered two calls at once: {doubled}"
        counts = await logged_events(self.node.config.acd.store.url)
        assert counts["created"] == calls, counts
        assert service.journal.failed == 0
        return counts


async def start_run(tmp_path: Path, store_url: str) -> Run:
    sim = make_sim(1)
    phones = add_phones(sim.endpoints, AGENTS)
    await sim.start()
    configs = write_configs(
        tmp_path / "configs", ami_port=sim.ami_port, store_url=store_url, wrap=0, ring=5
    )
    (configs / "agents.yaml").write_text(agents_yaml(AGENTS))
    node = await start_node(configs)
    point_at(sim, node)
    service = node.service
    assert service is not None
    for name in phones:
        sim.endpoints.register(name)  # agents log in through registration
    await wait_for(
        lambda: all(
            service.engine.agent_state(f"a{i:02d}").value == "ready" for i in range(AGENTS)
        ),
        what="all agents logged in",
    )
    return Run(sim, node)


async def stop_run(run: Run) -> None:
    await run.node.stop()
    await run.sim.stop()


async def test_thousand_calls_over_twenty_agents(tmp_path: Path, sqlite_url: str) -> None:
    calls = 1000
    run = await start_run(tmp_path, sqlite_url)
    try:
        for n in range(calls):
            run.call(n)
            await asyncio.sleep(0.04)
        counts = await run.finish(calls)
        assert len(run.bridged) == calls
        assert (counts["ended"], counts["abandoned"]) == (calls, 0), counts
        assert counts["offered"] == counts["connected"] == calls, counts
    finally:
        await stop_run(run)


async def test_calls_through_twenty_ami_link_drops(tmp_path: Path, sqlite_url: str) -> None:
    calls, drops = 300, 20
    run = await start_run(tmp_path, sqlite_url)
    service = run.node.service
    assert service is not None
    # The Asterisk port, under the callback requests' wrapper when there is one.
    port: Any = getattr(service.port, "inner", service.port)
    assert isinstance(port, AsteriskPort)
    try:

        async def place() -> None:
            for n in range(calls):
                run.call(n)
                await asyncio.sleep(0.04)

        async def drop() -> None:
            for _ in range(drops):
                await asyncio.sleep(0.5)
                before = service.resyncs
                port.drop_link("test: link drop")
                await wait_for(
                    lambda b=before: service.resyncs > b,
                    seconds=60,
                    what="resync after a link drop",
                )

        await asyncio.gather(place(), drop())
        counts = await run.finish(calls)
        assert service.resyncs >= drops + 1
        # No caller hangs up by themselves, so none may be lost: each is served and ended,
        # whatever events fell into an outage.
        assert len(run.bridged) == calls
        assert (counts["ended"], counts["abandoned"]) == (calls, 0), counts
    finally:
        await stop_run(run)
