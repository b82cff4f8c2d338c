"""Customers and the identities (phone, email, chat visitor, user id) that point to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cc_core.store.base import ID_LENGTH, Base, UTCDateTime, new_id, utcnow
from cc_core.store.identities import MAX_IDENTITY_LENGTH, IdentityKind

_KINDS = ", ".join(f"'{k.value}'" for k in IdentityKind)


class Customer(Base):
    """One person or organisation served across channels.

    A merged customer is kept (with ``merged_into_id`` set) rather than deleted, so references
    held elsewhere, such as in old reports, still resolve.
    """

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    display_name: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_into_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.id"), index=True
    )

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", lazy="raise", order_by="CustomerIdentity.created_at"
    )


class CustomerIdentity(Base):
    """A normalised key (see `cc_core.store.identities`) that belongs to exactly one customer."""

    __tablename__ = "customer_identities"
    __table_args__ = (
        UniqueConstraint("kind", "value"),
        CheckConstraint(f"kind IN ({_KINDS})", name="kind"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(MAX_IDENTITY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities", lazy="raise")
