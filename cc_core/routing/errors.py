"""Errors the engine raises for calls that do not fit its state; the engine is unchanged."""

from __future__ import annotations


class RoutingError(ValueError):
    """A call named something unknown or asked for a move the state does not allow."""


class UnknownAgent(RoutingError, KeyError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")


class UnknownQueue(RoutingError, KeyError):
    def __init__(self, queue_id: str, where: str = "") -> None:
        super().__init__(f"unknown queue {queue_id!r}{' in ' + where if where else ''}")


class UnknownInteraction(RoutingError, KeyError):
    def __init__(self, interaction_id: str) -> None:
        super().__init__(f"unknown interaction {interaction_id!r}")


class UnknownOffer(RoutingError, KeyError):
    def __init__(self, offer_id: int) -> None:
        super().__init__(f"no pending offer {offer_id!r} (already answered, expired or unknown)")


class InvalidTransition(RoutingError):
    """The object exists but is not in a state where this call makes sense."""


class ClockWentBack(RoutingError):
    def __init__(self, now: float, last: float) -> None:
        super().__init__(f"clock went back: now={now!r} is before the last call at {last!r}")
