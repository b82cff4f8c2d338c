"""The live-state contract: what ACD nodes, the API and the wallboard share in real time.

Two implementations honour it: `memory.MemoryLiveState` (one process, the embedded default) and
`redis.RedisLiveState` (several nodes). Both pass the same test suite, so callers never need to
know which one they hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

# The state an agent moves to when a node wins the compare-and-set in `reserve`.
RESERVED = "reserved"

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_ID_LEN = 200


class LiveStateError(Exception):
    """Base of every error the live state raises."""


class LiveStateUnavailable(LiveStateError):
    """The backing server cannot be reached (refused, reset, timed out)."""


class LiveStateDataError(LiveStateError, ValueError):
    """A value could not be stored or a stored value could not be read back."""


class FenceRefused(LiveStateError):
    """A fenced write was refused: `token` is not lease `lease`'s current token (`current`,
    None when nobody holds the lease). Nothing was changed."""

    def __init__(self, lease: str, token: int, current: int | None) -> None:
        held = "nobody holds it" if current is None else f"its current token is {current}"
        super().__init__(f"lease {lease!r}: token {token} refused, {held}")
        self.lease = lease
        self.token = token
        self.current = current


def check_namespace(namespace: str) -> str:
    # ':' separates key parts and glob characters would widen SCAN patterns, so both are out.
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise ValueError(
            f"namespace: got {namespace!r}, expected 1-64 characters from A-Z a-z 0-9 _ . -"
        )
    return namespace


def check_id(what: str, value: object) -> str:
    """An agent, queue, lease, channel or interaction id: printable, no blanks, bounded."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _MAX_ID_LEN
        or not value.isprintable()
        or any(ch.isspace() for ch in value)
    ):
        raise LiveStateDataError(
            f"{what}: got {value!r}, expected a non-empty printable string without blanks "
            f"of at most {_MAX_ID_LEN} characters"
        )
    return value


def check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0.001 <= ttl <= 86400:
        raise LiveStateDataError(f"ttl: got {ttl!r}, expected seconds between 0.001 and 86400")
    return float(ttl)


def _check_time(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LiveStateDataError(f"{what}: got {value!r}, expected a finite number of seconds")
    return float(value)


@dataclass(frozen=True, slots=True)
class AgentLive:
    """An agent's live record. `since` is when `state` began (epoch seconds).

    `version` is maintained by the store: it grows by one on every write, so a reader can tell
    whether two snapshots differ without comparing fields.

    `presence` is the presence under `state` (ready, not_ready or logged_out): while reserved,
    busy or in wrap-up, the one the agent takes when those end, with `reason` its not-ready
    reason. Empty when not recorded (records written before the field existed).
    """

    agent_id: str
    state: str
    since: float
    reason: str = ""
    interactions: tuple[str, ...] = ()
    quality: float | None = None
    version: int = 0
    presence: str = ""

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        check_id("state", self.state)
        if self.presence != "":
            check_id("presence", self.presence)
        _check_time("since", self.since)
        if not isinstance(self.reason, str) or not self.reason.isprintable():
            raise LiveStateDataError(f"reason: got {self.reason!r}, expected printable text")
        if not isinstance(self.interactions, tuple):
            raise LiveStateDataError(
                f"interactions: got {type(self.interactions).__name__}, expected a tuple of ids"
            )
        for ix in self.interactions:
            check_id("interactions[]", ix)
        if len(set(self.interactions)) != len(self.interactions):
            raise LiveStateDataError(f"interactions: {self.interactions!r} repeats an id")
        if self.quality is not None and (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int | float)
            or not math.isfinite(self.quality)
        ):
            raise LiveStateDataError(
                f"quality: got {self.quality!r}, expected a finite number or None"
            )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What the wallboard shows for one queue.

    `longest_wait_since` is the arrival time (epoch seconds) of the oldest waiting contact, or
    None when nobody waits. `counters` holds free-form running totals (offered, answered, ...).
    """

    queue_id: str
    waiting: int = 0
    longest_wait_since: float | None = None
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a named lease, its fencing token and the seconds left before it expires.

    The token grows every time the lease changes hands, so the store can refuse a fenced write
    (`reserve(..., fence=LeaseFence(name, token))`) from a node that lost the lease without
    noticing.
    """

    name: str
    holder: str
    token: int
    ttl_left: float


@dataclass(frozen=True, slots=True)
class LeaseFence:
    """What a fenced write carries: the lease the caller acts under and the token it holds.

    The store applies the write only while `token` is that lease's current token, checked in
    the same atomic step as the write itself.
    """

    lease: str
    token: int

    def __post_init__(self) -> None:
        check_id("lease", self.lease)
        if isinstance(self.token, bool) or not isinstance(self.token, int) or self.token < 1:
            raise LiveStateDataError(f"token: got {self.token!r}, expected an int >= 1")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    channel: str
    data: dict[str, Any]


@runtime_checkable
class Subscription(Protocol):
    """An async iterator of events on the channels it was opened for.

    `dropped` counts events discarded because this subscriber fell behind (memory backend);
    `invalid` counts messages on the channel that were not JSON objects and were skipped.
    """

    @property
    def channels(self) -> tuple[str, ...]: ...

    @property
    def dropped(self) -> int: ...

    @property
    def invalid(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[LiveEvent]: ...

    async def __anext__(self) -> LiveEvent: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Subscription: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class AgentStates(Protocol):
    async def set_agent(self, record: AgentLive) -> AgentLive:
        """Store the record as given (last writer wins); returns it with the new version."""
        ...

    async def get_agent(self, agent_id: str) -> AgentLive | None: ...

    async def list_agents(self) -> list[AgentLive]:
        """Every agent record, sorted by agent id."""
        ...

    async def remove_agent(self, agent_id: str) -> bool: ...

    async def transition(
        self,
        agent_id: str,
        expected_state: str,
        new_state: str,
        *,
        reason: str = "",
        add_interaction: str | None = None,
        remove_interaction: str | None = None,
        max_interactions: int | None = None,
    ) -> AgentLive | None:
        """Atomic compare-and-set of the agent's state.

        Applies only when the stored state equals `expected_state` (and, with
        `max_interactions`, when fewer interactions are held). Returns the new record, or None
        when the agent is unknown or the condition failed: exactly one of several concurrent
        callers expecting the same state wins.
        """
        ...

    async def reserve(
        self,
        agent_id: str,
        expected_state: str,
        interaction_id: str,
        *,
        max_interactions: int | None = None,
        fence: LeaseFence | None = None,
    ) -> AgentLive | None:
        """`transition` to RESERVED, adding the interaction: the guard against double offers.

        With `fence` (HA nodes) the store first checks, in the same atomic step, that the
        fence's token is its lease's current token, and raises `FenceRefused` (changing
        nothing) when it is not or nobody holds the lease.
        """
        ...


class QueueCounters(Protocol):
    async def incr_waiting(self, queue_id: str, by: int = 1) -> int: ...

    async def decr_waiting(self, queue_id: str, by: int = 1) -> int:
        """Lower the waiting count, never below zero; returns the new count."""
        ...

    async def set_longest_wait_start(self, queue_id: str, since: float | None) -> None: ...

    async def incr_counter(self, queue_id: str, name: str, by: int = 1) -> int: ...

    async def get_queue(self, queue_id: str) -> QueueStats: ...

    async def queue_snapshot(self) -> dict[str, QueueStats]:
        """Every queue touched so far, keyed by queue id."""
        ...


class Leases(Protocol):
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        """Take the lease if free (or extend it if `holder` already has it); None if taken."""
        ...

    async def renew_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        """Extend the lease; None unless `holder` holds it right now."""
        ...

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up; False (and no change) unless `holder` holds it."""
        ...

    async def lease_holder(self, name: str) -> Lease | None: ...


class CallQualities(Protocol):
    """The latest live voice-quality figures of each call being scored (the media fork)."""

    async def set_call_quality(self, interaction_id: str, data: dict[str, Any], ttl: float) -> None:
        """Replace the call's figures (a JSON object); they expire ``ttl`` seconds after this
        write, so a call whose scorer stopped without saying so does not linger."""
        ...

    async def get_call_quality(self, interaction_id: str) -> dict[str, Any] | None: ...

    async def remove_call_quality(self, interaction_id: str) -> bool: ...


class EventBus(Protocol):
    async def publish(self, channel: str, data: dict[str, Any]) -> int:
        """Send a JSON object to every current subscriber; returns how many received it."""
        ...

    async def subscribe(self, *channels: str) -> Subscription:
        """Start listening; events published after this returns are delivered."""
        ...


@runtime_checkable
class LiveState(AgentStates, QueueCounters, Leases, CallQualities, EventBus, Protocol):
    """Everything the nodes share, under one namespace."""

    @property
    def namespace(self) -> str: ...

    async def ping(self) -> None:
        """Raise LiveStateUnavailable unless the backend answers."""
        ...

    async def clear(self) -> int:
        """Delete every record of this namespace (and nothing else); returns how many."""
        ...

    async def aclose(self) -> None: ...
