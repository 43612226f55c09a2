"""Baseline: the schema of release 0.1.0, written out (later changes to ledger/schema.py never change it).

Release 0.1.0 had no migrations; ``metadata.create_all`` made these tables, and ``solidarity-mailer db upgrade``
stamps such a ledger with this revision before upgrading it further. tests/ledger/test_migrations.py checks that
this makes exactly the tables of tests/data/ledger-0.1.0/ledger.db.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ADDRESS = sa.String(320)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("address", ADDRESS, primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "soft_bounces",
        sa.Column("address", ADDRESS, primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(20), nullable=False),
        sa.Column("last_at", WHEN, nullable=False),
    )
    op.create_table(
        "bounce_messages",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("address", ADDRESS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("original_message_id", sa.String(250), nullable=False),
        sa.Column("processed_at", WHEN, nullable=False),
    )
    op.create_index("ix_bounce_messages_address", "bounce_messages", ["address", "original_message_id"])
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )
    _create_sending_tables()


def _create_sending_tables() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("lists", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(100), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("schedule_id", sa.Integer(), sa.ForeignKey("schedules.id")),
        sa.Column("fire_key", sa.String(200), nullable=False),
        sa.Column("scheduled_for", WHEN),
        sa.Column("lists", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("started_at", WHEN),
        sa.Column("finished_at", WHEN),
        sa.UniqueConstraint("fire_key", name="uq_runs_fire_key"),
    )
    op.create_table(
        "deliveries",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("address", ADDRESS, primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("list_id", sa.String(200), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_reply", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(250), nullable=False),
        sa.Column("next_attempt_at", WHEN),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN),
    )
    op.create_index("ix_deliveries_run_state", "deliveries", ["run_id", "state"])
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])
    op.create_index("ix_deliveries_sent_at", "deliveries", ["sent_at"])


def downgrade() -> None:
    for index, table in (("ix_deliveries_message_id", "deliveries"), ("ix_deliveries_sent_at", "deliveries"),
                         ("ix_deliveries_run_state", "deliveries"), ("ix_bounce_messages_address", "bounce_messages")):
        op.drop_index(index, table_name=table)
    for table in ("deliveries", "runs", "schedules", "locks", "campaigns", "bounce_messages", "soft_bounces",
                  "suppressions"):
        op.drop_table(table)
