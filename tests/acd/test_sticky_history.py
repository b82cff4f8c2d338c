"""The sticky agent on voice calls: callers get a routing key from their caller id, and who
served them is reloaded from the store when the ACD starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from cc_core.acd.customers import load_service_history, routing_key
from cc_core.domain import AgentState, ChannelKind, Interaction, Queue
from cc_core.routing import Engine, Offer
from cc_core.store.database import Store
from tests.routing.test_rules import agent


@pytest.mark.parametrize(
    ("caller", "key"),
    [
        ("+49 30 1234-567", "caller:+49301234567"),
        ("030 1234567", "caller:0301234567"),
        ("anonymous", None),
        ("", None),
        (None, None),
        ("12", None),
    ],
)
def test_routing_key_of_a_caller(caller: str | None, key: str | None) -> None:
    assert routing_key(caller) == key


@dataclass
class _Centre:
    queues: tuple[Queue, ...]


@dataclass
class _Acd:
    """What `load_service_history` reads: the centre's queues, the clock, store and engine."""

    centre: _Centre
    store: Store
    engine: Engine
    clock: float

    def now(self) -> float:
        return self.clock


async def _served(store: Store, caller: str, agent_id: str, at: datetime) -> None:
    async with store.transaction() as repos:
        row = await repos.interactions.create(
            "voice", queue="q", attributes={"caller": caller}, at=at
        )
        for state in ("queued", "offered", "connected", "ended"):
            await repos.interactions.set_state(row.id, state, agent_id=agent_id, at=at)


async def test_who_served_a_caller_survives_a_restart(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)
    await store.migrate()
    try:
        now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        await _served(store, "+4930111", "prev", now.replace(hour=9))
        await _served(store, "+4930222", "other", now.replace(day=1))  # outside 7 days
        await _served(store, "anonymous", "other", now.replace(hour=10))
        queue = Queue("q", sticky_seconds=20.0, sticky_days=7.0)
        engine = Engine([queue])
        acd = _Acd(_Centre((queue,)), store, engine, now.timestamp())
        assert await load_service_history(acd) == 1  # type: ignore[arg-type]

        t = now.timestamp()
        engine.add_agent(agent("prev"), t, AgentState.NOT_READY)
        engine.add_agent(agent("other"), t, AgentState.READY)
        # The returning caller waits for the agent who served them...
        call = Interaction("new", "q", ChannelKind.VOICE, t, customer_id=routing_key("+4930111"))
        assert [o for o in engine.arrive(call, t) if isinstance(o, Offer)] == []
        (offer,) = [
            o for o in engine.set_state("prev", AgentState.READY, t + 5) if isinstance(o, Offer)
        ]
        assert offer.agent_id == "prev" and offer.reason.sticky
        # ...a caller served 19 days ago does not.
        late = Interaction("late", "q", ChannelKind.VOICE, t, customer_id=routing_key("+4930222"))
        engine.set_state("other", AgentState.READY, t + 6)
        (offer,) = [o for o in engine.arrive(late, t + 6) if isinstance(o, Offer)]
        assert offer.agent_id == "other" and not offer.reason.sticky
    finally:
        await store.dispose()


async def test_no_sticky_queue_reads_nothing(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)  # never migrated: a query would fail
    try:
        queue = Queue("q")
        acd = _Acd(_Centre((queue,)), store, Engine([queue]), 0.0)
        assert await load_service_history(acd) == 0  # type: ignore[arg-type]
    finally:
        await store.dispose()
