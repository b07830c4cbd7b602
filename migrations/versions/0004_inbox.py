"""The serve inbox: events `attio-sync serve` acknowledged, queued for the worker.

A row is written, in one transaction per request, before the sender gets its 200; the worker
sets `done_at` in the transaction that records the event's outcome. `message_id` is unique, so
a sender's retry (or a restart) never queues an event twice; `(done_at, id)` serves both "the
queued rows in arrival order" and "how many are queued". Plain DDL, the same on PostgreSQL,
where the times are ``timestamp with time zone`` as the models declare them (aware UTC), so no
session time zone can shift them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=True),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        # SQLite: AUTOINCREMENT, so an id is never handed out twice (arrival order stays true
        # even after old rows are deleted). PostgreSQL makes `id` a SERIAL either way.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_message_id", "inbox", ["message_id"], unique=True)
    op.create_index("ix_inbox_done_at_id", "inbox", ["done_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_done_at_id", table_name="inbox")
    op.drop_index("ix_inbox_message_id", table_name="inbox")
    op.drop_table("inbox")
