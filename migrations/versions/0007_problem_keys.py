"""A problem key on every event, and indexes for `history show` and `history events --since`.

`event.problem_key` says which problems an outcome has, as `history show` groups them
(`toolkit.history.problem_key`: a short hash of each problem's field and reason, behind the
version of the rules that made it). Events with one key have the same problems, so `show`
counts a run's problems per key from an index and parses one event per key; before, it parsed
every event with a problem (1.3 s for a run of a million events, 100,000 of them with problems).

- ``event (run_id, status, problem_key, line, id)``: a run's events per outcome and key, with
  their first lines, from the index alone; it replaces ``ix_event_run_id_status``, its first
  columns (a run's counts per outcome read it as they read that).
- ``event (finished_at, run_id, line, id)``: `history events --since` finds the events since a
  time and orders them from the index alone; it replaces ``ix_event_finished_at``.

The keys of the events already recorded are filled in here, in batches: those of the outcomes
with problems (`invalid`, `rejected`, `failed`), as the running version of attio-sync computes
them (`show` reads its events' problems again for a key of other rules, and for none). The same
on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Events read and updated at once while the keys are filled in.
BATCH = 5000


def upgrade() -> None:
    op.add_column("event", sa.Column("problem_key", sa.String(length=32), nullable=True))
    _fill_keys(op.get_bind())  # before the index on the key: each update then writes one row
    op.create_index("ix_event_run_id_status_problem_key", "event", ["run_id", "status", "problem_key", "line", "id"])
    op.drop_index("ix_event_run_id_status", table_name="event")
    op.create_index("ix_event_finished_at_run_id_line_id", "event", ["finished_at", "run_id", "line", "id"])
    op.drop_index("ix_event_finished_at", table_name="event")


def _fill_keys(bind: sa.Connection) -> None:
    """The key of every event with a problem outcome, `BATCH` events at a time in id order."""
    from toolkit.history import PROBLEM_STATUSES, problem_key

    statuses = ", ".join(f"'{status}'" for status in PROBLEM_STATUSES)  # our own names
    batch = sa.text(f"SELECT id, reason, CAST(problems AS TEXT) FROM event WHERE id > :last AND status IN "
                    f"({statuses}) ORDER BY id LIMIT :size")
    update = sa.text("UPDATE event SET problem_key = :key WHERE id = :id")
    last = 0
    while rows := bind.execute(batch, {"last": last, "size": BATCH}).all():
        keys = [{"id": event_id, "key": problem_key(None if problems is None else json.loads(problems), reason)}
                for event_id, reason, problems in rows]
        keyed = [key for key in keys if key["key"] is not None]
        if keyed:
            bind.execute(update, keyed)
        last = rows[-1][0]


def downgrade() -> None:
    op.create_index("ix_event_finished_at", "event", ["finished_at"])
    op.drop_index("ix_event_finished_at_run_id_line_id", table_name="event")
    op.create_index("ix_event_run_id_status", "event", ["run_id", "status"])
    op.drop_index("ix_event_run_id_status_problem_key", table_name="event")
    op.drop_column("event", "problem_key")
