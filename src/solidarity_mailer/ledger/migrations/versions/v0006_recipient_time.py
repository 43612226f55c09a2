"""Delivery at each recipient's local time, and send windows.

- ``schedules.plan``: a ``--recipient-time`` schedule's batches as JSON, one per zone (schedule/zone_plan.py).
- ``runs.zone``: the zone of a batch run (its recipients are those of that zone); NULL for every other run.
- ``runs.resume_at``: a run waiting for a send window to open: the daemon picks it up again then.
- ``deliveries.not_before``: a row held until its recipient's send window opens (ledger/held_rows.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("plan", sa.Text(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("zone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("not_before")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("resume_at")
        batch.drop_column("zone")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("plan")
