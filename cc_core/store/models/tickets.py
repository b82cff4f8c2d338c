"""Tickets: follow-up work that outlives one interaction and may span several."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cc_core.store.base import AGENT_ID_LENGTH, ID_LENGTH, Base, UTCDateTime, new_id, utcnow
from cc_core.store.models.interactions import Interaction


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    CLOSED = "closed"


ticket_interactions = Table(
    "ticket_interactions",
    Base.metadata,
    Column("ticket_id", String(ID_LENGTH), ForeignKey("tickets.id"), primary_key=True),
    Column(
        "interaction_id",
        String(ID_LENGTH),
        ForeignKey("interactions.id"),
        primary_key=True,
        index=True,
    ),
)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (CheckConstraint("status IN ('open', 'pending', 'closed')", name="status"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(998))
    status: Mapped[str] = mapped_column(String(8), default=TicketStatus.OPEN.value, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    customer_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.id"), index=True
    )
    owner_agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(2000))

    interactions: Mapped[list[Interaction]] = relationship(
        secondary=ticket_interactions, lazy="raise", order_by=Interaction.created_at
    )
