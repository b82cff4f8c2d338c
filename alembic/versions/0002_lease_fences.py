"""lease fences: the newest HA fencing token each lease has written with

Generated from the models with --autogenerate, then reviewed. Starts empty: the first
active node's first journal transaction records its token (docs/store.md, "Fencing").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:29:31.221020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lease_fences",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lease_fences")),
    )


def downgrade() -> None:
    op.drop_table("lease_fences")
