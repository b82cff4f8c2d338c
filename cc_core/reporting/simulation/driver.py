"""The discrete-event loop: simulated callers and agents around the real routing engine.

The simulation owns the clock (a SimPy environment), the callers (arrival, patience) and the
agents' side of an offer (answer after a ring, or let it ring out; talk). The routing engine
owns every decision: who is offered what, offer time-outs, wrap-up, step relaxation, max wait
and overflow. It is driven exactly as the ACD drives it: an input per event, and a wake-up at
every instant its `next_timer()` names, where `on_timer(now)` runs its due timers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from cc_core.domain import Agent, AgentState, ChannelKind, Interaction, Queue
from cc_core.reporting.simulation.metrics import AgentTime, CallRecord, QueueReport, summarize
from cc_core.reporting.simulation.traffic import Call
from cc_core.routing import (
    AgentAutoNotReady,
    Engine,
    EngineConfig,
    Exited,
    Offer,
    OfferExpired,
    Outcome,
    Overflowed,
    WrapUpEnded,
)

__all__ = ["DEFAULT_TARGET", "AgentBehaviour", "CallerProfile", "SimulationResult", "simulate"]

DEFAULT_TARGET = 20.0  # service-level target of a queue that names none, seconds


@dataclass(frozen=True, slots=True)
class AgentBehaviour:
    """How agents take an offer: they answer `answer_delay` s after it starts ringing with
    probability `answer_probability`; otherwise they let it ring until the queue's offer
    timeout. An agent the engine puts in not-ready for missed offers comes back after
    `not_ready_pause` s."""

    answer_delay: float = 0.0
    answer_probability: float = 1.0
    not_ready_pause: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.answer_probability <= 1:
            raise ValueError(
                f"answer_probability: expected a fraction in [0, 1], got {self.answer_probability}"
            )
        for name in ("answer_delay", "not_ready_pause"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: expected a finite number of seconds >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """What routing learns about a caller of a queue before the call is queued (the IVR's
    work): language and priority."""

    language: str | None = None
    priority: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulationResult:
    reports: dict[str, QueueReport]
    window: tuple[float, float]
    offers: int
    offers_expired: int
    overflows: int
    engine_calls: int


class _Run:
    """One simulation: SimPy callbacks in, engine calls out. Times are SimPy's `env.now`."""

    def __init__(
        self,
        engine: Engine,
        queues: Sequence[Queue],
        agents: Sequence[Agent],
        calls: Sequence[Call],
        callers: Mapping[str, CallerProfile],
        behaviour: AgentBehaviour,
        window: tuple[float, float],
        seed: int,
    ) -> None:
        self.env = simpy.Environment()
        self.engine = engine
        self.calls = calls
        self.by_id = {c.id: c for c in calls}
        self.callers = callers
        self.behaviour = behaviour
        self.window = window
        # Answer-or-not draws get a stream of their own so they never shift the traffic.
        self.rng = np.random.default_rng([seed, 1])
        self.records: dict[str, CallRecord] = {}
        self.unresolved: set[str] = set()
        self.pending_offers: dict[int, Offer] = {}
        self.queues = {q.id: q for q in queues}
        self.talk_end: dict[str, float] = {}  # interaction -> end of talk, for wrap-up time
        self.agent_time = {a.id: AgentTime(frozenset(a.queues)) for a in agents}
        self.timer_at = math.inf
        self.timer_generation = 0
        self.offers = self.expired = self.overflows = self.engine_calls = 0
        for agent in agents:
            self._apply(engine.add_agent(agent, 0.0, AgentState.READY))

    # -- engine side ------------------------------------------------------------------------

    def _apply(self, outcomes: Iterable[Outcome]) -> None:
        """Carry out what the engine decided, then make sure it is woken for its next timer."""
        self.engine_calls += 1
        for outcome in outcomes:
            if isinstance(outcome, Offer):
                self._ring(outcome)
            elif isinstance(outcome, OfferExpired):
                self.expired += 1
                self.pending_offers.pop(outcome.offer_id, None)
            elif isinstance(outcome, WrapUpEnded):
                start = self.talk_end.pop(outcome.interaction_id)
                self.agent_time[outcome.agent_id].add_busy(start, outcome.at, self.window)
            elif isinstance(outcome, Exited):
                self._resolve(outcome.interaction_id).exited_at = outcome.at
            elif isinstance(outcome, Overflowed):
                self.overflows += 1
            elif isinstance(outcome, AgentAutoNotReady):
                self._later(self.behaviour.not_ready_pause, self._back_to_ready, outcome.agent_id)
        self._arm(self.engine.next_timer())

    def _arm(self, due: float | None) -> None:
        if due is not None and due < self.timer_at:
            # Earlier than the wake-up already scheduled: schedule another. The old one stays
            # in SimPy's queue and is ignored when it fires (generation mismatch).
            self.timer_at = due
            self.timer_generation += 1
            self._later(max(0.0, due - self.env.now), self._wake, self.timer_generation)

    def _wake(self, generation: int) -> None:
        if generation != self.timer_generation:
            return
        self.timer_at = math.inf
        due = self.engine.next_timer()
        if due is not None and due <= self.env.now:
            self._apply(self.engine.on_timer(self.env.now))
        else:
            self._arm(due)  # the timer we woke for went stale (e.g. the offer was answered)

    def _catch_up(self) -> None:
        """Run engine timers due now before an input, so an offer that expires or a call that
        exits at this very instant is known here before the input is made."""
        due = self.engine.next_timer()
        if due is not None and due <= self.env.now:
            self._apply(self.engine.on_timer(self.env.now))

    def _later(self, delay: float, action: Callable[..., None], *args: object) -> None:
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _event: action(*args))

    def _resolve(self, interaction_id: str) -> CallRecord:
        self.unresolved.discard(interaction_id)
        return self.records[interaction_id]

    # -- callers ----------------------------------------------------------------------------

    def arrivals(self) -> Generator[simpy.Event, None, None]:
        for call in self.calls:
            yield self.env.timeout(call.arrival - self.env.now)
            self._catch_up()
            self.records[call.id] = CallRecord(call.queue, call.arrival)
            self.unresolved.add(call.id)
            caller = self.callers.get(call.queue, CallerProfile())
            interaction = Interaction(
                id=call.id,
                queue=call.queue,
                channel=ChannelKind.VOICE,
                arrival=self.env.now,
                language=caller.language,
                priority=caller.priority,
            )
            if math.isfinite(call.patience):
                self._later(call.patience, self._hang_up, call.id)
            self._apply(self.engine.arrive(interaction, self.env.now))

    def _hang_up(self, call_id: str) -> None:
        self._catch_up()
        if call_id not in self.unresolved or self.records[call_id].answered_at is not None:
            return  # answered, or already gone to an exit, before patience ran out
        self._resolve(call_id).abandoned_at = self.env.now
        for offer_id, offer in list(self.pending_offers.items()):
            if offer.interaction_id == call_id:  # hung up while an agent's phone rang
                del self.pending_offers[offer_id]
        self._apply(self.engine.end(call_id, self.env.now))

    # -- agents -----------------------------------------------------------------------------

    def _ring(self, offer: Offer) -> None:
        self.offers += 1
        self.pending_offers[offer.offer_id] = offer
        b = self.behaviour
        if b.answer_probability < 1 and self.rng.random() >= b.answer_probability:
            return  # let it ring: the engine's offer timeout takes it back
        if b.answer_delay == 0:
            self._answer(offer.offer_id)
        else:
            self._later(b.answer_delay, self._answer, offer.offer_id)

    def _answer(self, offer_id: int) -> None:
        self._catch_up()
        offer = self.pending_offers.pop(offer_id, None)
        if offer is None:
            return  # the offer expired first, or the caller hung up while it rang
        now = self.env.now
        self.records[offer.interaction_id].answered_at = now
        self.records[offer.interaction_id].agent = offer.agent_id
        talk = self.by_id[offer.interaction_id].handle_time
        self.agent_time[offer.agent_id].add_busy(now, now + talk, self.window)
        self._later(talk, self._hang_up_after_talk, offer.interaction_id)
        self._apply(self.engine.accept(offer_id, now))

    def _hang_up_after_talk(self, interaction_id: str) -> None:
        self._catch_up()
        self.unresolved.discard(interaction_id)
        # With wrap-up the engine keeps the slot and reports WrapUpEnded later; without, it
        # frees the slot at once and reports nothing more.
        queue = self.queues[self.engine.interaction_queue(interaction_id)]
        if queue.wrap_up > 0:
            self.talk_end[interaction_id] = self.env.now
        self._apply(self.engine.end(interaction_id, self.env.now))

    def _back_to_ready(self, agent_id: str) -> None:
        self._catch_up()
        if self.engine.agent_state(agent_id) is AgentState.NOT_READY:
            self._apply(self.engine.set_state(agent_id, AgentState.READY, self.env.now))


def simulate(
    queues: Sequence[Queue],
    agents: Sequence[Agent],
    calls: Sequence[Call],
    *,
    warmup: float,
    horizon: float,
    callers: Mapping[str, CallerProfile] | None = None,
    behaviour: AgentBehaviour | None = None,
    engine_config: EngineConfig | None = None,
    seed: int = 0,
    report_target: float | None = None,
) -> SimulationResult:
    """Routes `calls` with a fresh engine over `queues` and `agents` (all ready from time 0)
    and reports the calls arriving in [warmup, horizon).

    Arrivals stop at `horizon`; the run goes on until every call is answered, abandoned or
    has exited. Service levels are measured against `report_target` seconds for every queue
    when given, else against each queue's own `sla_target` (20 s when unset); the target
    used for reports never changes routing.
    """
    if not 0 <= warmup < horizon:
        raise ValueError(f"warmup: expected 0 <= warmup < horizon, got {warmup} and {horizon}")
    queue_ids = {q.id for q in queues}
    unknown = sorted({c.queue for c in calls} - queue_ids)
    if unknown:
        raise ValueError(f"calls for queues that are not configured: {unknown}")
    engine = Engine(queues, engine_config or EngineConfig(seed=seed))
    state = _Run(
        engine,
        queues,
        agents,
        calls,
        callers or {},
        behaviour or AgentBehaviour(),
        (warmup, horizon),
        seed,
    )
    state.env.process(state.arrivals())
    state.env.run()
    if state.unresolved:
        stuck = sorted(state.unresolved)
        raise RuntimeError(
            f"{len(stuck)} calls were never answered, abandoned nor exited (e.g. {stuck[:3]}): "
            "no agent can ever serve them; give their queue members or patience"
        )
    measured = [r for r in state.records.values() if warmup <= r.arrival < horizon]
    targets = {
        q.id: report_target if report_target is not None else q.sla_target or DEFAULT_TARGET
        for q in queues
    }
    return SimulationResult(
        reports=summarize(measured, state.agent_time, targets, horizon - warmup),
        window=(warmup, horizon),
        offers=state.offers,
        offers_expired=state.expired,
        overflows=state.overflows,
        engine_calls=state.engine_calls,
    )
