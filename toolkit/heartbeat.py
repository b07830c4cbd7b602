"""How long a run may stay silent: the heartbeat that tells a run still going from a killed one.

A run renews `run.heartbeat_at` (and its send lease) every `HEARTBEAT_SECONDS` while it goes
on. A killed run cannot mark itself `interrupted`, so its row stays `running`; once its
heartbeat is older than `STALE_AFTER_SECONDS`, `effective_state` reads it as `interrupted`.

Datetimes may be naive (SQLite gives them back so) or aware; naive ones are taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS", "effective_state", "is_stale"]

#: Seconds between two heartbeats of a run that goes on.
HEARTBEAT_SECONDS = 3
#: Seconds without a heartbeat after which a `running` run is taken to have been killed (and
#: its send lease is free): five missed beats, so a standby `serve` takes over within seconds
#: of a sender's death, while a sender whose database stalls for one busy timeout keeps it.
STALE_AFTER_SECONDS = 15


def is_stale(heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether a heartbeat is missing or older than `STALE_AFTER_SECONDS` at `now`.

    A heartbeat in the future (another machine's clock ahead of this one) is not stale.
    """
    if heartbeat_at is None:
        return True
    return _utc(now) - _utc(heartbeat_at) > timedelta(seconds=STALE_AFTER_SECONDS)


def _utc(value: datetime) -> datetime:
    # `toolkit.cache.as_utc`, without importing the cache: `history` reads a SQLite file without
    # SQLAlchemy (`toolkit.history.open_audit_file`), and shows states through this module.
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def effective_state(state: str, heartbeat_at: datetime | None, now: datetime) -> str:
    """A run's state as it should be shown: "interrupted" for a "running" run whose heartbeat
    is missing or stale at `now`, else the stored state."""
    if state == "running" and is_stale(heartbeat_at, now):
        return "interrupted"
    return state
