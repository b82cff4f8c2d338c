"""Customers: identity resolution, merging, and creation races on both backends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from cc_core.store.database import Store
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.identities import InvalidIdentity
from cc_core.store.models import Customer, CustomerIdentity


async def test_find_or_create_creates_once_and_matches_normalised_forms(store: Store) -> None:
    async with store.transaction() as repos:
        first, created = await repos.customers.find_or_create_by_identity(
            "phone", "+1 (201) 555-0123", display_name="Ana"
        )
        assert created
    async with store.transaction() as repos:
        again, created = await repos.customers.find_or_create_by_identity("phone", "+12015550123")
        assert not created
        assert again.id == first.id
        assert again.display_name == "Ana"
        found = await repos.customers.find_by_identity("phone", "+1 201-555-0123")
        assert found is not None and found.id == first.id
        assert await repos.customers.find_by_identity("phone", "+12015550124") is None


async def test_identities_of_all_kinds_resolve_to_one_customer(store: Store) -> None:
    async with store.transaction() as repos:
        customer, _ = await repos.customers.find_or_create_by_identity("email", "Ana@Example.com")
        await repos.customers.add_identity(customer.id, "phone", "+442079460958")
        await repos.customers.add_identity(customer.id, "chat_visitor", "visitor-7")
        await repos.customers.add_identity(customer.id, "email", "ANA@example.com")  # no-op
    async with store.transaction() as repos:
        kinds = [(i.kind, i.value) for i in await repos.customers.identities(customer.id)]
        assert kinds == [
            ("chat_visitor", "visitor-7"),
            ("email", "ana@example.com"),
            ("phone", "+442079460958"),
        ]
        by_chat = await repos.customers.find_by_identity("chat_visitor", "visitor-7")
        assert by_chat is not None and by_chat.id == customer.id


async def test_identity_owned_by_another_customer_is_a_conflict(store: Store) -> None:
    async with store.transaction() as repos:
        ana, _ = await repos.customers.find_or_create_by_identity("email", "ana@example.com")
        bob, _ = await repos.customers.find_or_create_by_identity("email", "bob@example.com")
        with pytest.raises(Conflict, match="merge the customers"):
            await repos.customers.add_identity(bob.id, "email", "ana@example.com")
        assert ana.id != bob.id


async def test_bad_identity_is_refused_before_touching_the_database(store: Store) -> None:
    async with store.transaction() as repos:
        with pytest.raises(InvalidIdentity, match="invalid phone identity '12'"):
            await repos.customers.find_or_create_by_identity("phone", "12")
        assert await repos.session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_merge_moves_identities_interactions_and_tickets(store: Store) -> None:
    async with store.transaction() as repos:
        keep, _ = await repos.customers.find_or_create_by_identity("phone", "+12015550123")
        drop, _ = await repos.customers.find_or_create_by_identity(
            "email", "ana@example.com", display_name="Ana"
        )
        drop.attributes = {"tier": "gold", "lang": "fr"}
        keep.attributes = {"lang": "en"}
        call = await repos.interactions.create("voice", customer_id=keep.id)
        mail = await repos.interactions.create("email", customer_id=drop.id)
        ticket = await repos.tickets.open("Refund", customer_id=drop.id, interaction_id=mail.id)
    async with store.transaction() as repos:
        merged = await repos.customers.merge(keep.id, drop.id)
        assert merged.id == keep.id
    async with store.transaction() as repos:
        kept = await repos.customers.get(keep.id)
        assert kept.display_name == "Ana"
        assert kept.attributes == {"tier": "gold", "lang": "en"}  # the kept customer's win
        values = {i.value for i in await repos.customers.identities(keep.id)}
        assert values == {"+12015550123", "ana@example.com"}
        history = await repos.interactions.for_customer(keep.id)
        assert {i.id for i in history} == {call.id, mail.id}
        assert (await repos.tickets.get(ticket.id)).customer_id == keep.id
        # The old id still resolves, to the kept customer.
        assert (await repos.customers.get(drop.id)).id == keep.id
        found = await repos.customers.find_by_identity("email", "ana@example.com")
        assert found is not None and found.id == keep.id


async def test_merge_chains_collapse_and_self_merge_is_refused(store: Store) -> None:
    async with store.transaction() as repos:
        a = await repos.customers.create(display_name="a")
        b = await repos.customers.create(display_name="b")
        c = await repos.customers.create(display_name="c")
        await repos.customers.merge(b.id, a.id)
        await repos.customers.merge(c.id, b.id)
        assert (await repos.customers.get(a.id)).id == c.id
        raw_a = await repos.customers.get(a.id, follow_merges=False)
        assert raw_a.merged_into_id == c.id  # repointed, not left as a chain a -> b -> c
        with pytest.raises(InvalidValue, match="drop_id"):
            await repos.customers.merge(c.id, a.id)  # a is c already
        with pytest.raises(NotFound, match="customer 'nope' not found"):
            await repos.customers.get("nope")


async def test_concurrent_creators_of_one_identity_get_one_customer(store: Store) -> None:
    async def create(n: int) -> tuple[str, bool]:
        async with store.transaction() as repos:
            customer, created = await repos.customers.find_or_create_by_identity(
                "phone", "+12015550123", display_name=f"caller {n}"
            )
            return customer.id, created

    results = await asyncio.gather(*(create(n) for n in range(5)))
    assert len({cid for cid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with store.transaction() as repos:
        count = select(func.count()).select_from(CustomerIdentity)
        assert await repos.session.scalar(count) == 1
        assert await repos.session.scalar(select(func.count()).select_from(Customer)) == 1


async def _wait_for_lock_waiter(store: Store) -> None:
    """On PostgreSQL, wait until some session blocks on a lock (the loser's INSERT)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(100):
        async with store.engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the second creator never blocked on the first one's row")


async def test_loser_of_a_creation_race_reads_the_winner(store: Store) -> None:
    """The second creator sees nothing, inserts, collides with the first on commit, and
    returns the first one's customer instead of failing."""
    async with store.transaction() as first:
        winner, created = await first.customers.find_or_create_by_identity(
            "email", "race@example.com"
        )
        assert created
        loser = asyncio.create_task(_find_or_create(store, "email", "Race@Example.com"))
        if store.engine.dialect.name == "postgresql":
            await _wait_for_lock_waiter(store)
        else:
            await asyncio.sleep(0.2)  # SQLite: the loser queues on the write lock
        assert not loser.done()
    loser_id, loser_created = await loser
    assert loser_id == winner.id
    assert not loser_created


async def _find_or_create(store: Store, kind: str, value: str) -> tuple[str, bool]:
    async with store.transaction() as repos:
        customer, created = await repos.customers.find_or_create_by_identity(kind, value)
        return customer.id, created
