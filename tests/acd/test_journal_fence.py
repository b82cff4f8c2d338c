"""The HA fence checked by the store: an active node's journal transactions carry its lease
token, and once a newer token has written, an older node's batches are refused whole, logged
once each, and its fence is told (it steps down). A lone node's journal writes as before,
without the extra statement. SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, func, select

from cc_core.acd.journal import Journal
from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.acd.standby import Fence
from cc_core.store.database import Store
from cc_core.store.errors import StoreFenced
from cc_core.store.live import LeaseKeeper, LiveState, open_live_state
from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.models import Interaction, InteractionEvent

LEASE = "acd-active"


@dataclass
class FakeFence:
    """A node's fence as the journal sees it: a fixed token, and the losses it was told."""

    token: int | None
    lease: str = LEASE
    told_lost: list[int] = field(default_factory=list)

    def held(self) -> int | None:
        return self.token

    def lost(self, token: int) -> None:
        self.told_lost.append(token)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("pg_database")()
    store = Store.from_url(url)
    await store.migrate()
    try:
        yield store
    finally:
        await store.dispose()


@pytest.fixture
async def live() -> AsyncIterator[LiveState]:
    live = await open_live_state("memory", None, "journal-fence-test")
    try:
        yield live
    finally:
        await live.aclose()


def statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    seen: list[str] = []

    @event.listens_for(store.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


async def record_a_call(journal: Journal, call_id: str, at: float) -> str:
    """A new call, its IVR and queued stages and an agent event: four facts."""
    iid = await journal.created(call_id=call_id, queue="sales", priority=0.0, attributes={}, at=at)
    record = CallRecord(iid, call_id, "sales", at)
    for n, stage in enumerate((Stage.IVR, Stage.QUEUED), start=1):
        await journal.moved(record, record.move(stage), at + n)
    await journal.agent_event("ann", "ready", at + 3)
    return iid


async def run(journal: Journal) -> None:
    journal.start()
    try:
        await journal.drain()
    finally:
        await journal.close()


async def counts(store: Store) -> tuple[int, int]:
    async with store.transaction(readonly=True) as repos:
        rows = await repos.session.scalar(select(func.count()).select_from(Interaction))
        events = await repos.session.scalar(select(func.count()).select_from(InteractionEvent))
    return int(rows or 0), int(events or 0)


async def test_a_journal_with_the_newest_token_commits_and_claims_first(
    store: Store, live: LiveState
) -> None:
    fence = FakeFence(5)
    journal = Journal(store, live, fence=fence)
    seen = statements(store)
    iid = await record_a_call(journal, "c1", 1_000.0)
    await run(journal)
    assert (journal.written, journal.fenced, fence.told_lost) == (4, 0, [])
    async with store.transaction(readonly=True) as repos:
        assert (await repos.interactions.get(iid)).state == "queued"
        assert await repos.fences.current(LEASE) == 5
    claim = next(i for i, s in enumerate(seen) if "lease_fences" in s)
    first_fact = next(i for i, s in enumerate(seen) if "INSERT INTO interactions" in s)
    assert claim < first_fact  # in the same transaction, before the facts


async def test_after_a_newer_token_wrote_an_older_journal_is_refused_whole(
    store: Store, live: LiveState, caplog: pytest.LogCaptureFixture
) -> None:
    old = FakeFence(5)
    before = Journal(store, live, fence=old)
    await record_a_call(before, "c1", 1_000.0)
    await run(before)  # token 5 committed while it was the newest

    newer = Journal(store, live, fence=FakeFence(6))
    await record_a_call(newer, "c2", 2_000.0)
    await run(newer)
    committed = await counts(store)

    # The old node resumes: its next batch (facts and another module's write) is refused.
    late = Journal(store, live, fence=old)
    linked: list[str] = []

    async def link(_repos: object) -> None:
        linked.append("ran")

    await record_a_call(late, "c3", 3_000.0)
    late.write("c3 customer", link)
    with caplog.at_level(logging.INFO, logger="cc_core.acd.journal"):
        await run(late)
    assert await counts(store) == committed  # nothing of the batch
    assert linked == []
    assert (late.written, late.failed, late.kept, late.fenced, late.retries) == (0, 0, 0, 5, 0)
    fenced = [r for r in caplog.records if r.getMessage() == "journal.fenced"]
    assert len(fenced) == 1 and fenced[0].levelno == logging.ERROR
    assert old.told_lost == [5]
    async with store.transaction(readonly=True) as repos:
        assert await repos.fences.current(LEASE) == 6


async def test_a_lone_nodes_journal_runs_no_fence_statement(store: Store, live: LiveState) -> None:
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, 9)  # an HA pair's row: no concern of a lone node
    journal = Journal(store, live)
    seen = statements(store)
    await journal.claim()  # nothing to claim
    iid = await record_a_call(journal, "c1", 1_000.0)
    await run(journal)
    assert (journal.written, journal.fenced) == (4, 0)
    assert not [s for s in seen if "lease_fences" in s]
    async with store.transaction(readonly=True) as repos:
        assert (await repos.interactions.get(iid)).state == "queued"


async def test_a_node_starting_with_an_older_token_is_refused_at_its_claim(
    store: Store, live: LiveState
) -> None:
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, 6)
    fence = FakeFence(5)
    with pytest.raises(StoreFenced, match="token 5 refused, the store has seen token 6"):
        await Journal(store, live, fence=fence).claim()
    assert fence.told_lost == [5]
    newest = FakeFence(7)
    await Journal(store, live, fence=newest).claim()
    async with store.transaction(readonly=True) as repos:
        assert await repos.fences.current(LEASE) == 7


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_ha_fence_drains_past_its_deadline_until_a_newer_node_writes(
    store: Store,
) -> None:
    """With the real fence: node A, past its deadline, still commits what it recorded while no
    newer node has written (it holds the newest token the store has seen); once B has, A's
    batch is refused and A's fence is closed at once, though A's clock says it is active."""
    lease_clock = Clock()
    shared = MemoryLiveState("journal-fence-ha", monotonic=lease_clock)
    clock_a = Clock()
    keeper_a = LeaseKeeper(shared, LEASE, "node-a", 2.0, monotonic=clock_a)
    assert await keeper_a.step() is True
    fence_a = Fence(keeper_a)
    token_a = keeper_a.token

    clock_a.now += 5.0  # past A's deadline: it drains
    assert keeper_a.token is None and fence_a.held() == token_a
    draining = Journal(store, shared, fence=fence_a)
    await record_a_call(draining, "c1", 1_000.0)
    await run(draining)
    assert (draining.written, draining.fenced) == (4, 0)

    lease_clock.now += 5.0  # the lease expires; B takes it with a newer token
    keeper_b = LeaseKeeper(shared, LEASE, "node-b", 2.0, monotonic=Clock())
    assert await keeper_b.step() is True
    await Journal(store, shared, fence=Fence(keeper_b)).claim()

    clock_a.now -= 5.0  # A's clock as if paused: its own fence still open
    assert fence_a.open
    late = Journal(store, shared, fence=fence_a)
    await record_a_call(late, "c2", 2_000.0)
    await run(late)
    assert (late.written, late.fenced) == (0, 4)
    assert not fence_a.open and keeper_a.token is None
    await shared.aclose()
