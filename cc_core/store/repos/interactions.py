"""Interactions: create, move through states (each move logged), list the open ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.domain.channels import ChannelKind
from cc_core.store.base import new_id
from cc_core.store.checks import check_value, checked, require_aware
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.models import Interaction, InteractionEvent, InteractionState
from cc_core.store.repos.events import EventLog

_OPEN_STATES = [s.value for s in InteractionState if not s.is_final]

# Which timestamp column records the first entry into a state.
STAMPS: dict[InteractionState, str] = {
    InteractionState.QUEUED: "queued_at",
    InteractionState.OFFERED: "offered_at",
    InteractionState.CONNECTED: "answered_at",
    InteractionState.ENDED: "ended_at",
    InteractionState.ABANDONED: "ended_at",
}


_E = TypeVar("_E", ChannelKind, InteractionState)


def parse_choice(kind: type[_E], field: str, value: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        expected = "one of " + ", ".join(m.value for m in kind)
        raise InvalidValue(field, value, expected) from None


def check_priority(priority: object) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int | float):
        raise InvalidValue("priority", priority, "a number")
    if not math.isfinite(priority):
        raise InvalidValue("priority", priority, "a finite number")


class Interactions:
    def __init__(
        self, session: AsyncSession, events: EventLog, clock: Callable[[], datetime]
    ) -> None:
        self.session = session
        self.events = events
        self.clock = clock

    async def create(
        self,
        channel: str | ChannelKind,
        *,
        queue: str | None = None,
        customer_id: str | None = None,
        priority: float = 0.0,
        attributes: dict[str, Any] | None = None,
        pbx_call_id: str | None = None,
        at: datetime | None = None,
        interaction_id: str | None = None,
    ) -> Interaction:
        """A new interaction in state ``new``, with its ``created`` event. ``interaction_id``
        lets a writer that commits later hand the id out first (see `new_id`)."""
        parsed = parse_choice(ChannelKind, "channel", channel)
        check_priority(priority)
        now = self.clock() if at is None else require_aware("at", at)
        row = Interaction(
            id=interaction_id or new_id(),
            channel=parsed.value,
            queue=queue,
            state=InteractionState.NEW.value,
            priority=priority,
            attributes=dict(attributes or {}),
            customer_id=customer_id,
            pbx_call_id=pbx_call_id,
            created_at=now,
        )
        self.session.add(checked(row))
        await self.session.flush()
        await self.events.append(
            "created",
            interaction_id=row.id,
            queue=queue,
            data={"channel": parsed.value, "priority": priority},
            time=now,
        )
        return row

    async def get(self, interaction_id: str) -> Interaction:
        row = await self.session.get(Interaction, interaction_id)
        if row is None:
            raise NotFound("interaction", interaction_id)
        return row

    async def set_state(
        self,
        interaction_id: str,
        state: str | InteractionState,
        *,
        queue: str | None = None,
        agent_id: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Interaction:
        """Move to ``state`` and log it in the same transaction.

        ``queue`` and ``agent_id``, when given, replace the interaction's (a transfer or an
        offer); the logged event carries the values in force after the change. A final state
        (ended, abandoned) is never left.
        """
        new = parse_choice(InteractionState, "state", state)
        # Check everything before the first change, so a refusal leaves the row untouched.
        table = Interaction.__table__.c
        check_value(table.queue, queue)
        check_value(table.agent_id, agent_id)
        check_value(InteractionEvent.__table__.c.data, data)
        row = await self.get(interaction_id)
        old = InteractionState(row.state)
        if old.is_final:
            raise Conflict(
                f"interaction {interaction_id!r} is already {old.value}; cannot move to {new.value}"
            )
        now = self.clock() if at is None else require_aware("at", at)
        if queue is not None:
            row.queue = queue
        if agent_id is not None:
            row.agent_id = agent_id
        row.state = new.value
        stamp = STAMPS.get(new)
        if stamp is not None and getattr(row, stamp) is None:
            setattr(row, stamp, now)
        await self.events.append(
            new.value,
            interaction_id=row.id,
            queue=row.queue,
            agent_id=row.agent_id,
            data={"from": old.value, **(data or {})},
            time=now,
        )
        return row

    async def update_attributes(self, interaction_id: str, **changes: Any) -> Interaction:
        """Merge ``changes`` into the attributes (e.g. what the IVR learned)."""
        row = await self.get(interaction_id)
        # A new dict, so the ORM sees the JSON column change.
        attributes = {**row.attributes, **changes}
        check_value(Interaction.__table__.c.attributes, attributes)
        row.attributes = attributes
        await self.session.flush()
        return row

    async def set_customer(self, interaction_id: str, customer_id: str) -> Interaction:
        """Tie the interaction to a customer (identity resolved after it was created)."""
        row = await self.get(interaction_id)
        check_value(Interaction.__table__.c.customer_id, customer_id)
        row.customer_id = customer_id
        await self.session.flush()
        return row

    async def list_open(self, queue: str | None = None) -> list[Interaction]:
        """Interactions not yet ended, highest priority first, then longest waiting."""
        query = select(Interaction).where(Interaction.state.in_(_OPEN_STATES))
        if queue is not None:
            query = query.where(Interaction.queue == queue)
        # COALESCE rather than NULLS LAST: the two backends sort NULLs at opposite ends.
        waiting_since = func.coalesce(Interaction.queued_at, Interaction.created_at)
        query = query.order_by(Interaction.priority.desc(), waiting_since, Interaction.id)
        return list(await self.session.scalars(query))

    async def find_by_pbx_call_id(self, pbx_call_id: str) -> Interaction | None:
        """The open interaction tagged with this PBX call, if any (used to re-adopt calls)."""
        return await self.session.scalar(
            select(Interaction)
            .where(Interaction.pbx_call_id == pbx_call_id, Interaction.state.in_(_OPEN_STATES))
            .order_by(Interaction.created_at.desc())
            .limit(1)
        )

    async def for_customer(self, customer_id: str, *, limit: int = 50) -> list[Interaction]:
        """The customer's latest interactions, newest first (context for the agent)."""
        return list(
            await self.session.scalars(
                select(Interaction)
                .where(Interaction.customer_id == customer_id)
                .order_by(Interaction.created_at.desc())
                .limit(limit)
            )
        )
