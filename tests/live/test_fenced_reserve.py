"""A reservation carrying the caller's lease token: the store refuses it unless that token is
the lease's current one, so a node that lost the lease without noticing cannot reserve."""

from __future__ import annotations

import pytest

from cc_core.store.live import RESERVED, AgentLive, FenceRefused, LeaseFence, LiveStateDataError
from tests.live.conftest import Harness

LEASE = "acd-active"
TTL = 0.3


async def ready_agent(harness: Harness, agent_id: str = "a1") -> AgentLive:
    return await harness.live.set_agent(AgentLive(agent_id=agent_id, state="ready", since=5.0))


async def test_reserve_with_the_current_token_passes(harness: Harness) -> None:
    lease = await harness.live.acquire_lease(LEASE, "node-a", 30)
    assert lease is not None
    await ready_agent(harness)
    won = await harness.live.reserve("a1", "ready", "ix-1", fence=LeaseFence(LEASE, lease.token))
    assert won is not None and won.state == RESERVED and won.interactions == ("ix-1",)


async def test_old_token_is_refused_after_another_holder_took_the_lease(
    harness: Harness,
) -> None:
    other = await harness.open_node()
    old = await harness.live.acquire_lease(LEASE, "node-a", TTL)
    assert old is not None
    before = await ready_agent(harness)
    # node-a is paused past its lease; node-b takes it over.
    await harness.advance(TTL + 0.1)
    new = await other.acquire_lease(LEASE, "node-b", 30)
    assert new is not None and new.token > old.token
    with pytest.raises(FenceRefused) as refused:
        await harness.live.reserve("a1", "ready", "ix-1", fence=LeaseFence(LEASE, old.token))
    assert (refused.value.lease, refused.value.token, refused.value.current) == (
        LEASE,
        old.token,
        new.token,
    )
    assert await harness.live.get_agent("a1") == before
    # The current holder still reserves the untouched agent.
    won = await other.reserve("a1", "ready", "ix-2", fence=LeaseFence(LEASE, new.token))
    assert won is not None and won.interactions == ("ix-2",)


async def test_token_is_refused_when_nobody_holds_the_lease(harness: Harness) -> None:
    lease = await harness.live.acquire_lease(LEASE, "node-a", 30)
    assert lease is not None
    assert await harness.live.release_lease(LEASE, "node-a") is True
    before = await ready_agent(harness)
    with pytest.raises(FenceRefused) as refused:
        await harness.live.reserve("a1", "ready", "ix-1", fence=LeaseFence(LEASE, lease.token))
    assert refused.value.current is None
    assert await harness.live.get_agent("a1") == before


async def test_fence_is_told_apart_from_an_agent_in_another_state(harness: Harness) -> None:
    lease = await harness.live.acquire_lease(LEASE, "node-a", 30)
    assert lease is not None
    await ready_agent(harness)
    fence = LeaseFence(LEASE, lease.token)
    assert await harness.live.reserve("a1", "busy", "ix-1", fence=fence) is None
    assert await harness.live.reserve("ghost", "ready", "ix-1", fence=fence) is None
    # A wrong token is refused as such even when the state would not match either.
    with pytest.raises(FenceRefused):
        await harness.live.reserve("a1", "busy", "ix-1", fence=LeaseFence(LEASE, lease.token + 1))


async def test_reserve_without_a_fence_ignores_the_lease(harness: Harness) -> None:
    await ready_agent(harness)
    won = await harness.live.reserve("a1", "ready", "ix-1")
    assert won is not None and won.state == RESERVED


@pytest.mark.parametrize(
    ("lease", "token"),
    [("bad name", 1), ("", 1), (LEASE, 0), (LEASE, -3), (LEASE, True), (LEASE, 1.0)],
)
def test_bad_fence_is_refused_with_the_field_named(lease: str, token: int) -> None:
    with pytest.raises(LiveStateDataError, match=r"^(lease|token):"):
        LeaseFence(lease, token)


async def test_a_fence_that_is_not_a_lease_fence_is_refused(harness: Harness) -> None:
    await ready_agent(harness)
    with pytest.raises(LiveStateDataError, match=r"^fence:"):
        await harness.live.reserve("a1", "ready", "ix-1", fence=(LEASE, 1))  # type: ignore[arg-type]
    agent = await harness.live.get_agent("a1")
    assert agent is not None and agent.state == "ready"
