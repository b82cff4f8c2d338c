"""Queue positions as the engine would serve the line, and the expected-wait estimate."""

from __future__ import annotations

import math

import pytest

from cc_core.domain import (
    Agent,
    AgentState,
    ChannelKind,
    Interaction,
    Queue,
    RoutingStep,
    SkillRequirement,
)
from cc_core.routing import Engine, Offer, UnknownQueue
from cc_core.routing.wait_estimate import HandleTimes, expected_wait, spoken_minutes

READY, NOT_READY, OUT = AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT


def call(iid: str, queue: str = "q", arrival: float = 0.0, **kw: object) -> Interaction:
    return Interaction(iid, queue, ChannelKind.VOICE, arrival, **kw)  # type: ignore[arg-type]


def agent(aid: str, *queues: str, **kw: object) -> Agent:
    return Agent(aid, queues=dict.fromkeys(queues or ("q",), 1), **kw)  # type: ignore[arg-type]


def test_positions_follow_arrival_then_priority() -> None:
    eng = Engine([Queue("q")])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.arrive(call("first", arrival=0.0), 0.0)
    eng.arrive(call("second", arrival=1.0), 1.0)
    eng.arrive(call("urgent", arrival=2.0, priority=5.0), 2.0)
    eng.arrive(call("third", arrival=3.0), 3.0)
    standing = eng.queue_standing("q")
    assert standing.waiting == ("urgent", "first", "second", "third")
    assert standing.positions() == {"urgent": 1, "first": 2, "second": 3, "third": 4}
    assert standing.agents == 1
    # The engine serves them in exactly that order.
    served = []
    out = eng.set_state("a", READY, 10.0)
    for t in (11.0, 12.0, 13.0, 14.0):
        (offer,) = [o for o in out if isinstance(o, Offer)]
        served.append(offer.interaction_id)
        eng.accept(offer.offer_id, t)
        out = eng.end(offer.interaction_id, t + 0.5)
    assert served == ["urgent", "first", "second", "third"]


def test_aging_lets_an_old_call_stay_ahead_of_a_newer_higher_priority() -> None:
    # One point a second: "old" has 10 s more of aging than "vip"'s 5 points of priority.
    eng = Engine([Queue("q", aging_rate=1.0)])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.arrive(call("old", arrival=0.0), 0.0)
    eng.arrive(call("vip", arrival=10.0, priority=5.0), 10.0)
    eng.arrive(call("boss", arrival=11.0, priority=20.0), 11.0)
    assert eng.queue_standing("q").waiting == ("boss", "old", "vip")


def test_other_queues_and_calls_being_offered_are_not_counted() -> None:
    eng = Engine([Queue("q"), Queue("other")])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.add_agent(agent("b", "other"), 0.0, READY)
    eng.add_agent(agent("c", "q", "other"), 0.0, OUT)
    eng.arrive(call("x1", "other", arrival=0.0), 0.0)  # offered to b at once
    eng.arrive(call("q1", arrival=1.0), 1.0)
    eng.arrive(call("x2", "other", arrival=2.0), 2.0)
    eng.arrive(call("q2", arrival=3.0), 3.0)
    assert eng.queue_standing("q").waiting == ("q1", "q2")
    other = eng.queue_standing("other")
    assert other.waiting == ("x2",)
    assert other.agents == 1  # b (reserved counts); c is logged out
    assert set(eng.standings()) == {"q", "other"}
    assert eng.standings()["q"] == eng.queue_standing("q")


def test_skills_are_ignored_for_the_count() -> None:
    steps = (RoutingStep((SkillRequirement("french", 1),)),)
    eng = Engine([Queue("q", steps=steps)])
    eng.add_agent(agent("a"), 0.0, NOT_READY)
    eng.arrive(call("plain", arrival=0.0), 0.0)
    eng.arrive(call("rare", arrival=1.0, skills=(SkillRequirement("german", 3),)), 1.0)
    assert eng.queue_standing("q").positions() == {"plain": 1, "rare": 2}


def test_a_sticky_call_keeps_its_place() -> None:
    eng = Engine([Queue("q", sticky_seconds=60.0, sticky_days=1.0)])
    eng.add_agent(agent("prev"), 0.0, READY)
    eng.add_agent(agent("other"), 0.0, NOT_READY)
    (o,) = [x for x in eng.arrive(call("old", customer_id="c1"), 0.0) if isinstance(x, Offer)]
    eng.accept(o.offer_id, 1.0)
    eng.end("old", 2.0)
    eng.set_state("prev", NOT_READY, 3.0, "break")
    eng.arrive(call("early", arrival=4.0), 4.0)
    eng.arrive(call("back", arrival=5.0, customer_id="c1"), 5.0)  # waits for prev
    eng.arrive(call("late", arrival=6.0), 6.0)
    assert eng.queue_standing("q").waiting == ("early", "back", "late")


def test_a_hang_up_in_line_moves_the_others_up() -> None:
    eng = Engine([Queue("q")])
    for n in range(3):
        eng.arrive(call(f"i{n}", arrival=float(n)), float(n))
    eng.end("i0", 5.0)
    assert eng.queue_standing("q").positions() == {"i1": 1, "i2": 2}


def test_unknown_queue_is_a_clear_error() -> None:
    with pytest.raises(UnknownQueue, match="'nope'"):
        Engine([Queue("q")]).queue_standing("nope")


# ---------------------------------------------------------------- the estimate


@pytest.mark.parametrize(
    ("position", "handle", "agents", "seconds"),
    [(1, 180.0, 1, 180), (3, 180.0, 2, 270), (1, 100.0, 3, 34), (5, 60.0, 0, 300)],
)
def test_expected_wait(position: int, handle: float, agents: int, seconds: int) -> None:
    assert expected_wait(position, handle, agents) == seconds


@pytest.mark.parametrize(("position", "handle"), [(0, 180.0), (1, 0.0), (1, math.nan)])
def test_expected_wait_refuses_nonsense(position: int, handle: float) -> None:
    with pytest.raises(ValueError):
        expected_wait(position, handle, 1)


@pytest.mark.parametrize(("seconds", "minutes"), [(1, 1), (60, 1), (61, 2), (125, 3), (0, 0)])
def test_spoken_minutes_round_up(seconds: int, minutes: int) -> None:
    assert spoken_minutes(seconds) == minutes


def test_handle_times_moving_average_per_queue() -> None:
    times = HandleTimes(180.0, window=3)
    assert times.average("q") == 180.0  # the default until something is seen
    assert times.observe("q", 100.0)
    assert times.average("q") == 100.0
    times.observe("q", 200.0)
    times.observe("q", 300.0)
    assert times.average("q") == 200.0
    times.observe("q", 400.0)  # the first one drops out of the window
    assert times.average("q") == 300.0
    assert times.average("other") == 180.0
    assert not times.observe("q", -5.0)
    assert not times.observe("q", math.inf)
    assert times.average("q") == 300.0
    times.observe("fast", 0.0)
    assert times.average("fast") == 1.0


def test_handle_times_refuses_a_bad_default() -> None:
    with pytest.raises(ValueError):
        HandleTimes(0.0)
