"""Read-only questions to the audit log: runs, one run's summary, events, one event's trace.

Everything here reads what `toolkit.audit.AuditLog` wrote (`Run`, `EventRecord`,
`RequestRecord`) and returns plain dataclasses with an `as_dict()` for `--json`; the
`history` commands (`toolkit.cli.history`) only present them. The two writers are `prune`,
which drops old per-event detail but keeps every run's summary row, and `export_events`,
which writes to a stream the caller opened (`export_to_file` opens a file for it safely: never
the database, never an existing file unless told, and never half-written).

Times come back aware and in UTC from SQLite and PostgreSQL alike (`toolkit.models.Timestamp`).
A run's state is shown as `toolkit.heartbeat.effective_state` reads it: a `running` row whose
heartbeat went stale was killed, and is `interrupted`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import heapq
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import unquote

from sqlalchemy import Row, Text, cast, delete, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from .audit import OUTCOMES
from .cache import Cache, utcnow
from .errors import ConfigError
from .heartbeat import effective_state
from .jsontext import json_list, json_text
from .models import EventRecord, RequestRecord, Run

__all__ = [
    "EventFilter",
    "ProblemGroup",
    "PruneResult",
    "RunInfo",
    "RunSummary",
    "Trace",
    "TraceStep",
    "check_export_target",
    "count_events",
    "database_files",
    "export_events",
    "export_to_file",
    "find_events",
    "get_run",
    "json_list",
    "json_text",
    "list_runs",
    "parse_age",
    "parse_since",
    "problem_groups",
    "prune",
    "run_state",
    "run_summary",
    "trace",
]

#: Outcomes that come with something to fix, in the order a summary lists them.
PROBLEM_STATUSES = ("invalid", "rejected", "failed")
#: Columns of `history events` and of an export, in order.
EVENT_COLUMNS = ("run_id", "line", "message_key", "event_type", "user_id", "email", "status", "reason",
                 "finished_at", "seconds")
#: The keys of an event as JSON (`event_dict`), in order, short and full; an export reads the full ones.
_SHORT_KEYS = (*EVENT_COLUMNS, "message_id")
_FULL_KEYS = (*_SHORT_KEYS, "problems", "writes", "raw")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


# -- runs ------------------------------------------------------------------------------------


def run_state(run: Run, now: datetime) -> str:
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


def _run_info(run: Run, detail: dict[str, int] | None = None, now: datetime | None = None) -> RunInfo:
    assert run.id is not None
    counts = {status: int(getattr(run, status)) for status in OUTCOMES}
    # The event rows are the truth for a run killed between two flushes of its counts; but a
    # dry run has rows only for its problems (`toolkit.audit.REHEARSAL_RECORDS`): its counts.
    if detail and not run.dry_run:
        counts = {status: detail.get(status, 0) for status in OUTCOMES}
    return RunInfo(id=run.id, command=run.command, state=run_state(run, now or utcnow()), started_at=run.started_at,
                   finished_at=run.finished_at, input=run.input, mapping=run.mapping, dry_run=run.dry_run,
                   parent_run_id=run.parent_run_id, counts=counts, requests=run.requests,
                   has_detail=run.dry_run or bool(detail) or run.events == 0, heartbeat_at=run.heartbeat_at)


def _detail_counts(cache: Cache, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    with cache.session() as session:
        rows = session.exec(
            select(EventRecord.run_id, EventRecord.status, func.count())
            .where(col(EventRecord.run_id).in_(run_ids))
            .group_by(col(EventRecord.run_id), col(EventRecord.status))
        ).all()
    found: dict[int, dict[str, int]] = {}
    for run_id, status, count in rows:
        found.setdefault(run_id, {})[status] = count
    return found


def list_runs(cache: Cache, *, limit: int = 20, offset: int = 0,
              now: datetime | None = None) -> tuple[list[RunInfo], int]:
    """The newest runs first, and how many runs there are in all (states as of `now`, default now)."""
    with cache.session() as session:
        total: int = session.exec(select(func.count()).select_from(Run)).one()
        runs = list(session.exec(select(Run).order_by(col(Run.id).desc()).offset(offset).limit(limit)))
    detail = _detail_counts(cache, [r.id for r in runs if r.id is not None])
    return [_run_info(r, detail.get(r.id or 0), now) for r in runs], int(total)


def get_run(cache: Cache, run_id: int | None = None, *, now: datetime | None = None) -> RunInfo:
    """One run (the newest when `run_id` is None), its state as of `now` (default now).

    Raises:
        ConfigError: no such run, or no run at all.
    """
    with cache.session() as session:
        if run_id is None:
            run = session.exec(select(Run).order_by(col(Run.id).desc()).limit(1)).first()
        else:
            run = session.get(Run, run_id)
    if run is None or run.id is None:
        raise ConfigError([f"no run {run_id} in {cache.url}; `attio-sync history runs` lists them"
                           if run_id is not None else f"no run yet in {cache.url}: run `attio-sync sync` first"])
    return _run_info(run, _detail_counts(cache, [run.id]).get(run.id), now)


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
    its reason); one key per distinct problem."""
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


def problem_groups(cache: Cache, run_id: int, *, top: int = 10, examples: int = 5) -> list[ProblemGroup]:
    """A run's problems grouped by (field, reason), the most common first.

    An event with two problems counts in both groups, so the groups may add up to more than
    the events that had problems. Each group keeps the first `examples` lines that have its
    problem, and the hint of the first.
    """
    # The four columns the groups need, as plain rows in the order the index gives them (a run
    # of a million events may have a hundred thousand with problems: whole ORM rows in line
    # order, raw input and writes parsed, took 7 s); each group keeps its first lines itself.
    # The problems come as JSON text, each text parsed once: events share their problems (one
    # bad value, one refusal) more often than not.
    query = (sa_select(col(EventRecord.line), col(EventRecord.id), col(EventRecord.status), col(EventRecord.reason),
                       cast(col(EventRecord.problems), Text))
             .where(col(EventRecord.run_id) == run_id, col(EventRecord.status).in_(PROBLEM_STATUSES)))
    tallies: dict[tuple[str, str, str], _Tally] = {}
    known: dict[tuple[str | None, str], list[tuple[str, str, str | None]]] = {}
    with cache.session() as session:
        rows = session.connection().execution_options(yield_per=2000).execute(query)
        for line, event_id, status, event_reason, problems in rows:
            at = (line, event_id or 0)
            keys = known.get((problems, event_reason))
            if keys is None:
                keys = list(_problem_keys(None if problems is None else json.loads(problems), event_reason))
                if len(known) < _KNOWN_PROBLEMS:
                    known[problems, event_reason] = keys
            for where, reason, hint in keys:
                tally = tallies.get((status, where, reason))
                if tally is None:
                    tallies[status, where, reason] = _Tally(at, hint, [-line])
                    continue
                tally.events += 1
                if at < tally.first:
                    tally.first, tally.hint = at, hint
                if len(tally.lines) < examples:
                    heapq.heappush(tally.lines, -line)
                elif line < -tally.lines[0]:
                    heapq.heapreplace(tally.lines, -line)
    # Ties go to the problem met first, as when the rows were read in line order.
    ordered = sorted(tallies.items(), key=lambda item: (-item[1].events, PROBLEM_STATUSES.index(item[0][0]),
                                                        item[0][1], item[1].first))
    return [ProblemGroup(status, where, reason, tally.events, sorted(-line for line in tally.lines)[:examples],
                         tally.hint) for (status, where, reason), tally in ordered[:top]]


#: Distinct problem texts `problem_groups` keeps parsed (at most some megabytes).
_KNOWN_PROBLEMS = 20_000


@dataclass
class _Tally:
    """One problem group while a run's rows are counted: where it was first met, its hint
    then, and (negated, a heap) the smallest lines met so far."""

    first: tuple[int, int]
    hint: str | None
    lines: list[int]
    events: int = 1


def _request_dict(request: RequestRecord) -> dict[str, Any]:
    return {"run_id": request.run_id, "message_key": request.message_key, "method": request.method,
            "path": request.path, "attempt": request.attempt, "status": request.status, "code": request.code,
            "message": request.message, "execution_id": request.execution_id, "record_id": request.record_id,
            "latency": round(request.latency, 4), "started_at": _iso(request.started_at)}


def run_summary(cache: Cache, run_id: int | None = None, *, top: int = 10, slowest: int = 5) -> RunSummary:
    """One run's summary (the newest run's when `run_id` is None).

    Raises:
        ConfigError: no such run.
    """
    run = get_run(cache, run_id)
    with cache.session() as session:
        slow = [_request_dict(r) for r in session.exec(
            select(RequestRecord).where(col(RequestRecord.run_id) == run.id)
            .order_by(col(RequestRecord.latency).desc()).limit(slowest))]
        retries = [r for r in session.exec(select(Run.id).where(col(Run.parent_run_id) == run.id)
                                           .order_by(col(Run.id))) if r is not None]
        by_status = session.exec(
            select(RequestRecord.status, func.count()).where(col(RequestRecord.run_id) == run.id)
            .group_by(col(RequestRecord.status))).all()
    attempts = {str(status) if status is not None else "no answer": int(n) for status, n in by_status}
    return RunSummary(run, problem_groups(cache, run.id, top=top), slow, retries, dict(sorted(attempts.items())))


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

    def where(self) -> list[Any]:
        clauses: list[Any] = []
        if self.run_id is not None:
            clauses.append(col(EventRecord.run_id) == self.run_id)
        if self.statuses:
            clauses.append(col(EventRecord.status).in_(self.statuses))
        if self.user_id is not None:
            clauses.append(col(EventRecord.user_id) == self.user_id)
        if self.email is not None:  # emails are compared as Attio does: without case
            clauses.append(func.lower(col(EventRecord.email)) == self.email.lower())
        if self.since is not None:
            # aware, as the column type wants; it stores and compares UTC
            clauses.append(col(EventRecord.finished_at) >= self.since.astimezone(UTC))
        if self.message_key is not None:
            clauses.append((col(EventRecord.message_key) == self.message_key)
                           | (col(EventRecord.message_id) == self.message_key))
        return clauses


def event_dict(event: EventRecord | Row[Any], *, full: bool = False) -> dict[str, Any]:
    """An event row as JSON: the listed columns, and with `full` its problems, writes and input.

    `event` is a model, or a plain row of the columns an export reads (`_EXPORTED`, in order).
    """
    if isinstance(event, Row):
        row: dict[str, Any] = dict(zip(_FULL_KEYS, event, strict=True))  # an export makes millions of these
        if not full:
            del row["problems"], row["writes"], row["raw"]
    else:
        row = {name: getattr(event, name) for name in (_FULL_KEYS if full else _SHORT_KEYS)}
    row["finished_at"] = _iso(row["finished_at"])
    row["seconds"] = round(row["seconds"], 4)
    if full:
        row["problems"] = row["problems"] or []
        row["writes"] = row["writes"] or []
    return row


def count_events(cache: Cache, where: EventFilter) -> int:
    """How many events match."""
    with cache.session() as session:
        return int(session.exec(select(func.count()).select_from(EventRecord).where(*where.where())).one())


def find_events(cache: Cache, where: EventFilter, *, limit: int | None = 50, offset: int = 0) -> list[EventRecord]:
    """The matching events, by run then line."""
    query = (select(EventRecord).where(*where.where())
             .order_by(col(EventRecord.run_id), col(EventRecord.line), col(EventRecord.id)).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    with cache.session() as session:
        return list(session.exec(query))


#: What an export reads of each event: every column `event_dict` shows, as plain rows.
_EXPORTED = tuple(col(getattr(EventRecord, name)) for name in _FULL_KEYS)


def _iter_events(cache: Cache, where: EventFilter, batch: int = 2000) -> Iterator[Row[Any]]:
    """The matching events by run, line and id (rows are stored in the order events finished,
    not in line order), read by one statement as the caller consumes them.

    One statement, streamed (`batch` rows at a time; a server-side cursor on PostgreSQL), keeps
    an export of millions of rows in constant memory and linear time, and reads one snapshot.
    Pages of ``(run_id, line, id) > last`` would each be a new query: one that the database
    answers from another index (``--status``, ``--email``) sorts every match again for every
    page, which made a million-event export quadratic.
    """
    query = (sa_select(*_EXPORTED).where(*where.where())
             .order_by(col(EventRecord.run_id), col(EventRecord.line), col(EventRecord.id)))
    with cache.session() as session:
        # Core on the session's connection: the ORM's row handling doubled the cost of a row.
        yield from session.connection().execution_options(yield_per=batch).execute(query)


def export_events(cache: Cache, where: EventFilter, stream: IO[str], fmt: Literal["csv", "jsonl"]) -> int:
    """Write the matching events to `stream`, one per row or line; returns how many.

    CSV has the listed columns plus `problems` and `writes` as JSON text and `raw`; JSON lines
    have the same keys with problems and writes as JSON values.
    """
    count = 0
    if fmt == "csv":
        columns = [*EVENT_COLUMNS, "message_id", "problems", "writes", "raw"]
        writer = csv.writer(stream)
        writer.writerow(columns)
        for event in _iter_events(cache, where):
            row = event_dict(event, full=True)
            row["problems"], row["writes"] = json_text(row["problems"]), json_text(row["writes"])
            writer.writerow([row[name] for name in columns])
            count += 1
        return count
    write = stream.write
    for event in _iter_events(cache, where):
        write(json_text(event_dict(event, full=True)) + "\n")
        count += 1
    return count


def database_files(cache: Cache) -> list[Path]:
    """The files on disk of the cache's SQLite database: the database itself and its -wal,
    -shm and -journal companions (whether they exist now or not); none for an in-memory
    database or another dialect."""
    url = cache.engine.url
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


def check_export_target(cache: Cache, target: Path, *, force: bool = False) -> None:
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
    for database_file in database_files(cache):
        if _same_file(target, database_file):
            raise ConfigError([f"refusing to write over {database_file}: it is the database in use (--force does "
                               "not change that); choose another --output"])
    if target.is_dir():
        raise ConfigError([f"cannot write {target}: it is a folder; name a file with --output"])
    if (target.exists() or target.is_symlink()) and not force:
        raise ConfigError([f"{target} already exists: add --force to overwrite it, or choose another --output"])


def export_to_file(cache: Cache, where: EventFilter, target: str | Path, fmt: Literal["csv", "jsonl"], *,
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
    check_export_target(cache, target, force=force)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError([f"cannot write in {target.parent}: {exc.strerror or exc}; choose another --output"]) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = export_events(cache, where, stream, fmt)
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


def trace(cache: Cache, message: str, *, plan: bool = True) -> Trace:
    """Every run's outcome, writes and requests for one message (by messageId or message key,
    or a unique prefix of at least `MIN_KEY_PREFIX` characters of a ``sha256:`` key).

    Raises:
        ConfigError: no event with that id; a key prefix too short, or shared by several events.
    """
    events = find_events(cache, EventFilter(message_key=message), limit=None)
    if not events and message.startswith("sha256:"):
        if len(message) < MIN_KEY_PREFIX:
            raise ConfigError([f"the key prefix {message!r} is too short: give at least {MIN_KEY_PREFIX} characters "
                               "(sha256: and 8 more), as `attio-sync history events` shows them"])
        # `history events` shows a line's hash key cut short; a unique prefix is enough.
        with cache.session() as session:
            keys = list(session.exec(select(EventRecord.message_key).distinct()
                                     .where(*_key_prefix(cache, message)).limit(2)))
        if len(keys) > 1:
            raise ConfigError([f"the key prefix {message!r} matches several events: give more of the key "
                               "(`attio-sync history events --json` shows it whole)"])
        if len(keys) == 1:
            events = find_events(cache, EventFilter(message_key=keys[0]), limit=None)
    if not events:
        raise ConfigError([(f"no event with messageId or key {message!r} in {cache.url}; "
                            "`attio-sync history events --user-id ...` finds one")])
    key = events[0].message_key
    runs = {r.id: r for r in (get_run(cache, run_id) for run_id in sorted({e.run_id for e in events}))}
    with cache.session() as session:
        # By the message alone, its runs kept here: with the runs in the query too, SQLite read
        # every request of the run (a million) through the (run_id, ...) index instead.
        requests = [r for r in session.exec(
            select(RequestRecord).where(col(RequestRecord.message_key) == key)
            .order_by(col(RequestRecord.run_id), col(RequestRecord.started_at), col(RequestRecord.id)))
            if r.run_id in runs]
    steps = [TraceStep(runs[e.run_id], event_dict(e, full=True),
                       [_request_dict(r) for r in requests if r.run_id == e.run_id]) for e in events]
    raw = next((e.raw for e in reversed(events) if e.raw is not None), None)
    parsed: Any = raw
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw  # a broken line is shown as it was read
    planned = _replan(cache, parsed, runs[events[-1].run_id].mapping) if plan and isinstance(parsed, dict) else None
    return Trace(key, parsed, steps, planned)


def _key_prefix(cache: Cache, prefix: str) -> list[Any]:
    """The conditions of a message key that starts with `prefix`. On SQLite also the range of
    keys between `prefix` and the next string of its length, which text compares as bytes
    there: the key index is read from the prefix on, not whole (a LIKE alone reads it all)."""
    clauses = [col(EventRecord.message_key).startswith(prefix, autoescape=True)]
    if cache.engine.dialect.name == "sqlite" and prefix[-1] < "\x7f":
        clauses += [col(EventRecord.message_key) >= prefix,
                    col(EventRecord.message_key) < prefix[:-1] + chr(ord(prefix[-1]) + 1)]
    return clauses


def _replan(cache: Cache, event: dict[str, Any], mapping_label: str) -> dict[str, Any] | None:
    """The mapped and validated values of an event, as the mapping and schema read now."""
    from pathlib import Path

    from .errors import AttioSyncError
    from .mapping import default_mapping, load_mapping
    from .plan import FromWrite, Lookup, plan_event

    try:
        mapping = default_mapping() if not Path(mapping_label).is_file() else load_mapping(mapping_label)
        schema = cache.load_schema()
    except AttioSyncError:
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
        return (now or utcnow()) - parse_age(text)
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


def prune(cache: Cache, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False) -> PruneResult:
    """Remove the event and request rows of runs that started before ``now - older_than``.

    The run rows stay, with their counts, so `history runs` still lists them. Runs still
    running (a fresh heartbeat at `now`) are never touched; a `running` run whose heartbeat
    went stale was killed, and is pruned like a finished one. Forgetting an event's outcome
    also forgets that it was processed: the same message sent again is no longer a
    `duplicate` (the record state still keeps unchanged values from being sent twice), and a
    pruned run cannot be retried.
    """
    now = now or utcnow()
    cutoff = now - older_than
    with cache.session() as session:
        old = select(Run).where(col(Run.started_at) < cutoff.astimezone(UTC)).order_by(col(Run.id))
        run_ids = [r.id for r in session.exec(old) if r.id is not None and run_state(r, now) != "running"]
        if not run_ids:
            return PruneResult(cutoff, [], 0, 0, dry_run)
        with_rows = {int(r) for r in session.exec(select(EventRecord.run_id).distinct()
                                                    .where(col(EventRecord.run_id).in_(run_ids)))}
        with_rows |= {int(r) for r in session.exec(select(RequestRecord.run_id).distinct()
                                                     .where(col(RequestRecord.run_id).in_(run_ids)))}
        run_ids = sorted(with_rows)  # runs pruned before are not counted again
        events = int(session.exec(select(func.count()).select_from(EventRecord)
                                  .where(col(EventRecord.run_id).in_(run_ids))).one())
        requests = int(session.exec(select(func.count()).select_from(RequestRecord)
                                    .where(col(RequestRecord.run_id).in_(run_ids))).one())
        if not dry_run:
            session.execute(delete(EventRecord).where(col(EventRecord.run_id).in_(run_ids)))
            session.execute(delete(RequestRecord).where(col(RequestRecord.run_id).in_(run_ids)))
    if not dry_run and events + requests and cache.engine.dialect.name == "sqlite":
        with cache.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM")
    return PruneResult(cutoff, run_ids, events, requests, dry_run)
