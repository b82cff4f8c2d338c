"""The engine's state and its matching moves: who takes what, and making the offer.

``EngineCore`` holds every record and index; ``EngineLifecycle`` (lifecycle.py) adds how events
and timers change that state; ``Engine`` (engine.py) is the public API on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from cc_core.domain import (
    Agent,
    AgentState,
    ChannelKind,
    DomainError,
    Queue,
)
from cc_core.routing import ranking
from cc_core.routing.errors import (
    UnknownAgent,
    UnknownInteraction,
    UnknownOffer,
    UnknownQueue,
)
from cc_core.routing.outcomes import (
    Offer,
    Outcome,
    Reason,
    Trigger,
)
from cc_core.routing.ready import ReadyAgents
from cc_core.routing.requirements import EligibilityClass, fits
from cc_core.routing.state import AgentRuntime, InteractionRuntime, Phase
from cc_core.routing.sticky import ServiceHistory
from cc_core.routing.timers import OFFER_TIMEOUT, Timers
from cc_core.routing.waiting import ChannelFit, WaitingLines

NO_ANSWER_REASON = "no-answer"
_new = tuple.__new__


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


class PendingOffer(NamedTuple):
    """An offer that is ringing: its reserved slot is ``channel`` on ``agent_id``."""

    offer_id: int
    seq: int
    agent_id: str
    channel: ChannelKind


class EngineCore:
    """Records, indexes and the pairing of agents with interactions."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._queues: dict[str, Queue] = {}
        self._agents: dict[str, AgentRuntime] = {}
        self._by_rank: list[AgentRuntime] = []
        self._records: dict[str, InteractionRuntime] = {}
        self._by_seq: dict[int, InteractionRuntime] = {}
        self._offers: dict[int, PendingOffer] = {}
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

    def _offer(self, offer_id: int) -> PendingOffer:
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

    # ----------------------------------------------------------------- matching

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
        class_id, cls = self._lines.rec_class(rec)
        if rec.sticky_agents:
            for agent_id in rec.sticky_agents:
                rt = self._agents.get(agent_id)
                if rt is not None and self._eligible(rt, rec, cls):
                    self._make_offer(rt, rec, class_id, cls, now, trigger, sticky=True)
                    self._ready.refresh(rt)
                    return
            self._lines.enqueue(rec, self._agents)
            return
        for entry in self._ready.ranked(rec, cls):
            rt = self._by_rank[entry[-1]]
            if fits(rt.agent, cls) and not rec.excludes(rt.agent.id):
                self._make_offer(rt, rec, class_id, cls, now, trigger, agent_rank=entry[0])
                self._ready.refresh(rt)
                return
        self._lines.enqueue(rec, self._agents)

    def _route_agent(self, rt: AgentRuntime, now: float) -> None:
        """Fill the agent's free slots from the waiting lines, best first."""
        if rt.presence is AgentState.READY:
            lines = self._lines
            memo: dict[ChannelFit, tuple | None] = {}
            while rt.takeable:
                found = lines.best_for(rt, self._queues, self._by_seq, now, memo)
                if found is None:
                    break
                rec, entry, group, fit = found
                if group is None:  # a sticky interaction, kept on its preferred agents
                    lines.unqueue(rec, self._agents)
                    sticky = bool(rec.sticky_agents)
                else:
                    lines.take(rec, entry, group)
                    del memo[fit]  # the only queue and channel this pick changed
                    sticky = False
                class_id, cls = lines.rec_class(rec)
                self._make_offer(rt, rec, class_id, cls, now, Trigger.AGENT, sticky=sticky)
        self._ready.refresh(rt)

    def _make_offer(
        self,
        rt: AgentRuntime,
        rec: InteractionRuntime,
        class_id: int,
        cls: EligibilityClass,
        now: float,
        trigger: Trigger,
        *,
        sticky: bool = False,
        agent_rank: float | None = None,
    ) -> None:
        queue = rec.queue
        agent = rt.agent
        if agent_rank is None:
            agent_rank = ranking.agent_value(
                queue.strategy,
                queue.quality_weight * agent.quality,
                rt.rank,
                rt.last_activity,
                rt.contacts,
                rt.talk,
                agent.skills.get(cls.primary or "", 0),
            )
        self._offer_seq = offer_id = self._offer_seq + 1
        channel = cls.channel
        seq = rec.seq
        rt.take(channel)
        rt.offers[offer_id] = seq
        rt.last_activity = now
        rec.phase = Phase.OFFERED
        rec.offer_id = offer_id
        rec.agent_id = agent_id = agent.id
        # tuple.__new__ straight: a named tuple's own __new__ is a Python-level call around it.
        self._offers[offer_id] = _new(PendingOffer, (offer_id, seq, agent_id, channel))
        queue_id = queue.id
        ready = self._ready
        ready.rr_last[queue_id] = rt.rank
        ready.picks[queue_id] += 1
        expires = now + queue.offer_timeout
        self._timers.push_entry((expires, OFFER_TIMEOUT, offer_id, 0))
        reason = _new(
            Reason,
            (
                trigger,
                queue.strategy,
                rec.step,
                self._lines.class_text[class_id],
                float(agent_rank),
                -rec.neg_key + rec.rate * now,  # ranking.score_at, inlined
                agent.quality,
                queue.min_quality,
                sticky,
            ),
        )
        self._out.append(
            _new(
                Offer,
                (offer_id, rec.interaction.id, agent_id, queue_id, channel, now, expires, reason),
            )
        )
