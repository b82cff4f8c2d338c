"""Tickets, chat/email messages and the audit log, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cc_core.store.database import Store
from cc_core.store.errors import Conflict, InvalidValue, NotFound


async def test_ticket_lifecycle_with_linked_interactions(store: Store) -> None:
    async with store.transaction() as repos:
        customer = await repos.customers.create(display_name="Ana")
        mail = await repos.interactions.create("email", customer_id=customer.id)
        call = await repos.interactions.create("voice", customer_id=customer.id)
        ticket = await repos.tickets.open(
            "  Refund for order 42 ", customer_id=customer.id, priority=3, interaction_id=mail.id
        )
        await repos.tickets.link(ticket.id, call.id)
        await repos.tickets.link(ticket.id, call.id)  # twice is harmless
        await repos.tickets.assign(ticket.id, "1001")
    async with store.transaction() as repos:
        got = await repos.tickets.get(ticket.id)
        assert (got.subject, got.status) == ("Refund for order 42", "open")
        assert got.owner_agent_id == "1001"
        assert [i.id for i in await repos.tickets.interactions(ticket.id)] == [mail.id, call.id]
        assert [t.id for t in await repos.tickets.for_interaction(call.id)] == [ticket.id]
        assert [t.id for t in await repos.tickets.list_open(owner_agent_id="1001")] == [ticket.id]
        await repos.tickets.set_pending(ticket.id)
        assert [t.id for t in await repos.tickets.list_open(customer_id=customer.id)] == [ticket.id]
        closed = await repos.tickets.close(ticket.id, resolution="refunded")
        assert closed.closed_at is not None and closed.closed_at.tzinfo is UTC
    async with store.transaction() as repos:
        assert await repos.tickets.list_open() == []
        with pytest.raises(Conflict, match="is closed; reopen it before you assign it"):
            await repos.tickets.assign(ticket.id, "1002")
        reopened = await repos.tickets.reopen(ticket.id)
        assert (reopened.status, reopened.closed_at) == ("open", None)


async def test_ticket_input_errors(store: Store) -> None:
    async with store.transaction() as repos:
        with pytest.raises(InvalidValue, match="subject: got ' ', expected a non-empty"):
            await repos.tickets.open(" ")
        ticket = await repos.tickets.open("Call back")
        with pytest.raises(NotFound, match="interaction 'nope'"):
            await repos.tickets.link(ticket.id, "nope")
        with pytest.raises(NotFound, match="ticket 'nope'"):
            await repos.tickets.close("nope")


async def test_open_tickets_by_priority_then_age(store: Store) -> None:
    async with store.transaction() as repos:
        low = await repos.tickets.open("low")
        high = await repos.tickets.open("high", priority=9)
        later_low = await repos.tickets.open("later low")
        assert [t.id for t in await repos.tickets.list_open()] == [high.id, low.id, later_low.id]


async def test_messages_thread_in_order(store: Store) -> None:
    async with store.transaction() as repos:
        mail = await repos.interactions.create("email")
        t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        await repos.messages.add(
            mail.id,
            direction="in",
            sender="ana@example.com",
            subject="Refund",
            body="Where is my refund?",
            headers={"Message-ID": "<1@example.com>", "X-Lang": ["fr"]},
            at=t0,
        )
        await repos.messages.add(
            mail.id, direction="out", sender="1001", body="On its way.", at=t0 + timedelta(hours=1)
        )
    async with store.transaction() as repos:
        thread = await repos.messages.for_interaction(mail.id)
        assert [(m.direction, m.sender, m.subject) for m in thread] == [
            ("in", "ana@example.com", "Refund"),
            ("out", "1001", None),
        ]
        assert thread[0].headers == {"Message-ID": "<1@example.com>", "X-Lang": ["fr"]}
        with pytest.raises(InvalidValue, match="direction: got 'sideways', expected 'in' or"):
            await repos.messages.add(mail.id, direction="sideways", sender="x", body="")
        with pytest.raises(NotFound, match="interaction 'nope'"):
            await repos.messages.add("nope", direction="in", sender="x", body="")


async def test_audit_log_records_and_filters(store: Store) -> None:
    async with store.transaction() as repos:
        await repos.audit.record("sup-anna", "listen", "agent:1001", {"call": "abc.1"})
        await repos.audit.record("sup-anna", "barge", "agent:1001", {"call": "abc.1"})
        await repos.audit.record("admin", "db_upgrade", None)
    async with store.transaction() as repos:
        newest_first = [(e.actor, e.action) for e in await repos.audit.entries()]
        assert newest_first == [
            ("admin", "db_upgrade"),
            ("sup-anna", "barge"),
            ("sup-anna", "listen"),
        ]
        barges = await repos.audit.entries(action="barge")
        assert [(b.target, b.details) for b in barges] == [("agent:1001", {"call": "abc.1"})]
        first = (await repos.audit.entries(actor="sup-anna"))[-1]
        later = await repos.audit.entries(since=first.time + timedelta(microseconds=1))
        assert [e.action for e in later] == ["db_upgrade", "barge"]
        assert len(await repos.audit.entries(limit=1)) == 1
        with pytest.raises(InvalidValue, match="actor"):
            await repos.audit.record("", "barge")


async def test_over_long_text_and_non_json_data_fail_alike_on_both_backends(store: Store) -> None:
    async with store.transaction() as repos:
        call = await repos.interactions.create("voice", queue="sales")
    # One transaction meets every refusal and carries on: nothing refused is written, and the
    # session stays usable (the checks run before anything joins it).
    async with store.transaction() as repos:
        with pytest.raises(InvalidValue, match=r"audit_log\.actor: .*at most 128 characters"):
            await repos.audit.record("x" * 129, "barge")
        with pytest.raises(InvalidValue, match=r"interaction_events\.data: .*JSON data"):
            await repos.events.append("odd", data={"when": datetime(2026, 1, 1, tzinfo=UTC)})
        with pytest.raises(InvalidValue, match=r"interactions\.queue: .*at most 64 characters"):
            await repos.interactions.set_state(call.id, "queued", queue="q" * 65)
        with pytest.raises(InvalidValue, match=r"interaction_events\.data: .*JSON data"):
            await repos.interactions.set_state(call.id, "queued", data={"x": {1, 2}})
        with pytest.raises(InvalidValue, match=r"messages\.headers: .*JSON data \(Out of range"):
            await repos.messages.add(
                call.id, direction="in", sender="x", body="", headers={"score": float("nan")}
            )
        with pytest.raises(InvalidValue, match=r"customers\.display_name: .*at most 200"):
            await repos.customers.find_or_create_by_identity("user", "u1", display_name="n" * 201)
        with pytest.raises(InvalidValue, match=r"tickets\.owner_agent_id: .*at most 64"):
            await repos.tickets.open("subject", owner_agent_id="a" * 65)
        await repos.audit.record("sup-anna", "barge")
    async with store.transaction() as repos:
        row = await repos.interactions.get(call.id)
        assert (row.queue, row.state) == ("sales", "new")
        assert [e.event for e in await repos.events.for_interaction(call.id)] == ["created"]
        assert [e.actor for e in await repos.audit.entries()] == ["sup-anna"]
        assert await repos.customers.find_by_identity("user", "u1") is None
        assert await repos.tickets.list_open() == []
