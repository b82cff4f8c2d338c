"""Agent live records and the compare-and-set that prevents double offers."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.store.live import RESERVED, AgentLive, LiveStateDataError
from tests.live.conftest import Harness


def ready(agent_id: str, since: float = 1000.0, **kw: object) -> AgentLive:
    return AgentLive(agent_id=agent_id, state="ready", since=since, **kw)  # type: ignore[arg-type]


async def test_set_get_round_trips_every_field(harness: Harness) -> None:
    rec = AgentLive(
        agent_id="agent-1001",
        state="paused",
        since=1763700000.123456,
        reason="lunch break",
        interactions=("ix-1", "ix-2"),
        quality=0.875,
    )
    stored = await harness.live.set_agent(rec)
    got = await harness.live.get_agent("agent-1001")
    assert got == stored
    assert got is not None
    assert (got.state, got.reason, got.since, got.interactions, got.quality) == (
        "paused", "lunch break", 1763700000.123456, ("ix-1", "ix-2"), 0.875,
    )
    assert got.version == 1


async def test_unknown_agent_reads_as_none(harness: Harness) -> None:
    assert await harness.live.get_agent("nobody") is None
    assert await harness.live.remove_agent("nobody") is False


async def test_version_grows_on_every_write(harness: Harness) -> None:
    first = await harness.live.set_agent(ready("a1"))
    second = await harness.live.set_agent(ready("a1", quality=None))
    moved = await harness.live.transition("a1", "ready", "talking")
    assert (first.version, second.version) == (1, 2)
    assert moved is not None and moved.version == 3


async def test_list_is_sorted_and_remove_takes_agent_out(harness: Harness) -> None:
    for agent_id in ("b", "c", "a"):
        await harness.live.set_agent(ready(agent_id))
    assert [a.agent_id for a in await harness.live.list_agents()] == ["a", "b", "c"]
    assert await harness.live.remove_agent("b") is True
    assert [a.agent_id for a in await harness.live.list_agents()] == ["a", "c"]
    assert await harness.live.get_agent("b") is None


async def test_reserve_wins_once_and_stamps_time(harness: Harness) -> None:
    await harness.live.set_agent(ready("a1", since=5.0))
    harness.clock.advance(30)
    won = await harness.live.reserve("a1", "ready", "ix-9")
    assert won is not None
    assert won.state == RESERVED
    assert won.interactions == ("ix-9",)
    assert won.since == harness.clock()
    assert await harness.live.reserve("a1", "ready", "ix-10") is None
    assert (await harness.live.get_agent("a1")) == won


async def test_reserve_unknown_agent_is_refused(harness: Harness) -> None:
    assert await harness.live.reserve("ghost", "ready", "ix-1") is None
    assert await harness.live.get_agent("ghost") is None


async def test_two_nodes_racing_for_one_agent_never_both_win(harness: Harness) -> None:
    other = await harness.open_node()
    await harness.live.set_agent(ready("a1"))
    attempts = [
        node.reserve("a1", "ready", f"ix-{i}")
        for i in range(40)
        for node in (harness.live, other)
    ]
    results = await asyncio.gather(*attempts)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = await harness.live.get_agent("a1")
    assert final == winners[0]
    assert len(final.interactions) == 1


async def test_many_agents_many_contacts_each_agent_reserved_once(harness: Harness) -> None:
    other = await harness.open_node()
    agents = [f"ag{i}" for i in range(20)]
    for a in agents:
        await harness.live.set_agent(ready(a))
    # Every contact tries every agent in a different order, as routing on two nodes might.
    async def route(node_idx: int, ix: str) -> str | None:
        node = (harness.live, other)[node_idx]
        order = agents[node_idx::2] + agents[1 - node_idx :: 2]
        for a in order:
            if await node.reserve(a, "ready", ix) is not None:
                return a
        return None

    results = await asyncio.gather(*(route(i % 2, f"ix-{i}") for i in range(30)))
    assigned = [a for a in results if a is not None]
    assert sorted(assigned) == sorted(agents)  # 20 agents, 30 contacts: each agent once
    assert results.count(None) == 10
    for rec in await harness.live.list_agents():
        assert rec.state == RESERVED and len(rec.interactions) == 1


async def test_transition_adds_and_removes_interactions(harness: Harness) -> None:
    await harness.live.set_agent(ready("chat-1", interactions=("c1",)))
    r = await harness.live.transition("chat-1", "ready", "ready", add_interaction="c2")
    assert r is not None and r.interactions == ("c1", "c2")
    r = await harness.live.transition("chat-1", "ready", "ready", add_interaction="c2")
    assert r is not None and r.interactions == ("c1", "c2")  # adding twice keeps one
    r = await harness.live.transition(
        "chat-1", "ready", "wrapup", reason="after chat", remove_interaction="c1"
    )
    assert r is not None and r.interactions == ("c2",) and r.reason == "after chat"
    r = await harness.live.transition("chat-1", "wrapup", "ready", remove_interaction="c2")
    assert r is not None and r.interactions == ()
    again = await harness.live.get_agent("chat-1")
    assert again is not None and again.interactions == ()


async def test_reserve_respects_capacity(harness: Harness) -> None:
    await harness.live.set_agent(ready("chat-1", interactions=("c1", "c2")))
    assert await harness.live.transition(
        "chat-1", "ready", "ready", add_interaction="c3", max_interactions=2
    ) is None
    r = await harness.live.transition(
        "chat-1", "ready", "ready", add_interaction="c3", max_interactions=3
    )
    assert r is not None and r.interactions == ("c1", "c2", "c3")


async def test_wrong_expected_state_changes_nothing(harness: Harness) -> None:
    stored = await harness.live.set_agent(ready("a1"))
    assert await harness.live.transition("a1", "paused", "ready") is None
    assert await harness.live.get_agent("a1") == stored


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"agent_id": ""}, "agent_id"),
        ({"agent_id": "has space"}, "agent_id"),
        ({"state": ""}, "state"),
        ({"since": float("nan")}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"quality": float("inf")}, "quality"),
        ({"quality": "good"}, "quality"),
        ({"interactions": ["ix-1"]}, "interactions"),
        ({"interactions": ("ix-1", "ix-1")}, "interactions"),
        ({"reason": "line\nbreak"}, "reason"),
    ],
)
def test_bad_records_are_refused_with_the_field_named(kwargs: dict, field: str) -> None:
    base: dict = {"agent_id": "a1", "state": "ready", "since": 1.0}
    with pytest.raises(LiveStateDataError, match=field):
        AgentLive(**(base | kwargs))


async def test_bad_call_arguments_are_refused(harness: Harness) -> None:
    with pytest.raises(LiveStateDataError, match="expected_state"):
        await harness.live.transition("a1", "", "ready")
    with pytest.raises(LiveStateDataError, match="max_interactions"):
        await harness.live.reserve("a1", "ready", "ix", max_interactions=0)
    with pytest.raises(LiveStateDataError, match="interaction_id"):
        await harness.live.reserve("a1", "ready", "")
    with pytest.raises(LiveStateDataError, match="AgentLive"):
        await harness.live.set_agent({"agent_id": "a1"})  # type: ignore[arg-type]
