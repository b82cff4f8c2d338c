"""The presence kept beside an agent's state (what it takes after its calls and wrap-up)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from cc_core.acd.live_sync import restored_presence
from cc_core.domain import AgentState
from cc_core.store.live import AgentLive, LiveStateDataError
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import Harness


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_presence_round_trips_and_a_reservation_keeps_it(harness: Harness) -> None:
    live = harness.live
    await live.set_agent(AgentLive("a1", "wrap_up", 1.0, reason="lunch", presence="not_ready"))
    got = await live.get_agent("a1")
    assert got is not None and (got.state, got.reason, got.presence) == (
        "wrap_up",
        "lunch",
        "not_ready",
    )
    await live.set_agent(AgentLive("a2", "ready", 1.0, presence="ready"))
    reserved = await live.reserve("a2", "ready", "ix-1")
    assert reserved is not None and reserved.presence == "ready"
    assert [a.presence for a in await live.list_agents()] == ["not_ready", "ready"]


async def test_a_record_written_without_the_field_reads_as_not_recorded(
    redis_live: RedisLiveState, raw: Redis
) -> None:
    ns = redis_live.namespace
    # As an ACD before the field existed wrote it.
    await raw.hset(
        f"{ns}:agent:old",
        mapping={
            "state": "wrap_up",
            "reason": "",
            "since": "1.0",
            "interactions": "[]",
            "quality": "",
            "version": "3",
        },
    )
    await raw.sadd(f"{ns}:agents", "old")
    got = await redis_live.get_agent("old")
    assert got is not None and (got.state, got.presence) == ("wrap_up", "")
    assert restored_presence(got) is AgentState.READY


def test_a_bad_presence_is_refused_with_the_field_named() -> None:
    with pytest.raises(LiveStateDataError, match="presence"):
        AgentLive("a1", "ready", 1.0, presence="not ready")


@pytest.mark.parametrize(
    ("state", "presence", "expected"),
    [
        ("wrap_up", "not_ready", AgentState.NOT_READY),
        ("busy", "logged_out", AgentState.LOGGED_OUT),
        ("reserved", "ready", AgentState.READY),
        ("not_ready", "", AgentState.NOT_READY),
        ("busy", "", AgentState.READY),
        ("wrap_up", "paused", AgentState.READY),  # unknown: logged, ready as before
    ],
)
def test_the_presence_given_back_at_start(state: str, presence: str, expected: AgentState) -> None:
    assert restored_presence(AgentLive("a1", state, 1.0, presence=presence)) is expected
