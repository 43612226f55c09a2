"""Rate limits shared by every worker: ``rate_limits`` (each limit's next free slot) and ``rate_limit_grants``
(the slots it granted, per second, for its per-hour part). Empty at first: the hour's budget counts from the
upgrade on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("next_slot", sa.Double(), nullable=False),
    )
    op.create_table(
        "rate_limit_grants",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("second", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_grants")
    op.drop_table("rate_limits")
