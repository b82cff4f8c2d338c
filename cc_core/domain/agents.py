"""Agents as configured (skills, languages, capacity, queues) and their states."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cc_core.domain.channels import DEFAULT_CAPACITY, CapacityProfile
from cc_core.domain.errors import DomainError

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 5


class AgentState(enum.Enum):
    """What an agent is doing.

    LOGGED_OUT, READY and NOT_READY are set by the agent (or supervisor); RESERVED (an offer is
    ringing), BUSY (connected) and WRAP_UP are derived by the engine from the slots held.
    """

    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap_up"


PRESENCE_STATES = frozenset({AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY})


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's routing profile.

    ``skills`` maps skill name to proficiency 1-5. ``queues`` maps each served queue to its
    priority for this agent: 1 is served first, larger numbers later (ties compare the waiting
    interactions' scores). ``quality`` is the edge-quality score in 0..1.
    """

    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    capacity: CapacityProfile = DEFAULT_CAPACITY
    queues: Mapping[str, int] = field(default_factory=dict)
    quality: float = 1.0

    def __post_init__(self) -> None:
        owner = f"agent {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise DomainError("agent", "id", "a non-empty string", self.id)
        for skill, level in self.skills.items():
            if not isinstance(skill, str) or not skill:
                raise DomainError(owner, "skills", "skill names as non-empty strings", skill)
            if (
                not isinstance(level, int)
                or isinstance(level, bool)
                or not MIN_PROFICIENCY <= level <= MAX_PROFICIENCY
            ):
                raise DomainError(owner, f"skills.{skill}", "a proficiency 1..5", level)
        for queue, prio in self.queues.items():
            if not isinstance(queue, str) or not queue:
                raise DomainError(owner, "queues", "queue ids as non-empty strings", queue)
            if not isinstance(prio, int) or isinstance(prio, bool) or prio < 1:
                raise DomainError(owner, f"queues.{queue}", "a priority integer >= 1", prio)
        if not isinstance(self.languages, frozenset):
            object.__setattr__(self, "languages", frozenset(self.languages))
        if not isinstance(self.quality, int | float) or not 0.0 <= self.quality <= 1.0:
            raise DomainError(owner, "quality", "a number in 0..1", self.quality)
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))
        object.__setattr__(self, "queues", MappingProxyType(dict(self.queues)))
