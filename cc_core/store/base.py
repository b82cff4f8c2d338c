"""Declarative base, column types and id/time helpers shared by every table.

Both SQLite and PostgreSQL must behave alike, so ids are generated in Python (ULIDs: sortable by
creation time, unique without a database round trip) and timestamps go through `UTCDateTime`,
which always hands back timezone-aware UTC values whatever the backend stores.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from ulid import ULID

# Stable constraint names: Alembic can then drop or alter them by name on every backend, and
# SQLite batch migrations (which rebuild tables) keep the same names.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 26  # a ULID in its canonical Crockford base32 text form
AGENT_ID_LENGTH = 64  # agent ids come from configs/agents.yaml
QUEUE_LENGTH = 64  # queue names come from configs/queues.yaml


def new_id() -> str:
    """A fresh ULID as text: unique, and ordered by creation time."""
    return str(ULID())


def utcnow() -> datetime:
    """The default clock of the store: now, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC on the way in and on the way out.

    PostgreSQL keeps it as ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC text and marked UTC again when read. Naive datetimes are refused: guessing their
    zone is how reports end up an hour off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: expected a timezone-aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
