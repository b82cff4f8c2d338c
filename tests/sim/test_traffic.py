"""Scenario files, seeded traffic, scripted IVR keys reaching FastAGI, abandonment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pbx.sim.cli import build, traffic_for
from pbx.sim.dialplan.model import Dialplan
from pbx.sim.runtime import Simulator
from pbx.sim.scenario import ScenarioError, load
from pbx.sim.traffic import KeyPress, NumberTraffic, TrafficGenerator
from tests.sim.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]

DIALPLAN = """
[globals]
FASTAGI = agi://127.0.0.1:1
[in]
exten => 100,1,Answer()
 same => n,AGI(${FASTAGI}/ivr)
 same => n,MusicOnHold(default,3600)
exten => 200,1,Answer()
 same => n,MusicOnHold(default,3600)
"""


def test_shipped_scenario_loads() -> None:
    sc = load(ROOT / "configs" / "sim" / "scenario.yaml")
    assert sc.dialplan_path(ROOT / "configs" / "sim").exists()
    assert [a.endpoint for a in sc.agents] == ["agent1001", "agent1002", "agent1003"]
    assert sc.traffic.numbers[0].keys[0].digits == "1"


def test_scenario_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text(
        "dialplan: x.conf\n"
        "agents:\n"
        "  - endpoint: a1\n"
        "    no_answer_probability: 2\n"
        "traffic:\n"
        "  numbers:\n"
        "    - number: '100'\n"
        "      calls_per_minute: fast\n"
    )
    with pytest.raises(ScenarioError) as err:
        load(bad)
    text = str(err.value)
    assert f"{bad}:4: agents.0.no_answer_probability:" in text
    assert f"{bad}:8: traffic.numbers.0.calls_per_minute:" in text
    bad.write_text("dialplan: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"s.yaml:\d+: not valid YAML"):
        load(bad)


async def _run_traffic(seed: int) -> list[tuple[str, str]]:
    sim = Simulator(make_config(time_scale=0.0005), Dialplan.parse(DIALPLAN, "t.conf"))
    await sim.start()
    arrivals: list[tuple[str, str]] = []
    sim.pbx.listen(
        lambda e: (
            arrivals.append((e.get("Exten") or "", e.get("CallerIDNum") or ""))
            if e.name == "Newchannel"
            else None
        )
    )
    gen = TrafficGenerator(
        sim.pbx,
        [NumberTraffic("200", 30, patience_mean=20), NumberTraffic("100", 10, patience_mean=20)],
        context="in",
        seed=seed,
    )
    stats = await gen.run(duration=120)
    # Wait out the callers' patience: with no agent nobody is served, all abandon.
    await asyncio.wait_for(
        asyncio.gather(*(c.gone.wait() for c in list(sim.pbx.channels.values()))), 10
    )
    await sim.stop()
    assert stats.offered == len(arrivals) > 20
    assert stats.abandoned == stats.offered and stats.answered_by_agent == 0
    return sorted(arrivals)


async def test_traffic_is_seeded_and_callers_abandon() -> None:
    first = await _run_traffic(3)
    again = await _run_traffic(3)
    other = await _run_traffic(4)
    assert first == again
    assert first != other
    assert {n for n, _ in first} == {"100", "200"}


async def test_scripted_keys_reach_the_fastagi_ivr() -> None:
    got: list[str] = []
    done = asyncio.Event()

    async def ivr(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass  # the agi_* environment
        writer.write(b"GET DATA main-menu 3000 1\n")
        await writer.drain()
        got.append((await reader.readline()).decode().strip())
        writer.write(b"GET DATA enter-account 3000 6\n")
        await writer.drain()
        got.append((await reader.readline()).decode().strip())
        done.set()
        writer.close()

    server = await asyncio.start_server(ivr, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sim = Simulator(
        make_config(time_scale=0.01, globals_override={"FASTAGI": f"agi://127.0.0.1:{port}"}),
        Dialplan.parse(DIALPLAN, "t.conf"),
    )
    await sim.start()
    try:
        gen = TrafficGenerator(
            sim.pbx,
            [NumberTraffic("100", 1, (KeyPress(1.0, "1"), KeyPress(1.0, "4242#")), 300)],
            context="in",
        )
        status: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        sim.pbx.listen(
            lambda e: (
                status.set_result(e.get("Value") or "")
                if e.get("Variable") == "AGISTATUS" and not status.done()
                else None
            )
        )
        gen.place(gen.numbers[0])
        await asyncio.wait_for(done.wait(), 10)
        assert got == ["200 result=1", "200 result=4242"]
        assert await asyncio.wait_for(status, 5) == "SUCCESS"
    finally:
        server.close()
        await sim.stop()


async def test_scenario_builds_a_running_simulator() -> None:
    sc = load(ROOT / "configs" / "sim" / "scenario.yaml")
    sim = build(sc, ROOT / "configs" / "sim", port=0, time_scale=0.001)
    await sim.start()
    try:
        for a in sc.agents:
            sim.endpoints.register(a.endpoint)
        assert sim.missing_applications == ["queue"]
        gen = traffic_for(sim, sc)
        stats = await gen.run(duration=60)
        assert stats.offered > 0
    finally:
        await sim.stop()
