"""The two backends answer a random sequence of calls identically, call by call."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cc_core.store.live import AgentLive
from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.live.port import LiveState
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import FakeClock, new_namespace

AGENTS = ["a1", "a2", "a3"]
STATES = ["ready", "reserved", "talking", "wrapup", "paused"]
IXS = ["ix-1", "ix-2", "ix-3", "ix-4"]


def random_call(
    rng: random.Random, current: dict[str, str]
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    agent = rng.choice(AGENTS)
    # Mostly expect the state the agent is really in, so compare-and-sets often succeed.
    known = agent in current and rng.random() < 0.7
    state = current[agent] if known else rng.choice(STATES)
    # Compare-and-sets are what differs most between the backends: give them the most weight.
    choice = rng.choices(range(9), weights=[2, 4, 4, 1, 1, 1, 1, 1, 1])[0]
    if choice == 0:
        ixs = tuple(rng.sample(IXS, rng.randrange(3)))
        q = rng.choice([None, 0.5, 1.0])
        rec = AgentLive(agent, state, rng.uniform(0, 2e9), "", ixs, q)
        return "set_agent", (rec,), {}
    if choice == 1:
        return "reserve", (agent, state, rng.choice(IXS)), {
            "max_interactions": rng.choice([None, 1, 2])
        }
    if choice == 2:
        return "transition", (agent, state, rng.choice(STATES)), {
            "reason": rng.choice(["", "lunch"]),
            "add_interaction": rng.choice([None, *IXS]),
            "remove_interaction": rng.choice([None, *IXS]),
        }
    if choice == 3:
        return "remove_agent", (agent,), {}
    if choice == 4:
        return "incr_waiting", (rng.choice(["q1", "q2"]), rng.randrange(3)), {}
    if choice == 5:
        return "decr_waiting", (rng.choice(["q1", "q2"]), rng.randrange(3)), {}
    if choice == 6:
        return "incr_counter", ("q1", rng.choice(["offered", "answered"]), rng.randrange(3)), {}
    if choice == 7:
        return "set_longest_wait_start", ("q2", rng.choice([None, 1763700000.5])), {}
    return "get_agent", (agent,), {}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_memory_and_redis_agree(redis_url: str, seed: int) -> None:
    clocks = FakeClock(), FakeClock()
    ns = new_namespace()
    memory: LiveState = MemoryLiveState(ns, clock=clocks[0], monotonic=clocks[0])
    redis: LiveState = RedisLiveState(redis_url, ns, clock=clocks[1])
    rng = random.Random(seed)
    moved = 0
    try:
        for step in range(150):
            current = {a.agent_id: a.state for a in await memory.list_agents()}
            name, args, kwargs = random_call(rng, current)
            results = []
            for live in (memory, redis):
                results.append(await getattr(live, name)(*args, **kwargs))
            assert results[0] == results[1], f"step {step}: {name}{args} {kwargs}"
            moved += name in ("reserve", "transition") and results[0] is not None
            for clock in clocks:
                clock.advance(1.5)
        assert moved >= 15  # the sequence really exercised successful compare-and-sets
        assert await memory.list_agents() == await redis.list_agents()
        assert await memory.queue_snapshot() == await redis.queue_snapshot()
    finally:
        await redis.clear()
        await redis.aclose()
