"""The engine's mutable records for agents and interactions (compact: __slots__ only)."""

from __future__ import annotations

import enum
from typing import Any

from cc_core.domain import Agent, AgentState, ChannelKind, Interaction, Queue


class Phase(enum.Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


# Channels as bits; a set of channels as a mask. _BY_MASK maps every mask to its channels as a
# tuple sorted by value (the order of AgentRuntime.channels), shared by all agents, so the
# free channels are recomputed with integer operations and the tuples are never rebuilt.
_BIT = {kind: 1 << i for i, kind in enumerate(ChannelKind)}
_BY_MASK = {
    mask: tuple(sorted((k for k, bit in _BIT.items() if mask & bit), key=lambda c: c.value))
    for mask in range(1 << len(_BIT))
}


class AgentRuntime:
    """One agent's live state: presence, slots held and the counters strategies rank by."""

    __slots__ = (
        "_exclusive",
        "_exclusive_held",
        "_free",
        "_limits",
        "_shared_mask",
        "agent",
        "busy",
        "channels",
        "contacts",
        "entries",
        "fit_cache",
        "held",
        "language_keys",
        "last_activity",
        "missed",
        "offers",
        "plan",
        "presence",
        "queue_fit",
        "queue_order",
        "rank",
        "ready_plan",
        "ready_sig",
        "reason",
        "sticky",
        "takeable",
        "talk",
        "wrapups",
    )

    def __init__(self, agent: Agent, rank: int, now: float) -> None:
        self.rank = rank
        self.presence = AgentState.LOGGED_OUT
        self.reason: str | None = None
        self.held: dict[ChannelKind, int] = {}
        self.busy = 0  # slots held, all channels
        self.offers: dict[int, int] = {}  # offer id -> interaction seq
        self.wrapups: dict[int, str] = {}  # wrap-up id -> interaction id
        self.last_activity = now
        self.contacts = 0
        self.talk = 0.0
        self.missed = 0
        self.entries: list[tuple[Any, tuple]] = []  # (index key, entry) currently indexed
        self.sticky: set[int] = set()  # seqs of waiting interactions that prefer this agent
        self.set_agent(agent)

    def set_agent(self, agent: Agent) -> None:
        self.agent = agent
        self.fit_cache: dict[int, bool] = {}  # eligibility class id -> agent fits it
        # queue id -> channel -> (the queue's version for the channel, what the agent fits
        # there on that channel, or None); see waiting.py
        self.queue_fit: dict[str, dict[ChannelKind, tuple[int, Any]]] = {}
        # Waiting lines are bucketed by (channel, language); None means "any language".
        self.language_keys: tuple[str | None, ...] = (*sorted(agent.languages), None)
        self.channels = tuple(sorted(agent.capacity.channels(), key=lambda c: c.value))
        self._exclusive = agent.capacity.exclusive
        self._limits = dict(agent.capacity.limits)
        self._shared_mask = sum(_BIT[c] for c in self.channels if c not in self._exclusive)
        # Served queues by the agent's priority, then id, for a stable scan order.
        self.queue_order = tuple(sorted(agent.queues.items(), key=lambda kv: (kv[1], kv[0])))
        # The agent-side search's resolved view of queue_order, built by the waiting lines.
        self.plan: tuple[Any, ...] | None = None
        # The ready index's view of the agent (see ready.py): what its entries are made of,
        # and the inputs its current entries were made from (None: not indexed).
        self.ready_plan: Any = None
        self.ready_sig: tuple | None = None
        self.slots_changed()

    def can_take(self, channel: ChannelKind) -> bool:
        return channel in self.takeable

    def take(self, channel: ChannelKind) -> None:
        """Hold one more ``channel`` slot."""
        held = self.held
        count = held[channel] = held.get(channel, 0) + 1
        self.busy += 1
        if count >= self._limits.get(channel, 0):
            self._free &= ~_BIT[channel]
        if channel in self._exclusive:
            self._exclusive_held += 1
            self.takeable = ()
        elif self._exclusive_held:
            self.takeable = ()
        else:  # something is held now: the shared channels below their limits
            self.takeable = _BY_MASK[self._free & self._shared_mask]

    def release(self, channel: ChannelKind) -> None:
        """Free one ``channel`` slot."""
        held = self.held
        count = held[channel] = held[channel] - 1
        self.busy -= 1
        if count < self._limits.get(channel, 0):
            self._free |= _BIT[channel]
        if channel in self._exclusive:
            self._exclusive_held -= 1
        # _set_takeable, inlined: this runs on every free
        if self._exclusive_held:
            self.takeable = ()
        elif not self.busy:
            self.takeable = _BY_MASK[self._free]
        else:
            self.takeable = _BY_MASK[self._free & self._shared_mask]

    def slots_changed(self) -> None:
        """Recompute the free-slot mask from ``held`` (after a profile change)."""
        held = self.held
        limits = self._limits
        free = 0
        for kind in self.channels:
            if held.get(kind, 0) < limits[kind]:
                free |= _BIT[kind]
        self._free = free
        self._exclusive_held = sum(held.get(kind, 0) for kind in self._exclusive)
        self._set_takeable()

    def _set_takeable(self) -> None:
        """The channels with a free slot: the rule of ``CapacityProfile.can_take`` on the
        free-slot mask. Nothing beside an exclusive channel; all channels when nothing is
        held; otherwise the shared channels below their limits."""
        if self._exclusive_held:
            self.takeable = ()
        elif not self.busy:
            self.takeable = _BY_MASK[self._free]
        else:
            self.takeable = _BY_MASK[self._free & self._shared_mask]

    def state(self) -> AgentState:
        if self.presence is AgentState.LOGGED_OUT and not self.held_total():
            return AgentState.LOGGED_OUT
        if self.offers:
            return AgentState.RESERVED
        if self.held_total() > len(self.wrapups):
            return AgentState.BUSY
        if self.wrapups:
            return AgentState.WRAP_UP
        return self.presence

    def held_total(self) -> int:
        return self.busy


class InteractionRuntime:
    """One interaction's place in routing: queue, step, ordering key and exclusions."""

    __slots__ = (
        "accepted_at",
        "agent_id",
        "class_id",
        "class_step",
        "cls",
        "entered",
        "epoch",
        "excluded",
        "interaction",
        "max_wait_due",
        "neg_key",
        "offer_id",
        "overdue",
        "phase",
        "queue",
        "rate",
        "seq",
        "step",
        "step_due",
        "sticky_agents",
        "sticky_due",
    )

    def __init__(self, interaction: Interaction, seq: int, queue: Queue) -> None:
        self.interaction = interaction
        self.seq = seq
        self.queue = queue
        self.entered = 0.0
        self.step = 0
        self.step_due: float | None = None
        self.max_wait_due: float | None = None
        self.sticky_agents: tuple[str, ...] = ()
        self.sticky_due: float | None = None
        self.neg_key = 0.0
        self.rate = 0.0
        self.phase = Phase.WAITING
        self.class_id = 0  # eligibility class id at class_step (a cache)
        self.class_step = -1
        self.cls: int | None = None  # eligibility class id while queued in a class line
        self.excluded: set[str] | None = None  # created on the first reject / no-answer
        self.epoch = 0
        self.overdue = False
        self.offer_id: int | None = None
        self.agent_id: str | None = None
        self.accepted_at = 0.0

    def line_entry(self) -> tuple[float, float, int]:
        """Sort entry in a class line: best score first, then earliest arrival, then seq."""
        return (self.neg_key, self.interaction.arrival, self.seq)

    def excludes(self, agent_id: str) -> bool:
        return self.excluded is not None and agent_id in self.excluded
