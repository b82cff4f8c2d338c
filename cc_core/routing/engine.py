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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from cc_core.domain import (
    PRESENCE_STATES,
    Agent,
    AgentState,
    ChannelKind,
    DomainError,
    Interaction,
    Queue,
)
from cc_core.routing import ranking
from cc_core.routing.errors import (
    ClockWentBack,
    InvalidTransition,
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
from cc_core.routing.ready import ReadyAgents
from cc_core.routing.requirements import EligibilityClass, fits
from cc_core.routing.state import AgentRuntime, InteractionRuntime, Phase
from cc_core.routing.sticky import ServiceHistory
from cc_core.routing.timers import Timer, TimerKind, Timers
from cc_core.routing.waiting import WaitingLines

DAY = 86400.0
NO_ANSWER_REASON = "no-answer"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings.

    ``no_answer_limit``: consecutive unanswered offers that put an agent in not-ready (0 turns
    it off); a queue's own ``no_answer_limit`` wins for offers from that queue.
    ``seed``: drives the random strategy. ``sticky_memory``: previous agents kept per customer.
    """

    no_answer_limit: int = 3
    seed: int = 0
    sticky_memory: int = 3

    def __post_init__(self) -> None:
        for name in ("no_answer_limit", "sticky_memory"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DomainError("engine config", name, "an integer >= 0", value)


class _PendingOffer(NamedTuple):
    offer_id: int
    seq: int
    agent_id: str
    channel: ChannelKind


class Engine:
    """Skill-based routing for one contact centre. Not thread-safe: one caller at a time."""

    def __init__(self, queues: Iterable[Queue] = (), config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._queues: dict[str, Queue] = {}
        self._agents: dict[str, AgentRuntime] = {}
        self._by_rank: list[AgentRuntime] = []
        self._records: dict[str, InteractionRuntime] = {}
        self._by_seq: dict[int, InteractionRuntime] = {}
        self._offers: dict[int, _PendingOffer] = {}
        # wrap-up id -> (agent id, interaction id, channel)
        self._wraps: dict[int, tuple[str, str, ChannelKind]] = {}
        self._ready = ReadyAgents(self._queues, self._by_rank, self.config.seed)
        self._lines = WaitingLines()
        self._timers = Timers()
        self._history = ServiceHistory(self.config.sticky_memory)
        self._now = float("-inf")
        self._seq = 0
        self._offer_seq = 0
        self._wrap_seq = 0
        # Outcomes of the call in progress; still filled at the next call if a call raised
        # after its timers fired, so those decisions are returned then, not lost.
        self._out: list[Outcome] = []
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
        _check_presence(state)
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
        offer = self._offer(offer_id)
        del self._offers[offer_id]
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
        return self._end(out)

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

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def agent_ids(self) -> list[str]:
        return list(self._agents)

    # ================================================================= internals

    def _begin(self, now: float) -> list[Outcome]:
        if now < self._now:
            raise ClockWentBack(now, self._now)
        out = self._out
        while True:
            timer = self._timers.pop_due(now, self._timer_valid)
            if timer is None:
                break
            self._fire(timer)
        self._now = now
        return out

    def _end(self, out: list[Outcome]) -> list[Outcome]:
        self._out = []
        return out

    def _agent(self, agent_id: str) -> AgentRuntime:
        rt = self._agents.get(agent_id)
        if rt is None:
            raise UnknownAgent(agent_id)
        return rt

    def _record(self, interaction_id: str) -> InteractionRuntime:
        rec = self._records.get(interaction_id)
        if rec is None:
            raise UnknownInteraction(interaction_id)
        return rec

    def _offer(self, offer_id: int) -> _PendingOffer:
        offer = self._offers.get(offer_id)
        if offer is None:
            raise UnknownOffer(offer_id)
        return offer

    def _check_agent_queues(self, agent: Agent) -> None:
        for queue_id in agent.queues:
            if queue_id not in self._queues:
                raise UnknownQueue(queue_id, f"agent {agent.id!r}")

    def _forget(self, rec: InteractionRuntime) -> None:
        del self._records[rec.interaction.id]
        del self._by_seq[rec.seq]
        rec.epoch += 1

    @staticmethod
    def _exclude(rec: InteractionRuntime, agent_id: str) -> None:
        if rec.excluded is None:
            rec.excluded = set()
        rec.excluded.add(agent_id)

    # ----------------------------------------------------------------- agent index

    # ----------------------------------------------------------------- waiting lines

    def _enter(self, rec: InteractionRuntime, queue: Queue, now: float) -> None:
        """Place ``rec`` at step 0 of ``queue`` (not yet in a line) and arm its timers."""
        rec.queue = queue
        rec.entered = now
        rec.step = 0
        rec.class_step = -1
        rec.epoch += 1
        rec.overdue = False
        rec.phase = Phase.WAITING
        rec.neg_key, rec.rate = ranking.neg_key(queue, rec.interaction)
        seq, epoch = rec.seq, rec.epoch
        rec.step_due = None
        if len(queue.steps) > 1:
            rec.step_due = now + (queue.steps[0].duration or 0.0)
            self._timers.push(rec.step_due, TimerKind.STEP, seq, epoch)
        rec.max_wait_due = None
        if queue.max_wait is not None:
            rec.max_wait_due = now + queue.max_wait
            self._timers.push(rec.max_wait_due, TimerKind.MAX_WAIT, seq, epoch)
        rec.sticky_agents = ()
        rec.sticky_due = None
        customer = rec.interaction.customer_id
        if queue.sticky_seconds > 0 and customer is not None:
            since = now - queue.sticky_days * DAY
            prefer = []
            for agent_id in self._history.agents_since(customer, since):
                rt = self._agents.get(agent_id)
                if (
                    rt is not None
                    and rt.presence is not AgentState.LOGGED_OUT
                    and queue.id in rt.agent.queues
                    and not rec.excludes(agent_id)
                ):
                    prefer.append(agent_id)
            if prefer:
                rec.sticky_agents = tuple(prefer)
                rec.sticky_due = now + queue.sticky_seconds
                self._timers.push(rec.sticky_due, TimerKind.STICKY_END, seq, epoch)

    def _sticky_alive(self, rec: InteractionRuntime) -> bool:
        for agent_id in rec.sticky_agents:
            rt = self._agents.get(agent_id)
            if (
                rt is not None
                and rt.presence is not AgentState.LOGGED_OUT
                and not rec.excludes(agent_id)
            ):
                return True
        return False

    # ----------------------------------------------------------------- matching

    def _eligible(self, rt: AgentRuntime, rec: InteractionRuntime, cls: EligibilityClass) -> bool:
        """Full check, for the few agents not found through the index (sticky ones)."""
        queue = rec.queue
        return (
            rt.presence is AgentState.READY
            and queue.id in rt.agent.queues
            and rt.agent.quality >= queue.min_quality
            and rt.can_take(cls.channel)
            and not rec.excludes(rt.agent.id)
            and fits(rt.agent, cls)
        )

    def _route_interaction(self, rec: InteractionRuntime, now: float, trigger: Trigger) -> None:
        """Offer ``rec`` (waiting, in no line) to its best agent, or queue it."""
        cls = self._lines.rec_class(rec)[1]
        if rec.sticky_agents:
            for agent_id in rec.sticky_agents:
                rt = self._agents.get(agent_id)
                if rt is not None and self._eligible(rt, rec, cls):
                    self._make_offer(rt, rec, cls, now, trigger, sticky=True)
                    self._ready.refresh(rt)
                    return
            self._lines.enqueue(rec, self._agents)
            return
        for entry in self._ready.ranked(rec, cls):
            rt = self._by_rank[entry[-1]]
            if fits(rt.agent, cls) and not rec.excludes(rt.agent.id):
                self._make_offer(rt, rec, cls, now, trigger, agent_rank=entry[0])
                self._ready.refresh(rt)
                return
        self._lines.enqueue(rec, self._agents)

    def _route_agent(self, rt: AgentRuntime, now: float) -> None:
        """Fill the agent's free slots from the waiting lines, best first."""
        if rt.presence is AgentState.READY:
            memo: dict[tuple, tuple | None] = {}
            while True:
                rec = self._lines.best_for(rt, self._queues, self._by_seq, now, memo)
                if rec is None:
                    break
                sticky = bool(rec.sticky_agents)
                self._lines.unqueue(rec, self._agents)
                _cid, cls = self._lines.rec_class(rec)
                memo.pop((rec.queue.id, cls.channel, cls.language), None)
                self._make_offer(rt, rec, cls, now, Trigger.AGENT, sticky=sticky)
        self._ready.refresh(rt)

    def _make_offer(
        self,
        rt: AgentRuntime,
        rec: InteractionRuntime,
        cls: EligibilityClass,
        now: float,
        trigger: Trigger,
        *,
        sticky: bool = False,
        agent_rank: float | None = None,
    ) -> None:
        queue = rec.queue
        if agent_rank is None:
            level = rt.agent.skills.get(cls.primary or "", 0)
            agent_rank = ranking.agent_entry(
                queue.strategy,
                queue.quality_weight,
                rt.agent.quality,
                rt.rank,
                rt.last_activity,
                rt.contacts,
                rt.talk,
                level,
            )[0]
        self._offer_seq += 1
        offer_id = self._offer_seq
        channel = cls.channel
        rt.held[channel] = rt.held.get(channel, 0) + 1
        rt.slots_changed()
        rt.offers[offer_id] = rec.seq
        rt.last_activity = now
        rt.offers_made += 1
        rec.phase = Phase.OFFERED
        rec.offer_id = offer_id
        rec.agent_id = rt.agent.id
        self._offers[offer_id] = _PendingOffer(offer_id, rec.seq, rt.agent.id, channel)
        self._ready.note_offer(queue.id, rt.rank)
        expires = now + queue.offer_timeout
        self._timers.push(expires, TimerKind.OFFER_TIMEOUT, offer_id)
        reason = Reason(
            trigger=trigger,
            strategy=queue.strategy,
            step=rec.step,
            requirements=self._lines.class_text[self._lines.rec_class(rec)[0]],
            agent_rank=float(agent_rank),
            interaction_score=ranking.score_at(rec.neg_key, rec.rate, now),
            quality=rt.agent.quality,
            min_quality=queue.min_quality,
            sticky=sticky,
        )
        self._out.append(
            Offer(
                offer_id, rec.interaction.id, rt.agent.id, queue.id, channel, now, expires, reason
            )
        )

    # ----------------------------------------------------------------- state changes

    def _set_presence(
        self, rt: AgentRuntime, state: AgentState, reason: str | None, now: float
    ) -> None:
        _check_presence(state)
        previous = rt.presence
        rt.presence = state
        rt.reason = reason if state is AgentState.NOT_READY else None
        if state is AgentState.READY:
            if previous is not AgentState.READY:
                rt.last_activity = now
            self._route_agent(rt, now)
            return
        self._ready.refresh(rt)
        if state is AgentState.LOGGED_OUT:
            for seq in sorted(rt.sticky):
                rec = self._by_seq[seq]
                if not self._sticky_alive(rec):
                    self._end_sticky(rec, now)

    def _end_sticky(self, rec: InteractionRuntime, now: float) -> None:
        waiting = rec.phase is Phase.WAITING
        if waiting:
            self._lines.unqueue(rec, self._agents)
        rec.sticky_agents = ()
        rec.sticky_due = None
        if waiting:
            self._route_interaction(rec, now, Trigger.STICKY_END)

    def _free_slot(self, rt: AgentRuntime, channel: ChannelKind, now: float) -> None:
        rt.held[channel] -= 1
        rt.slots_changed()
        rt.last_activity = now
        self._route_agent(rt, now)

    def _release_connected(self, rt: AgentRuntime, rec: InteractionRuntime, now: float) -> bool:
        """Account the talk time; start wrap-up. True when the slot is free right away."""
        rt.talk += now - rec.accepted_at
        wrap = rec.queue.wrap_up
        if wrap <= 0:
            return True
        self._wrap_seq += 1
        due = now + wrap
        rt.wrapups[self._wrap_seq] = rec.interaction.id
        self._wraps[self._wrap_seq] = (rt.agent.id, rec.interaction.id, rec.interaction.channel)
        self._timers.push(due, TimerKind.WRAP_UP_END, self._wrap_seq)
        self._ready.refresh(rt)
        return False

    def _finish_wrap(self, wrap_id: int, now: float) -> None:
        agent_id, interaction_id, channel = self._wraps.pop(wrap_id)
        rt = self._agents[agent_id]
        del rt.wrapups[wrap_id]
        self._out.append(WrapUpEnded(agent_id, interaction_id, now))
        self._free_slot(rt, channel, now)

    def _miss(self, offer: _PendingOffer, now: float, *, no_answer: bool) -> None:
        """Reject or no-answer: the interaction goes back first, then the agent is freed."""
        del self._offers[offer.offer_id]
        rec = self._by_seq[offer.seq]
        rt = self._agents[offer.agent_id]
        del rt.offers[offer.offer_id]
        if no_answer:
            rt.missed += 1
            limit = rec.queue.no_answer_limit
            if limit is None:
                limit = self.config.no_answer_limit
            if limit and rt.missed >= limit and rt.presence is AgentState.READY:
                rt.presence = AgentState.NOT_READY
                rt.reason = NO_ANSWER_REASON
                self._out.append(AgentAutoNotReady(rt.agent.id, NO_ANSWER_REASON, rt.missed, now))
                rt.missed = 0
                self._ready.refresh(rt)
        self._exclude(rec, rt.agent.id)
        rec.phase = Phase.WAITING
        rec.offer_id = None
        rec.agent_id = None
        if rec.sticky_agents and not self._sticky_alive(rec):
            rec.sticky_agents = ()
            rec.sticky_due = None
        if rec.overdue:
            self._leave(rec, now)
        else:
            self._route_interaction(rec, now, Trigger.ARRIVAL)
        self._free_slot(rt, offer.channel, now)

    def _leave(self, rec: InteractionRuntime, now: float) -> None:
        """Max wait reached for a waiting interaction: overflow or exit."""
        queue = rec.queue
        overflow = queue.overflow
        assert overflow is not None
        if overflow.queue is not None:
            target = self._queues[overflow.queue]  # checked when the queue was added
            self._out.append(Overflowed(rec.interaction.id, queue.id, target.id, now))
            self._enter(rec, target, now)
            self._route_interaction(rec, now, Trigger.ARRIVAL)
        else:
            assert overflow.exit is not None
            self._forget(rec)
            self._out.append(Exited(rec.interaction.id, queue.id, overflow.exit, now))

    # ----------------------------------------------------------------- timer firing

    def _timer_valid(self, timer: Timer) -> bool:
        due, kind, ordinal, epoch = timer
        if kind == TimerKind.OFFER_TIMEOUT:
            return ordinal in self._offers
        if kind == TimerKind.WRAP_UP_END:
            return ordinal in self._wraps
        rec = self._by_seq.get(ordinal)
        if rec is None or rec.epoch != epoch:
            return False
        if kind == TimerKind.STEP:
            return rec.step_due == due
        if kind == TimerKind.STICKY_END:
            return rec.sticky_due == due and bool(rec.sticky_agents)
        return rec.max_wait_due == due  # MAX_WAIT

    def _fire(self, timer: Timer) -> None:
        due, kind, ordinal, _epoch = timer
        self._now = due
        if kind == TimerKind.OFFER_TIMEOUT:
            offer = self._offers[ordinal]
            rec = self._by_seq[offer.seq]
            self._out.append(OfferExpired(ordinal, rec.interaction.id, offer.agent_id, due))
            self._miss(offer, due, no_answer=True)
        elif kind == TimerKind.WRAP_UP_END:
            self._finish_wrap(ordinal, due)
        elif kind == TimerKind.STICKY_END:
            self._end_sticky(self._by_seq[ordinal], due)
        elif kind == TimerKind.STEP:
            self._relax(self._by_seq[ordinal], due)
        else:
            rec = self._by_seq[ordinal]
            rec.max_wait_due = None
            if rec.phase is Phase.WAITING:
                self._lines.unqueue(rec, self._agents)
                self._leave(rec, due)
            else:
                rec.overdue = True

    def _relax(self, rec: InteractionRuntime, now: float) -> None:
        queue = rec.queue
        waiting = rec.phase is Phase.WAITING
        if waiting:
            self._lines.unqueue(rec, self._agents)
        rec.step += 1
        rec.step_due = None
        if rec.step < len(queue.steps) - 1:
            rec.step_due = now + (queue.steps[rec.step].duration or 0.0)
            self._timers.push(rec.step_due, TimerKind.STEP, rec.seq, rec.epoch)
        if waiting:
            self._route_interaction(rec, now, Trigger.STEP)


def _check_presence(state: AgentState) -> None:
    if state not in PRESENCE_STATES:
        raise InvalidTransition(
            f"agent state {getattr(state, 'value', state)!r} cannot be set: RESERVED, BUSY and "
            "WRAP_UP are derived by the engine; set one of ready, not_ready, logged_out"
        )
