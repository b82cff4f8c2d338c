"""Interactions (one call, chat or email thread) and their append-only event log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from cc_core.store.base import (
    AGENT_ID_LENGTH,
    ID_LENGTH,
    QUEUE_LENGTH,
    Base,
    UTCDateTime,
    new_id,
    utcnow,
)


class InteractionState(enum.StrEnum):
    """Where an interaction is in its life; each change is one row in the event log."""

    NEW = "new"  # created, not yet routed (e.g. still in the IVR)
    QUEUED = "queued"  # waiting for an agent
    OFFERED = "offered"  # reserved for an agent, ringing or shown on the desktop
    CONNECTED = "connected"  # the agent answered
    WRAPUP = "wrapup"  # the customer left; the agent finishes notes
    ENDED = "ended"  # handled to the end
    ABANDONED = "abandoned"  # the customer left before an agent answered

    @property
    def is_final(self) -> bool:
        return self in (InteractionState.ENDED, InteractionState.ABANDONED)


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (Index(None, "queue", "state"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(16))  # a cc_core.domain ChannelKind value
    queue: Mapped[str | None] = mapped_column(String(QUEUE_LENGTH))
    state: Mapped[str] = mapped_column(String(16), default=InteractionState.NEW.value)
    priority: Mapped[float] = mapped_column(Float, default=0.0)  # as in the domain model
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    customer_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.id"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID_LENGTH))
    # The PBX's own id for the call (Asterisk Uniqueid / FreeSWITCH uuid): how a restarted ACD
    # re-adopts calls still waiting in the PBX.
    pbx_call_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InteractionEvent(Base):
    """One state change, as it happened. Reports are computed from this table alone.

    Rows are only ever inserted: the repository has no update or delete, and the ORM refuses to
    flush one (see the listeners below). ``interaction_id`` is empty for events that concern an
    agent only (login, pause, ready).
    """

    __tablename__ = "interaction_events"
    __table_args__ = (Index(None, "queue", "time"),)

    # An integer sequence rather than a ULID: it gives a total order to events that share a
    # timestamp. SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    interaction_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("interactions.id"), index=True
    )
    queue: Mapped[str | None] = mapped_column(String(QUEUE_LENGTH))
    agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID_LENGTH))
    event: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or remove a recorded event."""


@event.listens_for(InteractionEvent, "before_update")
def _refuse_update(_mapper: object, _conn: object, target: InteractionEvent) -> None:
    raise AppendOnlyViolation(f"interaction event {target.id} is append-only: not updated")


@event.listens_for(InteractionEvent, "before_delete")
def _refuse_delete(_mapper: object, _conn: object, target: InteractionEvent) -> None:
    raise AppendOnlyViolation(f"interaction event {target.id} is append-only: not deleted")
