"""Live state shared in real time by ACD nodes, the API and the wallboard.

`open_live_state("memory", None, "cc")` for one process, `open_live_state("redis", url, "cc")`
for several nodes; both return a `LiveState`. `LeaseKeeper` elects the active ACD node.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cc_core.store.live.lease_keeper import LeaseKeeper
from cc_core.store.live.port import (
    RESERVED,
    AgentLive,
    FenceRefused,
    Lease,
    LeaseFence,
    LiveEvent,
    LiveState,
    LiveStateDataError,
    LiveStateError,
    LiveStateUnavailable,
    QueueStats,
    Subscription,
)

BACKENDS = ("memory", "redis")

__all__ = [
    "BACKENDS",
    "RESERVED",
    "AgentLive",
    "FenceRefused",
    "Lease",
    "LeaseFence",
    "LeaseKeeper",
    "LiveEvent",
    "LiveState",
    "LiveStateDataError",
    "LiveStateError",
    "LiveStateUnavailable",
    "QueueStats",
    "Subscription",
    "open_live_state",
]


async def open_live_state(
    backend: str,
    redis_url: str | None,
    namespace: str,
    *,
    clock: Callable[[], float] = time.time,
) -> LiveState:
    """Open the chosen backend; a Redis one is pinged first so a bad URL fails here, typed."""
    if backend == "memory":
        from cc_core.store.live.memory import MemoryLiveState

        return MemoryLiveState(namespace, clock=clock)
    if backend == "redis":
        if not redis_url:
            raise ValueError("live state backend 'redis' needs a redis_url, e.g. redis://host:6379/0")
        from cc_core.store.live.redis import RedisLiveState

        live = RedisLiveState(redis_url, namespace, clock=clock)
        try:
            await live.ping()
        except BaseException:
            await live.aclose()
            raise
        return live
    raise ValueError(f"live state backend: got {backend!r}, expected one of {', '.join(BACKENDS)}")
