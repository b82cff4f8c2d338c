"""The HA fence on reservations is checked by the live state itself: a node paused past its
lease, whose own clock still says it is active, cannot reserve an agent once another node
holds the lease (the one thing that would let two nodes offer the same agent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from cc_core.acd.standby import Fence, FencedLive
from cc_core.store.live import RESERVED, AgentLive, LeaseKeeper, LiveState
from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.live.redis import RedisLiveState

LEASE = "acd-active"
TTL = 0.4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Nodes:
    a: LiveState
    b: LiveState
    store_clock: Clock  # the lease clock of the memory backend
    backend: str

    async def let_the_lease_expire(self) -> None:
        self.store_clock.now += TTL + 0.1
        if self.backend == "redis":
            await asyncio.sleep(TTL + 0.1)  # Redis expires leases by its own clock


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[Nodes]:
    ns = f"test-fence-{uuid.uuid4().hex[:12]}"
    store_clock = Clock()
    if request.param == "memory":
        shared = MemoryLiveState(ns, monotonic=store_clock)
        pair = Nodes(shared, shared, store_clock, "memory")
    else:
        url = request.getfixturevalue("redis_url")
        pair = Nodes(RedisLiveState(url, ns), RedisLiveState(url, ns), store_clock, "redis")
    try:
        yield pair
    finally:
        await pair.a.clear()
        await pair.a.aclose()
        await pair.b.aclose()


async def test_a_paused_node_whose_local_fence_is_open_is_refused_by_the_store(
    nodes: Nodes, caplog: pytest.LogCaptureFixture
) -> None:
    frozen = Clock()  # node A's own clock stands still: a pause it has not noticed
    keeper_a = LeaseKeeper(nodes.a, LEASE, "node-a", TTL, monotonic=frozen)
    keeper_b = LeaseKeeper(nodes.b, LEASE, "node-b", TTL, monotonic=Clock())
    assert await keeper_a.step() is True
    before = await nodes.a.set_agent(AgentLive(agent_id="a1", state="ready", since=5.0))

    await nodes.let_the_lease_expire()
    assert await keeper_b.step() is True
    assert keeper_b.token is not None and keeper_a.token is not None
    assert keeper_b.token > keeper_a.token

    fence_a = Fence(keeper_a)
    live_a = FencedLive(nodes.a, fence_a)
    assert fence_a.open  # A still believes it is active
    with caplog.at_level(logging.WARNING, logger="cc_core.acd.standby"):
        assert await live_a.reserve("a1", "ready", "ix-1") is None
        assert await live_a.reserve("a1", "ready", "ix-2") is None
    assert await nodes.a.get_agent("a1") == before
    fenced = [r for r in caplog.records if r.getMessage() == "ha.reserve_fenced"]
    assert len(fenced) == 1  # logged once, not at every offer
    # The refusal closed A's fence at once, though A's clock still says its lease runs.
    assert not fence_a.open and keeper_a.token is None

    # The node that holds the lease reserves the untouched agent.
    won = await FencedLive(nodes.b, Fence(keeper_b)).reserve("a1", "ready", "ix-3")
    assert won is not None and won.state == RESERVED and won.interactions == ("ix-3",)


async def test_the_holder_reserves_through_its_fence(nodes: Nodes) -> None:
    keeper = LeaseKeeper(nodes.a, LEASE, "node-a", 30, monotonic=Clock())
    assert await keeper.step() is True
    await nodes.a.set_agent(AgentLive(agent_id="a1", state="ready", since=5.0))
    live = FencedLive(nodes.a, Fence(keeper))
    won = await live.reserve("a1", "ready", "ix-1")
    assert won is not None and won.state == RESERVED
    # Not in the expected state any more: None, as without a fence.
    assert await live.reserve("a1", "ready", "ix-2") is None


async def test_a_refusal_wakes_the_keeper_loop_to_report_the_loss(nodes: Nodes) -> None:
    """The node steps down (its `on_change`) on the refusal, not at its own deadline."""
    frozen = Clock()
    keeper_a = LeaseKeeper(nodes.a, LEASE, "node-a", TTL, monotonic=frozen)
    changes: list[tuple[bool, int | None]] = []
    task = asyncio.create_task(keeper_a.run(lambda active, token: changes.append((active, token))))
    try:
        await wait_until(lambda: changes == [(True, keeper_a.token)])
        await nodes.a.set_agent(AgentLive(agent_id="a1", state="ready", since=5.0))
        await nodes.let_the_lease_expire()
        keeper_b = LeaseKeeper(nodes.b, LEASE, "node-b", TTL, monotonic=Clock())
        assert await keeper_b.step() is True
        # A's loop sleeps until its next round or its deadline (a third of the ttl at most):
        # without the refusal waking it, it would report the loss only then.
        assert await FencedLive(nodes.a, Fence(keeper_a)).reserve("a1", "ready", "ix") is None
        for _ in range(20):  # a few turns of the loop, no time: the loop was woken, not timed
            await asyncio.sleep(0)
        assert changes == [(True, changes[0][1]), (False, None)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
