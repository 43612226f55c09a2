"""Several workers on one run: which process claimed a delivery row, and until when it holds it.

- ``deliveries.worker``: ``host:pid:nonce`` of the process that claimed the row last (NULL for rows of
  earlier revisions); ``status`` counts what each worker sent.
- ``deliveries.claimed_until``: a pending row claimed in a batch (``SELECT … FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) is held by its worker until then; once past, any worker may take it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("worker", sa.String(200), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("worker")
