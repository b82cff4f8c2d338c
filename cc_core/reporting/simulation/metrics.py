"""Queue metrics of a simulation run, with the definitions the reports use.

- service level (SLA %): answered within T / (answered + abandoned after T + exited after T).
  Callers who hang up before T are left out: they were never given the chance to be answered in
  time. "Exited" calls reached the queue's max wait and left routing for voicemail or a
  callback. With no abandonment this is answered within T / answered, the quantity Erlang C
  predicts.
- ASA: mean wait of the answered calls (calls answered at once count with 0 s).
- wait probability: share of answered calls that waited at all (Erlang C's P(wait)).
- abandonment rate: abandoned / offered (exits are counted apart, as exit rate).
- occupancy: handle time (talk plus wrap-up) / staffed time of the agents. For a queue, the
  agents are those who may serve it, so a shared agent counts in every queue it serves.

Only calls that arrive in the measurement window (after the warm-up, before the end of
arrivals) count; each is followed until it is answered or abandoned. Busy time counts only
inside the window, so occupancy is not inflated by the drain after the last arrival.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["AgentTime", "CallRecord", "QueueReport", "summarize"]

# A call assigned in the same instant it arrived has waited exactly 0 s; anything above this
# is a real wait (guards against float noise from time arithmetic).
_NO_WAIT = 1e-9


@dataclass(slots=True)
class CallRecord:
    queue: str
    arrival: float
    answered_at: float | None = None
    abandoned_at: float | None = None
    exited_at: float | None = None
    agent: str | None = None

    @property
    def resolved(self) -> bool:
        return (
            self.answered_at is not None
            or self.abandoned_at is not None
            or self.exited_at is not None
        )

    @property
    def wait(self) -> float:
        end = self.answered_at
        if end is None:
            end = self.abandoned_at if self.abandoned_at is not None else self.exited_at
        if end is None:
            raise ValueError(f"call of queue {self.queue} at {self.arrival} was never resolved")
        return end - self.arrival


@dataclass(slots=True)
class AgentTime:
    """Busy intervals of one agent, clipped to the measurement window when added."""

    queues: frozenset[str]
    busy: float = 0.0

    def add_busy(self, start: float, end: float, window: tuple[float, float]) -> None:
        lo, hi = max(start, window[0]), min(end, window[1])
        if hi > lo:
            self.busy += hi - lo


@dataclass(frozen=True, slots=True)
class QueueReport:
    queue: str
    target: float
    offered: int
    answered: int
    abandoned: int
    exited: int
    answered_within_target: int
    abandoned_after_target: int
    exited_after_target: int
    waited: int
    total_wait: float
    occupancy: float

    @property
    def service_level(self) -> float:
        denominator = self.answered + self.abandoned_after_target + self.exited_after_target
        return self.answered_within_target / denominator if denominator else math.nan

    @property
    def asa(self) -> float:
        return self.total_wait / self.answered if self.answered else math.nan

    @property
    def wait_probability(self) -> float:
        return self.waited / self.answered if self.answered else math.nan

    @property
    def abandonment_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else math.nan

    @property
    def exit_rate(self) -> float:
        return self.exited / self.offered if self.offered else math.nan


def _report(
    name: str,
    target: float,
    calls: Iterable[CallRecord],
    agents: Iterable[AgentTime],
    staffed_seconds: float,
) -> QueueReport:
    offered = answered = abandoned = exited = within = late_abandon = late_exit = waited = 0
    total_wait = 0.0
    for call in calls:
        offered += 1
        wait = call.wait
        if call.answered_at is not None:
            answered += 1
            total_wait += wait
            within += wait <= target
            waited += wait > _NO_WAIT
        elif call.abandoned_at is not None:
            abandoned += 1
            late_abandon += wait > target
        else:
            exited += 1
            late_exit += wait > target
    pool = list(agents)
    staffed = staffed_seconds * len(pool)
    return QueueReport(
        queue=name,
        target=target,
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        exited=exited,
        answered_within_target=within,
        abandoned_after_target=late_abandon,
        exited_after_target=late_exit,
        waited=waited,
        total_wait=total_wait,
        occupancy=sum(a.busy for a in pool) / staffed if staffed else math.nan,
    )


TOTAL = "(all)"


def summarize(
    calls: Iterable[CallRecord],
    agents: Mapping[str, AgentTime],
    targets: Mapping[str, float],
    staffed_seconds: float,
) -> dict[str, QueueReport]:
    """One report per queue in `targets` plus TOTAL over every call and every agent (the
    centre-wide service level uses each call's own queue target)."""
    by_queue: dict[str, list[CallRecord]] = {q: [] for q in targets}
    for call in calls:
        by_queue[call.queue].append(call)
    reports = {
        q: _report(
            q,
            targets[q],
            by_queue[q],
            (a for a in agents.values() if q in a.queues),
            staffed_seconds,
        )
        for q in targets
    }
    parts = list(reports.values())
    pool = list(agents.values())
    staffed = staffed_seconds * len(pool)
    reports[TOTAL] = QueueReport(
        queue=TOTAL,
        target=math.nan,
        offered=sum(p.offered for p in parts),
        answered=sum(p.answered for p in parts),
        abandoned=sum(p.abandoned for p in parts),
        exited=sum(p.exited for p in parts),
        answered_within_target=sum(p.answered_within_target for p in parts),
        abandoned_after_target=sum(p.abandoned_after_target for p in parts),
        exited_after_target=sum(p.exited_after_target for p in parts),
        waited=sum(p.waited for p in parts),
        total_wait=sum(p.total_wait for p in parts),
        occupancy=sum(a.busy for a in pool) / staffed if staffed else math.nan,
    )
    return reports
