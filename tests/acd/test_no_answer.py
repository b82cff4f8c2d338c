"""Ring no-answer: the caller goes back to hold, the engine re-routes, agent rules apply."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.acd.conftest import Centre, wait_for


async def test_unanswered_ring_reroutes_to_the_next_agent(centre: Centre) -> None:
    centre.phones["agent1001"].never_answers()
    await centre.login("ann")  # longest idle: offered first
    await centre.login("ben")
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, seconds=15, what="answered by ben")
    (row,) = await centre.interactions()
    assert row.agent_id == "ben"
    assert await centre.events_of(row.id) == [
        "created", "ivr", "queued", "offered", "queued", "offered", "connected",
    ]
    assert centre.node.store is not None
    async with centre.node.store.transaction(readonly=True) as repos:
        events = await repos.events.for_interaction(row.id)
    offered = [e for e in events if e.event == "offered"]
    assert [e.agent_id for e in offered] == ["ann", "ben"]
    requeued = next(e for e in events if e.event == "queued" and e.data.get("reason"))
    assert requeued.data["reason"] == "NOANSWER" and requeued.data["missed_agent"] == "ann"
    _, ann = await centre.request("GET", "/api/agents/ann")
    assert ann["state"] == "ready"
    centre.hang_up(chan)


async def test_repeated_no_answer_puts_the_agent_in_not_ready(centre: Centre) -> None:
    centre.phones["agent1001"].never_answers()
    await centre.login("ann")
    # A missed call is not offered to the same agent again, so the sales queue's own limit
    # (3 in a row; support's 2 does not apply to sales calls) takes three calls.
    chan, other, third = centre.call(), centre.call(), centre.call()

    async def ann_not_ready() -> bool:
        _, ann = await centre.request("GET", "/api/agents/ann")
        return ann["state"] == "not_ready" and ann["reason"] == "no-answer"

    await wait_for(ann_not_ready, seconds=25, what="ann put in not-ready")
    rows = await centre.interactions()
    assert [r.state for r in rows] == ["queued", "queued", "queued"]
    # Back on hold: the callers are in the holding context, not ringing anyone.
    await wait_for(
        lambda: chan.context == other.context == third.context == "cc-hold",
        what="callers on hold",
    )
    row = rows[0]
    assert centre.node.store is not None
    async with centre.node.store.transaction(readonly=True) as repos:
        events = [e async for e in repos.events.between(row.created_at, _far_future())]
    assert any(e.event == "agent_auto_not_ready" and e.agent_id == "ann" for e in events)
    centre.hang_up(chan)
    centre.hang_up(other)
    centre.hang_up(third)


def _far_future() -> datetime:
    return datetime(2100, 1, 1, tzinfo=UTC)
