"""A Redis that cannot be reached surfaces as LiveStateUnavailable, never a raw redis error."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.store.live import LiveStateUnavailable, open_live_state
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import TcpProxy, free_port, new_namespace, via_port

BOUND = 10.0  # a hang, not slowness, is what these bounds catch


async def test_open_on_a_port_nobody_listens_on_fails_typed(redis_url: str) -> None:
    url = via_port(redis_url, free_port())
    async with asyncio.timeout(BOUND):
        with pytest.raises(LiveStateUnavailable, match=r"127\.0\.0\.1"):
            await open_live_state("redis", url, new_namespace())


async def test_every_kind_of_call_fails_typed_when_unreachable(redis_url: str) -> None:
    live = RedisLiveState(via_port(redis_url, free_port()), new_namespace())
    calls = [
        live.get_agent("a1"),
        live.list_agents(),
        live.reserve("a1", "ready", "ix-1"),
        live.incr_waiting("sales"),
        live.queue_snapshot(),
        live.acquire_lease("acd-active", "node-a", 5),
        live.publish("agents", {"x": 1}),
        live.subscribe("agents"),
    ]
    try:
        async with asyncio.timeout(BOUND):
            for call in calls:
                with pytest.raises(LiveStateUnavailable):
                    await call
    finally:
        await live.aclose()


async def test_lost_connection_mid_session_fails_typed_and_recovers(
    redis_proxy: TcpProxy, redis_url: str
) -> None:
    live = RedisLiveState(via_port(redis_url, redis_proxy.port), new_namespace())
    direct = RedisLiveState(redis_url, live.namespace)
    try:
        assert await live.incr_waiting("sales") == 1
        sub = await live.subscribe("agents")
        await redis_proxy.cut()
        async with asyncio.timeout(BOUND):
            with pytest.raises(LiveStateUnavailable):
                await live.incr_waiting("sales")
            with pytest.raises(LiveStateUnavailable):
                await anext(sub)
        # The subscription is finished after the loss; a consumer re-subscribes.
        with pytest.raises(StopAsyncIteration):
            await anext(sub)
        await sub.aclose()
        # Nothing written before the cut was lost.
        assert (await direct.get_queue("sales")).waiting == 1
        await redis_proxy.start()
        live2 = RedisLiveState(via_port(redis_url, redis_proxy.port), live.namespace)
        try:
            assert await live2.incr_waiting("sales") == 2
        finally:
            await live2.aclose()
    finally:
        await direct.clear()
        await direct.aclose()
        await live.aclose()


async def test_server_that_never_answers_times_out_typed(redis_url: str) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass  # read every command, answer none
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    live = RedisLiveState(via_port(redis_url, port), new_namespace(), op_timeout=0.5)
    try:
        async with asyncio.timeout(BOUND):
            with pytest.raises(LiveStateUnavailable, match="get_agent"):
                await live.get_agent("a1")
    finally:
        await live.aclose()
        server.close()
        await server.wait_closed()
