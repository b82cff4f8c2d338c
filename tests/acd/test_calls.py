"""Calls served end to end: simulated PBX over AMI and FastAGI, the ACD, SQLite store."""

from __future__ import annotations

from typing import Any

from tests.acd.conftest import SUPPORT_NUMBER, Centre, wait_for


def queued(centre: Centre) -> int:
    assert centre.node.service is not None
    return sum(1 for r in centre.node.service.calls if r.stage.value == "queued")


async def test_call_is_served_and_every_stage_is_logged(centre: Centre) -> None:
    await centre.login("ann")
    chan = centre.call()

    async def connected() -> bool:
        return chan.bridge is not None

    await wait_for(connected, what="caller bridged to an agent")

    async def recorded_connected() -> list[Any]:
        rows = await centre.interactions()
        return rows if [r.state for r in rows] == ["connected"] else []

    (row,) = await wait_for(recorded_connected, what="connected in the store")
    assert (row.state, row.agent_id, row.queue) == ("connected", "ann", "sales")
    assert row.pbx_call_id == chan.uniqueid
    status, agent = await centre.request("GET", "/api/agents/ann")
    assert (status, agent["state"], agent["interactions"]) == (200, "busy", [row.id])
    centre.hang_up(chan)

    async def closed() -> bool:
        return not await centre.interactions()

    await wait_for(closed, what="interaction closed after wrap-up")
    events = await centre.events_of(row.id)
    assert events == ["created", "ivr", "queued", "offered", "connected", "wrapup", "ended"]
    status, agent = await centre.request("GET", "/api/agents/ann")
    assert agent["state"] == "ready" and agent["contacts"] == 1


async def test_calls_wait_for_a_free_agent_and_are_served_in_order(centre: Centre) -> None:
    first, second = centre.call(), centre.call()
    await wait_for(lambda: queued(centre) == 2, what="two calls queued")
    _, queues = await centre.request("GET", "/api/queues")
    sales = next(q for q in queues["queues"] if q["id"] == "sales")
    assert sales["waiting"] == 2
    await centre.login("ben")
    await wait_for(lambda: first.bridge is not None, what="first caller served first")
    assert second.bridge is None
    centre.hang_up(first)
    await wait_for(lambda: second.bridge is not None, what="second caller after wrap-up")
    centre.hang_up(second)


async def test_caller_hanging_up_in_queue_is_abandoned(centre: Centre) -> None:
    chan = centre.call(SUPPORT_NUMBER)
    rows = await wait_for(centre.interactions, what="interaction created")
    await wait_for(lambda: queued(centre) == 1, what="queued")
    centre.hang_up(chan)

    async def gone() -> bool:
        return not await centre.interactions()

    await wait_for(gone, what="interaction closed")
    assert (await centre.events_of(rows[0].id))[-1] == "abandoned"
    _, queues = await centre.request("GET", "/api/queues")
    support = next(q for q in queues["queues"] if q["id"] == "support")
    assert support["waiting"] == 0 and support["counters"].get("abandoned") == 1
