"""The admin configs as routing domain objects: one mapping for the ACD and the simulation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cc_core.acd.centre import OFFER_GRACE, centre_from_config
from cc_core.config import load_configs
from cc_core.config.routing import DEFAULT_RING_TIMEOUT, routing_model
from cc_core.domain import ChannelKind, ExitKind, Strategy
from cc_core.reporting.simulation.centre import centre_from_configs
from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic

SHIPPED = Path(__file__).resolve().parents[2] / "configs"

QUEUES = """\
queues:
  - id: first
    name: First
    channels: [voice, chat]
    language: en
    steps:
      - {after: 0, require: {billing: 4}}
      - {after: 30, require: {billing: 2, tech: 1}}
      - {after: 90, require: {}}
    strategy: best_skill
    aging_rate: 3.0
    vip_boost: 12
    sla: {percent: 80, seconds: 25}
    sla_aware: true
    max_wait_seconds: 300
    overflow: {queue: second}
    wrap_up_seconds: 15
    sticky: {days: 3, max_wait_seconds: 20}
    quality: {min_score: 0.4, weight: 0.25}
    ring_timeout_seconds: 12
    no_answer_limit: 4
  - id: second
    name: Second
    channels: [voice, chat]
    require: {billing: 1}
    strategy: round_robin
    max_wait_seconds: 600
    overflow: {exit: hangup}
    no_answer_limit: 0
  - id: third
    name: Third
    channels: [email]
    require: {tech: 2}
    no_answer_limit: 3
"""

AGENTS = """\
skills:
  - {id: billing}
  - {id: tech}
languages:
  - {id: en}
  - {id: fr}
capacity_profiles:
  blended: {voice: 1, chat: 3, email: 2, exclusive: [voice]}
agents:
  - {id: ann, name: Ann, endpoint: PJSIP/1001, skills: {billing: 5, tech: 2},
     languages: [en, fr], queues: {first: 1, second: 2}, profile: blended,
     capacity: {chat: 2}}
  - {id: bob, name: Bob, endpoint: PJSIP/1002, skills: {tech: 3}, languages: [en],
     queues: {third: 1}}
"""


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    """The shipped configs with this module's queues and agents (no numbers, IVR, channels)."""
    target = tmp_path / "configs"
    shutil.copytree(SHIPPED, target)
    (target / "queues.yaml").write_text(QUEUES)
    (target / "agents.yaml").write_text(AGENTS)
    shutil.rmtree(target / "ivr")
    (target / "channels.yaml").unlink()
    return target


def test_every_queue_setting_reaches_the_engine(configured: Path) -> None:
    model = routing_model(load_configs(configured), offer_grace=5.0)
    first, second, third = model.queues
    assert [s.duration for s in first.steps] == [30.0, 60.0, None]
    assert [{r.skill: r.min_level for r in s.requirements} for s in first.steps] == [
        {"billing": 4},
        {"billing": 2, "tech": 1},
        {},
    ]
    assert first.strategy is Strategy.BEST_SKILL and second.strategy is Strategy.ROUND_ROBIN
    assert first.aging_rate == pytest.approx(3.0 / 60)  # per minute in the file
    assert (first.vip_boost, first.sla_target, first.sla_ordering) == (12.0, 25.0, True)
    assert first.max_wait == 300.0 and first.overflow is not None
    assert first.overflow.queue == "second"
    assert second.overflow is not None and second.overflow.exit is ExitKind.DISCONNECT
    assert third.max_wait is None and third.overflow is None
    assert (first.wrap_up, first.sticky_seconds, first.sticky_days) == (15.0, 20.0, 3.0)
    assert (first.min_quality, first.quality_weight) == (0.4, 0.25)
    # Ring time: the queue's own, else the PBX's; the engine's timer adds the grace.
    pbx_ring = float(load_configs(configured).acd.pbx[0].ring_timeout)
    assert model.ring_timeouts == {"first": 12.0, "second": pbx_ring, "third": pbx_ring}
    assert first.offer_timeout == 17.0 and second.offer_timeout == pbx_ring + 5.0
    # Each queue keeps its own no-answer limit (0 means never); the engine's default for
    # queues built elsewhere is the strictest non-zero one.
    assert [q.no_answer_limit for q in model.queues] == [4, 0, 3]
    assert model.no_answer_limit == 3


def test_agents_keep_skills_languages_queues_and_capacity(configured: Path) -> None:
    ann, bob = routing_model(load_configs(configured)).agents
    assert dict(ann.skills) == {"billing": 5, "tech": 2}
    assert ann.languages == frozenset({"en", "fr"})
    assert dict(ann.queues) == {"first": 1, "second": 2}
    # The profile's limits with the agent's own override, and its exclusive channel.
    assert {c: n for c, n in ann.capacity.limits.items() if n} == {
        ChannelKind.VOICE: 1,
        ChannelKind.CHAT: 2,
        ChannelKind.EMAIL: 2,
    }
    assert ann.capacity.exclusive == frozenset({ChannelKind.VOICE})
    assert ann.capacity.can_take({ChannelKind.CHAT: 1}, ChannelKind.EMAIL)
    assert not ann.capacity.can_take({ChannelKind.CHAT: 1}, ChannelKind.VOICE)
    assert bob.capacity.name == "default"


def test_acd_and_simulation_build_the_same_routing(configured: Path) -> None:
    """Both users of the engine map a config alike; only the offer timer's grace differs."""
    for directory in (SHIPPED, configured):
        acd = centre_from_config(load_configs(directory))
        sim = centre_from_configs(directory, QueueTraffic("x", 1, HandleTime("exponential", 60)))
        assert acd.agents == sim.agents
        assert [q.id for q in acd.queues] == [q.id for q in sim.queues]
        for a, s in zip(acd.queues, sim.queues, strict=True):
            assert a.offer_timeout == s.offer_timeout + OFFER_GRACE
            assert a.offer_timeout - OFFER_GRACE == acd.queue_info[a.id].ring_timeout
            assert a == type(a)(**{**_fields(s), "offer_timeout": a.offer_timeout})


def test_no_pbx_means_the_default_ring_time(configured: Path) -> None:
    # Without a PBX only written channels may be configured.
    (configured / "queues.yaml").write_text("queues:\n" + QUEUES[QUEUES.index("  - id: third") :])
    (configured / "agents.yaml").write_text(AGENTS.replace("{first: 1, second: 2}", "{third: 2}"))
    acd_yaml = configured / "acd.yaml"
    text = acd_yaml.read_text()
    start = text.index("\npbx:")
    end = text.index("\n", text.index("ring_timeout", start))
    acd_yaml.write_text(text[:start] + text[end:])
    config = load_configs(configured)
    assert not config.acd.pbx
    model = routing_model(config)
    assert model.ring_timeouts == {"third": DEFAULT_RING_TIMEOUT}
    assert model.queues[0].offer_timeout == DEFAULT_RING_TIMEOUT


def _fields(queue: object) -> dict:
    return {name: getattr(queue, name) for name in queue.__dataclass_fields__}  # type: ignore[attr-defined]
