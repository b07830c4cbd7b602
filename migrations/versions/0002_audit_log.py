"""The audit log: runs, events, requests, and the sync's record state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("input", sa.String(), nullable=False),
        sa.Column("mapping", sa.String(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("parent_run_id", sa.Integer(), sa.ForeignKey("run.id"), nullable=True),
        sa.Column("base_url", sa.String(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("events", "synced", "unchanged", "invalid", "rejected", "failed", "duplicate", "requests")),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("event_type", sa.String(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("writes", sa.JSON(), nullable=True),
        sa.Column("raw", sa.String(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    for column in ("run_id", "message_key", "user_id", "email", "status"):
        op.create_index(f"ix_event_{column}", "event", [column])
    op.create_table(
        "request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("message_key", sa.String(), nullable=True),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("matching_attribute", sa.String(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(), nullable=True),
        sa.Column("message", sa.String(), nullable=True),
        sa.Column("execution_id", sa.String(), nullable=True),
        sa.Column("latency", sa.Float(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_request_run_id", "request", ["run_id"])
    op.create_index("ix_request_message_key", "request", ["message_key"])
    op.create_table(
        "record_state",
        sa.Column("base_url", sa.String(), primary_key=True),
        sa.Column("object_slug", sa.String(), primary_key=True),
        sa.Column("match_key", sa.String(), primary_key=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("record_state", "request", "event", "run"):
        op.drop_table(table)
