"""Once per content across runs: what each run sends, and which runs repeat on purpose.

- ``runs.content_digest``: sha256 of the run's subject, HTML and text before personalisation. Runs of 0.1.0
  keep NULL, which counts as the same content as any (ledger/received_content.py): what they sent is never
  sent again by a new run.
- ``runs.again``, ``schedules.again``: false for every existing row.
- ``ix_deliveries_address``: the claim looks up an address in the campaign's other runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_address", ["address"], unique=False)
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("content_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("again", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("again", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("again")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("again")
        batch.drop_column("content_digest")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_address")
