"""Input checks that make SQLite and PostgreSQL refuse the same values, with the same error.

PostgreSQL rejects a string longer than its column and SQLite silently keeps it; a value that
is not JSON fails deep inside the driver. Every row is checked against its columns before it
is written, so bad input gets an `InvalidValue` naming ``table.column`` on both backends.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Column, ColumnElement, String, event, inspect
from sqlalchemy.orm import Mapper

from cc_core.store.base import Base
from cc_core.store.errors import InvalidValue

_SHOWN = 60  # characters of an over-long value quoted in the error
_T = TypeVar("_T")


def require_aware(field: str, value: datetime) -> datetime:
    """``value`` if it is a timezone-aware datetime; `InvalidValue` naming ``field`` if not."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidValue(field, value, "a timezone-aware datetime (e.g. with tzinfo=UTC)")
    return value


def check_value(column: ColumnElement[Any] | Column[Any], value: object) -> None:
    """Refuse ``value`` for the table column ``column`` wherever PostgreSQL would."""
    if not isinstance(column, Column):
        raise TypeError(f"expected a table column, got {column!r}")
    if value is None:
        return
    field = f"{column.table.name}.{column.name}"
    if isinstance(column.type, String) and column.type.length is not None:
        if not isinstance(value, str):
            raise InvalidValue(field, value, f"text of at most {column.type.length} characters")
        if len(value) > column.type.length:
            shown = f"{value[:_SHOWN]}... ({len(value)} characters)"
            raise InvalidValue(field, shown, f"at most {column.type.length} characters")
    elif isinstance(column.type, JSON):
        try:
            # PostgreSQL's json type has no NaN or Infinity; Python's encoder allows them.
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(field, value, f"JSON data ({exc})") from None


def check_row(target: object) -> None:
    """Check every loaded column value of the mapped object ``target``."""
    state = inspect(target)
    for column in state.mapper.columns:
        check_value(column, state.dict.get(column.key))


def checked(target: _T) -> _T:
    """``target`` after `check_row`: check before ``session.add`` so a refused value does
    not spoil the session's transaction (a failed flush would)."""
    check_row(target)
    return target


@event.listens_for(Base, "before_insert", propagate=True)
def _check_insert(_mapper: Mapper[Any], _conn: object, target: object) -> None:
    check_row(target)


@event.listens_for(Base, "before_update", propagate=True)
def _check_update(_mapper: Mapper[Any], _conn: object, target: object) -> None:
    check_row(target)
