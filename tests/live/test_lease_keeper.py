"""Active/standby election: a node acts as active only while its lease is surely valid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cc_core.store.live.lease_keeper import LeaseKeeper
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import FakeClock, Harness, TcpProxy, free_port, new_namespace, via_port

TTL = 0.6


async def test_one_keeper_wins_and_the_other_stands_by(harness: Harness) -> None:
    other = await harness.open_node()
    a = LeaseKeeper(harness.live, "acd-active", "node-a", TTL, monotonic=harness.clock)
    b = LeaseKeeper(other, "acd-active", "node-b", TTL, monotonic=harness.clock)
    assert await a.step() is True and a.token is not None
    assert await b.step() is False and b.token is None
    assert await a.step() is True  # renewing keeps the same token
    held = await harness.live.lease_holder("acd-active")
    assert held is not None and (held.holder, held.token) == ("node-a", a.token)


async def test_active_ends_by_the_local_clock_before_the_lease_can_expire(
    harness: Harness,
) -> None:
    keeper = LeaseKeeper(harness.live, "acd-active", "node-a", TTL, monotonic=harness.clock)
    assert await keeper.step() is True
    harness.clock.advance(TTL - keeper.margin - 0.01)
    assert keeper.active is True
    harness.clock.advance(0.02)
    assert keeper.active is False and keeper.token is None


async def test_stop_with_release_hands_over_at_once(harness: Harness) -> None:
    other = await harness.open_node()
    a = LeaseKeeper(harness.live, "acd-active", "node-a", 30, monotonic=harness.clock)
    b = LeaseKeeper(other, "acd-active", "node-b", 30, monotonic=harness.clock)
    assert await a.step() is True
    await a.stop()
    assert a.active is False
    assert await b.step() is True
    assert b.token is not None and b.token > 1


async def test_unreachable_backend_is_a_failed_round_not_an_error(redis_url: str) -> None:
    live = RedisLiveState(via_port(redis_url, free_port()), new_namespace())
    try:
        keeper = LeaseKeeper(live, "acd-active", "node-a", TTL)
        async with asyncio.timeout(10):
            assert await keeper.step() is False
    finally:
        await live.aclose()


async def test_cut_off_active_node_steps_down_at_its_deadline(
    redis_url: str, redis_proxy: TcpProxy
) -> None:
    clock = FakeClock()
    live = RedisLiveState(via_port(redis_url, redis_proxy.port), new_namespace())
    direct = RedisLiveState(redis_url, live.namespace)
    try:
        keeper = LeaseKeeper(live, "acd-active", "node-a", 30, monotonic=clock)
        assert await keeper.step() is True
        await redis_proxy.cut()
        clock.advance(10)
        assert await keeper.step() is True  # renew failed, but the deadline is still ahead
        clock.advance(30 - keeper.margin - 10)
        assert await keeper.step() is False
    finally:
        await direct.clear()
        await direct.aclose()
        await live.aclose()


async def test_run_fails_over_when_the_active_node_dies(redis_url: str) -> None:
    ns = new_namespace()
    nodes = [RedisLiveState(redis_url, ns), RedisLiveState(redis_url, ns)]
    keepers = [
        # A longer ttl than elsewhere: a loaded CI machine must not expire node-0 by accident.
        LeaseKeeper(node, "acd-active", f"node-{i}", 1.5) for i, node in enumerate(nodes)
    ]
    changes: list[tuple[str, bool]] = []
    became_active = [asyncio.Event(), asyncio.Event()]

    def recorder(i: int) -> Callable[[bool, int | None], None]:
        def record(active: bool, token: int | None) -> None:
            changes.append((f"node-{i}", active))
            if active:
                became_active[i].set()
        return record

    try:
        keepers[0].start(recorder(0))
        async with asyncio.timeout(5):
            await became_active[0].wait()
        keepers[1].start(recorder(1))
        await asyncio.sleep(0.5)  # node-1 has tried at least once by now, and lost
        assert keepers[1].active is False
        await keepers[0].stop(release=False)  # a crash: the lease is left to expire
        async with asyncio.timeout(5):
            await became_active[1].wait()
        assert changes == [("node-0", True), ("node-1", True)]
    finally:
        for keeper in keepers:
            await keeper.stop()
        await nodes[0].clear()
        for node in nodes:
            await node.aclose()


def test_margin_must_leave_time_to_act() -> None:
    from cc_core.store.live.memory import MemoryLiveState

    with pytest.raises(ValueError, match="margin"):
        LeaseKeeper(MemoryLiveState(), "acd-active", "node-a", 1.0, margin=1.0)
