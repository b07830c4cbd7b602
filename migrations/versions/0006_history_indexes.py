"""Indexes for `history` at a million events: a run's events in line order, its counts, a
message by id, an email in any case, a time; a run's requests by latency and by status.

Each replaces a scan of the run (or of every event) by an index read (issue 16):

- ``event (run_id, line, id)``: a run's events in input order (`history events`, `export`),
  read in order instead of sorted; it replaces ``ix_event_run_id``, its first column.
- ``event (run_id, status)``: a run's counts per outcome (`history runs`, `show`) from the
  index alone, and its events of some outcomes (`show`'s problems, `events --status`).
- ``event (message_id)``: `history trace` looks a message up by key or by messageId.
- ``event (lower(email))``: `history events --email` compares without case; it replaces
  ``ix_event_email``, which that comparison could not use and nothing else reads.
- ``event (finished_at)``: `history events --since`.
- ``event (message_key, run_id)``: the sync's per-event duplicate checks (this run? an earlier
  one?); it replaces ``ix_event_message_key``. Without it the (run_id, ...) indexes above make
  SQLite read a message's whole run for each check, quadratic in the run's size.
- ``request (run_id, latency)`` and ``request (run_id, status)``: `history show`'s slowest
  requests and attempts per status; the first replaces ``ix_request_run_id``.

The same DDL on SQLite and PostgreSQL (an index on an expression included).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_run_id_line_id", "event", ["run_id", "line", "id"])
    op.create_index("ix_event_run_id_status", "event", ["run_id", "status"])
    op.create_index("ix_event_message_id", "event", ["message_id"])
    op.create_index("ix_event_email_lower", "event", [sa.text("lower(email)")])
    op.create_index("ix_event_finished_at", "event", ["finished_at"])
    op.create_index("ix_event_message_key_run_id", "event", ["message_key", "run_id"])
    op.drop_index("ix_event_message_key", table_name="event")
    op.drop_index("ix_event_run_id", table_name="event")
    op.drop_index("ix_event_email", table_name="event")
    op.create_index("ix_request_run_id_latency", "request", ["run_id", "latency"])
    op.create_index("ix_request_run_id_status", "request", ["run_id", "status"])
    op.drop_index("ix_request_run_id", table_name="request")


def downgrade() -> None:
    op.create_index("ix_request_run_id", "request", ["run_id"])
    op.drop_index("ix_request_run_id_status", table_name="request")
    op.drop_index("ix_request_run_id_latency", table_name="request")
    op.create_index("ix_event_email", "event", ["email"])
    op.create_index("ix_event_run_id", "event", ["run_id"])
    op.create_index("ix_event_message_key", "event", ["message_key"])
    op.drop_index("ix_event_message_key_run_id", table_name="event")
    op.drop_index("ix_event_finished_at", table_name="event")
    op.drop_index("ix_event_email_lower", table_name="event")
    op.drop_index("ix_event_message_id", table_name="event")
    op.drop_index("ix_event_run_id_status", table_name="event")
    op.drop_index("ix_event_run_id_line_id", table_name="event")
