"""Many interaction facts in a few statements: the ACD's journal writes its batches here.

`Interactions` and `EventLog` write one row per ORM flush, which costs the ACD's event loop
about a millisecond per fact (unit of work, then a round trip to the database thread). A
batch of facts here is one SELECT of the rows it changes, then one multi-row INSERT or UPDATE
per table: the same rows as the one-at-a-time methods, with the same checks, for a fraction
of the work.

The result is the same as calling `Interactions.create`, `Interactions.set_state`,
`Interactions.update_attributes` and `EventLog.append` in order (``tests/store/test_bulk.py``
holds the two side by side). Every check runs before the first statement: a refused fact
raises the same kind of error and the caller's transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.domain.channels import ChannelKind
from cc_core.store.checks import check_value, require_aware
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.models import Interaction, InteractionEvent, InteractionState
from cc_core.store.repos.events import MAX_EVENT_NAME
from cc_core.store.repos.interactions import STAMPS, check_priority, parse_choice

_INTERACTIONS: Table = Interaction.__table__  # type: ignore[assignment]
_EVENTS: Table = InteractionEvent.__table__  # type: ignore[assignment]

# The columns a state or attribute change may write.
_MUTABLE = ("state", "queue", "agent_id", "attributes", *dict.fromkeys(STAMPS.values()))
_IN_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
_SLICE = 200  # rows per INSERT

# Built once: a statement object keeps its cache key, so each use skips rebuilding it.
_INSERT = {table.name: insert(table) for table in (_INTERACTIONS, _EVENTS)}
_LOAD = (
    select(_INTERACTIONS.c.id, *(_INTERACTIONS.c[name] for name in _MUTABLE))
    .where(_INTERACTIONS.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update()  # PostgreSQL: nobody changes them before our UPDATE
)
_UPDATE = (
    update(_INTERACTIONS)
    .where(_INTERACTIONS.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
)


@dataclass(frozen=True, slots=True)
class NewInteraction:
    """`Interactions.create`: the row in state ``new`` and its ``created`` event."""

    interaction_id: str
    channel: str
    at: datetime
    queue: str | None = None
    priority: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)
    pbx_call_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """`Interactions.set_state`: the move and its event (``from`` the stored state)."""

    interaction_id: str
    state: str
    at: datetime
    queue: str | None = None
    agent_id: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """`EventLog.append`: one plain event."""

    event: str
    time: datetime
    interaction_id: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AttributeChange:
    """`Interactions.update_attributes`: ``changes`` merged into the attributes."""

    interaction_id: str
    changes: dict[str, Any]


Fact = NewInteraction | StateChange | LoggedEvent | AttributeChange


def _checked(table: Table) -> list[Column[Any]]:
    # The columns `check_value` can refuse a value for (text with a length, JSON).
    return [
        c
        for c in table.columns
        if isinstance(c.type, JSON) or (isinstance(c.type, String) and c.type.length is not None)
    ]


_CHECKED = {_INTERACTIONS.name: _checked(_INTERACTIONS), _EVENTS.name: _checked(_EVENTS)}


def _check_row(table: Table, row: dict[str, Any]) -> None:
    for column in _CHECKED[table.name]:
        value = row.get(column.key)
        if value is not None:
            check_value(column, value)


class BulkLog:
    """Writes a sequence of `Fact` in the session's transaction, in as few statements as the
    tables allow."""

    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def write(self, facts: Sequence[Fact]) -> None:
        """Write ``facts`` in order; raise (writing nothing) if any one is refused."""
        if not facts:
            return
        created: dict[str, dict[str, Any]] = {}
        stored = await self._load(_changed_ids(facts))
        changed: dict[str, set[str]] = {}
        events: list[dict[str, Any]] = []
        for fact in facts:
            if isinstance(fact, LoggedEvent):
                events.append(_event_row(fact))
            elif isinstance(fact, StateChange):
                row = created.get(fact.interaction_id) or stored.get(fact.interaction_id)
                if row is None:
                    raise NotFound("interaction", fact.interaction_id)
                events.append(_move(row, fact, changed.setdefault(fact.interaction_id, set())))
            elif isinstance(fact, AttributeChange):
                row = created.get(fact.interaction_id) or stored.get(fact.interaction_id)
                if row is None:
                    raise NotFound("interaction", fact.interaction_id)
                attributes = {**row["attributes"], **fact.changes}
                check_value(_INTERACTIONS.c.attributes, attributes)
                row["attributes"] = attributes
                changed.setdefault(fact.interaction_id, set()).add("attributes")
            else:
                if fact.interaction_id in created or fact.interaction_id in stored:
                    raise Conflict(f"interaction {fact.interaction_id!r} already exists")
                row, event = _new_rows(fact)
                created[fact.interaction_id] = row
                events.append(event)
        # Rows first (events refer to them), then the changes to rows that existed, then the
        # events in the order they happened (their ids give that order).
        await self._insert(_INTERACTIONS, list(created.values()))
        await self._update(stored, changed)
        await self._insert(_EVENTS, events)
        # ORM objects of these rows loaded earlier in the transaction are now stale.
        self.session.expire_all()

    async def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        # In slices: the rows' values are prepared on the caller's event loop in one go, and
        # a slice of them takes a millisecond or two; other callbacks run in between.
        connection = await self.session.connection()
        statement = _INSERT[table.name]
        for start in range(0, len(rows), _SLICE):
            await connection.execute(statement, rows[start : start + _SLICE])

    async def _load(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        connection = await self.session.connection()
        rows: dict[str, dict[str, Any]] = {}
        wanted = sorted(ids)
        for start in range(0, len(wanted), _IN_CHUNK):
            result = await connection.execute(_LOAD, {"ids": wanted[start : start + _IN_CHUNK]})
            for found in result.mappings():
                rows[found["id"]] = dict(found)
        return rows

    async def _update(
        self, stored: dict[str, dict[str, Any]], changed: dict[str, set[str]]
    ) -> None:
        # One statement for every changed row, all its changeable columns as loaded and
        # changed here (the rows are locked since `_load`); the customer link is not one.
        params = [
            {"b_id": interaction_id, **{f"b_{name}": row[name] for name in _MUTABLE}}
            for interaction_id, row in stored.items()
            if changed.get(interaction_id)
        ]
        if params:
            connection = await self.session.connection()
            await connection.execute(_UPDATE, params)


def _changed_ids(facts: Iterable[Fact]) -> set[str]:
    """Rows the batch changes that it did not create itself."""
    new = {f.interaction_id for f in facts if isinstance(f, NewInteraction)}
    return {
        f.interaction_id
        for f in facts
        if isinstance(f, (StateChange, AttributeChange)) and f.interaction_id not in new
    }


def _event_row(fact: LoggedEvent) -> dict[str, Any]:
    if not fact.event or len(fact.event) > MAX_EVENT_NAME:
        raise InvalidValue("event", fact.event, f"a name of 1 to {MAX_EVENT_NAME} characters")
    row = {
        "time": require_aware("time", fact.time),
        "interaction_id": fact.interaction_id,
        "queue": fact.queue,
        "agent_id": fact.agent_id,
        "event": fact.event,
        "data": dict(fact.data or {}),
    }
    _check_row(_EVENTS, row)
    return row


def _move(row: dict[str, Any], fact: StateChange, changed: set[str]) -> dict[str, Any]:
    """Apply ``fact`` to ``row`` as `Interactions.set_state` does; its event row."""
    state = parse_choice(InteractionState, "state", fact.state)
    check_value(_INTERACTIONS.c.queue, fact.queue)
    check_value(_INTERACTIONS.c.agent_id, fact.agent_id)
    check_value(_EVENTS.c.data, fact.data)
    old = row["state"]
    if InteractionState(old).is_final:
        raise Conflict(f"interaction {row['id']!r} is already {old}; cannot move to {state.value}")
    now = require_aware("at", fact.at)
    if fact.queue is not None:
        row["queue"] = fact.queue
        changed.add("queue")
    if fact.agent_id is not None:
        row["agent_id"] = fact.agent_id
        changed.add("agent_id")
    row["state"] = state.value
    changed.add("state")
    stamp = STAMPS.get(state)
    if stamp is not None and row[stamp] is None:
        row[stamp] = now
        changed.add(stamp)
    return _event_row(
        LoggedEvent(
            state.value,
            now,
            interaction_id=row["id"],
            queue=row["queue"],
            agent_id=row["agent_id"],
            data={"from": old, **(fact.data or {})},
        )
    )


def _new_rows(fact: NewInteraction) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row of `Interactions.create` and its ``created`` event."""
    channel = parse_choice(ChannelKind, "channel", fact.channel).value
    priority = fact.priority
    check_priority(priority)
    now = require_aware("at", fact.at)
    row: dict[str, Any] = {
        "id": fact.interaction_id,
        "channel": channel,
        "queue": fact.queue,
        "state": InteractionState.NEW.value,
        "priority": priority,
        "attributes": dict(fact.attributes),
        "customer_id": fact.customer_id,
        "agent_id": None,
        "pbx_call_id": fact.pbx_call_id,
        "created_at": now,
        **{stamp: None for stamp in dict.fromkeys(STAMPS.values())},
    }
    _check_row(_INTERACTIONS, row)
    event = _event_row(
        LoggedEvent(
            "created",
            now,
            interaction_id=fact.interaction_id,
            queue=fact.queue,
            data={"channel": channel, "priority": priority},
        )
    )
    return row, event
