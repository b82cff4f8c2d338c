"""Media channels and how many of each an agent can hold at once."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cc_core.domain.errors import DomainError


class ChannelKind(enum.Enum):
    VOICE = "voice"
    VIDEO = "video"
    CHAT = "chat"
    EMAIL = "email"

    # Members are singletons: identity hashing is correct and avoids Enum's Python-level hash
    # on the routing hot path.
    __hash__ = object.__hash__


@dataclass(frozen=True, slots=True)
class CapacityProfile:
    """Per-channel slot limits plus the cross-channel rule.

    A channel missing from ``limits`` (or with limit 0) is one the agent cannot take at all.
    A channel in ``exclusive`` is taken only when the agent holds nothing, and while it is held
    nothing else is taken: a voice or video call blocks every other channel.
    Slots count offers being rung, connected interactions and wrap-up alike.
    """

    name: str = "default"
    limits: Mapping[ChannelKind, int] = field(
        default_factory=lambda: MappingProxyType(
            {ChannelKind.VOICE: 1, ChannelKind.VIDEO: 1, ChannelKind.CHAT: 3, ChannelKind.EMAIL: 5}
        )
    )
    exclusive: frozenset[ChannelKind] = frozenset({ChannelKind.VOICE, ChannelKind.VIDEO})

    def __post_init__(self) -> None:
        owner = f"capacity profile {self.name!r}"
        for kind, limit in self.limits.items():
            if not isinstance(kind, ChannelKind):
                raise DomainError(owner, "limits", "channel names voice|video|chat|email", kind)
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise DomainError(owner, f"limits.{kind.value}", "an integer >= 0", limit)
        for kind in self.exclusive:
            if not isinstance(kind, ChannelKind):
                raise DomainError(owner, "exclusive", "channel names voice|video|chat|email", kind)
        # Freeze the mapping so a shared profile cannot be changed behind the engine's back.
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def channels(self) -> frozenset[ChannelKind]:
        """Channels this profile can take at all."""
        return frozenset(k for k, n in self.limits.items() if n > 0)

    def can_take(self, held: Mapping[ChannelKind, int], channel: ChannelKind) -> bool:
        """True when one more ``channel`` slot fits beside the ``held`` slots."""
        if held.get(channel, 0) >= self.limits.get(channel, 0):
            return False
        total = 0
        for kind, n in held.items():
            if n and kind in self.exclusive:
                return False
            total += n
        return not (channel in self.exclusive and total > 0)


DEFAULT_CAPACITY = CapacityProfile()
