"""``agents.yaml``: the skills and languages catalogues, capacity profiles, supervisors, agents.

The catalogues live here, beside the agents who hold the skills; ``queues.yaml`` refers to them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from cc_core.config.value_types import (
    CHANNELS,
    Channel,
    ConfigModel,
    Endpoint,
    Identifier,
    LanguageCode,
    NonEmpty,
    Proficiency,
    in_range,
)

# Serving order of an agent's queues: 1 is served first.
QueuePriority = Annotated[int, AfterValidator(in_range(1, 9, "a priority"))]
CallSlots = Annotated[int, AfterValidator(in_range(0, 1, "a capacity"))]
ChatSlots = Annotated[int, AfterValidator(in_range(0, 20, "a capacity"))]
EmailSlots = Annotated[int, AfterValidator(in_range(0, 50, "a capacity"))]


class Skill(ConfigModel):
    id: Identifier
    description: str = ""


class Language(ConfigModel):
    id: LanguageCode
    name: str = ""


class CapacityProfile(ConfigModel):
    """How many interactions of each channel an agent holds at once.

    An interaction on an ``exclusive`` channel is offered only to an agent with nothing else
    open, and while it lasts nothing else is offered.
    """

    voice: CallSlots = 0
    video: CallSlots = 0
    chat: ChatSlots = 0
    email: EmailSlots = 0
    exclusive: list[Channel] = []

    def limit(self, channel: Channel) -> int:
        return int(getattr(self, channel))


# Used when agents.yaml defines no profile named "default".
DEFAULT_PROFILE = CapacityProfile(voice=1, video=1, chat=3, email=5, exclusive=["voice", "video"])


class CapacityOverride(ConfigModel):
    """Per-agent limits replacing those of the agent's profile, channel by channel."""

    voice: CallSlots | None = None
    video: CallSlots | None = None
    chat: ChatSlots | None = None
    email: EmailSlots | None = None


class Supervisor(ConfigModel):
    id: Identifier
    name: NonEmpty
    # The phone rung for listen / whisper / barge.
    endpoint: Endpoint


class Agent(ConfigModel):
    id: Identifier
    name: NonEmpty
    endpoint: Endpoint
    skills: dict[Identifier, Proficiency] = {}
    languages: list[LanguageCode] = []
    profile: Identifier = "default"
    capacity: CapacityOverride = CapacityOverride()
    video: bool = False
    queues: dict[Identifier, QueuePriority] = {}
    team: str | None = None
    supervisor: Identifier | None = None

    def limits(self, profiles: dict[str, CapacityProfile]) -> dict[Channel, int]:
        """Effective per-channel limits: profile, then overrides; video needs ``video: true``."""
        profile = profiles.get(self.profile, DEFAULT_PROFILE)
        limits: dict[Channel, int] = {}
        for channel in CHANNELS:
            override = getattr(self.capacity, channel)
            limits[channel] = profile.limit(channel) if override is None else int(override)
        if not self.video:
            limits["video"] = 0
        return limits


class AgentsFile(ConfigModel):
    skills: list[Skill] = []
    languages: list[Language] = []
    capacity_profiles: dict[Identifier, CapacityProfile] = {}
    supervisors: list[Supervisor] = []
    agents: list[Agent] = []

    def profiles(self) -> dict[str, CapacityProfile]:
        """Named profiles including the built-in ``default`` unless the file redefines it."""
        return {"default": DEFAULT_PROFILE, **(self.capacity_profiles or {})}
