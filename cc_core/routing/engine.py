"""The routing engine: event in, decisions out. Pure, synchronous, clock passed in.

Every public call takes ``now`` (seconds, never decreasing), first fires the engine's own
timers due up to ``now`` (each at its due time), then applies the call, and returns the list of
outcomes in the order they happened (if the call itself fails, the outcomes of the timers
it fired come with the next call). The engine keeps one invariant after every call: no
waiting interaction has an eligible agent with a free slot. So each event can only pair what
it changed: a new or re-queued or relaxed interaction with the best agent for it, or a freed
agent with the best interactions for it. Nothing is ever scanned periodically.

Indexes (see docs/routing.md):
- per (queue, channel) a sorted list of agents who could take that channel now, in the
  queue strategy's order (plus per (queue, channel, skill) for best-skill queues);
- per (queue, eligibility class) a sorted line of waiting interactions by time-invariant key;
- a heap of timers: offer timeouts, wrap-up ends, sticky ends, step relaxations, max waits.

Layout: ``core.py`` (records, indexes, matching and offers), ``lifecycle.py`` (presence, slots,
misses, overflow, timer firing), this module (the public calls), ``ready.py`` and
``waiting.py`` (the two indexes), ``ranking.py`` (scores and strategy keys).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from cc_core.domain import (
    Agent,
    AgentState,
    ChannelKind,
    Interaction,
    Queue,
)
from cc_core.routing.core import EngineConfig
from cc_core.routing.errors import (
    InvalidTransition,
    UnknownOffer,
    UnknownQueue,
)
from cc_core.routing.lifecycle import EngineLifecycle, check_presence
from cc_core.routing.outcomes import (
    Outcome,
    Trigger,
)
from cc_core.routing.standing import QueueStanding
from cc_core.routing.state import AgentRuntime, InteractionRuntime, Phase
from cc_core.routing.waiting import Entry

__all__ = ["Engine", "EngineConfig"]


class Engine(EngineLifecycle):
    """Skill-based routing for one contact centre. Not thread-safe: one caller at a time."""

    def __init__(self, queues: Iterable[Queue] = (), config: EngineConfig | None = None) -> None:
        super().__init__(config)
        queues = list(queues)
        for queue in queues:
            self._add_queue(queue)
        for queue in queues:
            self._check_overflow(queue)

    # ----------------------------------------------------------------- configuration

    def add_queue(self, queue: Queue) -> None:
        """Add a queue; its overflow target must already exist."""
        self._check_overflow(queue)
        self._add_queue(queue)

    def _check_overflow(self, queue: Queue) -> None:
        target = queue.overflow.queue if queue.overflow else None
        if target is not None and target not in self._queues and target != queue.id:
            raise UnknownQueue(target, f"overflow of queue {queue.id!r}")

    def _add_queue(self, queue: Queue) -> None:
        if queue.id in self._queues:
            raise InvalidTransition(f"queue {queue.id!r} already exists")
        self._queues[queue.id] = queue
        self._lines.add_queue(queue.id)
        self._ready.add_queue(queue)

    def add_agent(
        self,
        agent: Agent,
        now: float,
        state: AgentState = AgentState.LOGGED_OUT,
        reason: str | None = None,
    ) -> list[Outcome]:
        """Register an agent (logged out unless ``state`` says otherwise)."""
        out = self._begin(now)
        if agent.id in self._agents:
            raise InvalidTransition(f"agent {agent.id!r} already exists")
        self._check_agent_queues(agent)
        check_presence(state)
        rt = AgentRuntime(agent, len(self._by_rank), now)
        self._agents[agent.id] = rt
        self._by_rank.append(rt)
        self._ready.refresh(rt)
        if state is not AgentState.LOGGED_OUT:
            self._set_presence(rt, state, reason, now)
        return self._end(out)

    def update_agent(self, agent: Agent, now: float) -> list[Outcome]:
        """Replace an agent's skills, languages, capacity, queues or quality; keeps its state."""
        out = self._begin(now)
        rt = self._agent(agent.id)
        self._check_agent_queues(agent)
        rt.set_agent(agent)
        self._route_agent(rt, now)
        return self._end(out)

    def set_quality(self, agent_id: str, quality: float, now: float) -> list[Outcome]:
        """Feed a new edge-quality score (0..1) for the agent."""
        rt = self._agent(agent_id)
        return self.update_agent(dataclasses.replace(rt.agent, quality=quality), now)

    def remove_agent(self, agent_id: str, now: float) -> list[Outcome]:
        """Forget a logged-out agent that holds no slot."""
        out = self._begin(now)
        rt = self._agent(agent_id)
        if rt.presence is not AgentState.LOGGED_OUT or rt.held_total():
            raise InvalidTransition(f"agent {agent_id!r} must be logged out and idle to remove")
        self._ready.unindex(rt)
        del self._agents[agent_id]
        return self._end(out)

    def record_service(self, customer_id: str, agent_id: str, at: float) -> None:
        """Load past service (e.g. from the store at start-up) for sticky routing."""
        self._history.record(customer_id, agent_id, at)

    # ----------------------------------------------------------------- agent events

    def set_state(
        self, agent_id: str, state: AgentState, now: float, reason: str | None = None
    ) -> list[Outcome]:
        """Agent presence: READY, NOT_READY (with a reason) or LOGGED_OUT.

        RESERVED, BUSY and WRAP_UP are derived from the slots held and cannot be set.
        """
        out = self._begin(now)
        self._set_presence(self._agent(agent_id), state, reason, now)
        return self._end(out)

    def end_wrap_up(self, agent_id: str, now: float) -> list[Outcome]:
        """The agent finished wrap-up early: free every wrap-up slot it holds."""
        out = self._begin(now)
        rt = self._agent(agent_id)
        for wrap_id in sorted(rt.wrapups):
            self._finish_wrap(wrap_id, now)
        return self._end(out)

    # ----------------------------------------------------------------- interaction events

    def arrive(self, interaction: Interaction, now: float) -> list[Outcome]:
        """A new interaction joins its queue; it is offered at once if an agent fits."""
        out = self._begin(now)
        queue = self._queues.get(interaction.queue)
        if queue is None:
            raise UnknownQueue(interaction.queue, f"interaction {interaction.id!r}")
        if interaction.id in self._records:
            raise InvalidTransition(f"interaction {interaction.id!r} is already routed")
        self._seq += 1
        rec = InteractionRuntime(interaction, self._seq, queue)
        self._records[interaction.id] = rec
        self._by_seq[rec.seq] = rec
        self._enter(rec, queue, now)
        self._route_interaction(rec, now, Trigger.ARRIVAL)
        return self._end(out)

    def accept(self, offer_id: int, now: float) -> list[Outcome]:
        """The agent answered: the interaction is connected and holds the slot."""
        out = self._begin(now)
        offer = self._offers.pop(offer_id, None)  # _offer, inlined: one per assignment
        if offer is None:
            raise UnknownOffer(offer_id)
        rec = self._by_seq[offer.seq]
        rt = self._agents[offer.agent_id]
        del rt.offers[offer_id]
        rec.phase = Phase.CONNECTED
        rec.offer_id = None
        rec.accepted_at = now
        rec.epoch += 1  # step, sticky and max-wait timers no longer apply
        rt.contacts += 1
        rt.missed = 0
        if rec.interaction.customer_id is not None:
            self._history.record(rec.interaction.customer_id, rt.agent.id, now)
        self._ready.refresh(rt)
        self._out = []  # _end, inlined
        return out

    def reject(self, offer_id: int, now: float) -> list[Outcome]:
        """The agent declined: the interaction keeps its place and skips this agent."""
        out = self._begin(now)
        self._miss(self._offer(offer_id), now, no_answer=False)
        return self._end(out)

    def no_answer(self, offer_id: int, now: float) -> list[Outcome]:
        """The offer rang out (reported by the PBX): like reject, and counts toward
        the agent's consecutive no-answer limit."""
        out = self._begin(now)
        self._miss(self._offer(offer_id), now, no_answer=True)
        return self._end(out)

    def end(self, interaction_id: str, now: float) -> list[Outcome]:
        """The interaction is over: abandoned while waiting, hung up while ringing, or
        finished while connected (the slot then stays held for the queue's wrap-up)."""
        out = self._begin(now)
        rec = self._record(interaction_id)
        self._forget(rec)
        if rec.phase is Phase.WAITING:
            self._lines.unqueue(rec, self._agents)
        elif rec.phase is Phase.OFFERED:
            assert rec.offer_id is not None
            offer = self._offers.pop(rec.offer_id)
            rt = self._agents[offer.agent_id]
            del rt.offers[offer.offer_id]
            self._free_slot(rt, offer.channel, now)
        else:
            rt = self._agents[rec.agent_id or ""]
            if self._release_connected(rt, rec, now):
                self._free_slot(rt, rec.interaction.channel, now)
        return self._end(out)

    def transfer(self, interaction_id: str, queue_id: str, now: float) -> list[Outcome]:
        """Move a waiting or connected interaction to another queue, keeping its arrival.

        A connected interaction's agent goes to wrap-up and is excluded for it.
        """
        out = self._begin(now)
        rec = self._record(interaction_id)
        queue = self._queues.get(queue_id)
        if queue is None:
            raise UnknownQueue(queue_id, f"transfer of {interaction_id!r}")
        if rec.phase is Phase.OFFERED:
            raise InvalidTransition(
                f"interaction {interaction_id!r} is being offered; resolve the offer first"
            )
        if rec.phase is Phase.WAITING:
            self._lines.unqueue(rec, self._agents)
            self._enter(rec, queue, now)
            self._route_interaction(rec, now, Trigger.ARRIVAL)
            return self._end(out)
        rt = self._agents[rec.agent_id or ""]
        free = self._release_connected(rt, rec, now)
        self._exclude(rec, rt.agent.id)
        rec.phase = Phase.WAITING
        rec.agent_id = None
        self._enter(rec, queue, now)
        self._route_interaction(rec, now, Trigger.ARRIVAL)
        if free:
            self._free_slot(rt, rec.interaction.channel, now)
        return self._end(out)

    # ----------------------------------------------------------------- timers

    def next_timer(self) -> float | None:
        """The earliest time the engine must be woken with ``on_timer``, or None."""
        return self._timers.next_due(self._timer_valid)

    def on_timer(self, now: float) -> list[Outcome]:
        """Fire every timer due at or before ``now`` (each at its own due time)."""
        return self._end(self._begin(now))

    # ----------------------------------------------------------------- queries

    def agent_state(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).state()

    def agent_reason(self, agent_id: str) -> str | None:
        return self._agent(agent_id).reason

    def agent_presence(self, agent_id: str) -> AgentState:
        """READY, NOT_READY or LOGGED_OUT: what the agent chose, which ``agent_state`` shows
        once no offer, call or wrap-up is held."""
        return self._agent(agent_id).presence

    def agent_counters(self, agent_id: str) -> tuple[int, float]:
        """(contacts accepted, seconds talked) since start or the last daily reset."""
        rt = self._agent(agent_id)
        return rt.contacts, rt.talk

    def reset_daily_counters(self, now: float) -> list[Outcome]:
        """Start a new day for "fewest contacts" and "least talk time"."""
        out = self._begin(now)
        for rt in self._agents.values():
            rt.contacts = 0
            rt.talk = 0.0
            self._ready.refresh(rt)
        return self._end(out)

    def held_slots(self, agent_id: str) -> dict[ChannelKind, int]:
        return {k: n for k, n in self._agent(agent_id).held.items() if n}

    def interaction_phase(self, interaction_id: str) -> str:
        """'waiting', 'offered' or 'connected'."""
        return self._record(interaction_id).phase.value

    def interaction_queue(self, interaction_id: str) -> str:
        return self._record(interaction_id).queue.id

    def interaction_step(self, interaction_id: str) -> int:
        return self._record(interaction_id).step

    def waiting_count(self, queue_id: str | None = None) -> int:
        recs = self._records.values()
        if queue_id is None:
            return sum(1 for r in recs if r.phase is Phase.WAITING)
        return sum(1 for r in recs if r.phase is Phase.WAITING and r.queue.id == queue_id)

    def queue_standing(self, queue_id: str) -> QueueStanding:
        """The queue's waiting interactions in the engine's order and its logged-in agents.

        Read-only. Inside one queue that order does not change with time (one aging rate per
        queue: see ranking.py), so no clock is needed."""
        if queue_id not in self._queues:
            raise UnknownQueue(queue_id, "queue standing")
        return self._standings((queue_id,))[queue_id]

    def standings(self) -> dict[str, QueueStanding]:
        """``queue_standing`` of every queue, the agents and sticky waits read once."""
        return self._standings(self._queues)

    def _standings(self, queue_ids: Iterable[str]) -> dict[str, QueueStanding]:
        agents = dict.fromkeys(queue_ids, 0)  # in the order asked for
        # Sticky interactions wait on their preferred agents' sets, not in the lines.
        sticky: dict[str, list[Entry]] = {}
        seen: set[int] = set()
        for rt in self._agents.values():
            if rt.presence is not AgentState.LOGGED_OUT:
                for queue_id in rt.agent.queues:
                    if queue_id in agents:
                        agents[queue_id] += 1
            for seq in rt.sticky:
                if seq in seen:
                    continue
                seen.add(seq)
                rec = self._by_seq.get(seq)
                if rec is not None and rec.phase is Phase.WAITING and rec.queue.id in agents:
                    sticky.setdefault(rec.queue.id, []).append(rec.line_entry())
        by_seq = self._by_seq
        result = {}
        for queue_id in agents:
            # Line entries sort as the engine picks: (-score key, arrival, arrival order).
            entries = self._lines.lined(queue_id) + sticky.get(queue_id, [])
            entries.sort()
            waiting = tuple(by_seq[entry[2]].interaction.id for entry in entries)
            result[queue_id] = QueueStanding(queue_id, waiting, agents[queue_id])
        return result

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def agent_ids(self) -> list[str]:
        return list(self._agents)
