"""The routing engine: pure, synchronous, event-driven, clock passed in by the caller."""

from cc_core.routing.engine import Engine, EngineConfig
from cc_core.routing.errors import (
    ClockWentBack,
    InvalidTransition,
    RoutingError,
    UnknownAgent,
    UnknownInteraction,
    UnknownOffer,
    UnknownQueue,
)
from cc_core.routing.outcomes import (
    AgentAutoNotReady,
    Exited,
    Offer,
    OfferExpired,
    Outcome,
    Overflowed,
    Reason,
    Trigger,
    WrapUpEnded,
)
from cc_core.routing.standing import QueueStanding

__all__ = [
    "AgentAutoNotReady",
    "ClockWentBack",
    "Engine",
    "EngineConfig",
    "Exited",
    "InvalidTransition",
    "Offer",
    "OfferExpired",
    "Outcome",
    "Overflowed",
    "QueueStanding",
    "Reason",
    "RoutingError",
    "Trigger",
    "UnknownAgent",
    "UnknownInteraction",
    "UnknownOffer",
    "UnknownQueue",
    "WrapUpEnded",
]
