"""`BulkLog` writes the same rows as the one-at-a-time repository methods, and refuses what
they refuse without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from cc_core.store.database import Repositories, Store
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.models import Interaction, InteractionEvent
from cc_core.store.repos.bulk import (
    AttributeChange,
    Fact,
    LoggedEvent,
    NewInteraction,
    StateChange,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
OLD, A, B = "01J0000000000000000000OLD0", "01J00000000000000000000AAA", "01J00000000000000000000BBB"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# One call (OLD) created before the batch; two created in it; every kind of fact, a queue
# change, the same row changed twice, stamps set once, an agent-only event.
EARLIER: list[Fact] = [
    NewInteraction(OLD, "voice", at(0), queue="sales", priority=1.0, pbx_call_id="c-old"),
    StateChange(OLD, "queued", at(1), data={"stage": "queued"}),
]
BATCH: list[Fact] = [
    NewInteraction(A, "voice", at(2), queue="sales", attributes={"lang": "en"}, pbx_call_id="a"),
    LoggedEvent("ivr_node", at(2.5), A, "sales", None, {"node": "menu", "seq": 1}),
    AttributeChange(A, {"account": "4711"}),
    StateChange(OLD, "offered", at(3), agent_id="ann", data={"offer": 1}),
    StateChange(A, "queued", at(3.5), queue="support", data={"stage": "queued"}),
    NewInteraction(B, "voice", at(4), queue="support", priority=2.5),
    StateChange(OLD, "queued", at(5), data={"reason": "no answer"}),
    StateChange(OLD, "offered", at(6), agent_id="ben"),
    StateChange(OLD, "connected", at(7)),
    LoggedEvent("agent_ready", at(7.5), None, None, "cat", {}),
    StateChange(A, "offered", at(8), agent_id="cat"),
    StateChange(B, "abandoned", at(9), data={"cause": "caller hung up"}),
    AttributeChange(OLD, {"csat": 5}),
    StateChange(OLD, "wrapup", at(10)),
    StateChange(OLD, "ended", at(11)),
]


async def one_by_one(repos: Repositories, facts: list[Fact]) -> None:
    for fact in facts:
        if isinstance(fact, NewInteraction):
            await repos.interactions.create(
                fact.channel,
                queue=fact.queue,
                priority=fact.priority,
                attributes=fact.attributes,
                pbx_call_id=fact.pbx_call_id,
                at=fact.at,
                interaction_id=fact.interaction_id,
            )
        elif isinstance(fact, StateChange):
            await repos.interactions.set_state(
                fact.interaction_id,
                fact.state,
                queue=fact.queue,
                agent_id=fact.agent_id,
                data=fact.data,
                at=fact.at,
            )
        elif isinstance(fact, LoggedEvent):
            await repos.events.append(
                fact.event,
                interaction_id=fact.interaction_id,
                queue=fact.queue,
                agent_id=fact.agent_id,
                data=fact.data,
                time=fact.time,
            )
        else:
            await repos.interactions.update_attributes(fact.interaction_id, **fact.changes)


async def dump(store: Store) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    async with store.transaction() as repos:
        rows = (await repos.session.scalars(select(Interaction).order_by(Interaction.id))).all()
        events = (
            await repos.session.scalars(select(InteractionEvent).order_by(InteractionEvent.id))
        ).all()
        interactions = [
            {c.key: getattr(row, c.key) for c in Interaction.__table__.columns} for row in rows
        ]
        log = [(e.time, e.interaction_id, e.queue, e.agent_id, e.event, e.data) for e in events]
    return interactions, log


async def clear(store: Store) -> None:
    async with store.transaction() as repos:
        await repos.session.execute(delete(InteractionEvent))
        await repos.session.execute(delete(Interaction))


async def test_the_same_rows_as_one_at_a_time(store: Store) -> None:
    async with store.transaction() as repos:
        await one_by_one(repos, EARLIER)
    async with store.transaction() as repos:
        await one_by_one(repos, BATCH)
    expected = await dump(store)
    await clear(store)

    async with store.transaction() as repos:
        await repos.bulk.write(EARLIER)
    async with store.transaction() as repos:
        await repos.bulk.write(BATCH)
    assert await dump(store) == expected
    interactions, log = expected
    assert {r["id"]: r["state"] for r in interactions} == {
        OLD: "ended",
        A: "offered",
        B: "abandoned",
    }
    assert len(log) == 15


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (StateChange(OLD, "nonsense", at(3)), InvalidValue),
        (StateChange("01J0000000000000000000NONE", "queued", at(3)), NotFound),
        (LoggedEvent("x" * 33, at(3), OLD), InvalidValue),
        (LoggedEvent("note", at(3), OLD, data={"v": float("nan")}), InvalidValue),
        (AttributeChange(OLD, {"bad": object()}), InvalidValue),
        (NewInteraction(OLD, "voice", at(3)), IntegrityError),  # as `Interactions.create`
        (NewInteraction(A, "pigeon", at(3)), InvalidValue),
        (NewInteraction(A, "voice", at(3), queue="q" * 65), InvalidValue),
        (StateChange(OLD, "queued", datetime(2026, 5, 4, 9, 0)), InvalidValue),  # naive time
    ],
)
async def test_a_refused_fact_writes_nothing(
    store: Store, bad: Fact, error: type[Exception]
) -> None:
    async with store.transaction() as repos:
        await repos.bulk.write(EARLIER)
    before = await dump(store)
    with pytest.raises(error):
        async with store.transaction() as repos:
            await repos.bulk.write([LoggedEvent("first", at(2), OLD), bad])
    assert await dump(store) == before


async def test_an_interaction_created_twice_in_one_batch(store: Store) -> None:
    with pytest.raises(Conflict, match="already exists"):
        async with store.transaction() as repos:
            await repos.bulk.write([EARLIER[0], EARLIER[0]])
    assert await dump(store) == ([], [])


async def test_a_final_state_is_never_left(store: Store) -> None:
    async with store.transaction() as repos:
        await repos.bulk.write([*EARLIER, StateChange(OLD, "abandoned", at(2))])
    with pytest.raises(Conflict, match="already abandoned"):
        async with store.transaction() as repos:
            await repos.bulk.write([StateChange(OLD, "queued", at(3))])
