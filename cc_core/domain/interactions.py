"""Interactions: one customer contact on one channel, waiting for or served by an agent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cc_core.domain.channels import ChannelKind
from cc_core.domain.errors import DomainError
from cc_core.domain.queues import SkillRequirement


@dataclass(frozen=True, slots=True)
class Interaction:
    """A contact as the IVR or a channel adapter hands it to routing.

    ``arrival`` is when the customer first arrived; it is kept across overflow and transfer.
    ``attributes`` travel with the interaction for the agent's context; routing ignores them.
    """

    id: str
    queue: str
    channel: ChannelKind
    arrival: float
    skills: tuple[SkillRequirement, ...] = ()
    language: str | None = None
    priority: float = 0.0
    vip: bool = False
    customer_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = f"interaction {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise DomainError("interaction", "id", "a non-empty string", self.id)
        if not isinstance(self.queue, str) or not self.queue:
            raise DomainError(owner, "queue", "a queue id", self.queue)
        if not isinstance(self.channel, ChannelKind):
            raise DomainError(owner, "channel", "voice|video|chat|email", self.channel)
        for name in ("arrival", "priority"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise DomainError(owner, name, "a number", value)
            if not math.isfinite(value):
                raise DomainError(owner, name, "a finite number", value)
        if not isinstance(self.skills, tuple):
            object.__setattr__(self, "skills", tuple(self.skills))
        seen: set[str] = set()
        for req in self.skills:
            if not isinstance(req, SkillRequirement):
                raise DomainError(owner, "skills", "skill requirements", req)
            if req.skill in seen:
                raise DomainError(owner, "skills", "each skill once", req.skill)
            seen.add(req.skill)
        if self.language is not None and (not isinstance(self.language, str) or not self.language):
            raise DomainError(owner, "language", "a language tag or none", self.language)
        if self.attributes:
            object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
