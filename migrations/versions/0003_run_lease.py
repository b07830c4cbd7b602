"""One sender at a time: the send lease, and a heartbeat on every run.

`lease` holds who may send to one Attio workspace from this database. A run takes it before
sending and renews it with a heartbeat; a killed run stops renewing, so its lease expires and
the next run takes it. `run.heartbeat_at` lets `history` tell a run that is still going from
one that was killed (a `running` row whose heartbeat went stale is shown `interrupted`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    op.create_table(
        "lease",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lease")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("heartbeat_at")
