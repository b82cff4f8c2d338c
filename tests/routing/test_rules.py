"""Each routing rule on a small hand-made case, with the exact times it must happen at."""

from __future__ import annotations

from collections import Counter

import pytest

from cc_core.domain import (
    Agent,
    AgentState,
    CapacityProfile,
    ChannelKind,
    ExitKind,
    Interaction,
    Overflow,
    Queue,
    RoutingStep,
    SkillRequirement,
    Strategy,
)
from cc_core.routing import (
    AgentAutoNotReady,
    ClockWentBack,
    Engine,
    EngineConfig,
    Exited,
    InvalidTransition,
    Offer,
    OfferExpired,
    Overflowed,
    Trigger,
    UnknownAgent,
    UnknownOffer,
    UnknownQueue,
    WrapUpEnded,
)

V, C, E = ChannelKind.VOICE, ChannelKind.CHAT, ChannelKind.EMAIL
READY, NOT_READY, OUT = AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT
CHATS = CapacityProfile("chats", {C: 3})


def offers(outcomes) -> list[Offer]:
    return [o for o in outcomes if isinstance(o, Offer)]


def call(iid: str, queue: str = "q", arrival: float = 0.0, **kw) -> Interaction:
    return Interaction(iid, queue, kw.pop("channel", V), arrival, **kw)


def agent(aid: str, queues=("q",), **kw) -> Agent:
    return Agent(aid, queues=kw.pop("prio", None) or dict.fromkeys(queues, 1), **kw)


def test_fifo_among_equal_scores() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    for n, t in enumerate((0.0, 1.0, 2.0)):
        eng.arrive(call(f"i{n}", arrival=t), t)
    served = []
    out = eng.set_state("a", READY, 5.0)
    for t in (6.0, 7.0, 8.0):
        (offer,) = offers(out)
        served.append(offer.interaction_id)
        eng.accept(offer.offer_id, t)
        out = eng.end(offer.interaction_id, t + 0.5)
    assert served == ["i0", "i1", "i2"]


def test_priority_first_then_fifo() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.arrive(call("low", arrival=0.0), 0.0)
    eng.arrive(call("high", arrival=1.0, priority=2.0), 1.0)
    (offer,) = offers(eng.set_state("a", READY, 2.0))
    assert offer.interaction_id == "high"


def test_vip_boost_counts_as_priority() -> None:
    eng = Engine([Queue("q", vip_boost=3.0)])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.arrive(call("normal", arrival=0.0, priority=2.0), 0.0)
    eng.arrive(call("vip", arrival=1.0, vip=True), 1.0)
    (offer,) = offers(eng.set_state("a", READY, 2.0))
    assert offer.interaction_id == "vip"
    assert offer.reason.interaction_score == 3.0


@pytest.mark.parametrize(("ready_at", "expected"), [(4.0, "steady"), (6.0, "aging")])
def test_aging_overtakes_priority_across_queues(ready_at: float, expected: str) -> None:
    # "aging" gains one point a second from 0; "steady" stays at 5: they cross at t=5.
    eng = Engine([Queue("steady"), Queue("aging", aging_rate=1.0)])
    eng.add_agent(agent("a", ("steady", "aging")), 0.0, NOT_READY)
    eng.arrive(call("s", "steady", priority=5.0), 0.0)
    eng.arrive(call("g", "aging"), 0.0)
    (offer,) = offers(eng.set_state("a", READY, ready_at))
    assert offer.queue_id == expected


def test_sla_ordering_serves_the_closest_to_breach_across_queues() -> None:
    eng = Engine(
        [
            Queue("slow", sla_target=60.0, sla_ordering=True),
            Queue("fast", sla_target=10.0, sla_ordering=True),
        ]
    )
    eng.add_agent(agent("a", ("slow", "fast")), 0.0, NOT_READY)
    eng.arrive(call("old", "slow", arrival=0.0), 0.0)  # breaches at 60
    eng.arrive(call("new", "fast", arrival=20.0), 20.0)  # breaches at 30
    (offer,) = offers(eng.set_state("a", READY, 25.0))
    assert offer.interaction_id == "new"
    assert offer.reason.interaction_score == -5.0  # five seconds before its deadline


def test_agent_queue_priority_beats_waiting_time() -> None:
    eng = Engine([Queue("main"), Queue("backup")])
    eng.add_agent(agent("a", prio={"main": 1, "backup": 2}), 0.0, NOT_READY)
    eng.arrive(call("waited-long", "backup", arrival=0.0), 0.0)
    eng.arrive(call("just-in", "main", arrival=50.0), 50.0)
    (offer,) = offers(eng.set_state("a", READY, 51.0))
    assert offer.interaction_id == "just-in"


BILLING_STEPS = (
    RoutingStep((SkillRequirement("billing", 4),), 30.0),
    RoutingStep((SkillRequirement("billing", 2),), 60.0),
    RoutingStep(include_interaction_skills=False),
)


def test_steps_relax_at_the_configured_times() -> None:
    eng = Engine([Queue("q", steps=BILLING_STEPS)])
    eng.add_agent(agent("mid", skills={"billing": 2}), 0.0, READY)
    eng.add_agent(agent("none"), 0.0, READY)
    assert eng.arrive(call("i", arrival=0.0), 10.0) == []
    assert eng.next_timer() == 40.0  # 30 s after entering the queue at 10
    assert eng.on_timer(39.99) == []
    (offer,) = offers(eng.on_timer(40.0))
    assert (offer.agent_id, offer.at, offer.reason.step) == ("mid", 40.0, 1)
    assert offer.reason.trigger is Trigger.STEP
    assert offer.reason.requirements == "billing>=2"


def test_last_step_takes_any_member_at_ninety_seconds() -> None:
    eng = Engine([Queue("q", steps=BILLING_STEPS)])
    eng.add_agent(agent("none", skills={"billing": 1}), 0.0, READY)
    eng.arrive(call("i"), 0.0)
    assert eng.on_timer(89.0) == []
    (offer,) = offers(eng.on_timer(95.0))
    assert offer.at == 90.0 and offer.reason.step == 2
    assert offer.reason.requirements == "any member"


def test_expert_takes_it_at_once_and_interaction_skills_add_up() -> None:
    eng = Engine([Queue("q", steps=BILLING_STEPS)])
    eng.add_agent(agent("expert", skills={"billing": 5}), 0.0, READY)
    eng.add_agent(agent("expert-fr", skills={"billing": 4, "fr": 3}), 0.0, READY)
    (offer,) = offers(eng.arrive(call("i", skills=(SkillRequirement("fr", 2),)), 1.0))
    assert offer.agent_id == "expert-fr"


def test_language_is_always_required() -> None:
    eng = Engine([Queue("q", steps=(RoutingStep(include_interaction_skills=False),))])
    eng.add_agent(agent("en", languages={"en"}), 0.0, READY)
    assert eng.arrive(call("i", language="fr"), 0.0) == []
    (offer,) = offers(eng.add_agent(agent("fr", languages={"fr", "en"}), 1.0, READY))
    assert offer.agent_id == "fr" and offer.reason.trigger is Trigger.AGENT


def test_capacity_never_exceeded_and_voice_blocks() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    for n in range(5):
        eng.arrive(call(f"c{n}", channel=C, arrival=float(n)), float(n))
    eng.arrive(call("v", channel=V, arrival=10.0), 10.0)
    got = offers(eng.set_state("a", READY, 11.0))
    assert [o.interaction_id for o in got] == ["c0", "c1", "c2"]
    assert eng.held_slots("a") == {C: 3}
    assert eng.agent_state("a") is AgentState.RESERVED
    for o in got:
        eng.accept(o.offer_id, 12.0)
    assert eng.agent_state("a") is AgentState.BUSY
    for o in got[:2]:
        assert offers(eng.end(o.interaction_id, 13.0))[0].interaction_id in ("c3", "c4")
    assert eng.held_slots("a") == {C: 3}


def test_voice_waits_until_every_chat_is_done() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("a"), 0.0, READY)
    (chat,) = offers(eng.arrive(call("c", channel=C), 0.0))
    eng.accept(chat.offer_id, 1.0)
    assert eng.arrive(call("v", arrival=2.0), 2.0) == []
    (voice,) = offers(eng.end("c", 3.0))
    assert voice.interaction_id == "v"
    assert eng.arrive(call("c2", channel=C, arrival=4.0), 4.0) == []


def test_wrap_up_holds_the_slot_for_the_queue_time() -> None:
    eng = Engine([Queue("q", wrap_up=15.0)])
    eng.add_agent(agent("a"), 0.0, READY)
    (o,) = offers(eng.arrive(call("i1"), 0.0))
    eng.accept(o.offer_id, 1.0)
    assert eng.end("i1", 10.0) == []
    assert eng.agent_state("a") is AgentState.WRAP_UP
    assert eng.arrive(call("i2", arrival=11.0), 11.0) == []
    assert eng.next_timer() == 25.0
    out = eng.on_timer(30.0)
    assert out[0] == WrapUpEnded("a", "i1", 25.0)
    assert offers(out)[0].at == 25.0
    assert eng.agent_counters("a") == (1, 9.0)


def test_end_wrap_up_early() -> None:
    eng = Engine([Queue("q", wrap_up=15.0)])
    eng.add_agent(agent("a"), 0.0, READY)
    (o,) = offers(eng.arrive(call("i1"), 0.0))
    eng.accept(o.offer_id, 1.0)
    eng.end("i1", 2.0)
    eng.arrive(call("i2", arrival=3.0), 3.0)
    out = eng.end_wrap_up("a", 4.0)
    assert out[0] == WrapUpEnded("a", "i1", 4.0)
    assert offers(out)[0].interaction_id == "i2"


def test_reject_keeps_the_place_and_excludes_the_agent() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("x"), 0.0, READY)
    (o,) = offers(eng.arrive(call("first", arrival=0.0), 0.0))
    eng.arrive(call("second", arrival=1.0), 1.0)
    (nxt,) = offers(eng.reject(o.offer_id, 2.0))
    assert nxt.interaction_id == "second" and nxt.agent_id == "x"
    eng.reject(nxt.offer_id, 3.0)
    assert eng.interaction_phase("first") == "waiting"
    (o,) = offers(eng.add_agent(agent("y"), 4.0, READY))
    assert o.interaction_id == "first", "the first keeps its place ahead of the second"


def test_no_answers_in_a_row_put_the_agent_not_ready() -> None:
    eng = Engine([Queue("q", offer_timeout=10.0)], EngineConfig(no_answer_limit=2))
    eng.add_agent(agent("x"), 0.0, READY)
    (o,) = offers(eng.arrive(call("a"), 0.0))
    eng.arrive(call("b", arrival=1.0), 1.0)
    (o2,) = offers(eng.no_answer(o.offer_id, 2.0))
    assert o2.interaction_id == "b"
    out = eng.on_timer(20.0)
    assert out == [
        OfferExpired(o2.offer_id, "b", "x", 12.0),
        AgentAutoNotReady("x", "no-answer", 2, 12.0),
    ]
    assert eng.agent_state("x") is AgentState.NOT_READY
    assert eng.agent_reason("x") == "no-answer"


def test_accept_resets_the_no_answer_count() -> None:
    eng = Engine([Queue("q")], EngineConfig(no_answer_limit=2))
    eng.add_agent(agent("x"), 0.0, READY)
    (o,) = offers(eng.arrive(call("a"), 0.0))
    assert offers(eng.no_answer(o.offer_id, 1.0)) == []  # one miss; "a" now skips x
    (o,) = offers(eng.arrive(call("b", arrival=2.0), 2.0))
    eng.accept(o.offer_id, 3.0)
    (o,) = offers(eng.arrive(call("c", arrival=4.0), 4.0) + eng.end("b", 5.0))
    out = eng.no_answer(o.offer_id, 6.0)
    assert not [x for x in out if isinstance(x, AgentAutoNotReady)]
    assert eng.agent_state("x") is AgentState.READY


def sticky_engine() -> Engine:
    eng = Engine([Queue("q", sticky_seconds=20.0, sticky_days=1.0)])
    eng.add_agent(agent("prev"), 0.0, READY)
    eng.add_agent(agent("other"), 0.0, NOT_READY)
    (o,) = offers(eng.arrive(call("old", customer_id="c1"), 0.0))
    eng.accept(o.offer_id, 1.0)
    eng.end("old", 5.0)
    eng.set_state("prev", NOT_READY, 6.0, "break")
    eng.set_state("other", READY, 7.0)
    return eng


def test_sticky_waits_for_the_previous_agent_then_falls_back() -> None:
    eng = sticky_engine()
    assert eng.arrive(call("new", arrival=100.0, customer_id="c1"), 100.0) == []
    assert eng.next_timer() == 120.0
    (o,) = offers(eng.on_timer(121.0))
    assert (o.agent_id, o.at, o.reason.trigger) == ("other", 120.0, Trigger.STICKY_END)


def test_sticky_previous_agent_takes_it_when_ready() -> None:
    eng = sticky_engine()
    eng.arrive(call("new", arrival=100.0, customer_id="c1"), 100.0)
    (o,) = offers(eng.set_state("prev", READY, 110.0))
    assert o.agent_id == "prev" and o.reason.sticky


def test_sticky_ends_when_the_previous_agent_logs_out() -> None:
    eng = sticky_engine()
    eng.arrive(call("new", arrival=100.0, customer_id="c1"), 100.0)
    (o,) = offers(eng.set_state("prev", OUT, 103.0))
    assert (o.agent_id, o.at) == ("other", 103.0)


def test_sticky_ignores_service_older_than_the_window() -> None:
    eng = sticky_engine()
    (o,) = offers(eng.arrive(call("new", arrival=90000.0, customer_id="c1"), 90000.0))
    assert o.agent_id == "other" and not o.reason.sticky


def test_max_wait_overflows_keeping_arrival_then_exits() -> None:
    eng = Engine(
        [
            Queue("first", max_wait=30.0, overflow=Overflow(queue="second")),
            Queue("second", max_wait=60.0, overflow=Overflow(exit=ExitKind.VOICEMAIL)),
        ]
    )
    eng.arrive(call("i", "first", arrival=-5.0), 0.0)
    assert eng.on_timer(30.0) == [Overflowed("i", "first", "second", 30.0)]
    assert eng.interaction_queue("i") == "second"
    eng.add_agent(agent("a", ("second",)), 40.0, NOT_READY)
    assert eng.on_timer(90.0) == [Exited("i", "second", ExitKind.VOICEMAIL, 90.0)]
    assert eng.waiting_count() == 0


def test_overflowed_interaction_keeps_its_arrival_for_ordering() -> None:
    eng = Engine(
        [Queue("first", max_wait=30.0, overflow=Overflow(queue="second")), Queue("second")]
    )
    eng.arrive(call("early", "first", arrival=0.0), 0.0)
    eng.arrive(call("local", "second", arrival=10.0), 10.0)
    eng.on_timer(30.0)
    eng.add_agent(agent("a", ("second",)), 31.0, NOT_READY)
    (o,) = offers(eng.set_state("a", READY, 31.0))
    assert o.interaction_id == "early"


def test_transfer_keeps_arrival_and_excludes_the_agent() -> None:
    eng = Engine([Queue("q"), Queue("tier2", wrap_up=5.0)])
    eng.add_agent(agent("a", ("q", "tier2")), 0.0, READY)
    (o,) = offers(eng.arrive(call("i", arrival=0.0), 0.0))
    eng.accept(o.offer_id, 1.0)
    assert eng.transfer("i", "tier2", 10.0) == []
    assert eng.interaction_queue("i") == "tier2"
    (o,) = offers(eng.add_agent(agent("b", ("tier2",)), 11.0, READY))
    assert o.agent_id == "b" and o.reason.interaction_score == 0.0


def test_min_quality_and_quality_weight() -> None:
    eng = Engine([Queue("q", min_quality=0.5, quality_weight=1.0)])
    eng.add_agent(agent("poor", quality=0.3), 0.0, READY)
    eng.add_agent(agent("ok", quality=0.5), 1.0, READY)
    eng.add_agent(agent("great", quality=1.0), 1.25, READY)
    (o,) = offers(eng.arrive(call("i"), 2.0))
    # Longest idle alone picks "ok" (idle since 1.0); weighted, 1.25 - 1.0 beats 1.0 - 0.5.
    assert o.agent_id == "great"
    assert (o.reason.quality, o.reason.min_quality, o.reason.agent_rank) == (1.0, 0.5, 0.25)
    eng.set_quality("great", 0.2, 3.0)
    eng.set_quality("poor", 0.9, 3.0)
    (o,) = offers(eng.arrive(call("j"), 4.0))
    assert o.agent_id == "poor"


def chat_agents(strategy: Strategy, n: int = 3, **kw) -> Engine:
    eng = Engine([Queue("q", strategy=strategy)], EngineConfig(**kw))
    for k in range(n):
        eng.add_agent(agent(f"a{k}", capacity=CHATS, skills={"s": k + 1}), 0.0, READY)
    return eng


def test_round_robin_remembers_where_it_stopped() -> None:
    eng = chat_agents(Strategy.ROUND_ROBIN)
    picks = [offers(eng.arrive(call(f"i{n}", channel=C), 1.0))[0].agent_id for n in range(4)]
    assert picks == ["a0", "a1", "a2", "a0"]
    eng.set_state("a1", NOT_READY, 2.0)
    assert offers(eng.arrive(call("x", channel=C), 3.0))[0].agent_id == "a2"


def test_longest_idle() -> None:
    eng = chat_agents(Strategy.LONGEST_IDLE)
    eng.set_state("a0", NOT_READY, 1.0)
    eng.set_state("a0", READY, 2.0)
    picks = [offers(eng.arrive(call(f"i{n}", channel=C), 3.0))[0].agent_id for n in range(3)]
    assert picks == ["a1", "a2", "a0"]


def test_fewest_contacts_and_least_talk_time() -> None:
    for strategy in (Strategy.FEWEST_CONTACTS, Strategy.LEAST_TALK_TIME):
        eng = chat_agents(strategy)
        (o,) = offers(eng.arrive(call("i", channel=C), 1.0))
        assert o.agent_id == "a0"
        eng.accept(o.offer_id, 1.0)
        eng.end("i", 9.0)
        picks = {offers(eng.arrive(call(f"j{n}", channel=C), 10.0))[0].agent_id for n in (1, 2)}
        assert picks == {"a1", "a2"}, strategy


def test_best_skill_prefers_proficiency_then_idle() -> None:
    eng = Engine(
        [
            Queue(
                "q",
                strategy=Strategy.BEST_SKILL,
                steps=(RoutingStep((SkillRequirement("s", 1),)),),
            )
        ]
    )
    for k, level in enumerate((3, 5, 5)):
        eng.add_agent(agent(f"a{k}", capacity=CHATS, skills={"s": level}), float(k), READY)
    picks = [offers(eng.arrive(call(f"i{n}", channel=C), 5.0))[0].agent_id for n in range(3)]
    assert picks == ["a1", "a2", "a1"]


def test_random_is_seeded_and_spreads() -> None:
    def picks(seed: int) -> list[str]:
        eng = chat_agents(Strategy.RANDOM, n=4, seed=seed)
        out = []
        for n in range(200):
            (o,) = offers(eng.arrive(call(f"i{n}", channel=C), 1.0))
            out.append(o.agent_id)
            eng.accept(o.offer_id, 1.0)
            eng.end(o.interaction_id, 1.0)
        return out

    first = picks(1)
    assert first == picks(1)
    assert first != picks(2)
    assert min(Counter(first).values()) >= 25


def test_errors_are_clear_and_leave_state_alone() -> None:
    eng = Engine([Queue("q")])
    with pytest.raises(UnknownQueue, match="'nope'"):
        eng.arrive(call("i", "nope"), 0.0)
    with pytest.raises(UnknownQueue, match="agent 'a'"):
        eng.add_agent(agent("a", ("missing",)), 0.0)
    with pytest.raises(UnknownAgent):
        eng.set_state("ghost", READY, 0.0)
    with pytest.raises(UnknownOffer):
        eng.accept(42, 0.0)
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    with pytest.raises(InvalidTransition, match="derived"):
        eng.set_state("a", AgentState.BUSY, 0.0)
    with pytest.raises(InvalidTransition, match="derived"):
        eng.add_agent(agent("b"), 0.0, AgentState.WRAP_UP)
    assert "b" not in eng.agent_ids()
    eng.arrive(call("i"), 1.0)
    with pytest.raises(InvalidTransition, match="already"):
        eng.arrive(call("i"), 1.0)
    with pytest.raises(ClockWentBack):
        eng.on_timer(0.5)
    (o,) = offers(eng.set_state("a", READY, 2.0))
    assert o.interaction_id == "i"
    with pytest.raises(InvalidTransition, match="being offered"):
        eng.transfer("i", "q", 2.0)


def test_nothing_to_wake_for() -> None:
    eng = Engine(
        [Queue("q", steps=BILLING_STEPS, max_wait=100.0, overflow=Overflow(exit=ExitKind.CALLBACK))]
    )
    assert eng.next_timer() is None
    eng.arrive(call("i"), 0.0)
    assert eng.next_timer() == 30.0
    eng.end("i", 1.0)
    assert eng.next_timer() is None


def test_any_language_step_drops_the_language_at_its_time() -> None:
    steps = (RoutingStep(duration=20.0), RoutingStep(any_language=True))
    eng = Engine([Queue("q", steps=steps)])
    eng.add_agent(agent("en", languages={"en"}), 0.0, READY)
    assert eng.arrive(call("i", language="fr"), 0.0) == []
    (o,) = offers(eng.on_timer(25.0))
    assert (o.agent_id, o.at, o.reason.requirements) == ("en", 20.0, "any member")


def test_queue_no_answer_limit_wins_over_the_engine_setting() -> None:
    eng = Engine(
        [Queue("strict", no_answer_limit=1), Queue("lax")], EngineConfig(no_answer_limit=5)
    )
    eng.add_agent(agent("x", ("strict", "lax")), 0.0, READY)
    (o,) = offers(eng.arrive(call("a", "lax"), 0.0))
    assert eng.no_answer(o.offer_id, 1.0) == []
    (o,) = offers(eng.arrive(call("b", "strict", arrival=2.0), 2.0))
    assert eng.no_answer(o.offer_id, 3.0) == [AgentAutoNotReady("x", "no-answer", 2, 3.0)]


def test_a_failing_call_loses_no_timer_decision() -> None:
    eng = Engine([Queue("q", offer_timeout=5.0)])
    eng.add_agent(agent("x"), 0.0, READY)
    eng.add_agent(agent("y"), 1.0, READY)
    (o,) = offers(eng.arrive(call("i"), 2.0))
    with pytest.raises(UnknownOffer):
        eng.accept(o.offer_id, 7.0)  # too late: the offer expired at 7.0 and went to y
    out = eng.on_timer(7.0)
    assert out[0] == OfferExpired(o.offer_id, "i", "x", 7.0)
    assert offers(out)[0].agent_id == "y"
    assert eng.on_timer(7.0) == []


def test_overflow_target_must_exist() -> None:
    with pytest.raises(UnknownQueue, match="overflow of queue 'a'"):
        Engine([Queue("a", max_wait=5.0, overflow=Overflow(queue="b"))])
    eng = Engine([Queue("a", max_wait=5.0, overflow=Overflow(queue="b")), Queue("b")])
    with pytest.raises(UnknownQueue):
        eng.add_queue(Queue("c", max_wait=5.0, overflow=Overflow(queue="zz")))


def test_removed_agent_gets_nothing() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("x"), 0.0, READY)
    with pytest.raises(InvalidTransition):
        eng.remove_agent("x", 1.0)
    eng.set_state("x", OUT, 1.0)
    eng.remove_agent("x", 1.0)
    assert eng.arrive(call("i"), 2.0) == []
    with pytest.raises(UnknownAgent):
        eng.set_state("x", READY, 3.0)
