"""The journal writer: order kept, batches committed, one bad write costs only itself."""

from __future__ import annotations

from cc_core.acd.journal import Journal
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.store.database import Store
from cc_core.store.live import open_live_state


async def test_writes_commit_in_order_and_a_bad_one_is_isolated(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)
    await store.migrate()
    live = await open_live_state("memory", None, "journal-test")
    journal = Journal(store, live)
    journal.start()
    try:
        first = await journal.created(call_id="c1", queue="sales", priority=0.0,
                                      attributes={}, at=1_000.0)
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
        assert (journal.written, journal.failed, journal.backlog) == (4, 1, 0)
        async with store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(first)
            row = await repos.interactions.get(first)
        assert [e.event for e in events] == ["created", "ivr", "queued"]
        assert row.state == "queued" and row.queued_at is not None
        assert row.queued_at.timestamp() == 1_002.0
    finally:
        await journal.close()
        await live.aclose()
        await store.dispose()
