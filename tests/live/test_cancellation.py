"""Cancelling a task that is talking to the live state stops it, every time.

(On Python 3.11 redis-py's socket_timeout path goes through asyncio.wait_for, which loses a
cancellation that lands just as a send completes; the Redis backend avoids that path.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from cc_core.store.live import AgentLive
from cc_core.store.live.port import LiveState
from tests.live.conftest import Harness

ROUNDS = 25


def calls(live: LiveState) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "get_agent": lambda: live.get_agent("a1"),
        "reserve": lambda: live.reserve("a1", "busy", "ix-1"),
        "incr_waiting": lambda: live.incr_waiting("q"),
        "publish": lambda: live.publish("agents", {"n": 1}),
    }


@pytest.mark.parametrize("call", ["get_agent", "reserve", "incr_waiting", "publish"])
async def test_cancel_stops_a_busy_task(harness: Harness, call: str) -> None:
    await harness.live.set_agent(AgentLive("a1", "ready", 1.0))
    op = calls(harness.live)[call]

    async def busy() -> None:
        while True:
            await op()
            await asyncio.sleep(0)  # the memory backend never yields on its own

    lost = 0
    for i in range(ROUNDS):
        task = asyncio.create_task(busy())
        await asyncio.sleep(0.002 * (i % 5))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        if not (done and task.cancelled()):
            lost += 1
            task.cancel()
            await asyncio.wait({task}, timeout=2)
    assert lost == 0, f"{lost} of {ROUNDS} cancellations were lost"


async def test_cancel_stops_a_subscription_reader(harness: Harness) -> None:
    sub = await harness.live.subscribe("agents")

    async def read() -> None:
        async for _ in sub:
            pass

    try:
        for i in range(5):
            task = asyncio.create_task(read())
            await harness.live.publish("agents", {"n": i})
            await asyncio.sleep(0.01 * i)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=2)
            assert done and task.cancelled()
    finally:
        await sub.aclose()
