"""What each engine call returns: explicit decisions for the ACD to carry out and log."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from cc_core.domain import ChannelKind, ExitKind, Strategy


class Trigger(enum.Enum):
    """The event that made a decision possible."""

    ARRIVAL = "arrival"  # interaction arrived, overflowed, was transferred or re-queued
    AGENT = "agent"  # an agent became ready or freed a slot
    STEP = "step"  # the interaction's routing step relaxed
    STICKY_END = "sticky_end"  # the sticky-agent preference ended


# Offer and Reason are named tuples, not frozen dataclasses: one of each is made per
# assignment, and a frozen dataclass sets every field through object.__setattr__ (about eight
# times the cost). Same fields, constructor, repr and immutability.


class Reason(NamedTuple):
    """Why this agent got this interaction, for the decision log."""

    trigger: Trigger
    strategy: Strategy
    step: int  # index of the queue's routing step in force
    requirements: str  # the step's effective requirements, e.g. "billing>=4, lang=fr"
    agent_rank: float  # the strategy's ranking value for the agent (lower ranks first)
    interaction_score: float  # the interaction's score at decision time
    quality: float  # the agent's edge-quality score
    min_quality: float  # the queue's threshold
    sticky: bool  # chosen as the customer's previous agent


class Offer(NamedTuple):
    """Ring ``agent_id`` with ``interaction_id``: one capacity slot is reserved for it.

    Answer with ``Engine.accept``/``reject``/``no_answer``; unanswered it expires at
    ``expires_at`` (reported as ``OfferExpired``).
    """

    offer_id: int
    interaction_id: str
    agent_id: str
    queue_id: str
    channel: ChannelKind
    at: float
    expires_at: float
    reason: Reason


@dataclass(frozen=True, slots=True)
class OfferExpired:
    """Nobody answered ``offer_id`` in time: stop ringing; the interaction is back in line."""

    offer_id: int
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Overflowed:
    """Max wait reached: the interaction moved to ``to_queue``, keeping its arrival time."""

    interaction_id: str
    from_queue: str
    to_queue: str
    at: float


@dataclass(frozen=True, slots=True)
class Exited:
    """Max wait reached: the interaction left routing to an exit (voicemail, callback...)."""

    interaction_id: str
    queue_id: str
    exit: ExitKind
    at: float


@dataclass(frozen=True, slots=True)
class AgentAutoNotReady:
    """The agent missed too many offers in a row and was put in not-ready."""

    agent_id: str
    reason: str
    missed: int
    at: float


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The agent's wrap-up after ``interaction_id`` is over; the slot is free again."""

    agent_id: str
    interaction_id: str
    at: float


Outcome = Offer | OfferExpired | Overflowed | Exited | AgentAutoNotReady | WrapUpEnded
