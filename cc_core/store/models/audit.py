"""The audit log: who did what to whom, for actions that need answering for later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_core.store.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """E.g. actor ``sup-anna``, action ``barge``, target ``agent:1001``, details with the call."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "actor", "time"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
