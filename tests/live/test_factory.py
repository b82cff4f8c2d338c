"""Choosing a backend by name."""

from __future__ import annotations

import pytest

from cc_core.store.live import LiveState, open_live_state
from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import new_namespace


async def test_memory_backend() -> None:
    live = await open_live_state("memory", None, "centre-1")
    assert isinstance(live, MemoryLiveState) and isinstance(live, LiveState)
    assert live.namespace == "centre-1"


async def test_redis_backend_is_pinged_and_usable(redis_url: str) -> None:
    live = await open_live_state("redis", redis_url, new_namespace())
    try:
        assert isinstance(live, RedisLiveState) and isinstance(live, LiveState)
        assert await live.incr_waiting("q") == 1
    finally:
        await live.clear()
        await live.aclose()


@pytest.mark.parametrize(
    ("backend", "url", "namespace", "message"),
    [
        ("postgres", None, "cc", "expected one of memory, redis"),
        ("redis", None, "cc", "needs a redis_url"),
        ("redis", "http://example.org", "cc", "redis url"),
        ("memory", None, "", "namespace"),
        ("memory", None, "a:b", "namespace"),
        ("memory", None, "cc*", "namespace"),
    ],
)
async def test_bad_choices_are_explained(
    backend: str, url: str | None, namespace: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await open_live_state(backend, url, namespace)
