"""SQLModel tables of the local cache database.

Every schema row belongs to one pull (`pull_id`). A pull writes a whole new snapshot in one
transaction and only then marks itself complete, so readers (which take the newest complete
pull) never see half a schema, and `schema diff` can compare the last two snapshots.

The API key is never stored: nothing here has a column for it.

Every time is a `Timestamp`: an instant, aware and in UTC going in and coming out, on every
database (``timestamp with time zone`` on PostgreSQL, whatever the server's or the session's
TimeZone; the text of the UTC time on SQLite).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, TypeDecorator, func
from sqlmodel import Field, SQLModel

__all__ = [
    "CachedAttribute",
    "CachedMember",
    "CachedObject",
    "CachedOption",
    "CachedStatus",
    "CachedWorkspace",
    "EventRecord",
    "InboxEvent",
    "Lease",
    "RecordState",
    "RequestRecord",
    "Run",
    "SchemaPull",
    "Timestamp",
]


class Timestamp(TypeDecorator[datetime]):
    """The column type of every time: aware UTC in and out, on SQLite as on PostgreSQL.

    A naive time is taken as UTC (what `toolkit.cache.as_utc` does). SQLite stores the UTC
    time as text without its offset, and gives it back naive: it comes out marked UTC again,
    so callers never mix naive and aware times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SchemaPull(SQLModel, table=True):
    """One run of `schema pull`: when, from where, what it found, and a hash of the snapshot."""

    __tablename__ = "schema_pull"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_type=Timestamp)
    finished_at: datetime | None = Field(default=None, sa_type=Timestamp)
    complete: bool = Field(default=False, index=True)
    base_url: str
    workspace_id: str | None = None
    objects: int = 0
    attributes: int = 0
    options: int = 0
    statuses: int = 0
    members: int = 0
    requests: int = 0
    snapshot_hash: str | None = None


class CachedWorkspace(SQLModel, table=True):
    """What `GET /v2/self` said about the token's workspace (never the token itself)."""

    __tablename__ = "workspace"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    workspace_id: str
    workspace_name: str | None = None
    workspace_slug: str | None = None
    scope: str = ""
    token_level: str | None = None
    authorized_by_workspace_member_id: str | None = None


class CachedObject(SQLModel, table=True):
    """An activated object: one listed by `GET /v2/objects`."""

    __tablename__ = "object"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    object_id: str = Field(primary_key=True)
    api_slug: str = Field(index=True)
    singular_noun: str | None = None
    plural_noun: str | None = None
    created_at: str | None = None


class CachedAttribute(SQLModel, table=True):
    """Every field of Attio's attribute shape, archived attributes included."""

    __tablename__ = "attribute"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    attribute_id: str = Field(primary_key=True)
    object_id: str
    object_slug: str = Field(index=True)
    api_slug: str
    title: str
    description: str | None = None
    type: str
    position: int = 0
    is_system_attribute: bool = False
    is_writable: bool = True
    is_required: bool = False
    is_unique: bool = False
    is_multiselect: bool = False
    is_default_value_enabled: bool = False
    is_archived: bool = False
    default_value: Any | None = Field(default=None, sa_column=Column(JSON))
    relationship: Any | None = Field(default=None, sa_column=Column(JSON))
    config: Any | None = Field(default=None, sa_column=Column(JSON))
    created_at: str | None = None


class CachedOption(SQLModel, table=True):
    """A select option of a select attribute, archived ones included."""

    __tablename__ = "select_option"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    option_id: str = Field(primary_key=True)
    attribute_id: str = Field(index=True)
    title: str
    is_archived: bool = False


class CachedStatus(SQLModel, table=True):
    """A status of a status attribute, archived ones included."""

    __tablename__ = "status"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    status_id: str = Field(primary_key=True)
    attribute_id: str = Field(index=True)
    title: str
    is_archived: bool = False
    celebration_enabled: bool = False
    target_time_in_status: str | None = None


class CachedMember(SQLModel, table=True):
    """A workspace member, the only kind of actor an actor-reference can be written as."""

    __tablename__ = "workspace_member"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    workspace_member_id: str = Field(primary_key=True)
    first_name: str | None = None
    last_name: str | None = None
    email_address: str = Field(index=True)
    access_level: str = "member"
    avatar_url: str | None = None
    created_at: str | None = None


# -- the audit log: runs, events, requests, and the record state a sync keeps ----------------


class Run(SQLModel, table=True):
    """One `sync` (or `retry`) run: what it read, how it was told to run, what came of it."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    command: str = "sync"
    started_at: datetime = Field(sa_type=Timestamp)
    finished_at: datetime | None = Field(default=None, sa_type=Timestamp)
    state: str = "running"  # running, finished, interrupted, failed
    # renewed while the run goes on; stale means it was killed
    heartbeat_at: datetime | None = Field(default=None, sa_type=Timestamp)
    input: str = ""
    mapping: str = ""
    dry_run: bool = False
    parent_run_id: int | None = Field(default=None, foreign_key="run.id")
    base_url: str = ""
    events: int = 0
    synced: int = 0
    unchanged: int = 0
    invalid: int = 0
    rejected: int = 0
    failed: int = 0
    duplicate: int = 0
    requests: int = 0


class EventRecord(SQLModel, table=True):
    """The one final outcome of one input line in one run, with what is needed to trace and retry it."""

    __tablename__ = "event"
    # What `toolkit.history` asks of a run of a million events (migrations 0006 and 0007): its
    # events in line order; its counts per outcome, and per outcome and problem key (`history
    # show`); a message by id, an email in any case (an index on lower(email), below the class);
    # the events since a time, in order.
    __table_args__ = (
        Index("ix_event_run_id_line_id", "run_id", "line", "id"),
        Index("ix_event_run_id_status_problem_key", "run_id", "status", "problem_key", "line", "id"),
        Index("ix_event_finished_at_run_id_line_id", "finished_at", "run_id", "line", "id"),
        # A message in a run (the sync's per-event duplicate checks): without it SQLite reads
        # the message's run through (run_id, ...) and a run's checks grow with its square.
        Index("ix_event_message_key_run_id", "message_key", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    line: int
    message_key: str  # the messageId, or a hash of the line without one (indexed with run_id, above)
    message_id: str | None = Field(default=None, index=True)
    event_type: str | None = None
    user_id: str | None = Field(default=None, index=True)
    email: str | None = None
    status: str = Field(index=True)
    reason: str = ""
    problems: Any | None = Field(default=None, sa_column=Column(JSON))
    writes: Any | None = Field(default=None, sa_column=Column(JSON))
    raw: str | None = None
    finished_at: datetime = Field(sa_type=Timestamp)  # indexed with run_id, line and id (above)
    seconds: float = 0.0
    # Which problems the outcome has, as `history show` groups them: `toolkit.history.problem_key`
    # (None for an outcome without any, and for rows recorded before migration 0007).
    problem_key: str | None = Field(default=None, max_length=32)


#: `history events --email` compares emails without case (as Attio does).
Index("ix_event_email_lower", func.lower(EventRecord.__table__.c.email))  # type: ignore[attr-defined]


class RequestRecord(SQLModel, table=True):
    """One HTTP attempt of a run, as the client's `on_attempt` hook reports it."""

    __tablename__ = "request"
    # A run's slowest requests, and its attempts per status (`history show`; migration 0006).
    __table_args__ = (
        Index("ix_request_run_id_latency", "run_id", "latency"),
        Index("ix_request_run_id_status", "run_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    message_key: str | None = Field(default=None, index=True)
    method: str
    path: str
    matching_attribute: str | None = None
    attempt: int = 1
    status: int | None = None
    code: str | None = None
    message: str | None = None
    execution_id: str | None = None
    latency: float = 0.0
    record_id: str | None = None
    started_at: datetime = Field(sa_type=Timestamp)


class RecordState(SQLModel, table=True):
    """What attio-sync last sent for one record: its id, and per attribute a hash of the value
    and the event time that set it. It lets a sync skip what Attio already has and refuse to
    let an older event overwrite a newer value."""

    __tablename__ = "record_state"

    base_url: str = Field(primary_key=True)
    object_slug: str = Field(primary_key=True)
    match_key: str = Field(primary_key=True)  # "<matching attribute>=<canonical value>"
    record_id: str | None = None
    attributes: Any | None = Field(default=None, sa_column=Column(JSON))  # slug -> [hash, event time]
    updated_at: datetime = Field(sa_type=Timestamp)


class Lease(SQLModel, table=True):
    """Who may send to one Attio workspace from this database, renewed by a heartbeat."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True)  # "send <base url> <workspace id>"
    holder: str  # "<host>:<pid>:<random>", unique per process and run
    run_id: int | None = None
    acquired_at: datetime = Field(sa_type=Timestamp)
    heartbeat_at: datetime = Field(sa_type=Timestamp)


# -- the serve inbox: events acknowledged to a sender, waiting for the worker ------------------


class InboxEvent(SQLModel, table=True):
    """One event `attio-sync serve` acknowledged, queued until the worker records its outcome.

    `id` gives the arrival order (AUTOINCREMENT on SQLite, so an id is never reused even after
    rows are deleted). `message_id` is the dedupe key: the event's messageId when it is a plain
    string, otherwise one the door made up (the event text keeps whatever the sender sent, for
    the engine to judge). `event` is the event as compact JSON with every non-ASCII character
    escaped, so any text (a lone surrogate included) survives any database. `done_at` is set in
    the same transaction as the event's outcome; queued rows are those where it is NULL.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_done_at_id", "done_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True, unique=True)
    event_type: str | None = None
    event: str
    size: int
    received_at: datetime = Field(sa_type=Timestamp)
    run_id: int | None = None
    done_at: datetime | None = Field(default=None, sa_type=Timestamp)
