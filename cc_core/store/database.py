"""The `Store`: owns the engine and session factory for one database URL.

SQLite is the embedded default and PostgreSQL the shared one; callers see no difference. SQLite
needs some help to get there: foreign keys are off unless asked for, and its driver's own
transaction handling breaks SAVEPOINTs, so we issue BEGIN ourselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cc_core.store.base import Base, utcnow
from cc_core.store.repos import (
    AuditLog,
    Customers,
    EventLog,
    Interactions,
    Messages,
    Tickets,
)
from cc_core.store.repos.bulk import BulkLog
from cc_core.store.repos.fences import LeaseFences

# How long a SQLite writer waits for another to finish before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000

# Execution option marking a transaction that only reads (see `Store.transaction`).
READONLY_OPTION = "cc_readonly"

Clock = Callable[[], datetime]


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for other backends and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see `_on_begin`).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers go on while one writer writes; not available for :memory:.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers then queue on busy_timeout
        # instead of one failing with "database is locked" when it upgrades a read lock.
        # Read-only transactions (reports) must not hold that lock, so they begin DEFERRED.
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``, with SQLite tuned and its directory created."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() != "sqlite":
        # A server restart or failover leaves dead pooled connections; test before use.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


@dataclass(frozen=True, slots=True)
class Repositories:
    """The repositories bound to one session (one transaction)."""

    session: AsyncSession
    customers: Customers
    interactions: Interactions
    events: EventLog
    messages: Messages
    tickets: Tickets
    audit: AuditLog
    bulk: BulkLog
    fences: LeaseFences

    @classmethod
    def bind(cls, session: AsyncSession, clock: Clock) -> Repositories:
        events = EventLog(session, clock)
        return cls(
            session=session,
            customers=Customers(session, clock),
            interactions=Interactions(session, events, clock),
            events=events,
            messages=Messages(session, clock),
            tickets=Tickets(session, clock),
            audit=AuditLog(session, clock),
            bulk=BulkLog(session, clock),
            fences=LeaseFences(session),
        )


class Store:
    """The durable store: ``async with store.transaction() as repos: ...``.

    Each `transaction` commits when its block ends normally and rolls back on an exception.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str | URL, *, clock: Clock = utcnow, **engine_kwargs: Any) -> Store:
        return cls(make_engine(url, **engine_kwargs), clock=clock)

    @property
    def url(self) -> URL:
        return self.engine.url

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Repositories]:
        """One transaction. ``readonly`` is for long reads such as reports: on SQLite it does
        not take the write lock, so the ACD keeps writing while a report streams events."""
        async with self.sessions() as session, session.begin():
            if readonly:
                await session.connection(execution_options={READONLY_OPTION: True})
            yield Repositories.bind(session, self.clock)

    async def create_all(self) -> None:
        """Create the tables directly from the models: for throw-away databases only.

        A database meant to last is created and upgraded with the migrations
        (`cc_core.store.migrate.upgrade`), so that later migrations apply to it.
        """
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def migrate(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (in a thread: Alembic is blocking)."""
        from cc_core.store.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url.render_as_string(hide_password=False), revision)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.dispose()
