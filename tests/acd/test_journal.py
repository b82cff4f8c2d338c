"""The journal writer: order kept, batches committed, one bad write costs only itself, a
refused write is kept as an event, and a store that is away loses nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest

from cc_core.acd.journal import Journal
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.store import database
from cc_core.store.database import Store
from cc_core.store.live import open_live_state


async def test_writes_commit_in_order_and_a_bad_one_is_isolated(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)
    await store.migrate()
    live = await open_live_state("memory", None, "journal-test")
    journal = Journal(store, live)
    journal.start()
    try:
        first = await journal.created(
            call_id="c1", queue="sales", priority=0.0, attributes={}, at=1_000.0
        )
        record = CallRecord(first, "c1", "sales", 1_000.0)
        ghost = CallRecord("no-such-interaction", "c2", "sales", 1_000.0)
        for at, stage in ((1_001.0, Stage.IVR), (1_002.0, Stage.QUEUED)):
            old = record.move(stage)
            await journal.moved(record, old, at)
            if stage is Stage.IVR:
                old = ghost.move(Stage.QUEUED)  # set_state on a row that does not exist
                await journal.moved(ghost, old, at)
        await journal.agent_event("ann", "ready", 1_003.0, source="test")
        await journal.drain()
        assert (journal.written, journal.failed, journal.kept, journal.backlog) == (4, 0, 1, 0)
        async with store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(first)
            row = await repos.interactions.get(first)
        assert [e.event for e in events] == ["created", "ivr", "queued"]
        assert row.state == "queued" and row.queued_at is not None
        assert row.queued_at.timestamp() == 1_002.0
        async with store.transaction(readonly=True) as repos:
            start, end = datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC)
            events_all = [e async for e in repos.events.between(start, end)]
            kept = [e for e in events_all if e.event == "queued" and e.interaction_id is None]
        assert len(kept) == 1
        assert kept[0].data["interaction_id"] == "no-such-interaction"
        assert "NotFound" in kept[0].data["store_refused"]
    finally:
        await journal.close()
        await live.aclose()
        await store.dispose()


async def test_a_refused_state_change_is_kept_as_an_event(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)
    await store.migrate()
    live = await open_live_state("memory", None, "journal-test")
    journal = Journal(store, live)
    journal.start()
    try:
        iid = await journal.created(
            call_id="c1", queue="sales", priority=0.0, attributes={}, at=1_000.0
        )
        record = CallRecord(iid, "c1", "sales", 1_000.0)
        await journal.moved(record, record.move(Stage.ABANDONED), 1_001.0)
        # A final state is never left: the store refuses, the fact is kept all the same.
        record.stage = Stage.IVR
        await journal.moved(record, record.move(Stage.QUEUED), 1_002.0, reason="late")
        await journal.drain()
        assert (journal.failed, journal.kept) == (0, 1)
        async with store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(iid)
            row = await repos.interactions.get(iid)
        assert row.state == "abandoned"
        assert [e.event for e in events] == ["created", "abandoned", "queued"]
        assert events[-1].data["reason"] == "late"
        assert "already abandoned" in events[-1].data["store_refused"]
    finally:
        await journal.close()
        await live.aclose()
        await store.dispose()


async def test_a_locked_database_delays_writes_and_loses_none(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short busy timeout, so the writer meets "database is locked" instead of waiting it out.
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 20)
    store = Store.from_url(sqlite_url)
    await store.migrate()
    live = await open_live_state("memory", None, "journal-test")
    journal = Journal(store, live)
    journal.start()
    path = database.sqlite_file(sqlite_url)
    assert path is not None
    blocker = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        iid = await journal.created(
            call_id="c1", queue="sales", priority=0.0, attributes={}, at=1_000.0
        )
        record = CallRecord(iid, "c1", "sales", 1_000.0)
        await journal.drain()
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        for n, stage in enumerate((Stage.IVR, Stage.QUEUED, Stage.OFFERED, Stage.CONNECTED)):
            await journal.moved(record, record.move(stage), 1_001.0 + n)
        await journal.agent_event("ann", "ready", 1_010.0)
        # A new call is tagged while the lock is held: its id does not wait for the commit.
        second = await asyncio.wait_for(
            journal.created(call_id="c2", queue="sales", priority=0.0, attributes={}, at=1_011.0),
            10,
        )
        # The writer must be retrying, with every write still pending.
        for _ in range(200):
            if journal.retries >= 2:
                break
            await asyncio.sleep(0.01)
        assert journal.retries >= 2
        assert journal.backlog == 6
        blocker.execute("COMMIT")
        await asyncio.wait_for(journal.drain(), 30)
        assert (journal.failed, journal.kept, journal.backlog) == (0, 0, 0)
        async with store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(iid)
            row = await repos.interactions.get(second)
        assert [e.event for e in events] == ["created", "ivr", "queued", "offered", "connected"]
        assert row.pbx_call_id == "c2"
    finally:
        blocker.close()
        await journal.close()
        await live.aclose()
        await store.dispose()
