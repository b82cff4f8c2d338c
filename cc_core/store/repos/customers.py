"""Customers: find or create by identity, attach identities, merge duplicates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.base import new_id
from cc_core.store.checks import checked
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.identities import IdentityKind, normalize_identity
from cc_core.store.models import Customer, CustomerIdentity, Interaction, Ticket

# A chain of merges longer than this means a cycle slipped in; refuse rather than loop.
_MAX_MERGE_DEPTH = 32


class Customers:
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def get(self, customer_id: str, *, follow_merges: bool = True) -> Customer:
        """The customer, or the one it was merged into when ``follow_merges``."""
        customer = await self.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        depth = 0
        while follow_merges and customer.merged_into_id is not None:
            depth += 1
            if depth > _MAX_MERGE_DEPTH:
                raise Conflict(f"customer {customer_id!r}: merge chain too long or cyclic")
            customer = await self.get(customer.merged_into_id, follow_merges=False)
        return customer

    async def find_by_identity(
        self, kind: str | IdentityKind, value: str, *, default_region: str | None = None
    ) -> Customer | None:
        kind, value = normalize_identity(kind, value, default_region=default_region)
        found = await self._identity(kind, value)
        return None if found is None else await self.get(found.customer_id)

    async def find_or_create_by_identity(
        self,
        kind: str | IdentityKind,
        value: str,
        *,
        display_name: str | None = None,
        default_region: str | None = None,
    ) -> tuple[Customer, bool]:
        """The customer owning this identity, created with it if none does.

        Returns ``(customer, created)``. Safe against a concurrent creator: the unique
        (kind, value) constraint lets one insert win; the loser's savepoint is rolled back and
        it reads the winner's row instead.
        """
        kind, value = normalize_identity(kind, value, default_region=default_region)
        found = await self._identity(kind, value)
        if found is not None:
            return await self.get(found.customer_id), False
        now = self.clock()
        customer = Customer(id=new_id(), display_name=display_name, attributes={}, created_at=now)
        identity = CustomerIdentity(
            id=new_id(), customer_id=customer.id, kind=kind.value, value=value, created_at=now
        )
        checked(customer)
        try:
            async with self.session.begin_nested():
                self.session.add_all([customer, identity])
                await self.session.flush()
        except IntegrityError:
            found = await self._identity(kind, value)
            if found is None:  # the failure was something other than the race
                raise
            return await self.get(found.customer_id), False
        return customer, True

    async def create(
        self, *, display_name: str | None = None, attributes: dict[str, Any] | None = None
    ) -> Customer:
        customer = Customer(
            id=new_id(),
            display_name=display_name,
            attributes=dict(attributes or {}),
            created_at=self.clock(),
        )
        self.session.add(checked(customer))
        await self.session.flush()
        return customer

    async def add_identity(
        self,
        customer_id: str,
        kind: str | IdentityKind,
        value: str,
        *,
        default_region: str | None = None,
    ) -> CustomerIdentity:
        """Attach an identity; a no-op if already attached, `Conflict` if another owns it."""
        kind, value = normalize_identity(kind, value, default_region=default_region)
        customer = await self.get(customer_id)
        found = await self._identity(kind, value)
        if found is not None:
            if found.customer_id != customer.id:
                raise Conflict(
                    f"{kind.value} {value!r} belongs to customer {found.customer_id!r}; "
                    f"merge the customers instead of attaching it to {customer.id!r}"
                )
            return found
        identity = CustomerIdentity(
            id=new_id(),
            customer_id=customer.id,
            kind=kind.value,
            value=value,
            created_at=self.clock(),
        )
        self.session.add(identity)
        await self.session.flush()
        return identity

    async def identities(self, customer_id: str) -> list[CustomerIdentity]:
        customer = await self.get(customer_id)
        rows = await self.session.scalars(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer.id)
            .order_by(CustomerIdentity.kind, CustomerIdentity.value)
        )
        return list(rows)

    async def merge(self, keep_id: str, drop_id: str) -> Customer:
        """Fold customer ``drop_id`` into ``keep_id``.

        Identities, interactions and tickets move to the kept customer; attributes already on
        the kept customer win. The dropped row stays, pointing at the kept one, so old ids
        still resolve through `get`.
        """
        keep = await self.get(keep_id)
        drop = await self.get(drop_id)
        if keep.id == drop.id:
            raise InvalidValue("drop_id", drop_id, f"a customer other than {keep.id!r}")
        for model in (CustomerIdentity, Interaction, Ticket):
            await self.session.execute(
                update(model).where(model.customer_id == drop.id).values(customer_id=keep.id)
            )
        # Customers merged earlier into the dropped one now point straight at the kept one.
        await self.session.execute(
            update(Customer)
            .where(Customer.merged_into_id == drop.id)
            .values(merged_into_id=keep.id)
        )
        keep.attributes = {**drop.attributes, **keep.attributes}
        if keep.display_name is None:
            keep.display_name = drop.display_name
        drop.merged_into_id = keep.id
        await self.session.flush()
        return keep

    async def _identity(self, kind: IdentityKind, value: str) -> CustomerIdentity | None:
        return await self.session.scalar(
            select(CustomerIdentity).where(
                CustomerIdentity.kind == kind.value, CustomerIdentity.value == value
            )
        )
