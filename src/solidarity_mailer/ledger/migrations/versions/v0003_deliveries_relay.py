"""Several SMTP relays: which relay each delivery's last outcome came from.

- ``deliveries.relay``: the relay's name (``[smtp] name``, default ``host:port``), written with each outcome.
  Existing rows keep NULL: their relay was not recorded (``status`` counts them under no relay).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("relay", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("relay")
