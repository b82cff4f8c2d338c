"""Experiments over a centre: strategies side by side, a sweep over staffing, and the check of
one FIFO skill without abandonment against Erlang C."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cc_core.domain import Agent, Queue, Strategy
from cc_core.reporting import erlang
from cc_core.reporting.simulation.centre import Centre
from cc_core.reporting.simulation.driver import AgentBehaviour, SimulationResult, simulate
from cc_core.reporting.simulation.metrics import TOTAL, QueueReport
from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic, generate_calls

__all__ = [
    "AS_CONFIGURED",
    "ErlangPoint",
    "RunSettings",
    "SweepPoint",
    "compare_strategies",
    "erlang_check",
    "single_skill_centre",
    "sweep_agents",
]

AS_CONFIGURED = "as configured"
SINGLE_QUEUE = "single"


@dataclass(frozen=True, slots=True)
class RunSettings:
    duration: float  # seconds of arrivals
    warmup: float  # seconds at the start left out of the figures
    seed: int
    behaviour: AgentBehaviour = field(default_factory=AgentBehaviour)
    # Measure every queue's service level against this many seconds (None: each queue's own
    # target). Routing is unaffected.
    report_target: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.warmup < self.duration:
            raise ValueError(
                f"warmup: expected 0 <= warmup < duration, got {self.warmup} and {self.duration}"
            )


def _run(centre: Centre, settings: RunSettings) -> SimulationResult:
    # Same seed, same traffic -> the very same callers whatever the routing.
    calls = generate_calls(centre.traffic, settings.duration, settings.seed)
    return simulate(
        centre.queues,
        centre.agents,
        calls,
        warmup=settings.warmup,
        horizon=settings.duration,
        callers=centre.callers,
        behaviour=settings.behaviour,
        seed=settings.seed,
        report_target=settings.report_target,
    )


def compare_strategies(
    centre: Centre,
    settings: RunSettings,
    strategies: Iterable[Strategy] = tuple(Strategy),
    *,
    include_configured: bool = True,
) -> dict[str, SimulationResult]:
    """One run per strategy (every queue switched to it) on the same seeded callers."""
    results: dict[str, SimulationResult] = {}
    if include_configured:
        results[AS_CONFIGURED] = _run(centre, settings)
    for strategy in strategies:
        results[strategy.value] = _run(centre.with_strategy(strategy), settings)
    return results


@dataclass(frozen=True, slots=True)
class SweepPoint:
    agents: int
    label: str  # strategy or AS_CONFIGURED
    result: SimulationResult

    @property
    def service_level(self) -> float:
        return self.result.reports[TOTAL].service_level


def sweep_agents(
    centre: Centre,
    counts: Sequence[int],
    settings: RunSettings,
    strategies: Iterable[Strategy] = (),
    *,
    progress: Callable[[str], None] | None = None,
) -> list[SweepPoint]:
    """The centre with each number of agents in `counts` (see `Centre.with_agent_count`),
    as configured and under each strategy given."""
    points = []
    labels: list[tuple[str, Strategy | None]] = [(AS_CONFIGURED, None)]
    labels += [(s.value, s) for s in strategies]
    for n in counts:
        sized = centre.with_agent_count(n)
        for label, strategy in labels:
            variant = sized if strategy is None else sized.with_strategy(strategy)
            points.append(SweepPoint(n, label, _run(variant, settings)))
            if progress is not None:
                progress(f"{n} agents, {label}: SL {points[-1].service_level:.1%}")
    return points


def single_skill_centre(
    traffic: erlang.Traffic, agents: int, target: float, *, queue_id: str = SINGLE_QUEUE
) -> Centre:
    """One queue, no skills, `agents` identical agents, exponential handle times and callers
    who never hang up: the M/M/N queue of Erlang C, routed by the real engine."""
    queue = Queue(queue_id, sla_target=target, strategy=Strategy.LONGEST_IDLE)
    members = tuple(Agent(f"agent{i + 1}", queues={queue_id: 1}) for i in range(agents))
    spec = QueueTraffic(
        queue_id,
        traffic.arrival_rate * 3600.0,
        HandleTime("exponential", traffic.mean_handle_time),
        patience_mean=None,
    )
    return Centre(f"single skill, {agents} agents", (queue,), members, (spec,), {})


@dataclass(frozen=True, slots=True)
class ErlangPoint:
    agents: int
    erlang_wait_probability: float
    erlang_asa: float
    erlang_service_level: float
    simulated: SimulationResult

    @property
    def report(self) -> QueueReport:
        return self.simulated.reports[SINGLE_QUEUE]


def erlang_check(
    traffic: erlang.Traffic,
    counts: Sequence[int],
    target: float,
    *,
    calls: int,
    seed: int,
    warmup_handle_times: float = 20.0,
) -> list[ErlangPoint]:
    """Simulated wait probability, ASA and service level beside Erlang C, per staffing.

    Each point measures about `calls` calls after a warm-up of `warmup_handle_times` mean
    handle times (the queue starts empty, which Erlang C's steady state does not).
    Staffing at or below the offered load has no steady state and is an error.
    """
    overloaded = [n for n in counts if n <= traffic.load]
    if overloaded:
        raise ValueError(
            f"agents {overloaded}: Erlang C needs more agents than the {traffic.load:.2f} "
            "erlangs offered"
        )
    if calls < 1:
        raise ValueError(f"calls: expected at least 1, got {calls}")
    warmup = warmup_handle_times * traffic.mean_handle_time
    settings = RunSettings(warmup + calls / traffic.arrival_rate, warmup, seed)
    points = []
    for n in counts:
        result = _run(single_skill_centre(traffic, n, target), settings)
        points.append(
            ErlangPoint(
                agents=n,
                erlang_wait_probability=erlang.erlang_c(n, traffic.load),
                erlang_asa=erlang.average_speed_of_answer(n, traffic),
                erlang_service_level=erlang.service_level(n, traffic, target),
                simulated=result,
            )
        )
    return points
