"""The ACD's big runs over FreeSWITCH: the simulated FreeSWITCH (real ESL over TCP, running the
shipped XML dialplan) and the ACD wired from an acd.yaml with ``type: freeswitch``.

The same outcomes as the Asterisk side (tests/acd/test_load.py): 1,000 calls over 20 agents,
every call served and ended, no agent phone ever holding two calls, every stage in the event
log; 20 event-socket link drops during traffic with no call lost; a SIGKILLed ``cc-acd``
restarted mid-traffic with every waiting call re-adopted and served.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.freeswitch import FreeSwitchPort
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import SALES_NUMBER, wait_for, write_configs
from tests.acd.test_freeswitch_calls import ACD_YAML, CONTEXT, DIALPLAN, shipped_dialplan
from tests.acd.test_load import agents_yaml, logged_events

pytestmark = pytest.mark.slow

AGENTS = 20
CC_ACD = [sys.executable, "-c", "from cc_core.cli.acd import main; main()"]


def users(count: int) -> Iterator[str]:
    return (str(1001 + i) for i in range(count))


def fs_agents_yaml(count: int) -> str:
    """test_load's agents, on FreeSWITCH user endpoints (user/1001...)."""
    text = agents_yaml(count)
    for user in users(count):
        text = text.replace(f"PJSIP/agent{user}", f"user/{user}")
    return text


class FsRun:
    """A simulated FreeSWITCH with answering phones; the callers never hang up by themselves,
    so every call ends with the agent's hang-up after talking and an abandonment is a loss."""

    def __init__(self, sim: FsSimulator, phones: list[UserEndpoint]) -> None:
        self.sim = sim
        self.phones = phones
        self.callers: list[FsChannel] = []
        self.bridged: set[str] = set()
        # The most live channels any one agent phone had at once, seen by the switch itself.
        self.most_per_phone: collections.Counter[str] = collections.Counter()
        sim.switch.listeners.append(self._on_event)

    def _phone_of(self, name: str) -> str:
        prefix = "sofia/internal/"
        if not name.startswith(prefix):
            return ""
        user = name[len(prefix) :].split("@", 1)[0]
        return user if any(p.user == user for p in self.phones) else ""

    def _on_event(self, event: Any) -> None:
        if event.name == "CHANNEL_BRIDGE":
            # The caller is the bridge's A side (the leg that ran `bridge`).
            self.bridged.add(dict(event.headers).get("Bridge-A-Unique-ID", ""))
            return
        if event.name != "CHANNEL_CREATE":
            return
        phone = self._phone_of(dict(event.headers).get("Channel-Name", ""))
        if not phone:
            return
        held = sum(
            1 for c in self.sim.switch.channels.values() if c.up and self._phone_of(c.name) == phone
        )
        self.most_per_phone[phone] = max(self.most_per_phone[phone], held)

    def call(self, n: int) -> FsChannel:
        ch = self.sim.switch.inbound_call(SALES_NUMBER, f"2015{n:06d}", context=CONTEXT)
        self.callers.append(ch)
        return ch

    def check_phones(self) -> None:
        assert self.most_per_phone, "no agent phone ever rang"
        doubled = {p: n for p, n in self.most_per_phone.items() if n > 1}
        assert not doubled, f"agents offered two calls at once: {doubled}"


def phones_for(count: int) -> list[UserEndpoint]:
    return [
        UserEndpoint(
            user, "127.0.0.1", f"sip:{user}@127.0.0.1:{5200 + i}", answer_delay=0.05, talk_time=0.4
        )
        for i, user in enumerate(users(count))
    ]


async def start_sim() -> FsSimulator:
    sim = FsSimulator(FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    return sim


def write_fs_configs(
    directory: Path, sim: FsSimulator, store_url: str, *, api: int = 8080, ivr: int = 8084
) -> Path:
    configs = write_configs(directory, ami_port=1, store_url=store_url, wrap=0, ring=5)
    (configs / "agents.yaml").write_text(fs_agents_yaml(AGENTS))
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url)
        .replace("{esl}", str(sim.port))
        .replace("ring_timeout: 2", "ring_timeout: 5")
        .replace("port: 8080", f"port: {api}")
        .replace("port: 8084", f"port: {ivr}")
    )
    return configs


async def start_in_process(tmp_path: Path, store_url: str) -> tuple[FsRun, Node]:
    sim = await start_sim()
    configs = write_fs_configs(tmp_path / "configs", sim, store_url)
    node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
    await node.start(wait_for_pbx=True)
    assert node.ivr_socket is not None and node.service is not None
    sim.switch.dialplan = shipped_dialplan(node.ivr_socket.port)
    run = FsRun(sim, phones_for(AGENTS))
    for phone in run.phones:
        sim.register(phone)  # agents log in through registration
    service = node.service
    await wait_for(
        lambda: all(
            service.engine.agent_state(f"a{i:02d}").value == "ready" for i in range(AGENTS)
        ),
        what="all agents logged in",
    )
    return run, node


async def finish(run: FsRun, node: Node, calls: int) -> collections.Counter[str]:
    service = node.service
    assert service is not None
    try:
        await wait_for(
            lambda: len(service.calls) == 0 and not run.sim.switch.channels,
            seconds=120,
            what="every call closed",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {leftovers(run, node)}") from None
    await service.journal.drain()
    run.check_phones()
    counts = await logged_events(node.config.acd.store.url)
    assert counts["created"] == calls, counts
    assert service.journal.failed == 0
    return counts


def leftovers(run: FsRun, node: Node) -> str:
    """What is still open, for a failure message: the ACD's calls by stage, the switch's
    channels by profile, state and application."""
    assert node.service is not None
    stages = collections.Counter(r.stage.value for r in node.service.calls)
    channels = collections.Counter(
        f"{c.name.split('/')[1]}:{c.get_var('cc_state')}:{(c.last_app or ('', ''))[0]}"
        for c in run.sim.switch.channels.values()
    )
    return f"ACD calls by stage {dict(stages)}; channels {dict(channels)}"


async def place(run: FsRun, calls: int, gap: float = 0.04) -> None:
    for n in range(calls):
        run.call(n)
        await asyncio.sleep(gap)


async def test_thousand_calls_over_twenty_agents(tmp_path: Path, sqlite_url: str) -> None:
    calls = 1000
    run, node = await start_in_process(tmp_path, sqlite_url)
    try:
        await place(run, calls)
        counts = await finish(run, node, calls)
        assert run.bridged == {c.uuid for c in run.callers}
        assert (counts["ended"], counts["abandoned"]) == (calls, 0), counts
        assert counts["offered"] == counts["connected"] == calls, counts
        for stage in ("ivr", "queued"):
            assert counts[stage] == calls, counts
    finally:
        await node.stop()
        await run.sim.stop()


async def test_calls_through_twenty_event_socket_link_drops(
    tmp_path: Path, sqlite_url: str
) -> None:
    calls, drops = 300, 20
    run, node = await start_in_process(tmp_path, sqlite_url)
    service = node.service
    assert service is not None
    port = getattr(service.port, "inner", service.port)  # under any wrapper the ACD adds
    assert isinstance(port, FreeSwitchPort)
    try:

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

        await asyncio.gather(place(run, calls), drop())
        counts = await finish(run, node, calls)
        assert service.resyncs >= drops + 1
        # No caller hangs up by themselves, so none may be lost: each is served and ended,
        # whatever events fell into an outage.
        assert run.bridged == {c.uuid for c in run.callers}
        assert (counts["ended"], counts["abandoned"]) == (calls, 0), counts
    finally:
        await node.stop()
        await run.sim.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_acd(configs: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *CC_ACD,
        "run",
        "--configs",
        str(configs),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("cc-acd: API on"), line
    return proc, line


async def test_sigkill_of_cc_acd_mid_traffic_then_restart(tmp_path: Path, sqlite_url: str) -> None:
    """Callers keep coming while cc-acd is killed (no clean-up of any kind) and started again:
    every caller waiting in FreeSWITCH (queued, in the IVR, or held untagged while the ACD was
    away) is re-adopted and served, and none is served twice."""
    calls, agents = 120, 5
    api, ivr = free_port(), free_port()
    sim = await start_sim()
    configs = write_fs_configs(tmp_path / "configs", sim, sqlite_url, api=api, ivr=ivr)
    sim.switch.dialplan = shipped_dialplan(ivr)
    run = FsRun(sim, phones_for(agents))
    for phone in run.phones:
        phone.talk_time = 0.8  # five agents for many callers: a queue builds up
    base = f"http://127.0.0.1:{api}"
    procs: list[asyncio.subprocess.Process] = []
    try:
        proc, line = await start_acd(configs)
        procs.append(proc)
        assert f"ESL outbound socket on 127.0.0.1:{ivr}" in line, line
        async with aiohttp.ClientSession() as http:

            async def stage_counts() -> collections.Counter[str]:
                try:
                    async with http.get(base + "/api/calls") as resp:
                        found = (await resp.json())["calls"]
                except aiohttp.ClientError:
                    return collections.Counter()
                return collections.Counter(c["stage"] for c in found)

            async def healthy() -> bool:
                try:
                    async with http.get(base + "/health") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(healthy, seconds=30, what="cc-acd healthy")
            for phone in run.phones:
                sim.register(phone)  # agents log in through registration
            traffic = asyncio.create_task(place(run, calls, gap=0.05))

            async def queue_built() -> bool:
                return (await stage_counts())["queued"] >= 10

            await wait_for(queue_built, seconds=30, what="a queue of waiting callers")
            procs[0].kill()  # SIGKILL: no clean-up of any kind
            await procs[0].wait()
            await asyncio.sleep(1.0)  # callers keep arriving while no ACD answers
            proc, _ = await start_acd(configs)
            procs.append(proc)
            await traffic
            await wait_for(healthy, seconds=30, what="cc-acd healthy again")
            for phone in run.phones:
                # The phones' next REGISTER refresh logs the agents in to the new process (an
                # agent found talking on an adopted call stays kept from offers meanwhile).
                sim.register(phone)
            await wait_for(
                lambda: not sim.switch.channels, seconds=180, what="every caller served and gone"
            )
        run.check_phones()
        assert run.bridged == {c.uuid for c in run.callers}
        assert not any(c.hangup_cause not in ("NORMAL_CLEARING", "") for c in run.callers), {
            c.hangup_cause for c in run.callers
        }
        procs[-1].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(procs[-1].wait(), 30) == 0
        counts = await logged_events(sqlite_url)
        assert counts["created"] == calls, counts
        assert (counts["ended"], counts["abandoned"]) == (calls, 0), counts
        assert counts["connected"] == calls, counts
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await sim.stop()
