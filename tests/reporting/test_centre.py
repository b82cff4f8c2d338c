"""The simulated centre from the shipped admin configs, and the traffic file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cc_core.config import ConfigError
from cc_core.domain import ChannelKind, ExitKind, Strategy
from cc_core.reporting.simulation.centre import (
    TrafficError,
    builtin_centre,
    centre_from_configs,
    load_traffic,
)
from cc_core.reporting.simulation.experiments import RunSettings, compare_strategies
from cc_core.reporting.simulation.metrics import TOTAL
from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic

SHIPPED = Path(__file__).resolve().parents[2] / "configs"
DEFAULT = QueueTraffic("default", 12, HandleTime("exponential", 200), patience_mean=90)


@pytest.fixture(scope="module")
def raw() -> dict:
    return {
        name: yaml.safe_load((SHIPPED / f"{name}.yaml").read_text())
        for name in ("queues", "agents", "acd")
    }


@pytest.fixture(scope="module")
def centre():
    return centre_from_configs(SHIPPED, DEFAULT)


def test_every_configured_queue_and_agent_is_simulated(centre, raw) -> None:
    assert [q.id for q in centre.queues] == [q["id"] for q in raw["queues"]["queues"]]
    assert [a.id for a in centre.agents] == [a["id"] for a in raw["agents"]["agents"]]
    voice_queues = [q["id"] for q in raw["queues"]["queues"] if "voice" in q["channels"]]
    assert [t.queue for t in centre.traffic] == voice_queues
    assert all(t.calls_per_hour == 12 and t.patience_mean == 90 for t in centre.traffic)


def test_queue_rules_carry_over(centre, raw) -> None:
    queues = {q.id: q for q in centre.queues}
    ring = raw["acd"]["pbx"][0]["ring_timeout"]
    for spec in raw["queues"]["queues"]:
        queue = queues[spec["id"]]
        assert queue.strategy is Strategy(spec.get("strategy", "longest_idle"))
        assert queue.wrap_up == spec.get("wrap_up_seconds", 0)
        assert queue.offer_timeout == spec.get("ring_timeout_seconds", ring)
        # points per minute in the file, per second in the engine
        assert queue.aging_rate == pytest.approx(spec.get("aging_rate", 0) / 60)
        if "sla" in spec:
            assert queue.sla_target == spec["sla"]["seconds"]
        steps = spec.get("steps") or [{"after": 0, "require": spec.get("require", {})}]
        assert len(queue.steps) == len(steps)
        for i, (step, raw_step) in enumerate(zip(queue.steps, steps, strict=True)):
            assert {r.skill: r.min_level for r in step.requirements} == raw_step["require"]
            if i + 1 < len(steps):
                assert step.duration == steps[i + 1]["after"] - raw_step["after"]
            else:
                assert step.duration is None
        overflow = spec.get("overflow")
        if overflow and "exit" in overflow:
            expected = {"hangup": ExitKind.DISCONNECT}.get(overflow["exit"])
            assert queue.overflow.exit is (expected or ExitKind(overflow["exit"]))
        elif overflow:
            assert queue.overflow.queue == overflow["queue"]


def test_agents_keep_skills_languages_queues_and_capacity(centre, raw) -> None:
    agents = {a.id: a for a in centre.agents}
    profiles = raw["agents"].get("capacity_profiles", {})
    for spec in raw["agents"]["agents"]:
        agent = agents[spec["id"]]
        assert dict(agent.skills) == spec.get("skills", {})
        assert agent.languages == frozenset(spec.get("languages", []))
        assert dict(agent.queues) == spec.get("queues", {})
        profile = profiles.get(spec.get("profile", "default"), {})
        takes_voice = spec.get("capacity", {}).get("voice", profile.get("voice", 0)) > 0
        assert (ChannelKind.VOICE in agent.capacity.channels()) == takes_voice


def test_configured_centre_simulates_with_every_call_accounted_for(centre) -> None:
    results = compare_strategies(centre, RunSettings(2 * 3600, 600, seed=4), [])
    reports = results["as configured"].reports
    assert set(reports) == {q.id for q in centre.queues} | {TOTAL}
    total = reports[TOTAL]
    assert total.offered > 100
    assert total.offered == total.answered + total.abandoned + total.exited
    # a language the queue needs is respected: German calls go only to German speakers
    assert reports["tech_de"].answered > 0


def test_agent_count_keeps_the_configured_mix(centre) -> None:
    voice = centre.voice_agents()
    n = len(voice)
    double = centre.with_agent_count(2 * n)
    assert sorted(a.id for a in double.agents) == sorted(
        [a.id for a in voice] + [f"{a.id}~2" for a in voice]
    )
    # One more than the configured team: the first agent gets the extra copy.
    assert [a.id for a in centre.with_agent_count(n + 1).agents][:2] == [
        voice[0].id,
        f"{voice[0].id}~2",
    ]
    # Half the team: every other agent, not the first half of the file.
    half = centre.with_agent_count(n // 2)
    assert [a.id for a in half.agents] == [voice[i * n // (n // 2)].id for i in range(n // 2)]
    copy = next(a for a in double.agents if a.id == f"{voice[1].id}~2")
    assert copy.skills == voice[1].skills and copy.queues == voice[1].queues
    with pytest.raises(ValueError, match="agents: expected at least 1"):
        centre.with_agent_count(0)


def test_bad_config_names_file_and_line(tmp_path: Path) -> None:
    target = tmp_path / "configs"
    shutil.copytree(SHIPPED, target)
    queues = target / "queues.yaml"
    queues.write_text(queues.read_text().replace("strategy: longest_idle", "strategy: fastest", 1))
    with pytest.raises(ConfigError) as caught:
        centre_from_configs(target, DEFAULT)
    assert "queues.yaml:" in str(caught.value)
    assert "strategy" in str(caught.value)


def test_traffic_file_overrides_named_queues(tmp_path: Path) -> None:
    path = tmp_path / "traffic.yaml"
    path.write_text(
        "queues:\n"
        "  sales: {calls_per_hour: 200, handle_time: 120, distribution: constant}\n"
        "  support: {patience: null}\n"
    )
    traffic = {t.queue: t for t in load_traffic(path, builtin_centre())}
    assert traffic["sales"].calls_per_hour == 200
    assert traffic["sales"].handle_time == HandleTime("constant", 120, cv=0.8)
    assert traffic["sales"].patience_mean == 120  # kept from the built-in default
    assert traffic["support"].patience_mean is None
    assert traffic["support"].calls_per_hour == 150


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queues:\n  sales: {}\n  nowhere: {calls_per_hour: 3}\n", r":3: queues.nowhere: not a"),
        ("queues:\n  sales: {calls_per_hour: -4}\n", r":2: queues.sales: sales.calls_per_hour"),
        ("queues:\n  sales: {speed: 4}\n", r":2: queues.sales: unknown keys \['speed'\]"),
        ("queues:\n  sales: {distribution: gamma}\n", r"handle_time.kind: expected"),
        ("queues:\n  sales: 12\n", r"queues.sales: expected a mapping"),
        ("calls: 3\n", r":1: expected a mapping with a 'queues' mapping"),
        ("queues: [\n", r"not valid YAML"),
    ],
)
def test_bad_traffic_file_names_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "traffic.yaml"
    path.write_text(text)
    with pytest.raises(TrafficError, match=message):
        load_traffic(path, builtin_centre())


def test_missing_traffic_file(tmp_path: Path) -> None:
    with pytest.raises(TrafficError, match="cannot read"):
        load_traffic(tmp_path / "absent.yaml", builtin_centre())


def test_centre_without_voice_traffic_says_so() -> None:
    quiet = builtin_centre().with_traffic([])
    with pytest.raises(ValueError, match="no voice queue has traffic"):
        quiet.pooled_traffic()
