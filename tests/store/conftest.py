"""The store suite runs every test against both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from cc_core.store.base import Base
from cc_core.store.database import Store
from cc_core.store.migrate import upgrade


class StepClock:
    """A clock that moves forward one second each time it is read: distinct, known times."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(scope="session")
def migrated_pg_url(pg_url: str) -> str:
    """The session's PostgreSQL database, built by the migrations rather than create_all."""
    upgrade(pg_url)
    return pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("migrated_pg_url")


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def store(store_url: str, clock: Callable[[], datetime]) -> AsyncIterator[Store]:
    """An empty store on each backend in turn."""
    store = Store.from_url(store_url, clock=clock)
    if store.engine.dialect.name == "sqlite":
        await store.create_all()  # a fresh file per test
    else:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with store.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield store
    finally:
        await store.dispose()
