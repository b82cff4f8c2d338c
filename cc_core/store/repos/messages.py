"""Chat and email messages of an interaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.base import new_id
from cc_core.store.checks import checked, require_aware
from cc_core.store.errors import InvalidValue, NotFound
from cc_core.store.models import Direction, Interaction, Message


class Messages:
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def add(
        self,
        interaction_id: str,
        *,
        direction: str | Direction,
        sender: str,
        body: str,
        subject: str | None = None,
        headers: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Message:
        try:
            parsed = Direction(direction)
        except ValueError:
            raise InvalidValue("direction", direction, "'in' or 'out'") from None
        if not sender:
            raise InvalidValue("sender", sender, "a non-empty sender")
        if await self.session.get(Interaction, interaction_id) is None:
            raise NotFound("interaction", interaction_id)
        row = Message(
            id=new_id(),
            interaction_id=interaction_id,
            time=self.clock() if at is None else require_aware("at", at),
            direction=parsed.value,
            sender=sender,
            subject=subject,
            body=body,
            headers=dict(headers or {}),
        )
        self.session.add(checked(row))
        await self.session.flush()
        return row

    async def for_interaction(self, interaction_id: str) -> list[Message]:
        """The thread, oldest first."""
        rows = await self.session.scalars(
            select(Message)
            .where(Message.interaction_id == interaction_id)
            .order_by(Message.time, Message.id)
        )
        return list(rows)
