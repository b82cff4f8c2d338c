"""The interaction state machine of a call, and what each stage is in the durable store.

arrived -> ivr -> queued -> offered -> connected -> wrap_up -> closed, with abandoned (the
caller left first) and overflowed (moved to another queue, then queued again) on the way.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from cc_core.store.models import InteractionState


class Stage(enum.Enum):
    ARRIVED = "arrived"
    IVR = "ivr"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    EXITED = "exited"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({Stage.CLOSED, Stage.ABANDONED, Stage.EXITED})

# Which stage may follow which; anything else is a bug and is refused loudly.
ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.ARRIVED: frozenset({Stage.IVR, Stage.QUEUED, Stage.ABANDONED}),
    # EXITED: the IVR script ended the call itself (transfer, voicemail, callback, hang-up).
    Stage.IVR: frozenset({Stage.QUEUED, Stage.ABANDONED, Stage.EXITED}),
    Stage.QUEUED: frozenset(
        {Stage.OFFERED, Stage.ABANDONED, Stage.OVERFLOWED, Stage.EXITED, Stage.CONNECTED}
    ),
    Stage.OFFERED: frozenset({Stage.CONNECTED, Stage.QUEUED, Stage.ABANDONED, Stage.OVERFLOWED}),
    Stage.OVERFLOWED: frozenset({Stage.QUEUED, Stage.OFFERED, Stage.ABANDONED}),
    Stage.CONNECTED: frozenset({Stage.WRAP_UP, Stage.CLOSED}),
    Stage.WRAP_UP: frozenset({Stage.CLOSED}),
    Stage.CLOSED: frozenset(),
    Stage.ABANDONED: frozenset(),
    Stage.EXITED: frozenset(),
}

# The store keeps the coarse state; the event log keeps every stage under its own name.
STORE_STATE: dict[Stage, InteractionState | None] = {
    Stage.ARRIVED: None,  # `created` is logged by the store itself
    Stage.IVR: None,
    Stage.QUEUED: InteractionState.QUEUED,
    Stage.OFFERED: InteractionState.OFFERED,
    Stage.CONNECTED: InteractionState.CONNECTED,
    Stage.WRAP_UP: InteractionState.WRAPUP,
    Stage.CLOSED: InteractionState.ENDED,
    Stage.ABANDONED: InteractionState.ABANDONED,
    Stage.OVERFLOWED: None,
    Stage.EXITED: InteractionState.ENDED,
}

# Back from the store after a restart: which stage an open interaction was in.
FROM_STORE: dict[str, Stage] = {
    InteractionState.NEW.value: Stage.ARRIVED,
    InteractionState.QUEUED.value: Stage.QUEUED,
    InteractionState.OFFERED.value: Stage.OFFERED,
    InteractionState.CONNECTED.value: Stage.CONNECTED,
    InteractionState.WRAPUP.value: Stage.WRAP_UP,
}


class IllegalTransition(RuntimeError):
    def __init__(self, interaction_id: str, old: Stage, new: Stage) -> None:
        super().__init__(f"interaction {interaction_id}: {old.value} -> {new.value} is not allowed")


# Stages in which a call is an agent's (the live state lists them per agent), and in which it
# waits in its queue (the wallboard's longest wait).
HOLDING = frozenset({Stage.OFFERED, Stage.CONNECTED, Stage.WRAP_UP})
WAITING = frozenset({Stage.QUEUED, Stage.OVERFLOWED})
_INDEXED = frozenset({"stage", "agent_id", "queue", "arrival"})
# `CallRecord.announced` when the channel may hold values from an earlier wait or a failed
# send: unlike anything spoken, so the next sweep sends both.
ANNOUNCED_UNKNOWN = (0, 0)


@dataclass(slots=True)
class CallRecord:
    """One voice interaction the ACD is handling, keyed by its id and its PBX call id."""

    interaction_id: str
    call_id: str
    queue: str
    arrival: float  # epoch seconds of first arrival; kept across overflow and re-adoption
    stage: Stage = Stage.ARRIVED
    agent_id: str | None = None
    offer_id: int | None = None
    caller_num: str = ""
    # Adopted after a restart while already talking: the engine never saw this pairing.
    outside_engine: bool = False
    # The PBX could not be told to ring the agent (link down): ring again once it is back.
    connect_failed: bool = False
    # Connect commands sent for this record; an answer names the one it belongs to, so a late
    # answer to an earlier attempt changes nothing.
    connects: int = 0
    # When the agent answered (None: not yet, or adopted already talking): the handle time's
    # start (cc_core.acd.announce).
    connected_at: float | None = None
    # The hold announcement the call's channel holds: (position, minutes) as spoken, see
    # cc_core.acd.announce; None: nothing ever sent, ANNOUNCED_UNKNOWN: send both again.
    announced: tuple[int, int] | None = None
    # The book that indexes this record while it holds it (see `CallBook`).
    book: CallBook | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        # Stage, agent and queue change in many places; the book's indexes follow here.
        book = self.book if name in _INDEXED and hasattr(self, "book") else None
        if book is None:
            object.__setattr__(self, name, value)
            return
        book._unindex(self)
        object.__setattr__(self, name, value)
        book._index(self)

    def move(self, new: Stage) -> Stage:
        """Change stage (checked); returns the previous one."""
        old = self.stage
        if new not in ALLOWED[old]:
            raise IllegalTransition(self.interaction_id, old, new)
        self.stage = new
        if new is Stage.QUEUED and self.announced is not None:
            # A new wait: what the channel holds is from an earlier one.
            self.announced = ANNOUNCED_UNKNOWN
        return old


class CallBook:
    """The calls in progress, by interaction id and by PBX call id, with what the live state
    asks after every job kept as indexes (a scan of every call, per job, grew with the load)."""

    def __init__(self) -> None:
        self._by_id: dict[str, CallRecord] = {}
        self._by_call: dict[str, CallRecord] = {}
        self._added = itertools.count()
        self._order: dict[str, int] = {}  # interaction id -> when added (the book's order)
        self._held: dict[str, set[str]] = {}  # agent -> interaction ids in a HOLDING stage
        self._waiting: dict[str, dict[str, float]] = {}  # queue -> {id: arrival} (WAITING)
        # Interactions created (their row may be committed) whose record is not added yet.
        self.expected: set[str] = set()

    def expect(self, interaction_id: str) -> None:
        """A caller being taken in: its interaction exists, its record follows in a job (a
        restart's adoption must not judge it against a PBX list that predates it)."""
        self.expected.add(interaction_id)

    def add(self, record: CallRecord) -> None:
        self.expected.discard(record.interaction_id)
        earlier = self._by_id.get(record.interaction_id)
        if earlier is not None and earlier is not record:
            self._detach(earlier)
        self._by_id[record.interaction_id] = record
        self._by_call[record.call_id] = record
        self._order[record.interaction_id] = next(self._added)
        if record.book is not self:
            record.book = self
            self._index(record)

    def get(self, interaction_id: str) -> CallRecord | None:
        return self._by_id.get(interaction_id)

    def by_call(self, call_id: str) -> CallRecord | None:
        return self._by_call.get(call_id)

    def drop(self, record: CallRecord) -> None:
        if self._by_id.get(record.interaction_id) is record:
            del self._by_id[record.interaction_id]
            self._order.pop(record.interaction_id, None)
        if self._by_call.get(record.call_id) is record:
            del self._by_call[record.call_id]
        if record.book is self:
            self._detach(record)

    def _detach(self, record: CallRecord) -> None:
        self._unindex(record)
        record.book = None

    def _index(self, r: CallRecord) -> None:
        if r.agent_id is not None and r.stage in HOLDING:
            self._held.setdefault(r.agent_id, set()).add(r.interaction_id)
        if r.stage in WAITING:
            self._waiting.setdefault(r.queue, {})[r.interaction_id] = r.arrival

    def _unindex(self, r: CallRecord) -> None:
        if r.agent_id is not None and r.stage in HOLDING:
            held = self._held.get(r.agent_id)
            if held is not None:
                held.discard(r.interaction_id)
                if not held:
                    del self._held[r.agent_id]
        if r.stage in WAITING:
            waiting = self._waiting.get(r.queue)
            if waiting is not None:
                waiting.pop(r.interaction_id, None)
                if not waiting:
                    del self._waiting[r.queue]

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def live_view(
        self, agents: Collection[str], queues: Collection[str]
    ) -> tuple[dict[str, tuple[str, ...]], dict[str, float | None]]:
        """For the live state: the interactions each of ``agents`` holds (a HOLDING stage, in
        the book's order) and the arrival of each of ``queues``' longest-waiting call (None:
        nobody waits)."""
        order = self._order
        held = {
            agent: tuple(sorted(self._held.get(agent, ()), key=order.__getitem__))
            for agent in agents
        }
        return held, {queue: self.waiting_since(queue) for queue in queues}

    def waiting_since(self, queue: str) -> float | None:
        """Arrival of the longest-waiting queued call of ``queue`` (for the wallboard)."""
        waiting = self._waiting.get(queue)
        return min(waiting.values()) if waiting else None
