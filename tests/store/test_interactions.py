"""Interactions and the event log, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from cc_core.store.database import Store
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.models import AppendOnlyViolation, InteractionEvent
from cc_core.store.repos import EventLog

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_state_changes_stamp_times_and_log_one_event_each(store: Store) -> None:
    async with store.transaction() as repos:
        call = await repos.interactions.create(
            "voice", queue="sales", priority=2, pbx_call_id="1700000000.42", at=T0
        )
        await repos.interactions.set_state(call.id, "queued", at=T0 + timedelta(seconds=5))
        await repos.interactions.set_state(
            call.id, "offered", agent_id="1001", at=T0 + timedelta(seconds=20)
        )
        # Offer not answered: back to the queue, then offered to another agent.
        await repos.interactions.set_state(
            call.id, "queued", data={"reason": "no_answer"}, at=T0 + timedelta(seconds=35)
        )
        await repos.interactions.set_state(
            call.id, "offered", agent_id="1002", at=T0 + timedelta(seconds=40)
        )
        await repos.interactions.set_state(call.id, "connected", at=T0 + timedelta(seconds=44))
        await repos.interactions.set_state(call.id, "wrapup", at=T0 + timedelta(seconds=300))
        await repos.interactions.set_state(call.id, "ended", at=T0 + timedelta(seconds=330))
    async with store.transaction() as repos:
        row = await repos.interactions.get(call.id)
        assert row.state == "ended"
        assert row.agent_id == "1002"
        assert row.created_at == T0
        assert row.queued_at == T0 + timedelta(seconds=5)  # the first entry, not the re-queue
        assert row.offered_at == T0 + timedelta(seconds=20)
        assert row.answered_at == T0 + timedelta(seconds=44)
        assert row.ended_at == T0 + timedelta(seconds=330)
        events = await repos.events.for_interaction(call.id)
        assert [(e.event, e.agent_id, e.data.get("from")) for e in events] == [
            ("created", None, None),
            ("queued", None, "new"),
            ("offered", "1001", "queued"),
            ("queued", "1001", "offered"),
            ("offered", "1002", "queued"),
            ("connected", "1002", "offered"),
            ("wrapup", "1002", "connected"),
            ("ended", "1002", "wrapup"),
        ]
        assert events[3].data["reason"] == "no_answer"
        assert all(e.queue == "sales" for e in events)


async def test_final_states_are_never_left(store: Store) -> None:
    async with store.transaction() as repos:
        chat = await repos.interactions.create("chat", queue="support")
        await repos.interactions.set_state(chat.id, "abandoned")
    async with store.transaction() as repos:
        with pytest.raises(Conflict, match="already abandoned; cannot move to queued"):
            await repos.interactions.set_state(chat.id, "queued")


async def test_bad_channel_state_and_id_get_clear_errors(store: Store) -> None:
    async with store.transaction() as repos:
        with pytest.raises(InvalidValue, match="channel: got 'fax', expected one of voice"):
            await repos.interactions.create("fax")
        call = await repos.interactions.create("voice")
        with pytest.raises(InvalidValue, match="state: got 'ringing', expected one of new"):
            await repos.interactions.set_state(call.id, "ringing")
        with pytest.raises(NotFound, match="interaction 'missing' not found"):
            await repos.interactions.set_state("missing", "queued")


async def test_list_open_orders_by_priority_then_wait(store: Store) -> None:
    async with store.transaction() as repos:
        ids = {}
        for name, prio, queued in [("late", 0, 30), ("early", 0, 10), ("vip", 5, 50)]:
            row = await repos.interactions.create("voice", queue="sales", priority=prio, at=T0)
            await repos.interactions.set_state(row.id, "queued", at=T0 + timedelta(seconds=queued))
            ids[name] = row.id
        unqueued = await repos.interactions.create("voice", queue="sales", at=T0)
        done = await repos.interactions.create("voice", queue="sales", at=T0)
        await repos.interactions.set_state(done.id, "ended")
        other = await repos.interactions.create("email", queue="billing", at=T0)
    async with store.transaction() as repos:
        open_sales = [i.id for i in await repos.interactions.list_open("sales")]
        # Not yet queued counts as waiting since creation (T0): before the ones queued later.
        assert open_sales == [ids["vip"], unqueued.id, ids["early"], ids["late"]]
        everything = {i.id for i in await repos.interactions.list_open()}
        assert everything == {*ids.values(), unqueued.id, other.id}


async def test_pbx_call_id_finds_the_open_interaction(store: Store) -> None:
    async with store.transaction() as repos:
        old = await repos.interactions.create("voice", pbx_call_id="abc.1")
        await repos.interactions.set_state(old.id, "ended")
        live = await repos.interactions.create("voice", pbx_call_id="abc.1")
    async with store.transaction() as repos:
        found = await repos.interactions.find_by_pbx_call_id("abc.1")
        assert found is not None and found.id == live.id
        assert await repos.interactions.find_by_pbx_call_id("zzz") is None


async def test_attributes_round_trip_as_json(store: Store) -> None:
    async with store.transaction() as repos:
        call = await repos.interactions.create(
            "voice", attributes={"lang": "fr", "skills": {"billing": 3}}
        )
        await repos.interactions.update_attributes(call.id, intent="refund", lang="de")
    async with store.transaction() as repos:
        row = await repos.interactions.get(call.id)
        assert row.attributes == {"lang": "de", "skills": {"billing": 3}, "intent": "refund"}


async def test_times_come_back_as_the_same_utc_instant(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=paris)
    async with store.transaction() as repos:
        call = await repos.interactions.create("voice", at=local)
    async with store.sessions() as session:
        row = await session.get(type(call), call.id)
        assert row is not None
        assert row.created_at == local
        assert row.created_at.tzinfo is UTC
        assert row.created_at.hour == 9


async def test_naive_times_are_refused(store: Store) -> None:
    naive = datetime(2026, 3, 1, 9, 0)
    async with store.transaction() as repos:
        with pytest.raises(InvalidValue, match=r"at: got datetime.* expected a timezone-aware"):
            await repos.interactions.create("voice", at=naive)
        with pytest.raises(InvalidValue, match="start: got"):
            _ = [e async for e in repos.events.between(naive, T0)]
    # Rows built by hand meet the column type's own check.
    with pytest.raises(StatementError, match="naive datetime 2026-03-01T09:00:00: expected"):
        async with store.transaction() as repos:
            repos.session.add(InteractionEvent(time=naive, event="x", data={}))
            await repos.session.flush()


async def test_event_range_is_ordered_half_open_and_filtered(store: Store) -> None:
    async with store.transaction() as repos:
        a = await repos.interactions.create("voice", queue="sales", at=T0)
        b = await repos.interactions.create("chat", queue="support", at=T0)
        same = T0 + timedelta(seconds=10)
        await repos.interactions.set_state(a.id, "queued", at=same)
        await repos.interactions.set_state(b.id, "queued", at=same)
        await repos.events.append("agent_ready", agent_id="1001", queue="sales", time=same)
        await repos.interactions.set_state(a.id, "abandoned", at=T0 + timedelta(seconds=20))
    async with store.transaction() as repos:
        window = [
            (e.event, e.interaction_id)
            async for e in repos.events.between(T0, T0 + timedelta(seconds=20), batch_size=2)
        ]
        # Equal times keep the order they were written in; the end bound is excluded.
        assert window == [
            ("created", a.id),
            ("created", b.id),
            ("queued", a.id),
            ("queued", b.id),
            ("agent_ready", None),
        ]
        sales = [e.event async for e in repos.events.between(T0, T0 + timedelta(1), queue="sales")]
        assert sales == ["created", "queued", "agent_ready", "abandoned"]
        with pytest.raises(InvalidValue, match="end"):
            _ = [e async for e in repos.events.between(T0, T0 - timedelta(1))]
        with pytest.raises(InvalidValue, match="event"):
            await repos.events.append("")


async def test_event_log_is_append_only(store: Store) -> None:
    assert not [
        name for name in dir(EventLog) if name.startswith(("update", "delete", "remove", "set"))
    ]
    async with store.transaction() as repos:
        await repos.events.append("agent_login", agent_id="1001")
    with pytest.raises(AppendOnlyViolation, match="append-only: not updated"):
        async with store.transaction() as repos:
            row = await repos.session.scalar(select(InteractionEvent))
            assert row is not None
            row.event = "agent_logout"
            await repos.session.flush()
    with pytest.raises(AppendOnlyViolation, match="append-only: not deleted"):
        async with store.transaction() as repos:
            row = await repos.session.scalar(select(InteractionEvent))
            await repos.session.delete(row)
            await repos.session.flush()
    async with store.transaction() as repos:
        rows = list(await repos.session.scalars(select(InteractionEvent)))
        assert [r.event for r in rows] == ["agent_login"]


async def test_a_long_report_read_does_not_block_writers(store: Store) -> None:
    async with store.transaction() as repos:
        await repos.events.append("agent_login", agent_id="1001", time=T0)
    async with store.transaction(readonly=True) as reader:
        stream = reader.events.between(T0, T0 + timedelta(days=1))
        first = await anext(stream)
        assert first.event == "agent_login"

        async def write() -> None:
            async with store.transaction() as writer:
                await writer.events.append("agent_ready", agent_id="1001")

        # While the report is still open, the ACD's write goes through promptly.
        await asyncio.wait_for(write(), timeout=3)
        await stream.aclose()
    async with store.transaction(readonly=True) as reader:
        events = [e.event async for e in reader.events.between(T0, T0 + timedelta(days=1))]
        assert events == ["agent_login", "agent_ready"]


async def test_priority_is_a_finite_number(store: Store) -> None:
    async with store.transaction() as repos:
        row = await repos.interactions.create("video", priority=2.5)
        assert (await repos.interactions.get(row.id)).priority == 2.5
        with pytest.raises(InvalidValue, match="priority: got nan, expected a finite number"):
            await repos.interactions.create("voice", priority=float("nan"))
        with pytest.raises(InvalidValue, match="priority: got True, expected a number"):
            await repos.interactions.create("voice", priority=True)
