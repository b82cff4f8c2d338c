"""Erlang B and Erlang C: the M/M/N queue that staffing plans are built on.

Everything is computed from the Erlang B recurrence

    B(0) = 1,   B(n) = A * B(n-1) / (n + A * B(n-1))

which stays between 0 and 1 at every step, so it is exact to rounding for thousands of agents,
where the textbook form with A**N / N! overflows a float long before N = 200.

Erlang C follows from B:  C(N, A) = N * B / (N - A * (1 - B))  for A < N; with A >= N the queue
grows without bound and every caller waits (C = 1, ASA infinite, service level 0).

Units: arrival rates per second, times in seconds, load in erlangs (arrival rate * AHT).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "StaffingResult",
    "Traffic",
    "agents_needed",
    "average_speed_of_answer",
    "erlang_b",
    "erlang_c",
    "occupancy",
    "service_level",
]


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _check_agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, int):
        raise TypeError(f"agents: expected an int, got {type(agents).__name__}")
    if agents < 1:
        raise ValueError(f"agents: expected at least 1, got {agents}")
    return agents


def _check_load(load: float) -> float:
    if isinstance(load, bool) or not isinstance(load, int | float):
        raise TypeError(f"load: expected a number of erlangs, got {type(load).__name__}")
    if not math.isfinite(load) or load < 0:
        raise ValueError(f"load: expected a finite number of erlangs >= 0, got {load!r}")
    return float(load)


@dataclass(frozen=True, slots=True)
class Traffic:
    """Offered traffic: Poisson arrivals at `arrival_rate` per second, mean handle time in s."""

    arrival_rate: float
    mean_handle_time: float

    def __post_init__(self) -> None:
        _check_positive("arrival_rate", self.arrival_rate)
        _check_positive("mean_handle_time", self.mean_handle_time)

    @classmethod
    def per_interval(cls, calls: float, interval: float, mean_handle_time: float) -> Traffic:
        """Traffic of `calls` arriving every `interval` seconds (e.g. 100 calls per 1800 s)."""
        _check_positive("calls", calls)
        _check_positive("interval", interval)
        return cls(calls / interval, mean_handle_time)

    @property
    def load(self) -> float:
        """Offered load in erlangs: the mean number of agents the traffic keeps busy."""
        return self.arrival_rate * self.mean_handle_time


def _erlang_b_steps(load: float) -> Iterator[float]:
    """Yields B(1, A), B(2, A), ... so a search over N costs one step per agent."""
    b = 1.0
    n = 0
    while True:
        n += 1
        b = load * b / (n + load * b)
        yield b


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of N servers and no queue (M/M/N/N) offered A erlangs."""
    agents = _check_agents(agents)
    load = _check_load(load)
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def _c_from_b(agents: int, load: float, b: float) -> float:
    if load >= agents:
        return 1.0
    return agents * b / (agents - load * (1.0 - b))


def erlang_c(agents: int, load: float) -> float:
    """Probability that an arriving call waits (M/M/N, infinite patience, FIFO)."""
    agents = _check_agents(agents)
    load = _check_load(load)
    return _c_from_b(agents, load, erlang_b(agents, load))


def average_speed_of_answer(agents: int, traffic: Traffic) -> float:
    """ASA: mean wait over all answered calls (those answered at once count as 0 s)."""
    agents = _check_agents(agents)
    load = traffic.load
    if load >= agents:
        return math.inf
    return erlang_c(agents, load) * traffic.mean_handle_time / (agents - load)


def service_level(agents: int, traffic: Traffic, target: float) -> float:
    """Fraction of calls answered within `target` seconds: 1 - C * exp(-(N - A) * t / AHT)."""
    agents = _check_agents(agents)
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise TypeError(f"target: expected a number of seconds, got {type(target).__name__}")
    if not math.isfinite(target) or target < 0:
        raise ValueError(f"target: expected a finite number of seconds >= 0, got {target!r}")
    load = traffic.load
    if load >= agents:
        return 0.0
    wait_prob = erlang_c(agents, load)
    return 1.0 - wait_prob * math.exp(-(agents - load) * target / traffic.mean_handle_time)


def occupancy(agents: int, traffic: Traffic) -> float:
    """Share of staffed time spent handling calls: A / N, capped at 1 for an overloaded queue."""
    agents = _check_agents(agents)
    return min(1.0, traffic.load / agents)


@dataclass(frozen=True, slots=True)
class StaffingResult:
    agents: int
    wait_probability: float
    service_level: float
    average_speed_of_answer: float
    occupancy: float


def agents_needed(
    traffic: Traffic,
    *,
    target_time: float,
    target_service_level: float,
    max_occupancy: float = 1.0,
    max_agents: int = 100_000,
) -> StaffingResult:
    """The fewest agents that answer `target_service_level` of calls within `target_time` s
    and keep occupancy at or under `max_occupancy`.

    Raises ValueError when no staffing up to `max_agents` meets the targets.
    """
    if not 0 < target_service_level < 1:
        raise ValueError(
            f"target_service_level: expected a fraction strictly between 0 and 1, "
            f"got {target_service_level!r}"
        )
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"max_occupancy: expected a fraction in (0, 1], got {max_occupancy!r}")
    service_level(1, traffic, target_time)  # validates target_time with the same message
    load = traffic.load
    aht = traffic.mean_handle_time
    for n, b in enumerate(_erlang_b_steps(load), start=1):
        if n > max_agents:
            break
        if load >= n or load / n > max_occupancy:
            continue
        c = _c_from_b(n, load, b)
        sl = 1.0 - c * math.exp(-(n - load) * target_time / aht)
        if sl >= target_service_level:
            return StaffingResult(
                agents=n,
                wait_probability=c,
                service_level=sl,
                average_speed_of_answer=c * aht / (n - load),
                occupancy=load / n,
            )
    raise ValueError(
        f"no staffing up to {max_agents} agents reaches {target_service_level:.0%} "
        f"within {target_time} s for {load:.1f} erlangs"
    )
