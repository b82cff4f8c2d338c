"""The engine's mutable records for agents and interactions (compact: __slots__ only)."""

from __future__ import annotations

import enum
from typing import Any

from cc_core.domain import Agent, AgentState, ChannelKind, Interaction, Queue


class Phase(enum.Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


class AgentRuntime:
    """One agent's live state: presence, slots held and the counters strategies rank by."""

    __slots__ = (
        "_exclusive",
        "_limits",
        "_shared",
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
        # queue id -> (the queue's lines version, what the agent fits there); see waiting.py
        self.queue_fit: dict[str, tuple[int, list[Any]]] = {}
        # Waiting lines are bucketed by (channel, language); None means "any language".
        self.language_keys: tuple[str | None, ...] = (*sorted(agent.languages), None)
        self.channels = tuple(sorted(agent.capacity.channels(), key=lambda c: c.value))
        self._exclusive = agent.capacity.exclusive
        self._limits = dict(agent.capacity.limits)
        self._shared = tuple(c for c in self.channels if c not in self._exclusive)
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
        if channel in self._exclusive:
            self.takeable = ()  # an exclusive channel blocks every other
        elif self.busy == 1 or count >= self._limits.get(channel, 0):
            # The first slot shuts the exclusive channels out; a full channel leaves. Any
            # other take leaves the free channels as they were.
            self.slots_changed()

    def release(self, channel: ChannelKind) -> None:
        """Free one ``channel`` slot."""
        held = self.held
        count = held[channel] = held[channel] - 1
        self.busy -= 1
        if not self.busy:
            self.takeable = self.channels
        elif channel in self._exclusive or count + 1 >= self._limits.get(channel, 0):
            # The channel was full (or the profile changed under held slots): recompute.
            # Below its limit, it was free and stays free, the others unchanged.
            self.slots_changed()

    def slots_changed(self) -> None:
        """Recompute the channels with a free slot; call after every change to ``held``.

        Same rule as ``CapacityProfile.can_take``, unrolled: it runs on every offer and free.
        """
        held = self.held
        for kind in self._exclusive:
            if held.get(kind):
                self.takeable = ()
                return
        if not self.busy:
            self.takeable = self.channels
            return
        limits = self._limits
        self.takeable = tuple([c for c in self._shared if held.get(c, 0) < limits[c]])

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
