"""A naive routing engine: the same rules as cc_core.routing.Engine, no indexes at all.

Every decision scans every agent or every waiting interaction; every timer check scans every
pending deadline. It is slow on purpose and written to be read against docs/routing.md. The
property tests feed both engines the same calls and require the same outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cc_core.domain import (
    Agent,
    AgentState,
    ChannelKind,
    Interaction,
    Queue,
    Strategy,
)
from cc_core.routing import (
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
from cc_core.routing.ranking import RANDOM_TRIES, random_draw

DAY = 86400.0


@dataclass
class RefAgent:
    agent: Agent
    rank: int
    last_activity: float
    presence: AgentState = AgentState.LOGGED_OUT
    reason: str | None = None
    held: dict[ChannelKind, int] = field(default_factory=dict)
    offers: set[int] = field(default_factory=set)
    wraps: set[int] = field(default_factory=set)
    contacts: int = 0
    talk: float = 0.0
    offers_made: int = 0
    missed: int = 0


@dataclass
class RefInteraction:
    interaction: Interaction
    seq: int
    queue: Queue
    entered: float = 0.0
    step: int = 0
    phase: str = "waiting"
    excluded: set[str] = field(default_factory=set)
    sticky_agents: tuple[str, ...] = ()
    sticky_until: float | None = None
    next_step_at: float | None = None
    max_wait_at: float | None = None
    overdue: bool = False
    agent_id: str | None = None
    offer_id: int | None = None
    accepted_at: float = 0.0


@dataclass
class RefOffer:
    seq: int
    agent_id: str
    channel: ChannelKind
    expires: float


@dataclass
class RefWrap:
    agent_id: str
    interaction_id: str
    channel: ChannelKind
    due: float


class ReferenceEngine:
    def __init__(
        self, queues: list[Queue], no_answer_limit: int = 3, seed: int = 0, memory: int = 3
    ) -> None:
        self.queues = {q.id: q for q in queues}
        self.no_answer_limit = no_answer_limit
        self.seed = seed
        self.memory = memory
        self.agents: dict[str, RefAgent] = {}
        self.ranked: list[RefAgent] = []
        self.interactions: dict[str, RefInteraction] = {}
        self.offers: dict[int, RefOffer] = {}
        self.wraps: dict[int, RefWrap] = {}
        self.rr_last = {q.id: -1 for q in queues}
        self.picks = {q.id: 0 for q in queues}
        self.history: dict[str, list[tuple[str, float]]] = {}
        self.seq = self.offer_seq = self.wrap_seq = 0
        self.out: list[Outcome] = []

    # ------------------------------------------------------------- rules, written plainly

    def requirements(self, rec: RefInteraction) -> tuple[dict[str, int], str | None]:
        step = rec.queue.steps[rec.step]
        need: dict[str, int] = {}
        listed = list(step.requirements)
        if step.include_interaction_skills:
            listed += list(rec.interaction.skills)
        for req in listed:
            need[req.skill] = max(need.get(req.skill, 0), req.min_level)
        return need, (listed[0].skill if listed else None)

    def can_take(self, ra: RefAgent, channel: ChannelKind) -> bool:
        cap = ra.agent.capacity
        if ra.held.get(channel, 0) + 1 > cap.limits.get(channel, 0):
            return False
        busy = sum(ra.held.values())
        if any(n > 0 and c in cap.exclusive for c, n in ra.held.items()):
            return False
        return not (channel in cap.exclusive and busy > 0)

    def eligible(self, ra: RefAgent, rec: RefInteraction) -> bool:
        it, queue = rec.interaction, rec.queue
        need, _ = self.requirements(rec)
        if rec.sticky_agents and ra.agent.id not in rec.sticky_agents:
            return False
        return (
            ra.presence is AgentState.READY
            and queue.id in ra.agent.queues
            and ra.agent.quality >= queue.min_quality
            and self.can_take(ra, it.channel)
            and ra.agent.id not in rec.excluded
            and (
                it.language is None
                or queue.steps[rec.step].any_language
                or it.language in ra.agent.languages
            )
            and all(ra.agent.skills.get(s, 0) >= lvl for s, lvl in need.items())
        )

    def neg_key(self, rec: RefInteraction) -> tuple[float, float]:
        queue, it = rec.queue, rec.interaction
        base = it.priority + (queue.vip_boost if it.vip else 0.0)
        rate = queue.aging_rate
        if queue.sla_ordering:
            base, rate = base - (queue.sla_target or 0.0), 1.0
        return -(base - rate * it.arrival), rate

    def score(self, rec: RefInteraction, t: float) -> float:
        neg, rate = self.neg_key(rec)
        return -neg + rate * t

    def agent_key(self, ra: RefAgent, rec: RefInteraction) -> tuple:
        queue = rec.queue
        wq = queue.quality_weight * ra.agent.quality
        s = queue.strategy
        if s is Strategy.LONGEST_IDLE:
            return (ra.last_activity - wq, ra.rank)
        if s is Strategy.FEWEST_CONTACTS:
            return (ra.contacts - wq, ra.last_activity, ra.rank)
        if s is Strategy.LEAST_TALK_TIME:
            return (ra.talk - wq, ra.last_activity, ra.rank)
        if s is Strategy.RANDOM:
            return (ra.rank,)
        if s is Strategy.ROUND_ROBIN:
            return (ra.rank <= self.rr_last[queue.id], ra.rank)
        _, primary = self.requirements(rec)
        level = ra.agent.skills.get(primary, 0) if primary else 0
        return (-level - wq, ra.last_activity, ra.rank)

    def rank_value(self, ra: RefAgent, rec: RefInteraction) -> float:
        if rec.queue.strategy in (Strategy.ROUND_ROBIN, Strategy.RANDOM):
            return float(ra.rank)
        return float(self.agent_key(ra, rec)[0])

    def sticky_alive(self, rec: RefInteraction) -> bool:
        return any(
            a in self.agents
            and self.agents[a].presence is not AgentState.LOGGED_OUT
            and a not in rec.excluded
            for a in rec.sticky_agents
        )

    # ------------------------------------------------------------- decisions by full scan

    def route_interaction(self, rec: RefInteraction, now: float, trigger: Trigger) -> None:
        if rec.sticky_agents:
            for agent_id in rec.sticky_agents:
                ra = self.agents.get(agent_id)
                if ra is not None and self.eligible(ra, rec):
                    self.offer(ra, rec, now, trigger, True)
                    return
            return
        fits = [ra for ra in self.ranked if ra.agent.id in self.agents and self.eligible(ra, rec)]
        if fits and rec.queue.strategy is Strategy.RANDOM:
            self.offer(self.random_choice(rec, fits), rec, now, trigger, False)
        elif fits:
            best = min(fits, key=lambda ra: self.agent_key(ra, rec))
            self.offer(best, rec, now, trigger, False)

    def random_choice(self, rec: RefInteraction, fits: list[RefAgent]) -> RefAgent:
        """Draw positions among the queue's ready agents able to take the channel (by rank);
        the first eligible one drawn wins, else the eligible one with the smallest own draw."""
        queue, channel = rec.queue, rec.interaction.channel
        ready = [
            ra
            for ra in self.ranked
            if ra.presence is AgentState.READY
            and queue.id in ra.agent.queues
            and ra.agent.quality >= queue.min_quality
            and self.can_take(ra, channel)
        ]
        pick = self.picks[queue.id]
        for k in range(RANDOM_TRIES):
            drawn = ready[int(random_draw(self.seed, queue.id, pick, f"#{k}") * len(ready))]
            if drawn in fits:
                return drawn
        return min(fits, key=lambda ra: random_draw(self.seed, queue.id, pick, ra.agent.id))

    def best_for_agent(self, ra: RefAgent, now: float) -> RefInteraction | None:
        waiting = [
            r for r in self.interactions.values() if r.phase == "waiting" and self.eligible(ra, r)
        ]
        by_prio: dict[int, list[RefInteraction]] = {}
        for queue_id, prio in ra.agent.queues.items():
            mine = [r for r in waiting if r.queue.id == queue_id]
            if mine:
                head = min(mine, key=lambda r: (self.neg_key(r)[0], r.interaction.arrival, r.seq))
                by_prio.setdefault(prio, []).append(head)
        if not by_prio:
            return None
        heads = by_prio[min(by_prio)]
        return min(heads, key=lambda r: (-self.score(r, now), r.interaction.arrival, r.seq))

    def route_agent(self, ra: RefAgent, now: float) -> None:
        while ra.presence is AgentState.READY:
            rec = self.best_for_agent(ra, now)
            if rec is None:
                return
            self.offer(ra, rec, now, Trigger.AGENT, bool(rec.sticky_agents))

    def offer(
        self, ra: RefAgent, rec: RefInteraction, now: float, trigger: Trigger, sticky: bool
    ) -> None:
        queue, it = rec.queue, rec.interaction
        need, _ = self.requirements(rec)
        rank_value = self.rank_value(ra, rec)
        self.offer_seq += 1
        ra.held[it.channel] = ra.held.get(it.channel, 0) + 1
        ra.offers.add(self.offer_seq)
        ra.last_activity = now
        ra.offers_made += 1
        self.picks[queue.id] += 1
        rec.phase, rec.offer_id, rec.agent_id = "offered", self.offer_seq, ra.agent.id
        self.rr_last[queue.id] = ra.rank
        expires = now + queue.offer_timeout
        self.offers[self.offer_seq] = RefOffer(rec.seq, ra.agent.id, it.channel, expires)
        parts = [f"{s}>={lvl}" for s, lvl in sorted(need.items())]
        if it.language is not None and not queue.steps[rec.step].any_language:
            parts.append(f"lang={it.language}")
        reason = Reason(
            trigger,
            queue.strategy,
            rec.step,
            ", ".join(parts) or "any member",
            rank_value,
            self.score(rec, now),
            ra.agent.quality,
            queue.min_quality,
            sticky,
        )
        self.out.append(
            Offer(self.offer_seq, it.id, ra.agent.id, queue.id, it.channel, now, expires, reason)
        )

    # ------------------------------------------------------------- state changes

    def enter(self, rec: RefInteraction, queue: Queue, now: float) -> None:
        rec.queue, rec.entered, rec.step, rec.phase, rec.overdue = queue, now, 0, "waiting", False
        starts = queue.step_starts()
        rec.next_step_at = now + starts[1] if len(starts) > 1 else None
        rec.max_wait_at = now + queue.max_wait if queue.max_wait is not None else None
        rec.sticky_agents, rec.sticky_until = (), None
        customer = rec.interaction.customer_id
        if queue.sticky_seconds > 0 and customer is not None:
            since = now - queue.sticky_days * DAY
            prefer = tuple(
                a
                for a, t in self.history.get(customer, [])
                if t >= since
                and a in self.agents
                and self.agents[a].presence is not AgentState.LOGGED_OUT
                and queue.id in self.agents[a].agent.queues
                and a not in rec.excluded
            )
            if prefer:
                rec.sticky_agents, rec.sticky_until = prefer, now + queue.sticky_seconds

    def free_slot(self, ra: RefAgent, channel: ChannelKind, now: float) -> None:
        ra.held[channel] -= 1
        ra.last_activity = now
        self.route_agent(ra, now)

    def release_connected(self, ra: RefAgent, rec: RefInteraction, now: float) -> bool:
        ra.talk += now - rec.accepted_at
        if rec.queue.wrap_up <= 0:
            return True
        self.wrap_seq += 1
        ra.wraps.add(self.wrap_seq)
        self.wraps[self.wrap_seq] = RefWrap(
            ra.agent.id, rec.interaction.id, rec.interaction.channel, now + rec.queue.wrap_up
        )
        return False

    def finish_wrap(self, wrap_id: int, now: float) -> None:
        wrap = self.wraps.pop(wrap_id)
        ra = self.agents[wrap.agent_id]
        ra.wraps.discard(wrap_id)
        self.out.append(WrapUpEnded(wrap.agent_id, wrap.interaction_id, now))
        self.free_slot(ra, wrap.channel, now)

    def miss(self, offer_id: int, now: float, no_answer: bool) -> None:
        offer = self.offers.pop(offer_id)
        rec = next(r for r in self.interactions.values() if r.seq == offer.seq)
        ra = self.agents[offer.agent_id]
        ra.offers.discard(offer_id)
        if no_answer:
            ra.missed += 1
            limit = rec.queue.no_answer_limit
            if limit is None:
                limit = self.no_answer_limit
            if limit and ra.missed >= limit and ra.presence is AgentState.READY:
                ra.presence, ra.reason = AgentState.NOT_READY, "no-answer"
                self.out.append(AgentAutoNotReady(ra.agent.id, "no-answer", ra.missed, now))
                ra.missed = 0
        rec.excluded.add(ra.agent.id)
        rec.phase, rec.offer_id, rec.agent_id = "waiting", None, None
        if rec.sticky_agents and not self.sticky_alive(rec):
            rec.sticky_agents, rec.sticky_until = (), None
        if rec.overdue:
            self.leave(rec, now)
        else:
            self.route_interaction(rec, now, Trigger.ARRIVAL)
        self.free_slot(ra, offer.channel, now)

    def leave(self, rec: RefInteraction, now: float) -> None:
        overflow = rec.queue.overflow
        assert overflow is not None
        if overflow.queue is not None:
            self.out.append(Overflowed(rec.interaction.id, rec.queue.id, overflow.queue, now))
            self.enter(rec, self.queues[overflow.queue], now)
            self.route_interaction(rec, now, Trigger.ARRIVAL)
        else:
            assert overflow.exit is not None
            del self.interactions[rec.interaction.id]
            self.out.append(Exited(rec.interaction.id, rec.queue.id, overflow.exit, now))

    def end_sticky(self, rec: RefInteraction, now: float) -> None:
        rec.sticky_agents, rec.sticky_until = (), None
        if rec.phase == "waiting":
            self.route_interaction(rec, now, Trigger.STICKY_END)

    # ------------------------------------------------------------- timers by full scan

    def pending_timers(self) -> list[tuple[float, int, int]]:
        timers = [(o.expires, 0, oid) for oid, o in self.offers.items()]
        timers += [(w.due, 1, wid) for wid, w in self.wraps.items()]
        for rec in self.interactions.values():
            if rec.phase == "connected":
                continue
            if rec.sticky_agents and rec.sticky_until is not None:
                timers.append((rec.sticky_until, 2, rec.seq))
            if rec.next_step_at is not None:
                timers.append((rec.next_step_at, 3, rec.seq))
            if rec.max_wait_at is not None:
                timers.append((rec.max_wait_at, 4, rec.seq))
        return timers

    def advance(self, now: float) -> None:
        while True:
            due = [t for t in self.pending_timers() if t[0] <= now]
            if not due:
                return
            at, kind, ordinal = min(due)
            if kind == 0:
                offer = self.offers[ordinal]
                rec = next(r for r in self.interactions.values() if r.seq == offer.seq)
                self.out.append(OfferExpired(ordinal, rec.interaction.id, offer.agent_id, at))
                self.miss(ordinal, at, True)
                continue
            if kind == 1:
                self.finish_wrap(ordinal, at)
                continue
            rec = next(r for r in self.interactions.values() if r.seq == ordinal)
            if kind == 2:
                self.end_sticky(rec, at)
            elif kind == 3:
                rec.step += 1
                starts = rec.queue.step_starts()
                more = rec.step + 1 < len(starts)
                rec.next_step_at = rec.entered + starts[rec.step + 1] if more else None
                if rec.phase == "waiting":
                    self.route_interaction(rec, at, Trigger.STEP)
            else:
                rec.max_wait_at = None
                if rec.phase == "waiting":
                    self.leave(rec, at)
                else:
                    rec.overdue = True

    def next_timer(self) -> float | None:
        timers = self.pending_timers()
        return min(timers)[0] if timers else None

    # ------------------------------------------------------------- the public calls

    def _run(self, now: float) -> list[Outcome]:
        self.out = []
        self.advance(now)
        return self.out

    def add_agent(self, agent: Agent, now: float, state: AgentState, reason: str | None = None):
        out = self._run(now)
        ra = RefAgent(agent, len(self.ranked), now)
        self.agents[agent.id] = ra
        self.ranked.append(ra)
        if state is not AgentState.LOGGED_OUT:
            self.set_presence(ra, state, reason, now)
        return out

    def set_presence(self, ra: RefAgent, state: AgentState, reason: str | None, now: float):
        previous = ra.presence
        ra.presence = state
        ra.reason = reason if state is AgentState.NOT_READY else None
        if state is AgentState.READY:
            if previous is not AgentState.READY:
                ra.last_activity = now
            self.route_agent(ra, now)
        elif state is AgentState.LOGGED_OUT:
            for rec in sorted(self.interactions.values(), key=lambda r: r.seq):
                if (
                    rec.phase == "waiting"
                    and ra.agent.id in rec.sticky_agents
                    and not self.sticky_alive(rec)
                ):
                    self.end_sticky(rec, now)

    def set_state(self, agent_id: str, state: AgentState, now: float, reason: str | None = None):
        out = self._run(now)
        self.set_presence(self.agents[agent_id], state, reason, now)
        return out

    def update_agent(self, agent: Agent, now: float):
        out = self._run(now)
        ra = self.agents[agent.id]
        ra.agent = agent
        self.route_agent(ra, now)
        return out

    def end_wrap_up(self, agent_id: str, now: float):
        out = self._run(now)
        for wrap_id in sorted(self.agents[agent_id].wraps):
            self.finish_wrap(wrap_id, now)
        return out

    def arrive(self, interaction: Interaction, now: float):
        out = self._run(now)
        self.seq += 1
        rec = RefInteraction(interaction, self.seq, self.queues[interaction.queue])
        self.interactions[interaction.id] = rec
        self.enter(rec, rec.queue, now)
        self.route_interaction(rec, now, Trigger.ARRIVAL)
        return out

    def accept(self, offer_id: int, now: float):
        out = self._run(now)
        offer = self.offers.pop(offer_id)
        rec = next(r for r in self.interactions.values() if r.seq == offer.seq)
        ra = self.agents[offer.agent_id]
        ra.offers.discard(offer_id)
        rec.phase, rec.offer_id, rec.accepted_at = "connected", None, now
        ra.contacts += 1
        ra.missed = 0
        customer = rec.interaction.customer_id
        if customer is not None and self.memory:
            served = [(a, t) for a, t in self.history.get(customer, []) if a != ra.agent.id]
            served.append((ra.agent.id, now))
            served.sort(key=lambda item: -item[1])
            self.history[customer] = served[: self.memory]
        return out

    def reject(self, offer_id: int, now: float):
        out = self._run(now)
        self.miss(offer_id, now, False)
        return out

    def no_answer(self, offer_id: int, now: float):
        out = self._run(now)
        self.miss(offer_id, now, True)
        return out

    def end(self, interaction_id: str, now: float):
        out = self._run(now)
        rec = self.interactions.pop(interaction_id)
        if rec.phase == "offered":
            assert rec.offer_id is not None
            offer = self.offers.pop(rec.offer_id)
            ra = self.agents[offer.agent_id]
            ra.offers.discard(rec.offer_id)
            self.free_slot(ra, offer.channel, now)
        elif rec.phase == "connected":
            ra = self.agents[rec.agent_id or ""]
            if self.release_connected(ra, rec, now):
                self.free_slot(ra, rec.interaction.channel, now)
        return out

    def transfer(self, interaction_id: str, queue_id: str, now: float):
        out = self._run(now)
        rec = self.interactions[interaction_id]
        queue = self.queues[queue_id]
        if rec.phase == "waiting":
            self.enter(rec, queue, now)
            self.route_interaction(rec, now, Trigger.ARRIVAL)
            return out
        ra = self.agents[rec.agent_id or ""]
        free = self.release_connected(ra, rec, now)
        rec.excluded.add(ra.agent.id)
        rec.agent_id = None
        self.enter(rec, queue, now)
        self.route_interaction(rec, now, Trigger.ARRIVAL)
        if free:
            self.free_slot(ra, rec.interaction.channel, now)
        return out

    def on_timer(self, now: float):
        return self._run(now)

    def waiting_count(self) -> int:
        return sum(1 for r in self.interactions.values() if r.phase == "waiting")

    # ------------------------------------------------------------- checks for the tests

    def unstable_pairs(self) -> list[tuple[str, str]]:
        """(interaction, agent) pairs that should have been offered but were not."""
        return [
            (rec.interaction.id, ra.agent.id)
            for rec in self.interactions.values()
            if rec.phase == "waiting"
            for ra in self.agents.values()
            if self.eligible(ra, rec)
        ]
