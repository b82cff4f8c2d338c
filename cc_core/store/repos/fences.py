"""The store's side of the HA fence: a transaction of an active node first records its lease
token, and is refused once a newer token has been recorded (docs/store.md, "Fencing").

One atomic statement per transaction, an UPSERT whose update applies only while the stored
token is not newer: the row count says whether it passed. On PostgreSQL the statement holds
the row's lock until the transaction ends, so a newer node's claim waits for this
transaction's facts and, once it has committed, no older token passes again; SQLite takes
the database's write lock at BEGIN, which orders them the same way.
"""

from __future__ import annotations

from sqlalchemy import Insert, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.errors import InvalidValue, StoreError, StoreFenced
from cc_core.store.models.fences import LEASE_NAME_LENGTH, LeaseToken

_FENCES: Table = LeaseToken.__table__  # type: ignore[assignment]
_CURRENT = select(_FENCES.c.token).where(_FENCES.c.name == bindparam("name"))


def _claim_statement(dialect: str) -> Insert:
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        raise StoreError(f"fenced writes: dialect {dialect!r} unsupported (sqlite, postgresql)")
    stmt = module.insert(_FENCES).values(name=bindparam("name"), token=bindparam("token"))
    return stmt.on_conflict_do_update(
        index_elements=[_FENCES.c.name],
        set_={"token": stmt.excluded.token},
        where=_FENCES.c.token <= stmt.excluded.token,
    )


# Built once per dialect: a statement object keeps its cache key.
_CLAIMS: dict[str, Insert] = {}


def check_lease(lease: object) -> str:
    if not isinstance(lease, str) or not lease or len(lease) > LEASE_NAME_LENGTH:
        raise InvalidValue("lease", lease, f"a lease name of 1 to {LEASE_NAME_LENGTH} characters")
    return lease


def check_token(token: object) -> int:
    if isinstance(token, bool) or not isinstance(token, int) or token < 1:
        raise InvalidValue("token", token, "a fencing token, an int >= 1")
    return token


class LeaseFences:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, lease: str, token: int) -> None:
        """Record ``token`` for ``lease`` unless the store has seen a newer one; then raise
        `StoreFenced` (the caller's transaction must not go on: roll it back)."""
        params = {"name": check_lease(lease), "token": check_token(token)}
        dialect = self.session.get_bind().dialect.name
        stmt = _CLAIMS.get(dialect)
        if stmt is None:
            stmt = _CLAIMS[dialect] = _claim_statement(dialect)
        result = await self.session.execute(stmt, params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StoreFenced(lease, token, await self.current(lease))

    async def current(self, lease: str) -> int | None:
        """The newest token recorded for ``lease`` (None: none yet)."""
        value = await self.session.scalar(_CURRENT, {"name": check_lease(lease)})
        return None if value is None else int(value)
