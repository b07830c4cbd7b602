"""Every time an instant: ``timestamp with time zone`` on PostgreSQL, as the inbox's already are.

0001-0003 made their times ``timestamp without time zone``. attio-sync writes aware UTC
times; PostgreSQL turned them into the session's local time to store them, and attio-sync read
that back as UTC: wrong by the server's offset whenever its TimeZone was not UTC. Each such
column becomes ``timestamp with time zone``, its values read as local times of the zone the
earlier versions' sessions had (the TimeZone a session starts with: the server's, the
database's or the role's), so every stored instant comes out as it was written. attio-sync now
also sets each session's TimeZone to UTC.

SQLite stores a time as text either way: nothing changes there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The time columns 0001-0003 made without a time zone.
COLUMNS = (
    ("schema_pull", "started_at"), ("schema_pull", "finished_at"),
    ("run", "started_at"), ("run", "finished_at"), ("run", "heartbeat_at"),
    ("event", "finished_at"),
    ("request", "started_at"),
    ("record_state", "updated_at"),
    ("lease", "acquired_at"), ("lease", "heartbeat_at"),
)


def _session_start_zone(bind: sa.Connection) -> str:
    """The TimeZone a session of this role on this database starts with (before any SET), as
    an SQL literal for the driver (a POSIX zone such as ``<+0545>-05:45`` is one too)."""
    zone = bind.exec_driver_sql("SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'").scalar()
    return "'" + str(zone or "UTC").replace("'", "''").replace("%", "%%") + "'"


def _convert(to: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    zone = _session_start_zone(bind)
    for table, column in COLUMNS:
        # local time -> instant (upgrade), or instant -> local time (downgrade), in that zone;
        # DDL takes no bound parameters, hence the literal
        bind.exec_driver_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {to} '
                             f'USING "{column}" AT TIME ZONE {zone}')


def upgrade() -> None:
    _convert("timestamp with time zone")


def downgrade() -> None:
    _convert("timestamp without time zone")
