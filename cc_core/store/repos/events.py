"""The interaction event log: append and read, never change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.checks import checked, require_aware
from cc_core.store.errors import InvalidValue
from cc_core.store.models import InteractionEvent

MAX_EVENT_NAME = 32


class EventLog:
    """Append-only by design: there is deliberately no update or delete here."""

    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def append(
        self,
        event: str,
        *,
        interaction_id: str | None = None,
        queue: str | None = None,
        agent_id: str | None = None,
        data: dict[str, Any] | None = None,
        time: datetime | None = None,
    ) -> InteractionEvent:
        if not event or len(event) > MAX_EVENT_NAME:
            raise InvalidValue("event", event, f"a name of 1 to {MAX_EVENT_NAME} characters")
        row = InteractionEvent(
            time=self.clock() if time is None else require_aware("time", time),
            interaction_id=interaction_id,
            queue=queue,
            agent_id=agent_id,
            event=event,
            data=dict(data or {}),
        )
        self.session.add(checked(row))
        await self.session.flush()
        return row

    async def between(
        self,
        start: datetime,
        end: datetime,
        *,
        queue: str | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[InteractionEvent]:
        """Events with ``start <= time < end`` in the order they happened, streamed in batches
        so a month of events does not have to fit in memory."""
        require_aware("start", start)
        require_aware("end", end)
        if end < start:
            raise InvalidValue("end", end, f"a time not before start {start.isoformat()}")
        query = (
            select(InteractionEvent)
            .where(InteractionEvent.time >= start, InteractionEvent.time < end)
            .order_by(InteractionEvent.time, InteractionEvent.id)
            .execution_options(yield_per=batch_size)
        )
        if queue is not None:
            query = query.where(InteractionEvent.queue == queue)
        result = await self.session.stream_scalars(query)
        async for row in result:
            yield row

    async def for_interaction(self, interaction_id: str) -> list[InteractionEvent]:
        rows = await self.session.scalars(
            select(InteractionEvent)
            .where(InteractionEvent.interaction_id == interaction_id)
            .order_by(InteractionEvent.time, InteractionEvent.id)
        )
        return list(rows)
