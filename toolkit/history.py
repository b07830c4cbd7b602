"""Read-only questions to the audit log: runs, one run's summary, events, one event's trace.

Everything here reads what `toolkit.audit.AuditLog` wrote (the `run`, `event` and `request`
tables) and returns plain dataclasses with an `as_dict()` for `--json`; the `history` commands
(`toolkit.cli.history`) only present them. The two writers are `prune`, which drops old
per-event detail but keeps every run's summary row, and `export_events`, which writes to a
stream the caller opened (`export_to_file` opens a file for it safely: never the database,
never an existing file unless told, and never half-written).

Each function takes the database as a `toolkit.cache.Cache` (any database, through SQLAlchemy)
or as an `AuditFile` (`open_audit_file`: a SQLite file at the newest migration, read with the
standard library's sqlite3 alone). Importing SQLAlchemy, SQLModel and the models takes half a
second, most of what a `history` command took on a million events (issue 16); so the questions
are SQL text that SQLite and PostgreSQL both read, and the driver's values are read here
(`_time`, `_json`): nothing in this module imports SQLAlchemy.

Times come back aware and in UTC from SQLite and PostgreSQL alike. A run's state is shown as
`toolkit.heartbeat.effective_state` reads it: a `running` row whose heartbeat went stale was
killed, and is `interrupted`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import heapq
import json
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, TypeAlias
from urllib.parse import quote, unquote

from .errors import CacheError, ConfigError
from .heartbeat import effective_state
from .jsontext import json_list, json_text
from .snapshot import HEAD_REVISION, _sqlite_path, read_newest_schema

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from .cache import Cache
    from .models import EventRecord

__all__ = [
    "OUTCOMES",
    "AuditFile",
    "Database",
    "EventFilter",
    "EventRow",
    "ProblemGroup",
    "PruneResult",
    "RunInfo",
    "RunSummary",
    "Trace",
    "TraceStep",
    "check_export_target",
    "count_events",
    "database_files",
    "event_dict",
    "export_events",
    "export_to_file",
    "find_events",
    "get_run",
    "json_list",
    "json_text",
    "list_runs",
    "open_audit_file",
    "parse_age",
    "parse_since",
    "problem_groups",
    "problem_key",
    "prune",
    "run_state",
    "run_summary",
    "trace",
]

#: Every outcome an input line can end in (design.md). Their home is here, not in the audit
#: log that writes them, which imports SQLAlchemy: reading them here does without.
OUTCOMES = ("synced", "unchanged", "invalid", "rejected", "failed", "duplicate")
#: Outcomes that come with something to fix, in the order a summary lists them.
PROBLEM_STATUSES = ("invalid", "rejected", "failed")
#: Columns of `history events` and of an export, in order.
EVENT_COLUMNS = ("run_id", "line", "message_key", "event_type", "user_id", "email", "status", "reason",
                 "finished_at", "seconds")
#: The keys of an event as JSON (`event_dict`), in order, short and full; an export reads the full ones.
_SHORT_KEYS = (*EVENT_COLUMNS, "message_id")
_FULL_KEYS = (*_SHORT_KEYS, "problems", "writes", "raw")
#: How long a read waits for a writer's lock, as `toolkit.cache.LOCK_TIMEOUT_MS`.
_BUSY_SECONDS = 5.0
#: Ids in one `IN (...)` list: well under SQLite's and PostgreSQL's limits on parameters.
_IDS_AT_ONCE = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


# -- the database: a Cache, or a SQLite file read without SQLAlchemy ------------------------------


class AuditFile:
    """A SQLite database at the newest migration, read with the standard library's sqlite3
    alone (made by `open_audit_file`). SQLite itself refuses any write through it."""

    def __init__(self, path: Path, connection: sqlite3.Connection, url: str) -> None:
        self.path = path
        #: The URL messages name, as `Cache.url` would.
        self.url = url
        self._connection = connection

    def __repr__(self) -> str:
        return f"AuditFile({self.url!r})"

    def close(self) -> None:
        self._connection.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Reader]:
        """One read transaction (one snapshot of the database), its errors as `CacheError`."""
        connection = self._connection
        outer = not connection.in_transaction
        try:
            if outer:
                connection.execute("BEGIN")
            yield _SqliteReader(connection)
            if outer:
                connection.execute("COMMIT")
        except sqlite3.Error as exc:
            _roll_back(connection, outer)
            raise CacheError(f"database {self.url}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            _roll_back(connection, outer)
            raise


def _roll_back(connection: sqlite3.Connection, outer: bool) -> None:
    if outer and connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.rollback()


#: What every function here reads: a `Cache` (SQLAlchemy, any database) or an `AuditFile`.
Database: TypeAlias = "Cache | AuditFile"


def open_audit_file(url: str) -> AuditFile | None:
    """The SQLite file a database URL names (``sqlite:///PATH``, as `toolkit.config` makes
    them), opened to read without SQLAlchemy; None when the URL is anything else, or the file
    does not exist, is not at `HEAD_REVISION`, or cannot be opened so: `toolkit.cache.open_cache`
    opens (upgrades, or explains) those. The caller closes it."""
    path = _sqlite_path(url)  # the URLs `attio-sync value` reads without SQLAlchemy too
    if path is None or not path.is_file():
        return None
    try:
        # mode=rw creates nothing, and query_only makes SQLite refuse any write. Not mode=ro:
        # a read-only connection leaves the WAL's -wal and -shm files behind, where the last
        # connection to close removes them (`toolkit.snapshot` opens the file the same way).
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=_BUSY_SECONDS,
                                     isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only=ON")
        current = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")] == [HEAD_REVISION]
    except sqlite3.Error:
        current = False
    if not current:
        connection.close()
        return None
    return AuditFile(path, connection, url)


class _Reader(Protocol):
    """SQL text in, the driver's rows out, in one transaction."""

    dialect: str

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]: ...

    def stream(self, sql: str, params: Mapping[str, Any], batch: int) -> Iterator[Sequence[Any]]: ...

    def execute(self, sql: str, params: Mapping[str, Any]) -> None: ...


class _SqliteReader:
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        return self._connection.execute(sql, params or {}).fetchall()

    def stream(self, sql: str, params: Mapping[str, Any], batch: int) -> Iterator[Sequence[Any]]:
        yield from self._connection.execute(sql, params)  # SQLite steps as the rows are taken

    def execute(self, sql: str, params: Mapping[str, Any]) -> None:
        self._connection.execute(sql, params)


class _AlchemyReader:
    def __init__(self, connection: Connection) -> None:
        from sqlalchemy import text  # loaded already: the caller has a Cache

        self._connection = connection
        self._text = text
        self.dialect = connection.dialect.name

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        return list(self._connection.execute(self._text(sql), dict(params or {})).all())

    def stream(self, sql: str, params: Mapping[str, Any], batch: int) -> Iterator[Sequence[Any]]:
        # `batch` rows at a time: a server-side cursor on PostgreSQL, constant memory
        yield from self._connection.execution_options(yield_per=batch).execute(self._text(sql), dict(params))

    def execute(self, sql: str, params: Mapping[str, Any]) -> None:
        self._connection.execute(self._text(sql), dict(params))


@contextlib.contextmanager
def _reading(db: Database) -> Iterator[_Reader]:
    """One transaction on the database: one snapshot for a question's reads (and `prune`'s
    deletes, committed at its end); errors leave as `CacheError`."""
    if isinstance(db, AuditFile):
        with db._transaction() as reader:
            yield reader
    else:
        with db.session() as session:
            yield _AlchemyReader(session.connection())


def _time(value: Any) -> datetime:
    """A stored time, aware and in UTC: SQLite gives the text of the UTC time (as SQLAlchemy
    stored it, without an offset), PostgreSQL a datetime."""
    when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _time_or_none(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _time_param(reader: _Reader, value: datetime) -> Any:
    """A time to compare with a stored one (a naive `value` is local time, as `astimezone` reads it)."""
    utc = value.astimezone(UTC)
    # SQLite compares the text SQLAlchemy stored: the UTC time, to the microsecond, no offset
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if reader.dialect == "sqlite" else utc


def _json(text: str | None) -> Any:
    """A JSON column read as text (``CAST(... AS TEXT)``, the same on both databases), parsed."""
    return None if text is None else json.loads(text)


def _placeholders(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:name0, :name1, ...`` for an ``IN (...)`` list, and their parameters."""
    params = {f"{name}{i}": value for i, value in enumerate(values)}
    return ", ".join(f":{key}" for key in params), params


def _chunks(values: Sequence[Any], size: int = _IDS_AT_ONCE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- runs ------------------------------------------------------------------------------------


class _Stateful(Protocol):
    state: str
    started_at: datetime
    heartbeat_at: datetime | None


def run_state(run: _Stateful, now: datetime) -> str:
    """A run's state at `now`: its stored state, except that a `running` run whose heartbeat
    went stale was killed and is "interrupted". A row written before runs had a heartbeat has
    none: its start stands for it, so only a run started moments ago still shows `running`."""
    return effective_state(run.state, run.heartbeat_at or run.started_at, now)


@dataclass
class RunInfo:
    """One run as `history runs` lists it: when, how long, what it read, and its counts.

    `state` is the effective state (see `run_state`), not always the stored one.
    """

    id: int
    command: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    input: str
    mapping: str
    dry_run: bool
    parent_run_id: int | None
    counts: dict[str, int]
    requests: int
    #: False once `prune` removed its per-event rows (the counts stay).
    has_detail: bool = True
    #: The last sign of life of the run (None for a run written before heartbeats existed).
    heartbeat_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        """Wall time from start to finish; None while running (or when killed before finishing)."""
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    @property
    def would_sync(self) -> int:
        """A dry run's events that would have been synced (it synced none); 0 for a real run."""
        return self.counts["synced"] if self.dry_run else 0

    def shown_counts(self) -> dict[str, int]:
        """The counts as reported: a dry run synced nothing, its would-be writes are `would_sync`."""
        return {**self.counts, "synced": 0 if self.dry_run else self.counts["synced"], "would_sync": self.would_sync}

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "command": self.command, "state": self.state, "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at),
                "seconds": None if self.seconds is None else round(self.seconds, 3), "input": self.input,
                "mapping": self.mapping, "dry_run": self.dry_run, "parent_run_id": self.parent_run_id,
                "events": self.events, **self.shown_counts(), "requests": self.requests,
                "has_detail": self.has_detail, "heartbeat_at": _iso(self.heartbeat_at)}


#: A run's row, the columns `_run_info` reads in order.
_RUN = ("SELECT id, command, state, started_at, finished_at, heartbeat_at, input, mapping, dry_run, parent_run_id, "
        f"requests, events, {', '.join(OUTCOMES)} FROM run")
#: Whether a run has event rows, and how many of each outcome. Each count is a range of the
#: (run_id, status, ...) index: a third of the time of one GROUP BY status over the run.
_DETAIL = ("SELECT EXISTS (SELECT 1 FROM event WHERE run_id = :run), "
           + ", ".join(f"(SELECT count(*) FROM event WHERE run_id = :run AND status = :{status})"
                       for status in OUTCOMES))


def _run_info(sql: _Reader, row: Sequence[Any], now: datetime) -> RunInfo:
    (run_id, command, state, started, finished, heartbeat, input_, mapping, dry_run, parent, requests, events,
     *counts) = row
    started_at, heartbeat_at = _time(started), _time_or_none(heartbeat)
    (has_rows, *detail), = sql.rows(_DETAIL, {"run": run_id, **{status: status for status in OUTCOMES}})
    shown = dict(zip(OUTCOMES, map(int, counts), strict=True))
    # The event rows are the truth for a run killed between two flushes of its counts; not for
    # a dry run, which may record only its events with problems (`toolkit.audit`) and count the rest.
    if has_rows and not dry_run:
        shown = dict(zip(OUTCOMES, map(int, detail), strict=True))
    recorded = sum(shown[status] for status in PROBLEM_STATUSES) if dry_run else events
    return RunInfo(id=int(run_id), command=command, state=effective_state(state, heartbeat_at or started_at, now),
                   started_at=started_at, finished_at=_time_or_none(finished), input=input_, mapping=mapping,
                   dry_run=bool(dry_run), parent_run_id=parent, counts=shown, requests=int(requests),
                   has_detail=bool(has_rows) or recorded == 0, heartbeat_at=heartbeat_at)


def list_runs(db: Database, *, limit: int = 20, offset: int = 0,
              now: datetime | None = None) -> tuple[list[RunInfo], int]:
    """The newest runs first, and how many runs there are in all (states as of `now`, default now)."""
    now = now or _utcnow()
    with _reading(db) as sql:
        (total,), = sql.rows("SELECT count(*) FROM run")
        rows = sql.rows(_RUN + " ORDER BY id DESC LIMIT :limit OFFSET :offset", {"limit": limit, "offset": offset})
        return [_run_info(sql, row, now) for row in rows], int(total)


def get_run(db: Database, run_id: int | None = None, *, now: datetime | None = None) -> RunInfo:
    """One run (the newest when `run_id` is None), its state as of `now` (default now).

    Raises:
        ConfigError: no such run, or no run at all.
    """
    with _reading(db) as sql:
        if run_id is None:
            rows = sql.rows(_RUN + " ORDER BY id DESC LIMIT 1")
        else:
            rows = sql.rows(_RUN + " WHERE id = :id", {"id": run_id})
        if rows:
            return _run_info(sql, rows[0], now or _utcnow())
    raise ConfigError([f"no run {run_id} in {db.url}; `attio-sync history runs` lists them"
                       if run_id is not None else f"no run yet in {db.url}: run `attio-sync sync` first"])


# -- one run's summary -----------------------------------------------------------------------


@dataclass
class ProblemGroup:
    """Events of one run that share one problem: the same field and the same reason."""

    status: str
    field: str
    reason: str
    events: int
    lines: list[int] = dataclasses.field(default_factory=list)  # the first few, to look at
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunSummary:
    """`history show`: the run, its most common problems, its slowest requests, its retries."""

    run: RunInfo
    problems: list[ProblemGroup]
    slowest: list[dict[str, Any]]
    retries: list[int]
    attempts_by_status: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run.as_dict(), "problems": [p.as_dict() for p in self.problems],
                "slowest_requests": self.slowest, "retries": self.retries,
                "attempts_by_status": self.attempts_by_status}


# A reference that cannot be resolved names the record ("users with user_id u-17 does not
# exist"); without the value, all such events fall into one group.
_RECORD_NAMED = re.compile(r"^(\w+ with \w+ )\S+( .*)$")


def _problem_keys(problems: Any, event_reason: str) -> Iterator[tuple[str, str, str | None]]:
    """(field, reason, hint) of each problem of an event (its problems as stored, parsed, and
    its reason); one key per distinct problem.

    A change to what this yields for some problems changes how they group: bump `_KEY_VERSION`.
    """
    problems = problems if isinstance(problems, list) else []
    seen: set[tuple[str, str]] = set()
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        if "field" in problem:  # a value problem, or a line that is not an event
            where, reason = str(problem["field"]), str(problem.get("reason") or "")
            if where == "(line)":
                reason = reason.split(":", 1)[0]  # "not JSON: Expecting value: line 1 column 1" -> "not JSON"
        else:  # Attio refused a request, or retries ran out
            where = f"{problem.get('method') or ''} {_path_shape(str(problem.get('path') or ''))}".strip()
            reason = " ".join(str(p) for p in (problem.get("status") or "no answer", problem.get("code"),
                                               problem.get("message")) if p)
        if (where, reason) not in seen:
            seen.add((where, reason))
            hint = problem.get("hint")
            yield where, reason, None if hint is None else str(hint)
    if not problems and event_reason:
        match = _RECORD_NAMED.match(event_reason)
        reason = f"{match.group(1)}...{match.group(2)}" if match else event_reason
        yield "(event)", reason, None


@functools.lru_cache(maxsize=4096)  # a run's thousands of failed requests go to a few routes
def _path_shape(path: str) -> str:
    # /v2/objects/users/records/9f2c.../attributes/... -> /v2/objects/users/records/{id}/...
    return re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27,}", "/{id}", path)


#: How `_problem_keys` groups problems, the start of every stored key. A key of another version
#: was made by other rules: `problem_groups` reads its events' problems again instead of trusting it.
_KEY_VERSION = "1"
_KEY_START = _KEY_VERSION + ":"


def problem_key(problems: Any, reason: str) -> str | None:
    """What `event.problem_key` holds for an outcome with these problems and this reason (both
    as the event row stores them): which problems `history show` groups it under, as a short
    hash of each (field, reason) `_problem_keys` finds (26 characters); None for an outcome
    with nothing to group (a synced or unchanged event).

    `problem_groups` counts a run's events per (status, key) in SQL and reads the problems of
    only the first event of each, instead of parsing every event with a problem.
    """
    pairs = [[where, why] for where, why, _ in _problem_keys(problems, reason)]
    if not pairs:
        return None
    # ASCII JSON: any text (a lone surrogate included) hashes, and the same pairs hash the same
    return _KEY_START + hashlib.blake2b(json.dumps(pairs).encode(), digest_size=12).hexdigest()


@dataclass
class _Tally:
    """One problem group while a run's rows are counted: its events, where it was first met
    and its hint there, the smallest lines of the events read one by one (negated: a heap),
    and the (status, key, events, first line) of each keyed set of events that has it."""

    first: tuple[int, int]
    hint: str | None
    events: int = 0
    lines: list[int] = dataclasses.field(default_factory=list)
    keyed: list[tuple[str, str, int, int]] = dataclasses.field(default_factory=list)


def _tally(tallies: dict[tuple[str, str, str], _Tally], group: tuple[str, str, str], at: tuple[int, int],
           hint: str | None) -> _Tally:
    """A group's tally, met at `at` with `hint` (kept when it is the first meeting so far)."""
    tally = tallies.get(group)
    if tally is None:
        tally = tallies[group] = _Tally(at, hint)
    elif at < tally.first:
        tally.first, tally.hint = at, hint
    return tally


#: A run's keyed problem events, one row per (status, key): how many, and the id of the first.
#: Both come from the (run_id, status, problem_key, line, id) index alone.
_KEYED = """
SELECT status, problem_key, events, (SELECT id FROM event AS e WHERE e.run_id = :run AND e.status = g.status
                                     AND e.problem_key = g.problem_key ORDER BY line, id LIMIT 1)
FROM (SELECT status, problem_key, count(*) AS events FROM event
      WHERE run_id = :run AND status IN ({statuses}) AND problem_key IS NOT NULL
      GROUP BY status, problem_key) AS g
"""
#: The first events of keys: only their rows are read.
_FIRSTS = "SELECT id, line, reason, CAST(problems AS TEXT) FROM event WHERE id IN ({ids})"
#: Problem events whose problems must be read one by one: those without a key (recorded
#: before migration 0007, or by a writer that sets none), and those of one key of another version.
_UNKEYED = ("SELECT line, id, status, reason, CAST(problems AS TEXT) FROM event WHERE run_id = :run "
            "AND status IN ({statuses}) AND problem_key IS NULL")
_OF_KEY = ("SELECT line, id, status, reason, CAST(problems AS TEXT) FROM event WHERE run_id = :run "
           "AND status = :status AND problem_key = :key")
_KEY_LINES = ("SELECT line FROM event WHERE run_id = :run AND status = :status AND problem_key = :key "
              "ORDER BY line, id LIMIT :limit")
#: Distinct problem texts kept parsed while events are read one by one (at most some megabytes).
_KNOWN_PROBLEMS = 20_000


def problem_groups(db: Database, run_id: int, *, top: int = 10, examples: int = 5) -> list[ProblemGroup]:
    """A run's problems grouped by (field, reason), the most common first.

    An event with two problems counts in both groups, so the groups may add up to more than
    the events that had problems. Each group keeps the first `examples` lines that have its
    problem, and the hint of the first.
    """
    # Events with the same key have the same problems (as `_problem_keys` reads them), so a run
    # of a million events, a hundred thousand of them with problems, is counted per key in SQL
    # and only the first event of each key is parsed (parsing them all took 1.3 s).
    statuses, params = _placeholders("status", PROBLEM_STATUSES)
    params["run"] = run_id
    tallies: dict[tuple[str, str, str], _Tally] = {}
    with _reading(db) as sql:
        keyed = sql.rows(_KEYED.format(statuses=statuses), params)
        stale = [(status, key) for status, key, _, _ in keyed if not key.startswith(_KEY_START)]
        keyed = [row for row in keyed if row[1].startswith(_KEY_START)]
        firsts: dict[int, Sequence[Any]] = {}
        for chunk in _chunks([first for _, _, _, first in keyed]):
            listed, named = _placeholders("id", chunk)
            firsts.update((row[0], row) for row in sql.rows(_FIRSTS.format(ids=listed), named))
        for status, key, count, first in keyed:
            _, line, reason, problems = firsts[first]
            at, events = (line, first), int(count)
            for where, why, hint in _problem_keys(_json(problems), reason):
                tally = _tally(tallies, (status, where, why), at, hint)
                tally.events += events
                tally.keyed.append((status, key, events, at[0]))
        unkeyed = [sql.rows(_UNKEYED.format(statuses=statuses), params)]
        unkeyed += [sql.rows(_OF_KEY, {"run": run_id, "status": status, "key": key}) for status, key in stale]
        _tally_one_by_one(tallies, (row for rows in unkeyed for row in rows), examples)
        # Ties go to the problem met first, as when the rows were read in line order.
        ordered = sorted(tallies.items(), key=lambda item: (-item[1].events, PROBLEM_STATUSES.index(item[0][0]),
                                                            item[0][1], item[1].first))[:top]
        return [ProblemGroup(status, where, why, tally.events, _first_lines(sql, run_id, tally, examples), tally.hint)
                for (status, where, why), tally in ordered]


def _tally_one_by_one(tallies: dict[tuple[str, str, str], _Tally], rows: Iterable[Sequence[Any]],
                      examples: int) -> None:
    """Count events whose problems must be parsed, each problem text parsed once (events
    share their problems, one bad value, one refusal, more often than not)."""
    known: dict[tuple[str | None, str], list[tuple[str, str, str | None]]] = {}
    for line, event_id, status, event_reason, problems in rows:
        at = (line, event_id)
        keys = known.get((problems, event_reason))
        if keys is None:
            keys = list(_problem_keys(_json(problems), event_reason))
            if len(known) < _KNOWN_PROBLEMS:
                known[problems, event_reason] = keys
        for where, reason, hint in keys:
            tally = _tally(tallies, (status, where, reason), at, hint)
            tally.events += 1
            if len(tally.lines) < examples:
                heapq.heappush(tally.lines, -line)
            elif tally.lines and line < -tally.lines[0]:
                heapq.heapreplace(tally.lines, -line)


def _first_lines(sql: _Reader, run_id: int, tally: _Tally, examples: int) -> list[int]:
    """The first `examples` lines of a group: of the events read one by one, and of each key's
    events, in the order of their first lines until no later key can have an earlier line."""
    if examples <= 0:
        return []
    lines = list(tally.lines)  # the `examples` smallest so far, negated: -lines[0] is the largest
    heapq.heapify(lines)
    for status, key, events, first in sorted(tally.keyed, key=lambda keyed: keyed[3]):
        if len(lines) >= examples and first >= -lines[0]:
            break
        found = [first] if events == 1 else [row[0] for row in sql.rows(
            _KEY_LINES, {"run": run_id, "status": status, "key": key, "limit": examples})]
        for line in found:
            if len(lines) < examples:
                heapq.heappush(lines, -line)
            elif line < -lines[0]:
                heapq.heapreplace(lines, -line)
    return sorted(-line for line in lines)


#: A request's row, the columns `_request_dict` reads in order.
_REQUEST_KEYS = ("run_id", "message_key", "method", "path", "attempt", "status", "code", "message", "execution_id",
                 "record_id", "latency", "started_at")
_REQUEST = f"SELECT {', '.join(_REQUEST_KEYS)} FROM request"


def _request_dict(row: Sequence[Any]) -> dict[str, Any]:
    request = dict(zip(_REQUEST_KEYS, row, strict=True))
    request["latency"] = round(float(request["latency"]), 4)
    request["started_at"] = _iso(_time(request["started_at"]))
    return request


def run_summary(db: Database, run_id: int | None = None, *, top: int = 10, slowest: int = 5) -> RunSummary:
    """One run's summary (the newest run's when `run_id` is None).

    Raises:
        ConfigError: no such run.
    """
    run = get_run(db, run_id)
    with _reading(db) as sql:
        slow = [_request_dict(row) for row in sql.rows(
            _REQUEST + " WHERE run_id = :run ORDER BY latency DESC LIMIT :limit", {"run": run.id, "limit": slowest})]
        retries = [int(row[0]) for row in sql.rows("SELECT id FROM run WHERE parent_run_id = :run ORDER BY id",
                                                   {"run": run.id})]
        by_status = sql.rows("SELECT status, count(*) FROM request WHERE run_id = :run GROUP BY status",
                             {"run": run.id})
    attempts = {str(status) if status is not None else "no answer": int(n) for status, n in by_status}
    return RunSummary(run, problem_groups(db, run.id, top=top), slow, retries, dict(sorted(attempts.items())))


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """Which events to list or export; every field left None matches everything."""

    run_id: int | None = None
    statuses: tuple[str, ...] = ()
    user_id: str | None = None
    email: str | None = None
    since: datetime | None = None
    message_key: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.statuses) - set(OUTCOMES)
        if unknown:
            raise ConfigError([f"unknown status {', '.join(sorted(unknown))}; choose from {', '.join(OUTCOMES)}"])

    def _where(self, sql: _Reader) -> tuple[str, dict[str, Any]]:
        """The filter as SQL: a WHERE clause (empty when it matches everything) and its parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.run_id is not None:
            clauses.append("run_id = :run_id")
            params["run_id"] = self.run_id
        if self.statuses:
            listed, named = _placeholders("status", self.statuses)
            clauses.append(f"status IN ({listed})")
            params.update(named)
        if self.user_id is not None:
            clauses.append("user_id = :user_id")
            params["user_id"] = self.user_id
        if self.email is not None:  # emails are compared as Attio does: without case
            clauses.append("lower(email) = :email")
            params["email"] = self.email.lower()
        if self.since is not None:
            clauses.append("finished_at >= :since")
            params["since"] = _time_param(sql, self.since)
        if self.message_key is not None:
            clauses.append("(message_key = :message_key OR message_id = :message_key)")
            params["message_key"] = self.message_key
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass
class EventRow:
    """One event as stored (the columns of `toolkit.models.EventRecord`), as `find_events` reads it."""

    id: int
    run_id: int
    line: int
    message_key: str
    event_type: str | None
    user_id: str | None
    email: str | None
    status: str
    reason: str
    finished_at: datetime
    seconds: float
    message_id: str | None
    problems: Any
    writes: Any
    raw: str | None


#: An event's row in `EventRow`'s order, JSON columns as text.
_EVENT = ("SELECT id, run_id, line, message_key, event_type, user_id, email, status, reason, finished_at, seconds, "
          "message_id, CAST(problems AS TEXT), CAST(writes AS TEXT), raw FROM event")


def _event_row(row: Sequence[Any]) -> EventRow:
    (event_id, run_id, line, key, event_type, user_id, email, status, reason, finished, seconds, message_id,
     problems, writes, raw) = row
    return EventRow(event_id, run_id, line, key, event_type, user_id, email, status, reason, _time(finished),
                    float(seconds), message_id, _json(problems), _json(writes), raw)


def event_dict(event: EventRow | EventRecord, *, full: bool = False) -> dict[str, Any]:
    """An event as JSON: the listed columns, and with `full` its problems, writes and input."""
    row = {name: getattr(event, name) for name in (_FULL_KEYS if full else _SHORT_KEYS)}
    row["finished_at"] = _iso(row["finished_at"])
    row["seconds"] = round(row["seconds"], 4)
    if full:
        row["problems"] = row["problems"] or []
        row["writes"] = row["writes"] or []
    return row


def count_events(db: Database, where: EventFilter) -> int:
    """How many events match."""
    with _reading(db) as sql:
        clause, params = where._where(sql)
        (count,), = sql.rows("SELECT count(*) FROM event" + clause, params)
    return int(count)


def find_events(db: Database, where: EventFilter, *, limit: int | None = 50, offset: int = 0) -> list[EventRow]:
    """The matching events, by run then line."""
    with _reading(db) as sql:
        clause, params = where._where(sql)
        # Recent events are the last in (run, line) order: with a time and no run, SQLite walked
        # that index through every older event (0.5 s at a million). The unary + keeps it from
        # ordering by that index: it reads the time index's matches instead, and sorts them.
        order = "+run_id" if where.since is not None and where.run_id is None else "run_id"
        page = f"SELECT id FROM event{clause} ORDER BY {order}, line, id"
        if limit is not None:
            page += " LIMIT :limit"
            params["limit"] = limit
        if offset:
            page += " OFFSET :offset" if limit is not None or sql.dialect != "sqlite" else " LIMIT -1 OFFSET :offset"
            params["offset"] = offset
        ids = [row[0] for row in sql.rows(page, params)]
        # The page's ids from the indexes, then their rows: a sort carries ids, not whole rows.
        rows: dict[int, Sequence[Any]] = {}
        for chunk in _chunks(ids):
            listed, named = _placeholders("id", chunk)
            rows.update((row[0], row) for row in sql.rows(f"{_EVENT} WHERE id IN ({listed})", named))
    return [_event_row(rows[event_id]) for event_id in ids]


#: What an export reads of each event, in `_FULL_KEYS`' order (JSON columns as text).
_EXPORTED = ("SELECT run_id, line, message_key, event_type, user_id, email, status, reason, finished_at, seconds, "
             "message_id, CAST(problems AS TEXT), CAST(writes AS TEXT), raw FROM event")


def _iter_events(db: Database, where: EventFilter, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """The matching events by run, line and id (rows are stored in the order events finished,
    not in line order), as `event_dict` shows them in full, read by one statement as the
    caller consumes them.

    One statement, streamed (`batch` rows at a time; a server-side cursor on PostgreSQL), keeps
    an export of millions of rows in constant memory and linear time, and reads one snapshot.
    Pages of ``(run_id, line, id) > last`` would each be a new query: one that the database
    answers from another index (``--status``, ``--email``) sorts every match again for every
    page, which made a million-event export quadratic.
    """
    with _reading(db) as sql:
        clause, params = where._where(sql)
        for row in sql.stream(f"{_EXPORTED}{clause} ORDER BY run_id, line, id", params, batch):
            event = dict(zip(_FULL_KEYS, row, strict=True))  # an export makes millions of these
            event["finished_at"] = _iso(_time(event["finished_at"]))
            event["seconds"] = round(event["seconds"], 4)
            event["problems"] = _json(event["problems"]) or []
            event["writes"] = _json(event["writes"]) or []
            yield event


def export_events(db: Database, where: EventFilter, stream: IO[str], fmt: Literal["csv", "jsonl"]) -> int:
    """Write the matching events to `stream`, one per row or line; returns how many.

    CSV has the listed columns plus `problems` and `writes` as JSON text and `raw`; JSON lines
    have the same keys with problems and writes as JSON values.
    """
    count = 0
    if fmt == "csv":
        columns = [*EVENT_COLUMNS, "message_id", "problems", "writes", "raw"]
        writer = csv.writer(stream)
        writer.writerow(columns)
        for row in _iter_events(db, where):
            row["problems"], row["writes"] = json_text(row["problems"]), json_text(row["writes"])
            writer.writerow([row[name] for name in columns])
            count += 1
        return count
    write = stream.write
    for event in _iter_events(db, where):
        write(json_text(event) + "\n")
        count += 1
    return count


def database_files(db: Database) -> list[Path]:
    """The files on disk of a SQLite database: the database itself and its -wal, -shm and
    -journal companions (whether they exist now or not); none for an in-memory database or
    another dialect."""
    if isinstance(db, AuditFile):
        main = db.path
    else:
        url = db.engine.url
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
            return []
        if str(url.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
            database = unquote(database.removeprefix("file:"))  # sqlite:///file:path?uri=true (read-only opens)
        main = Path(database).expanduser()
    return [main, *(main.with_name(main.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal once resolved (links followed), or, when both
    exist, the same device and inode (a hard link, or a case-insensitive file system)."""
    if a.resolve() == b.resolve():
        return True
    try:
        first, second = a.stat(), b.stat()
    except (OSError, ValueError):
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def check_export_target(db: Database, target: Path, *, force: bool = False) -> None:
    """Refuse an export file that would harm something: the database in use (or one of its
    files, under any name), a file that exists (unless `force`), a folder; or a folder that
    does not exist.

    Raises:
        ConfigError: one line saying what to do instead.
    """
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError([f"cannot write {target}: the folder {folder} does not exist; create it or choose "
                           "another --output"])
    for database_file in database_files(db):
        if _same_file(target, database_file):
            raise ConfigError([f"refusing to write over {database_file}: it is the database in use (--force does "
                               "not change that); choose another --output"])
    if target.is_dir():
        raise ConfigError([f"cannot write {target}: it is a folder; name a file with --output"])
    if (target.exists() or target.is_symlink()) and not force:
        raise ConfigError([f"{target} already exists: add --force to overwrite it, or choose another --output"])


def export_to_file(db: Database, where: EventFilter, target: str | Path, fmt: Literal["csv", "jsonl"], *,
                   force: bool = False) -> int:
    """`export_events` into a file, safely; returns how many events it wrote.

    After `check_export_target`, the events go to a temporary file in the target's folder,
    which replaces the target (a link is replaced, not followed) only once complete: a failed
    or interrupted export leaves the target as it was and no temporary file behind. A new file
    is readable by its owner only (it holds emails and raw events, as the database does); a
    file overwritten with `force` keeps its permissions.

    Raises:
        ConfigError: a refused target (see `check_export_target`), or the file cannot be written.
    """
    target = Path(target)
    check_export_target(db, target, force=force)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError([f"cannot write in {target.parent}: {exc.strerror or exc}; choose another --output"]) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = export_events(db, where, stream, fmt)
        _keep_permissions(target, Path(temporary))
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ConfigError([f"cannot write {target}: {exc.strerror or exc}; nothing was written"]) from exc
        raise
    return count


def _keep_permissions(target: Path, replacement: Path) -> None:
    """Give `replacement` the permission bits of `target` when it exists (a new file keeps
    the owner-only mode `mkstemp` gave it)."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    os.chmod(replacement, mode)


# -- one event across runs -------------------------------------------------------------------


@dataclass
class TraceStep:
    """What one run did with the event: its outcome, its writes and every request it sent."""

    run: RunInfo
    event: dict[str, Any]
    requests: list[dict[str, Any]]

    @property
    def record_ids(self) -> list[str]:
        return [str(w["record_id"]) for w in json_list(self.event.get("writes"))
                if isinstance(w, dict) and w.get("record_id")]

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run.as_dict(), "event": self.event, "requests": self.requests,
                "record_ids": self.record_ids}


@dataclass
class Trace:
    """Everything that happened to one message, oldest run first."""

    message_key: str
    input: Any
    steps: list[TraceStep]
    #: The writes the event maps to now (the run's mapping file against the newest cached
    #: schema), or the problems that make it invalid; None when that cannot be worked out.
    planned: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"message_key": self.message_key, "input": self.input, "planned": self.planned,
                "steps": [s.as_dict() for s in self.steps]}


#: The shortest key prefix `trace` looks up: "sha256:" and 8 hex digits (`history events` shows 24 characters).
MIN_KEY_PREFIX = len("sha256:") + 8




def trace(db: Database, message: str, *, plan: bool = True) -> Trace:
    """Every run's outcome, writes and requests for one message (by messageId or message key,
    or a unique prefix of at least `MIN_KEY_PREFIX` characters of a ``sha256:`` key).

    Raises:
        ConfigError: no event with that id; a key prefix too short, or shared by several events.
    """
    events = find_events(db, EventFilter(message_key=message), limit=None)
    if not events and message.startswith("sha256:"):
        if len(message) < MIN_KEY_PREFIX:
            raise ConfigError([f"the key prefix {message!r} is too short: give at least {MIN_KEY_PREFIX} characters "
                               "(sha256: and 8 more), as `attio-sync history events` shows them"])
        # `history events` shows a line's hash key cut short; a unique prefix is enough.
        with _reading(db) as sql:
            clause, params = _key_prefix(sql, message)
            keys = [row[0] for row in sql.rows(f"SELECT DISTINCT message_key FROM event WHERE {clause} LIMIT 2",
                                               params)]
        if len(keys) > 1:
            raise ConfigError([f"the key prefix {message!r} matches several events: give more of the key "
                               "(`attio-sync history events --json` shows it whole)"])
        if len(keys) == 1:
            events = find_events(db, EventFilter(message_key=keys[0]), limit=None)
    if not events:
        raise ConfigError([(f"no event with messageId or key {message!r} in {db.url}; "
                            "`attio-sync history events --user-id ...` finds one")])
    key = events[0].message_key
    runs = {r.id: r for r in (get_run(db, run_id) for run_id in sorted({e.run_id for e in events}))}
    with _reading(db) as sql:
        # By the message alone, its runs kept here: with the runs in the query too, SQLite read
        # every request of the run (a million) through the (run_id, ...) index instead.
        requests = [row for row in sql.rows(_REQUEST + " WHERE message_key = :key ORDER BY run_id, started_at, id",
                                            {"key": key}) if row[0] in runs]
    steps = [TraceStep(runs[e.run_id], event_dict(e, full=True),
                       [_request_dict(r) for r in requests if r[0] == e.run_id]) for e in events]
    raw = next((e.raw for e in reversed(events) if e.raw is not None), None)
    parsed: Any = raw
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw  # a broken line is shown as it was read
    planned = _replan(db, parsed, runs[events[-1].run_id].mapping) if plan and isinstance(parsed, dict) else None
    return Trace(key, parsed, steps, planned)


def _key_prefix(sql: _Reader, prefix: str) -> tuple[str, dict[str, Any]]:
    """The condition of a message key that starts with `prefix`, and its parameters. On SQLite
    also the range of keys between `prefix` and the next string of its length, which text
    compares as bytes there: the key index is read from the prefix on, not whole (a LIKE alone
    reads it all)."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    clause, params = "message_key LIKE :pattern ESCAPE '/'", {"pattern": escaped + "%"}
    if sql.dialect == "sqlite" and prefix[-1] < "\x7f":
        clause += " AND message_key >= :low AND message_key < :high"
        params.update(low=prefix, high=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return clause, params


def _replan(db: Database, event: dict[str, Any], mapping_label: str) -> dict[str, Any] | None:
    """The mapped and validated values of an event, as the mapping and schema read now."""
    from .errors import AttioSyncError
    from .mapping import default_mapping, load_mapping
    from .plan import FromWrite, Lookup, plan_event

    try:
        mapping = default_mapping() if not Path(mapping_label).is_file() else load_mapping(mapping_label)
        schema = read_newest_schema(db.url) if isinstance(db, AuditFile) else db.load_schema()
    except AttioSyncError:
        return None
    if schema is None:  # no schema cached yet
        return None

    def shown(item: Any) -> Any:
        if isinstance(item, FromWrite):
            return f"(the {item.object} record of write {item.index + 1})"
        if isinstance(item, Lookup):
            return f"(the {item.describe()})"
        return item

    planned = plan_event(event, mapping, schema)
    return {"mapping": mapping.label, "ok": planned.ok, "problems": planned.problems,
            "writes": [{"object": w.object, "matching_attribute": w.matching_attribute,
                        "values": {slug: [shown(i) for i in forms] for slug, forms in w.values.items()},
                        "appends": {slug: [shown(i) for i in forms] for slug, forms in w.appends.items()}}
                       for w in planned.writes]}


# -- housekeeping ----------------------------------------------------------------------------


_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"``, ``"45s"`` as a timedelta.

    Raises:
        ConfigError: any other shape.
    """
    match = _AGE.match(text)
    if not match:
        raise ConfigError([f"cannot read the age {text!r}: write a number and a unit, e.g. 30d, 12h, 2w"])
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An age (``"2h"``: that long ago) or an ISO date or time (UTC unless it says otherwise).

    Raises:
        ConfigError: neither.
    """
    if _AGE.match(text):
        return (now or _utcnow()) - parse_age(text)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError([(f"cannot read the time {text!r}: write an age (2h, 7d) or an ISO time "
                            "(2026-11-28 or 2026-11-28T09:30)")]) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class PruneResult:
    """What `prune` removed (or, as a dry run, would remove)."""

    cutoff: datetime
    runs: list[int]
    events: int
    requests: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": _iso(self.cutoff), "runs": self.runs, "events": self.events, "requests": self.requests,
                "dry_run": self.dry_run}


def prune(db: Database, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False) -> PruneResult:
    """Remove the event and request rows of runs that started before ``now - older_than``.

    The run rows stay, with their counts, so `history runs` still lists them. Runs still
    running (a fresh heartbeat at `now`) are never touched; a `running` run whose heartbeat
    went stale was killed, and is pruned like a finished one. Forgetting an event's outcome
    also forgets that it was processed: the same message sent again is no longer a
    `duplicate` (the record state still keeps unchanged values from being sent twice), and a
    pruned run cannot be retried. An `AuditFile` only reads: prune it as a dry run.
    """
    now = now or _utcnow()
    cutoff = now - older_than
    with _reading(db) as sql:
        old = sql.rows("SELECT id, state, heartbeat_at, started_at FROM run WHERE started_at < :cutoff ORDER BY id",
                       {"cutoff": _time_param(sql, cutoff)})
        run_ids = [int(run_id) for run_id, state, heartbeat, started in old
                   if effective_state(state, _time_or_none(heartbeat) or _time(started), now) != "running"]
        if not run_ids:
            return PruneResult(cutoff, [], 0, 0, dry_run)
        listed, params = _placeholders("run", run_ids)
        with_rows = {int(row[0]) for table in ("event", "request")  # our own table names
                     for row in sql.rows(f"SELECT DISTINCT run_id FROM {table} WHERE run_id IN ({listed})", params)}
        run_ids = sorted(with_rows)  # runs pruned before are not counted again
        if not run_ids:
            return PruneResult(cutoff, [], 0, 0, dry_run)
        listed, params = _placeholders("run", run_ids)
        (events,), = sql.rows(f"SELECT count(*) FROM event WHERE run_id IN ({listed})", params)
        (requests,), = sql.rows(f"SELECT count(*) FROM request WHERE run_id IN ({listed})", params)
        if not dry_run:
            sql.execute(f"DELETE FROM event WHERE run_id IN ({listed})", params)
            sql.execute(f"DELETE FROM request WHERE run_id IN ({listed})", params)
    if not dry_run and events + requests and not isinstance(db, AuditFile) and db.engine.dialect.name == "sqlite":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM")
    return PruneResult(cutoff, run_ids, int(events), int(requests), dry_run)
