"""The store's HA fence: a transaction records its lease token, and one carrying an older
token than the store has seen is refused before it writes anything (both backends)."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.store.database import Store
from cc_core.store.errors import InvalidValue, StoreFenced

LEASE = "acd-active"


async def test_a_token_not_older_than_the_stored_one_passes_and_is_recorded(store: Store) -> None:
    async with store.transaction() as repos:
        assert await repos.fences.current(LEASE) is None
        await repos.fences.claim(LEASE, 5)
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, 5)  # the same node's next transaction
        await repos.fences.claim(LEASE, 6)
        await repos.fences.claim("other-lease", 1)  # each lease has its own row
    async with store.transaction(readonly=True) as repos:
        assert await repos.fences.current(LEASE) == 6
        assert await repos.fences.current("other-lease") == 1


async def test_an_older_token_is_refused_and_its_transaction_writes_nothing(store: Store) -> None:
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, 6)
    with pytest.raises(StoreFenced) as refused:
        async with store.transaction() as repos:
            await repos.fences.claim(LEASE, 5)
            await repos.audit.record("never", "written")  # not reached
    assert (refused.value.lease, refused.value.token, refused.value.current) == (LEASE, 5, 6)
    assert "token 5 refused, the store has seen token 6" in str(refused.value)
    async with store.transaction(readonly=True) as repos:
        assert await repos.fences.current(LEASE) == 6
        assert await repos.audit.entries() == []


async def test_a_newer_claim_waits_for_the_older_transaction_then_fences_it(store: Store) -> None:
    """The claim holds the row (or SQLite's write lock) until its transaction ends: a newer
    node's claim is ordered after the older node's facts, and no older token passes after."""
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, 5)
        await repos.audit.record("node-a", "fact")
        newer = asyncio.create_task(_claim(store, 6))
        await asyncio.sleep(0.2)  # gives the newer claim every chance to overtake (it must not)
        assert not newer.done()
    await asyncio.wait_for(newer, 30)
    with pytest.raises(StoreFenced):
        await _claim(store, 5)
    async with store.transaction(readonly=True) as repos:
        assert [e.actor for e in await repos.audit.entries()] == ["node-a"]
        assert await repos.fences.current(LEASE) == 6


async def _claim(store: Store, token: int) -> None:
    async with store.transaction() as repos:
        await repos.fences.claim(LEASE, token)


@pytest.mark.parametrize(
    ("lease", "token", "field"),
    [("", 1, "lease"), ("x" * 65, 1, "lease"), (LEASE, 0, "token"), (LEASE, True, "token")],
)
async def test_bad_input_is_refused_with_the_field_named(
    store: Store, lease: str, token: int, field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        async with store.transaction() as repos:
            await repos.fences.claim(lease, token)
    assert refused.value.field == field
