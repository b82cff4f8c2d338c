"""Queue depths and running totals for the wallboard."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.store.live import LiveStateDataError, QueueStats
from tests.live.conftest import Harness


async def test_untouched_queue_reads_empty(harness: Harness) -> None:
    assert await harness.live.get_queue("sales") == QueueStats("sales")
    assert await harness.live.queue_snapshot() == {}


async def test_waiting_goes_up_and_down_and_never_below_zero(harness: Harness) -> None:
    assert await harness.live.incr_waiting("sales") == 1
    assert await harness.live.incr_waiting("sales", 2) == 3
    assert await harness.live.decr_waiting("sales") == 2
    assert await harness.live.decr_waiting("sales", 5) == 0
    assert await harness.live.decr_waiting("support") == 0
    assert (await harness.live.get_queue("sales")).waiting == 0


async def test_concurrent_updates_from_two_nodes_add_up(harness: Harness) -> None:
    other = await harness.open_node()
    ups = [n.incr_waiting("sales") for n in (harness.live, other) for _ in range(50)]
    await asyncio.gather(*ups)
    downs = [n.decr_waiting("sales") for n in (harness.live, other) for _ in range(30)]
    await asyncio.gather(*downs)
    assert (await harness.live.get_queue("sales")).waiting == 40


async def test_snapshot_shows_waiting_longest_wait_and_counters(harness: Harness) -> None:
    await harness.live.incr_waiting("sales", 3)
    await harness.live.set_longest_wait_start("sales", 1763700000.5)
    await harness.live.incr_counter("sales", "offered", 4)
    await harness.live.incr_counter("sales", "answered")
    await harness.live.incr_counter("support", "abandoned")
    snap = await harness.live.queue_snapshot()
    assert snap == {
        "sales": QueueStats("sales", 3, 1763700000.5, {"offered": 4, "answered": 1}),
        "support": QueueStats("support", 0, None, {"abandoned": 1}),
    }
    await harness.live.set_longest_wait_start("sales", None)
    assert (await harness.live.get_queue("sales")).longest_wait_since is None


@pytest.mark.parametrize("by", [-1, 1.5, True, "2"])
async def test_bad_amounts_are_refused(harness: Harness, by: object) -> None:
    with pytest.raises(LiveStateDataError, match="by"):
        await harness.live.incr_waiting("sales", by)  # type: ignore[arg-type]
    with pytest.raises(LiveStateDataError, match="by"):
        await harness.live.decr_waiting("sales", by)  # type: ignore[arg-type]
    assert await harness.live.queue_snapshot() == {}


async def test_bad_queue_ids_and_times_are_refused(harness: Harness) -> None:
    with pytest.raises(LiveStateDataError, match="queue_id"):
        await harness.live.incr_waiting("")
    with pytest.raises(LiveStateDataError, match="since"):
        await harness.live.set_longest_wait_start("sales", float("nan"))
    with pytest.raises(LiveStateDataError, match="counter name"):
        await harness.live.incr_counter("sales", "two words")
