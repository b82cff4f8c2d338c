"""Damaged or foreign data in Redis gives a clear error naming the key, and never a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from cc_core.store.live import AgentLive, LiveStateDataError
from cc_core.store.live.redis import RedisLiveState


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_damaged_agent_is_reported_by_key_and_skipped_in_lists(
    redis_live: RedisLiveState, raw: Redis
) -> None:
    ns = redis_live.namespace
    await redis_live.set_agent(AgentLive("good", "ready", 1.0))
    await redis_live.set_agent(AgentLive("bad", "ready", 1.0))
    await raw.hset(f"{ns}:agent:bad", "since", "yesterday")
    expected = rf"redis key {ns}:agent:bad: unreadable agent record .*'yesterday'"
    with pytest.raises(LiveStateDataError, match=expected):
        await redis_live.get_agent("bad")
    assert [a.agent_id for a in await redis_live.list_agents()] == ["good"]


async def test_damaged_interaction_list_stops_the_cas_with_a_clear_error(
    redis_live: RedisLiveState, raw: Redis
) -> None:
    ns = redis_live.namespace
    await redis_live.set_agent(AgentLive("a1", "ready", 1.0))
    await raw.hset(f"{ns}:agent:a1", "interactions", "{not json")
    with pytest.raises(LiveStateDataError, match=f"interactions of {ns}:agent:a1"):
        await redis_live.reserve("a1", "ready", "ix-1")
    assert await raw.hget(f"{ns}:agent:a1", "state") == "ready"


async def test_key_of_the_wrong_type_is_a_data_error(
    redis_live: RedisLiveState, raw: Redis
) -> None:
    await raw.set(f"{redis_live.namespace}:queue:sales", "oops")
    with pytest.raises(LiveStateDataError, match="WRONGTYPE"):
        await redis_live.incr_waiting("sales")


async def test_clear_deletes_only_its_own_namespace(redis_url: str, raw: Redis) -> None:
    mine = RedisLiveState(redis_url, "test-live-mine-x1")
    near = RedisLiveState(redis_url, "test-live-mine-x10")  # a longer name with the same start
    try:
        await mine.incr_waiting("q")
        await near.incr_waiting("q")
        assert await mine.clear() == 2  # the queue hash and the queue index
        assert await raw.exists("test-live-mine-x10:queue:q") == 1
    finally:
        await near.clear()
        for live in (mine, near):
            await live.aclose()
