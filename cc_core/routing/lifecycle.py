"""How events and timers change the engine's state: presence, slots, misses, overflow.

Each move ends by routing what it freed (see ``EngineCore``): an interaction back in line, an
agent with a free slot.
"""

from __future__ import annotations

from cc_core.domain import (
    PRESENCE_STATES,
    AgentState,
    ChannelKind,
    Queue,
)
from cc_core.routing import ranking
from cc_core.routing.core import NO_ANSWER_REASON, EngineCore, PendingOffer
from cc_core.routing.errors import (
    ClockWentBack,
    InvalidTransition,
)
from cc_core.routing.outcomes import (
    AgentAutoNotReady,
    Exited,
    OfferExpired,
    Outcome,
    Overflowed,
    Trigger,
    WrapUpEnded,
)
from cc_core.routing.state import AgentRuntime, InteractionRuntime, Phase
from cc_core.routing.timers import Timer, TimerKind

DAY = 86400.0


class EngineLifecycle(EngineCore):
    """State changes and timer firing."""

    def _begin(self, now: float) -> list[Outcome]:
        if now < self._now:
            raise ClockWentBack(now, self._now)
        out = self._out
        heap = self._timers.heap
        if heap and heap[0][0] <= now:  # most calls have no timer due: skip the loop
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

    # ----------------------------------------------------------------- state changes

    def _set_presence(
        self, rt: AgentRuntime, state: AgentState, reason: str | None, now: float
    ) -> None:
        check_presence(state)
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
        rt.release(channel)
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

    def _miss(self, offer: PendingOffer, now: float, *, no_answer: bool) -> None:
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


def check_presence(state: AgentState) -> None:
    if state not in PRESENCE_STATES:
        raise InvalidTransition(
            f"agent state {getattr(state, 'value', state)!r} cannot be set: RESERVED, BUSY and "
            "WRAP_UP are derived by the engine; set one of ready, not_ready, logged_out"
        )
