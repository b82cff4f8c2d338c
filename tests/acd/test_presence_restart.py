"""A presence asked for during a call or its wrap-up (taken when they end) survives a restart
with the Redis live state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cc_core.store.live import open_live_state
from pbx.sim.channel import Channel
from tests.acd.conftest import Centre, point_at, running_centre, start_node, wait_for


@pytest.fixture
async def centre(tmp_path: Path, sqlite_url: str, redis_url: str) -> AsyncIterator[Centre]:
    # A long wrap-up: it must still be running when the ACD stops.
    async with running_centre(
        tmp_path, sqlite_url, backend="redis", redis_url=redis_url, wrap=120
    ) as c:
        namespace = c.node.config.acd.node_id
        try:
            yield c
        finally:
            live = await open_live_state("redis", redis_url, namespace)
            await live.clear()
            await live.aclose()


async def ann(centre: Centre) -> dict[str, Any]:
    status, body = await centre.request("GET", "/api/agents/ann")
    assert status == 200, body
    return body


async def ann_is(centre: Centre, state: str) -> bool:
    return (await ann(centre))["state"] == state


async def served_by_ann(centre: Centre) -> Channel:
    await centre.login("ann")
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, what="call connected to ann")
    await wait_for(lambda: ann_is(centre, "busy"), what="ann busy")
    return chan


async def ask(centre: Centre, body: dict[str, str]) -> dict[str, Any]:
    status, reply = await centre.request("PUT", "/api/agents/ann/state", body)
    assert status == 200, reply
    # A job after it: the live-state write that follows the request's job is done.
    assert centre.node.service is not None
    await centre.node.service.serial(lambda: _nothing())
    return reply


async def _nothing() -> None:
    return None


async def restart(centre: Centre) -> None:
    await centre.node.stop()
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)


async def no_open_calls(centre: Centre) -> bool:
    return not await centre.interactions()


async def in_wrap_up(centre: Centre) -> None:
    chan = await served_by_ann(centre)
    centre.hang_up(chan)
    await wait_for(lambda: ann_is(centre, "wrap_up"), what="ann in wrap-up")


async def test_not_ready_asked_for_in_wrap_up_is_kept_across_a_restart(centre: Centre) -> None:
    await in_wrap_up(centre)
    reply = await ask(centre, {"state": "not_ready", "reason": "lunch"})
    assert reply["state"] == "wrap_up"
    await restart(centre)
    assert ((await ann(centre))["state"], (await ann(centre))["reason"]) == ("not_ready", "lunch")
    await wait_for(lambda: no_open_calls(centre), what="the wrap-up's call closed")
    body = await ann(centre)
    assert (body["state"], body["reason"]) == ("not_ready", "lunch")
    # Not offered anything: a new caller waits.
    chan = centre.call()

    async def queued() -> bool:
        return [r.state for r in await centre.interactions()] == ["queued"]

    await wait_for(queued, what="new caller queued")
    assert chan.bridge is None
    centre.hang_up(chan)


async def test_logout_asked_for_in_wrap_up_is_kept_across_a_restart(centre: Centre) -> None:
    await in_wrap_up(centre)
    await ask(centre, {"state": "logged_out"})
    await restart(centre)
    assert (await ann(centre))["state"] == "logged_out"
    await wait_for(lambda: no_open_calls(centre), what="the wrap-up's call closed")
    assert (await ann(centre))["state"] == "logged_out"


async def test_not_ready_asked_for_while_talking_outlasts_the_adopted_call(
    centre: Centre,
) -> None:
    chan = await served_by_ann(centre)
    reply = await ask(centre, {"state": "not_ready", "reason": "lunch"})
    assert reply["state"] == "busy"
    await restart(centre)
    service = centre.node.service
    assert service is not None
    await wait_for(lambda: len(service.calls) == 1, what="talking call adopted")
    body = await ann(centre)
    assert (body["state"], body["reason"]) == ("not_ready", "lunch")
    centre.hang_up(chan)
    await wait_for(lambda: no_open_calls(centre), what="adopted call closed")
    body = await ann(centre)
    assert (body["state"], body["reason"]) == ("not_ready", "lunch")


async def test_logout_asked_for_while_talking_outlasts_the_adopted_call(centre: Centre) -> None:
    chan = await served_by_ann(centre)
    await ask(centre, {"state": "logged_out"})
    await restart(centre)
    service = centre.node.service
    assert service is not None
    await wait_for(lambda: len(service.calls) == 1, what="talking call adopted")
    centre.hang_up(chan)
    await wait_for(lambda: no_open_calls(centre), what="adopted call closed")
    assert (await ann(centre))["state"] == "logged_out"
