"""The highest fencing token each HA lease has written with (docs/store.md, "Fencing")."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cc_core.store.base import Base

# Lease names come from acd.yaml's ha.lease (an identifier of at most 64 characters).
LEASE_NAME_LENGTH = 64


class LeaseToken(Base):
    """One row per lease: the newest token an active node has committed journal facts with.
    A transaction carrying an older token is refused (`repos.fences.claim`)."""

    __tablename__ = "lease_fences"

    name: Mapped[str] = mapped_column(String(LEASE_NAME_LENGTH), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
