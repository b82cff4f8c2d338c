"""The audit log: record supervisor and admin actions, list them back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.checks import checked, require_aware
from cc_core.store.errors import InvalidValue
from cc_core.store.models import AuditEntry


class AuditLog:
    """Like the event log, only appended to."""

    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def record(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> AuditEntry:
        if not actor:
            raise InvalidValue("actor", actor, "the id of who acted")
        if not action:
            raise InvalidValue("action", action, "what was done, e.g. 'barge'")
        row = AuditEntry(
            time=self.clock() if at is None else require_aware("at", at),
            actor=actor,
            action=action,
            target=target,
            details=dict(details or {}),
        )
        self.session.add(checked(row))
        await self.session.flush()
        return row

    async def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first."""
        query = select(AuditEntry)
        if since is not None:
            query = query.where(AuditEntry.time >= require_aware("since", since))
        if until is not None:
            query = query.where(AuditEntry.time < require_aware("until", until))
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        query = query.order_by(AuditEntry.time.desc(), AuditEntry.id.desc()).limit(limit)
        return list(await self.session.scalars(query))
