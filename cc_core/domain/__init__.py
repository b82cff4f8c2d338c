"""Pure domain types of the contact centre: agents, queues, interactions. No I/O."""

from cc_core.domain.agents import PRESENCE_STATES, Agent, AgentState
from cc_core.domain.channels import DEFAULT_CAPACITY, CapacityProfile, ChannelKind
from cc_core.domain.errors import DomainError
from cc_core.domain.interactions import Interaction
from cc_core.domain.queues import (
    ExitKind,
    Overflow,
    Queue,
    RoutingStep,
    SkillRequirement,
    Strategy,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "PRESENCE_STATES",
    "Agent",
    "AgentState",
    "CapacityProfile",
    "ChannelKind",
    "DomainError",
    "ExitKind",
    "Interaction",
    "Overflow",
    "Queue",
    "RoutingStep",
    "SkillRequirement",
    "Strategy",
]
