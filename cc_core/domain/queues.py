"""Queues: routing steps that relax with wait time, ordering, overflow and agent strategy."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from cc_core.domain.agents import MAX_PROFICIENCY, MIN_PROFICIENCY
from cc_core.domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """An agent needs ``skill`` at proficiency ``min_level`` or better."""

    skill: str
    min_level: int = MIN_PROFICIENCY

    def __post_init__(self) -> None:
        if not isinstance(self.skill, str) or not self.skill:
            raise DomainError("skill requirement", "skill", "a non-empty string", self.skill)
        level = self.min_level
        if (
            not isinstance(level, int)
            or isinstance(level, bool)
            or not MIN_PROFICIENCY <= level <= MAX_PROFICIENCY
        ):
            raise DomainError(f"requirement {self.skill!r}", "min_level", "1..5", level)

    def __str__(self) -> str:
        return f"{self.skill}>={self.min_level}"


class Strategy(enum.Enum):
    """How a queue picks among several eligible ready agents."""

    LONGEST_IDLE = "longest_idle"
    FEWEST_CONTACTS = "fewest_contacts"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    BEST_SKILL = "best_skill"
    RANDOM = "random"


class ExitKind(enum.Enum):
    """Where an interaction leaves the queue system when it waited too long."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    DISCONNECT = "disconnect"


@dataclass(frozen=True, slots=True)
class RoutingStep:
    """One stage of a queue's requirements.

    The step lasts ``duration`` seconds of waiting in the queue, then the next step applies;
    the last step has ``duration=None`` and lasts for ever. The interaction's own required
    skills are added to the step's unless ``include_interaction_skills`` is false (a final
    "any member" step sets it false and lists no requirements). ``any_language`` drops the
    interaction's language requirement from this step on.
    """

    requirements: tuple[SkillRequirement, ...] = ()
    duration: float | None = None
    include_interaction_skills: bool = True
    any_language: bool = False

    def __post_init__(self) -> None:
        if self.duration is not None and not (
            isinstance(self.duration, int | float) and 0 < self.duration < math.inf
        ):
            raise DomainError("routing step", "duration", "seconds > 0 or none", self.duration)
        if not isinstance(self.requirements, tuple):
            object.__setattr__(self, "requirements", tuple(self.requirements))
        seen: set[str] = set()
        for req in self.requirements:
            if not isinstance(req, SkillRequirement):
                raise DomainError("routing step", "requirements", "skill requirements", req)
            if req.skill in seen:
                raise DomainError("routing step", "requirements", "each skill once", req.skill)
            seen.add(req.skill)


@dataclass(frozen=True, slots=True)
class Overflow:
    """Where an interaction goes at the queue's max wait: another queue, or an exit."""

    queue: str | None = None
    exit: ExitKind | None = None

    def __post_init__(self) -> None:
        if (self.queue is None) == (self.exit is None):
            raise DomainError("overflow", "queue/exit", "exactly one of queue or exit", self)


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue's routing rules.

    Ordering: ``score(t) = priority + vip_boost*vip + aging_rate*(t - arrival)``; the highest
    score is served first, FIFO (earliest arrival) among equals. With ``sla_ordering`` the score
    is instead measured in seconds against the SLA deadline: ``priority + vip_boost*vip +
    (t - arrival) - sla_target``, so the interaction closest to breaching (or furthest past it)
    goes first, also across queues.
    Max wait is counted from entry into this queue; ``arrival`` is kept across overflow and
    transfer so ordering remembers the whole wait.
    """

    id: str
    steps: tuple[RoutingStep, ...] = (RoutingStep(),)
    strategy: Strategy = Strategy.LONGEST_IDLE
    aging_rate: float = 0.0
    vip_boost: float = 0.0
    sla_target: float | None = None
    sla_ordering: bool = False
    max_wait: float | None = None
    overflow: Overflow | None = None
    wrap_up: float = 0.0
    offer_timeout: float = 20.0
    min_quality: float = 0.0
    quality_weight: float = 0.0
    sticky_seconds: float = 0.0
    sticky_days: float = 0.0
    no_answer_limit: int | None = None  # None: the engine's setting

    def __post_init__(self) -> None:
        owner = f"queue {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise DomainError("queue", "id", "a non-empty string", self.id)
        if not isinstance(self.steps, tuple):
            object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise DomainError(owner, "steps", "at least one routing step", self.steps)
        for i, step in enumerate(self.steps):
            last = i == len(self.steps) - 1
            if last and step.duration is not None:
                raise DomainError(owner, f"steps[{i}].duration", "none on the last step", step)
            if not last and step.duration is None:
                raise DomainError(owner, f"steps[{i}].duration", "seconds > 0", None)
        if not isinstance(self.strategy, Strategy):
            raise DomainError(owner, "strategy", "one of " + _names(Strategy), self.strategy)
        for name in ("aging_rate", "vip_boost", "wrap_up", "sticky_seconds", "sticky_days"):
            _check_number(owner, name, getattr(self, name), minimum=0.0)
        _check_number(owner, "offer_timeout", self.offer_timeout, minimum=0.0, strict=True)
        for name in ("min_quality", "quality_weight"):
            _check_number(owner, name, getattr(self, name), minimum=0.0, maximum=1.0)
        if self.sla_target is not None:
            _check_number(owner, "sla_target", self.sla_target, minimum=0.0, strict=True)
        if self.sla_ordering and self.sla_target is None:
            raise DomainError(owner, "sla_target", "seconds when sla_ordering is on", None)
        if self.max_wait is not None:
            _check_number(owner, "max_wait", self.max_wait, minimum=0.0, strict=True)
            if self.overflow is None:
                raise DomainError(owner, "overflow", "a queue or exit when max_wait is set", None)
        limit = self.no_answer_limit
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise DomainError(owner, "no_answer_limit", "an integer >= 0 or none", limit)
        if self.overflow is not None and self.overflow.queue == self.id:
            raise DomainError(owner, "overflow.queue", "another queue", self.overflow.queue)

    def step_starts(self) -> tuple[float, ...]:
        """Seconds after queue entry at which each step begins."""
        starts, t = [], 0.0
        for step in self.steps:
            starts.append(t)
            t += step.duration or 0.0
        return tuple(starts)


def _names(kind: type[enum.Enum]) -> str:
    return "|".join(m.value for m in kind)


def _check_number(
    owner: str,
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float = math.inf,
    strict: bool = False,
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value <= maximum
    ok = ok and (value > minimum if strict else value >= minimum)  # type: ignore[operator]
    ok = ok and math.isfinite(value)  # type: ignore[arg-type]
    if not ok:
        bound = f"> {minimum}" if strict else f">= {minimum}"
        if maximum < math.inf:
            bound += f" and <= {maximum}"
        raise DomainError(owner, name, f"a number {bound}", value)
