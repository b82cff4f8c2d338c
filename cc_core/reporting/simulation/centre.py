"""The centre a simulation runs: routing queues and agents (domain types) plus offered traffic.

It comes from the admin configs (`configs/*.yaml`, loaded and checked by `cc_core.config`) or
from a built-in example. The admin configs say nothing about traffic, so each voice queue of a
configured centre gets the same default traffic unless a traffic file names its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from cc_core import config as cfg
from cc_core.config.routing import DEFAULT_RING_TIMEOUT, routing_model
from cc_core.domain import (
    Agent,
    ChannelKind,
    Queue,
    RoutingStep,
    SkillRequirement,
    Strategy,
)
from cc_core.reporting.erlang import Traffic
from cc_core.reporting.simulation.driver import CallerProfile
from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic

__all__ = ["Centre", "TrafficError", "builtin_centre", "centre_from_configs", "load_traffic"]


@dataclass(frozen=True)
class Centre:
    name: str
    queues: tuple[Queue, ...]
    agents: tuple[Agent, ...]
    traffic: tuple[QueueTraffic, ...]
    callers: Mapping[str, CallerProfile]

    def with_strategy(self, strategy: Strategy) -> Centre:
        """Every queue switched to `strategy`: the rest of the centre is unchanged."""
        queues = tuple(dataclasses.replace(q, strategy=strategy) for q in self.queues)
        return dataclasses.replace(self, queues=queues)

    def with_traffic(self, traffic: Sequence[QueueTraffic]) -> Centre:
        return dataclasses.replace(self, traffic=tuple(traffic))

    def voice_agents(self) -> tuple[Agent, ...]:
        return tuple(a for a in self.agents if ChannelKind.VOICE in a.capacity.channels())

    def with_agent_count(self, count: int) -> Centre:
        """`count` voice agents with the skill mix of the configured ones: each configured
        agent is copied `count // n` times and the remaining copies go to agents spread
        evenly over the list (copies are named `alice~2`, `alice~3`, ...)."""
        if count < 1:
            raise ValueError(f"agents: expected at least 1, got {count}")
        pool = self.voice_agents()
        if not pool:
            raise ValueError(f"centre {self.name}: no agent can take voice calls")
        base, extra = divmod(count, len(pool))
        # Evenly spaced, hence distinct, indices: k * len / extra for k < extra.
        bonus = {k * len(pool) // extra for k in range(extra)}
        agents = []
        for i, template in enumerate(pool):
            for copy in range(base + (i in bonus)):
                name = template.id if copy == 0 else f"{template.id}~{copy + 1}"
                agents.append(dataclasses.replace(template, id=name))
        return dataclasses.replace(self, agents=tuple(agents))

    def pooled_traffic(self) -> Traffic:
        """All queues as one: total arrival rate and mean busy time per call (handle time
        plus the queue's wrap-up, weighted by each queue's share of calls). The Erlang C
        reference for a centre with several skills."""
        wrap = {q.id: q.wrap_up for q in self.queues}
        rate = sum(t.calls_per_hour for t in self.traffic) / 3600.0
        if rate == 0:
            raise ValueError(f"centre {self.name}: no voice queue has traffic")
        busy = sum(
            t.calls_per_hour / 3600.0 * (t.handle_time.mean + wrap.get(t.queue, 0.0))
            for t in self.traffic
        )
        return Traffic(rate, busy / rate)


def builtin_centre() -> Centre:
    """A small two-skill centre: sales and support, a few agents who do both."""
    sales = Queue(
        "sales",
        steps=(RoutingStep((SkillRequirement("sales", 1),)),),
        sla_target=20.0,
        wrap_up=10.0,
        offer_timeout=DEFAULT_RING_TIMEOUT,
    )
    support = Queue(
        "support",
        # Prefer strong engineers for 30 s, then anyone with the skill.
        steps=(
            RoutingStep((SkillRequirement("support", 3),), duration=30.0),
            RoutingStep((SkillRequirement("support", 1),)),
        ),
        sla_target=30.0,
        wrap_up=20.0,
        offer_timeout=DEFAULT_RING_TIMEOUT,
    )
    agents: list[Agent] = []
    for i in range(7):
        agents.append(Agent(f"sales{i + 1}", skills={"sales": 3 + i % 3}, queues={"sales": 1}))
    for i in range(9):
        agents.append(
            Agent(f"support{i + 1}", skills={"support": 1 + i % 5}, queues={"support": 1})
        )
    for i in range(4):
        agents.append(
            Agent(
                f"blend{i + 1}",
                skills={"sales": 3, "support": 4},
                queues={"support": 1, "sales": 2},
            )
        )
    traffic = (
        QueueTraffic("sales", 120, HandleTime("lognormal", 180, cv=0.8), patience_mean=120),
        QueueTraffic("support", 150, HandleTime("exponential", 240), patience_mean=180),
    )
    return Centre("built-in sales and support", (sales, support), tuple(agents), traffic, {})


# -- admin configs -> routing domain: cc_core.config.routing, shared with the ACD -----------


def centre_from_configs(
    directory: Path | str, default: QueueTraffic, *, name: str | None = None
) -> Centre:
    """The configured centre; every voice queue gets `default` traffic (its queue renamed).

    Raises `cc_core.config.ConfigError` (every problem with file:line:col) on a bad config.
    """
    centre = cfg.load_configs(directory)
    # The simulated offer rings for the queue's ring timeout: no PBX reports it before.
    model = routing_model(centre, offer_grace=0.0)
    voice = [q for q in centre.queues.queues if "voice" in q.channels]
    traffic = tuple(dataclasses.replace(default, queue=q.id) for q in voice)
    callers = {q.id: CallerProfile(language=q.language, priority=float(q.priority)) for q in voice}
    return Centre(name or f"configs in {directory}", model.queues, model.agents, traffic, callers)


# -- traffic file ----------------------------------------------------------------------------


class TrafficError(ValueError):
    """A traffic file is unreadable or has a bad value; the message names file, line, field."""


_TRAFFIC_KEYS = {"calls_per_hour", "handle_time", "distribution", "cv", "patience"}


def load_traffic(path: Path | str, centre: Centre) -> tuple[QueueTraffic, ...]:
    """Per-queue traffic from a YAML file, over the centre's own defaults::

        queues:
          billing: {calls_per_hour: 40, handle_time: 240, distribution: lognormal, cv: 0.7,
                    patience: 120}
          sales: {calls_per_hour: 20, patience: null}   # null: callers never hang up

    Queues not named keep the defaults; a name that is not a voice queue of the centre is an
    error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise TrafficError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise TrafficError(f"{path}: not valid YAML: {exc}") from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("queues"), dict):
        raise TrafficError(f"{path}:1: expected a mapping with a 'queues' mapping")
    marks = _line_marks(root)
    known = {t.queue: t for t in centre.traffic}
    result = dict(known)
    for name, spec in data["queues"].items():
        where = f"{path}:{marks.get(('queues', name), '?')}: queues.{name}"
        if name not in known:
            raise TrafficError(
                f"{where}: not a voice queue of this centre (known: {sorted(known)})"
            )
        if not isinstance(spec, dict):
            raise TrafficError(f"{where}: expected a mapping of {sorted(_TRAFFIC_KEYS)}")
        unknown = set(spec) - _TRAFFIC_KEYS
        if unknown:
            raise TrafficError(
                f"{where}: unknown keys {sorted(unknown)}, expected {sorted(_TRAFFIC_KEYS)}"
            )
        base = known[name]
        try:
            handle = HandleTime(
                kind=spec.get("distribution", base.handle_time.kind),
                mean=spec.get("handle_time", base.handle_time.mean),
                cv=spec.get("cv", base.handle_time.cv),
            )
            patience = spec.get("patience", base.patience_mean)
            result[name] = QueueTraffic(
                name, spec.get("calls_per_hour", base.calls_per_hour), handle, patience
            )
        except (TypeError, ValueError) as exc:
            raise TrafficError(f"{where}: {exc}") from None
    return tuple(result.values())


def _line_marks(root: yaml.Node | None) -> dict[tuple[str, str], int]:
    """Line of each `queues.<name>` key, for error messages."""
    marks: dict[tuple[str, str], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return marks
    for key, value in root.value:
        if key.value == "queues" and isinstance(value, yaml.MappingNode):
            for qkey, _ in value.value:
                marks[("queues", qkey.value)] = qkey.start_mark.line + 1
    return marks
