"""Leases that decide which ACD node is active."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.store.live import LiveStateDataError
from tests.live.conftest import Harness

TTL = 0.3


async def test_free_lease_is_taken_and_reported(harness: Harness) -> None:
    lease = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    assert lease is not None
    assert (lease.name, lease.holder) == ("acd-active", "node-a")
    assert 0 < lease.ttl_left <= TTL
    held = await harness.live.lease_holder("acd-active")
    assert held is not None and (held.holder, held.token) == ("node-a", lease.token)


async def test_held_lease_is_refused_to_others(harness: Harness) -> None:
    other = await harness.open_node()
    assert await harness.live.acquire_lease("acd-active", "node-a", TTL) is not None
    assert await other.acquire_lease("acd-active", "node-b", TTL) is None
    assert await other.renew_lease("acd-active", "node-b", TTL) is None
    assert await other.release_lease("acd-active", "node-b") is False
    held = await harness.live.lease_holder("acd-active")
    assert held is not None and held.holder == "node-a"


async def test_acquire_again_by_holder_extends_without_new_token(harness: Harness) -> None:
    first = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    again = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    assert first is not None and again is not None
    assert again.token == first.token


async def test_lease_expires_after_ttl_and_goes_to_the_next_node(harness: Harness) -> None:
    other = await harness.open_node()
    first = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    assert first is not None
    await harness.advance(TTL + 0.1)
    assert await harness.live.lease_holder("acd-active") is None
    assert await harness.live.renew_lease("acd-active", "node-a", TTL) is None
    taken = await other.acquire_lease("acd-active", "node-b", TTL)
    assert taken is not None and taken.holder == "node-b"
    assert taken.token > first.token  # a stale node-a can be fenced off by its token


async def test_renew_keeps_the_lease_past_its_first_ttl(harness: Harness) -> None:
    assert await harness.live.acquire_lease("acd-active", "node-a", TTL) is not None
    for _ in range(3):
        await harness.advance(TTL * 0.6)
        renewed = await harness.live.renew_lease("acd-active", "node-a", TTL)
        assert renewed is not None and renewed.ttl_left > TTL * 0.5
    held = await harness.live.lease_holder("acd-active")
    assert held is not None and held.holder == "node-a"


async def test_release_frees_the_lease_at_once(harness: Harness) -> None:
    other = await harness.open_node()
    assert await harness.live.acquire_lease("acd-active", "node-a", 30) is not None
    assert await harness.live.release_lease("acd-active", "node-a") is True
    assert await harness.live.lease_holder("acd-active") is None
    assert await harness.live.release_lease("acd-active", "node-a") is False
    assert await other.acquire_lease("acd-active", "node-b", 30) is not None


async def test_racing_nodes_get_one_holder(harness: Harness) -> None:
    other = await harness.open_node()
    results = await asyncio.gather(
        *(
            node.acquire_lease("acd-active", f"node-{i}", 30)
            for i, node in enumerate([harness.live, other] * 10)
        )
    )
    winners = {r.holder for r in results if r is not None}
    assert len(winners) == 1


async def test_leases_are_independent_by_name(harness: Harness) -> None:
    assert await harness.live.acquire_lease("centre-berlin", "node-a", 30) is not None
    assert await harness.live.acquire_lease("centre-lisbon", "node-b", 30) is not None


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), 10**6, "5"])
async def test_bad_ttl_is_refused(harness: Harness, ttl: object) -> None:
    with pytest.raises(LiveStateDataError, match="ttl"):
        await harness.live.acquire_lease("acd-active", "node-a", ttl)  # type: ignore[arg-type]


async def test_tokens_keep_growing_after_the_live_state_lost_its_data(harness: Harness) -> None:
    """Redis restarted without persistence forgets the token counter; the SQL store still
    remembers the highest token it saw, so a new token must be above every earlier one or
    each node would be fenced off the store for good."""
    first = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    assert first is not None
    assert await harness.live.release_lease("acd-active", "node-a")
    second = await harness.live.acquire_lease("acd-active", "node-b", TTL)
    assert second is not None and second.token > first.token
    await harness.live.clear()  # the data is gone: counter and lease alike
    third = await harness.live.acquire_lease("acd-active", "node-a", TTL)
    assert third is not None and third.token > second.token
