"""Tickets: open, link interactions, assign, close."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.base import new_id
from cc_core.store.checks import check_value, checked
from cc_core.store.errors import Conflict, InvalidValue, NotFound
from cc_core.store.models import Interaction, Ticket, TicketStatus, ticket_interactions


class Tickets:
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def open(
        self,
        subject: str,
        *,
        customer_id: str | None = None,
        owner_agent_id: str | None = None,
        priority: int = 0,
        interaction_id: str | None = None,
    ) -> Ticket:
        if not subject or not subject.strip():
            raise InvalidValue("subject", subject, "a non-empty subject")
        now = self.clock()
        ticket = Ticket(
            id=new_id(),
            subject=subject.strip(),
            status=TicketStatus.OPEN.value,
            priority=priority,
            customer_id=customer_id,
            owner_agent_id=owner_agent_id,
            created_at=now,
            updated_at=now,
        )
        self.session.add(checked(ticket))
        await self.session.flush()
        if interaction_id is not None:
            await self.link(ticket.id, interaction_id)
        return ticket

    async def get(self, ticket_id: str) -> Ticket:
        ticket = await self.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("ticket", ticket_id)
        return ticket

    async def link(self, ticket_id: str, interaction_id: str) -> None:
        """Link an interaction to the ticket; linking twice is harmless."""
        ticket = await self.get(ticket_id)
        if await self.session.get(Interaction, interaction_id) is None:
            raise NotFound("interaction", interaction_id)
        linked = await self.session.scalar(
            select(ticket_interactions.c.ticket_id).where(
                ticket_interactions.c.ticket_id == ticket.id,
                ticket_interactions.c.interaction_id == interaction_id,
            )
        )
        if linked is None:
            await self.session.execute(
                insert(ticket_interactions).values(
                    ticket_id=ticket.id, interaction_id=interaction_id
                )
            )
            ticket.updated_at = self.clock()
            await self.session.flush()

    async def interactions(self, ticket_id: str) -> list[Interaction]:
        ticket = await self.get(ticket_id)
        rows = await self.session.scalars(
            select(Interaction)
            .join(ticket_interactions, ticket_interactions.c.interaction_id == Interaction.id)
            .where(ticket_interactions.c.ticket_id == ticket.id)
            .order_by(Interaction.created_at, Interaction.id)
        )
        return list(rows)

    async def for_interaction(self, interaction_id: str) -> list[Ticket]:
        rows = await self.session.scalars(
            select(Ticket)
            .join(ticket_interactions, ticket_interactions.c.ticket_id == Ticket.id)
            .where(ticket_interactions.c.interaction_id == interaction_id)
            .order_by(Ticket.created_at, Ticket.id)
        )
        return list(rows)

    async def assign(self, ticket_id: str, agent_id: str | None) -> Ticket:
        check_value(Ticket.__table__.c.owner_agent_id, agent_id)
        ticket = await self._open_ticket(ticket_id, "assign")
        ticket.owner_agent_id = agent_id
        ticket.updated_at = self.clock()
        await self.session.flush()
        return ticket

    async def set_pending(self, ticket_id: str) -> Ticket:
        """Waiting on the customer; a new contact from them reopens it via `reopen`."""
        ticket = await self._open_ticket(ticket_id, "set pending")
        ticket.status = TicketStatus.PENDING.value
        ticket.updated_at = self.clock()
        await self.session.flush()
        return ticket

    async def close(self, ticket_id: str, *, resolution: str | None = None) -> Ticket:
        check_value(Ticket.__table__.c.resolution, resolution)
        ticket = await self._open_ticket(ticket_id, "close")
        now = self.clock()
        ticket.status = TicketStatus.CLOSED.value
        ticket.resolution = resolution
        ticket.closed_at = now
        ticket.updated_at = now
        await self.session.flush()
        return ticket

    async def reopen(self, ticket_id: str) -> Ticket:
        ticket = await self.get(ticket_id)
        ticket.status = TicketStatus.OPEN.value
        ticket.closed_at = None
        ticket.updated_at = self.clock()
        await self.session.flush()
        return ticket

    async def list_open(
        self, *, owner_agent_id: str | None = None, customer_id: str | None = None
    ) -> list[Ticket]:
        """Open and pending tickets, highest priority first, then oldest."""
        query = select(Ticket).where(Ticket.status != TicketStatus.CLOSED.value)
        if owner_agent_id is not None:
            query = query.where(Ticket.owner_agent_id == owner_agent_id)
        if customer_id is not None:
            query = query.where(Ticket.customer_id == customer_id)
        query = query.order_by(Ticket.priority.desc(), Ticket.created_at, Ticket.id)
        return list(await self.session.scalars(query))

    async def _open_ticket(self, ticket_id: str, verb: str) -> Ticket:
        ticket = await self.get(ticket_id)
        if ticket.status == TicketStatus.CLOSED.value:
            raise Conflict(f"ticket {ticket_id!r} is closed; reopen it before you {verb} it")
        return ticket
