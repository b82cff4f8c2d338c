"""Publish/subscribe of live events as JSON objects."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.asyncio import Redis

from cc_core.store.live import LiveEvent, LiveStateDataError, LiveStateUnavailable
from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.live.redis import RedisLiveState
from tests.live.conftest import Harness, new_namespace

WAIT = 5.0  # upper bound for an event to arrive; only reached when something is broken


async def next_event(sub: object) -> LiveEvent:
    return await asyncio.wait_for(anext(sub), WAIT)  # type: ignore[call-overload]


async def test_subscriber_receives_what_is_published_after_subscribe(harness: Harness) -> None:
    other = await harness.open_node()
    async with await harness.live.subscribe("queue.sales") as sub:
        n = await other.publish("queue.sales", {"event": "waiting", "count": 3, "ids": ["a"]})
        assert n == 1
        ev = await next_event(sub)
    assert ev == LiveEvent("queue.sales", {"event": "waiting", "count": 3, "ids": ["a"]})


async def test_events_keep_order_and_only_subscribed_channels_arrive(harness: Harness) -> None:
    async with await harness.live.subscribe("agents", "queue.sales") as sub:
        await harness.live.publish("queue.support", {"n": -1})
        for i in range(20):
            await harness.live.publish("agents" if i % 2 else "queue.sales", {"n": i})
        got = [await next_event(sub) for _ in range(20)]
    assert [e.data["n"] for e in got] == list(range(20))
    assert {e.channel for e in got} == {"agents", "queue.sales"}


async def test_every_subscriber_gets_its_own_copy(harness: Harness) -> None:
    async with (
        await harness.live.subscribe("wallboard") as a,
        await harness.live.subscribe("wallboard") as b,
    ):
        assert await harness.live.publish("wallboard", {"list": [1]}) == 2
        ea, eb = await next_event(a), await next_event(b)
        ea.data["list"].append(2)
        assert eb.data == {"list": [1]}


async def test_publish_without_subscribers_reaches_nobody(harness: Harness) -> None:
    assert await harness.live.publish("nobody.listens", {"x": 1}) == 0


async def test_close_ends_a_waiting_iterator_and_stops_delivery(harness: Harness) -> None:
    sub = await harness.live.subscribe("agents")
    received: list[LiveEvent] = []

    async def consume() -> None:
        async for ev in sub:
            received.append(ev)

    task = asyncio.create_task(consume())
    await harness.live.publish("agents", {"n": 1})
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.01)
    await sub.aclose()
    await asyncio.wait_for(task, WAIT)  # the loop ended by itself, no cancel needed
    assert [e.data for e in received] == [{"n": 1}]
    assert await harness.live.publish("agents", {"n": 2}) == 0
    await sub.aclose()  # closing twice is harmless
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


@pytest.mark.parametrize(
    "payload",
    [{"t": {1, 2}}, {"x": float("nan")}, ["not", "a", "dict"], {"b": b"bytes"}],
)
async def test_non_json_payloads_are_refused(harness: Harness, payload: object) -> None:
    with pytest.raises(LiveStateDataError, match="event on 'agents'"):
        await harness.live.publish("agents", payload)  # type: ignore[arg-type]


async def test_bad_channel_names_are_refused(harness: Harness) -> None:
    with pytest.raises(LiveStateDataError, match="channel"):
        await harness.live.subscribe()
    with pytest.raises(LiveStateDataError, match="channel"):
        await harness.live.subscribe("two words")
    with pytest.raises(LiveStateDataError, match="channel"):
        await harness.live.publish("", {})


async def test_memory_slow_subscriber_drops_oldest_and_counts() -> None:
    live = MemoryLiveState(new_namespace(), buffer=3)
    async with await live.subscribe("agents") as slow, await live.subscribe("agents") as fast:
        for i in range(5):
            await live.publish("agents", {"n": i})
            assert (await next_event(fast)).data == {"n": i}
        assert slow.dropped == 2 and fast.dropped == 0
        assert [(await next_event(slow)).data["n"] for _ in range(3)] == [2, 3, 4]


async def test_namespaces_do_not_hear_each_other(redis_url: str) -> None:
    a = RedisLiveState(redis_url, new_namespace())
    b = RedisLiveState(redis_url, new_namespace())
    try:
        async with await a.subscribe("agents") as sub:
            assert await b.publish("agents", {"from": "b"}) == 0
            await a.publish("agents", {"from": "a"})
            assert (await next_event(sub)).data == {"from": "a"}
    finally:
        for live in (a, b):
            await live.clear()
            await live.aclose()


async def test_redis_skips_foreign_non_json_messages(redis_url: str) -> None:
    ns = new_namespace()
    live = RedisLiveState(redis_url, ns)
    raw = Redis.from_url(redis_url)
    try:
        async with await live.subscribe("agents") as sub:
            await raw.publish(f"{ns}:ev:agents", b"\xff not json")
            await raw.publish(f"{ns}:ev:agents", b"[1, 2]")
            await live.publish("agents", {"ok": True})
            assert (await next_event(sub)).data == {"ok": True}
            assert sub.invalid == 2
    finally:
        await raw.aclose()
        with contextlib.suppress(Exception):
            await live.clear()
        await live.aclose()


async def test_closing_the_store_ends_open_subscriptions(harness: Harness) -> None:
    other = await harness.open_node()
    sub = await other.subscribe("agents")
    reader = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    await other.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(reader, WAIT)


async def test_subscriber_cut_off_by_the_server_gets_a_typed_error(
    redis_live: RedisLiveState, redis_url: str
) -> None:
    # What Redis does to a subscriber past its client-output-buffer-limit: disconnect it.
    sub = await redis_live.subscribe("agents")
    admin = Redis.from_url(redis_url, decode_responses=True)
    try:
        ours = [
            c["id"]
            for c in await admin.client_list(_type="pubsub")
            if c.get("name") == f"ccplane-{redis_live.namespace}"
        ]
        assert len(ours) == 1
        await admin.client_kill_filter(_id=ours[0])
        with pytest.raises(LiveStateUnavailable):
            await asyncio.wait_for(anext(sub), WAIT)
        with pytest.raises(StopAsyncIteration):
            await anext(sub)
    finally:
        await sub.aclose()
        await admin.aclose()
