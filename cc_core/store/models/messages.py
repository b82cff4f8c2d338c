"""Chat and email bodies, linked to the interaction they belong to."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cc_core.store.base import ID_LENGTH, Base, UTCDateTime, new_id, utcnow


class Direction(enum.StrEnum):
    IN = "in"  # from the customer
    OUT = "out"  # from an agent or the system


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index(None, "interaction_id", "time"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    interaction_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("interactions.id"))
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    direction: Mapped[str] = mapped_column(String(3))
    # An email address, a chat visitor id or an agent id, as the channel names the sender.
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))  # RFC 5322 line limit
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
