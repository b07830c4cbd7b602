"""The inbox: the durable queue between the door (which acknowledges) and the worker (which sends).

The door calls `Inbox.accept` with the events of one request; they are committed in one
transaction (never one per event), shared with the other requests waiting at that moment (a
group commit), before the sender hears 200. Share one `Inbox` per process: its lock is what
groups the commits. A `message_id` already in the inbox is skipped (``INSERT ... ON CONFLICT DO NOTHING``), so
a library's retry, or the same event after a restart, is queued once. The worker reads
`queued` rows in arrival order and calls `mark_done` in the transaction that records their
outcomes, so "outcome recorded" and "off the queue" commit together.

The sender takes queued rows with `claim`, which stamps them with its run's id in the same
statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so a run never reads a row twice and two
claims never take the same row; a later run (a larger id) takes over what an earlier one held,
never the other way. Rows that commit late (on PostgreSQL a transaction takes its
ids when it inserts and may commit after a later one) are simply claimed at the next call; rows
a run claimed and did not finish (it was killed, or the event `failed`) are claimed again by the
next run.

Database failures leave as `CacheError` (through `Cache._error`), which the door answers 503.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from ..cache import Cache, as_utc, utcnow
from ..errors import CacheError
from ..models import InboxEvent

__all__ = ["AcceptResult", "AcceptedEvent", "Inbox", "QueuedEvent", "inbox_key"]

#: The longest messageId kept as the inbox key as it is; a longer one is keyed by its hash
#: (a PostgreSQL btree index refuses keys over about 2.7 KB).
MAX_KEY_CHARS = 255
#: Ids per UPDATE in `mark_done` (well under any driver's limit on bound parameters).
_CHUNK = 500

_TABLE = InboxEvent.__table__  # type: ignore[attr-defined]
#: The columns `accept` writes, in the order of its rows.
_COLUMNS = ("message_id", "event_type", "event", "size", "received_at", "run_id")


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """One event the door accepted, ready to queue.

    Attributes:
        message_id: the inbox key (see `inbox_key`).
        event_type: the event's type when it is a plain string, else None.
        event: the event as compact JSON, every non-ASCII character escaped.
    """

    message_id: str
    event_type: str | None
    event: str


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """What `Inbox.accept` did: `accepted` rows are new, `duplicates` were there already (or
    repeated within the same call)."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """A queued row, as the worker reads it; `received_at` is aware UTC."""

    id: int
    message_id: str
    event_type: str | None
    event: str
    received_at: datetime


@dataclass(eq=False)
class _Ticket:
    """One `accept` call waiting for its commit."""

    rows: list[tuple[Any, ...]]
    count: int
    result: AcceptResult | None = None
    error: CacheError | None = None
    done: bool = field(default=False)


def _queued(row: Any) -> QueuedEvent:
    """A queued row as the worker reads it (`queued` and `claim` select the same columns)."""
    return QueuedEvent(id=row.id, message_id=row.message_id, event_type=row.event_type, event=row.event,
                       received_at=as_utc(row.received_at))


def inbox_key(message_id: object) -> str | None:
    """The inbox key of an event whose messageId is `message_id`; None when it has none usable.

    A plain string (non-empty, printable, at most `MAX_KEY_CHARS`) is the key as it is. A
    longer or unprintable one (NUL, a lone surrogate: things some databases cannot store) is
    keyed by a hash of it, so retries still dedupe. Anything else (missing, empty, a number)
    gives None: the caller makes up a unique key, and such an event cannot be deduped.
    """
    if not isinstance(message_id, str) or not message_id:
        return None
    if len(message_id) <= MAX_KEY_CHARS and message_id.isprintable():
        return message_id
    escaped = json.dumps(message_id, ensure_ascii=True).encode("ascii")
    return "sha256-" + hashlib.sha256(escaped).hexdigest()


class Inbox:
    """The queue of acknowledged events in the cache database (table ``inbox``)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        dialect = cache.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise CacheError(f"database {cache.url}: the serve inbox needs SQLite or PostgreSQL, not {dialect}")
        # The hot path of the door: one driver-level executemany per request, its rowcount the
        # rows new (SQLAlchemy's per-row statement and RETURNING machinery cost 3x the insert).
        mark = "?" if cache.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert = (f"INSERT INTO inbox ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))}) "
                        "ON CONFLICT (message_id) DO NOTHING")
        self._time = _TABLE.c.received_at.type.bind_processor(cache.engine.dialect) or (lambda value: value)
        self._depth = select(func.count()).select_from(_TABLE).where(_TABLE.c.done_at.is_(None))
        self._oldest = (select(_TABLE.c.received_at).where(_TABLE.c.done_at.is_(None))
                        .order_by(_TABLE.c.id).limit(1))
        self._queued = (
            select(_TABLE.c.id, _TABLE.c.message_id, _TABLE.c.event_type, _TABLE.c.event, _TABLE.c.received_at)
            .where(_TABLE.c.done_at.is_(None), _TABLE.c.id > bindparam("after_id"))
            .order_by(_TABLE.c.id).limit(bindparam("limit"))
        )
        pending = (select(_TABLE.c.id).where(_TABLE.c.done_at.is_(None),
                                             _TABLE.c.run_id.is_(None) | (_TABLE.c.run_id < bindparam("run_id")))
                   .order_by(_TABLE.c.id).limit(bindparam("limit")))
        if dialect == "postgresql":
            pending = pending.with_for_update(skip_locked=True)
        self._claim = (update(_TABLE).where(_TABLE.c.id.in_(pending.scalar_subquery()))
                       .values(run_id=bindparam("run_id"))
                       .returning(_TABLE.c.id, _TABLE.c.message_id, _TABLE.c.event_type, _TABLE.c.event,
                                  _TABLE.c.received_at))
        self._turn = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._committing = False
        self._done = (update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)),
                                           _TABLE.c.done_at.is_(None))
                      .values(done_at=bindparam("done_at")))
        # The oldest done rows first, by the (done_at, id) index; never a queued one.
        prunable = (select(_TABLE.c.id).where(_TABLE.c.done_at.is_not(None), _TABLE.c.done_at < bindparam("before"))
                    .order_by(_TABLE.c.done_at, _TABLE.c.id).limit(bindparam("limit")))
        self._prune = delete(_TABLE).where(_TABLE.c.id.in_(prunable.scalar_subquery()))

    def __repr__(self) -> str:
        return f"Inbox({self.cache.url!r})"

    def accept(self, events: Sequence[AcceptedEvent], *, run_id: int | None = None) -> AcceptResult:
        """Queue `events` in one transaction; those whose key is already queued (or done) are
        skipped, as are repeats within `events`.

        Returns once the transaction has committed: then, and only then, may the sender be
        told its events are safe. Calls from several threads share commits (group commit): a
        call that finds a commit under way waits, and the next commit takes every call waiting
        by then, each call's events in its own statement, so its counts are its own. Writers
        in this process so queue on a lock instead of polling SQLite's busy handler.

        Raises:
            CacheError: nothing was committed (database locked past its busy timeout, gone,
                full, read-only): the sender should try again later.
        """
        received_at = self._time(utcnow())
        seen: set[str] = set()
        rows: list[tuple[Any, ...]] = []
        for item in events:
            if item.message_id in seen:
                continue
            seen.add(item.message_id)
            rows.append((item.message_id, item.event_type, item.event, len(item.event), received_at, run_id))
        if not rows:
            return AcceptResult(accepted=0, duplicates=len(events))
        ticket = _Ticket(rows=rows, count=len(events))
        with self._turn:
            self._waiting.append(ticket)
            while not ticket.done:
                if self._committing:
                    self._turn.wait()
                    continue
                group, self._waiting = self._waiting, []
                self._committing = True
                self._turn.release()
                try:
                    failed = self._commit(group)
                finally:
                    self._turn.acquire()
                    self._committing = False
                    if failed is not None:  # those who came meanwhile would wait as long for the same
                        for late in self._waiting:
                            late.error, late.done = failed, True
                        self._waiting = []
                    self._turn.notify_all()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    def _commit(self, group: list[_Ticket]) -> CacheError | None:
        """Commit every ticket's rows in one transaction; mark each done, with its result or
        the error (returned as well)."""
        failed: CacheError | None = None
        try:
            with self.cache.engine.begin() as connection:
                inserted = [int(connection.exec_driver_sql(self._insert, ticket.rows).rowcount) for ticket in group]
        except SQLAlchemyError as exc:
            failed = self.cache._error(exc)
            failed.__cause__ = exc
        except BaseException as exc:
            for ticket in group:
                ticket.error = CacheError(f"database {self.cache.url}: the commit was interrupted ({exc!r})")
                ticket.done = True
            raise
        for index, ticket in enumerate(group):
            if failed is None:
                ticket.result = AcceptResult(accepted=inserted[index], duplicates=ticket.count - inserted[index])
            else:
                ticket.error = failed
            ticket.done = True
        return failed

    def depth(self) -> int:
        """How many events are queued (not yet done).

        Raises:
            CacheError: the database cannot be read.
        """
        return int(self._scalar(self._depth) or 0)

    def oldest_age(self, now: datetime | None = None) -> float | None:
        """Seconds since the oldest queued event arrived; None when nothing is queued.

        Raises:
            CacheError: the database cannot be read.
        """
        received_at = self._scalar(self._oldest)
        if received_at is None:
            return None
        return max(0.0, ((now or utcnow()) - as_utc(received_at)).total_seconds())

    def queued(self, after_id: int = 0, limit: int = 1000) -> list[QueuedEvent]:
        """Up to `limit` queued events with an id above `after_id`, in arrival (id) order.

        Raises:
            CacheError: the database cannot be read.
        """
        try:
            with self.cache.engine.connect() as connection:
                rows = connection.execute(self._queued, {"after_id": after_id, "limit": limit}).all()
        except SQLAlchemyError as exc:
            raise self.cache._error(exc) from exc
        return [_queued(row) for row in rows]

    def claim(self, run_id: int, limit: int = 1000) -> list[QueuedEvent]:
        """Take up to `limit` queued events for run `run_id`, in arrival (id) order: those no
        run holds, and those an earlier run (a smaller id) held without finishing. Stamped in
        one statement, so a run reads each row once, and a run never takes back what a later
        one took over.

        Raises:
            CacheError: the database cannot be written.
        """
        try:
            with self.cache.engine.begin() as connection:
                rows = connection.execute(self._claim, {"run_id": run_id, "limit": limit}).all()
        except SQLAlchemyError as exc:
            raise self.cache._error(exc) from exc
        return sorted((_queued(row) for row in rows), key=lambda queued: queued.id)

    def mark_done(self, connection: Connection | Session, ids: Iterable[int], *, at: datetime | None = None) -> int:
        """Mark queued events done inside the caller's transaction; returns how many changed
        (an id already done, or unknown, is skipped).

        SQLAlchemy errors are left to the caller, whose transaction they belong to.
        """
        done_at = at or utcnow()
        ids = list(ids)
        changed = 0
        for start in range(0, len(ids), _CHUNK):
            result: Any = connection.execute(self._done, {"ids": ids[start:start + _CHUNK], "done_at": done_at})
            changed += int(result.rowcount)
        return changed

    def mark_done_now(self, ids: Iterable[int], *, at: datetime | None = None) -> int:
        """`mark_done` in a transaction of its own.

        Raises:
            CacheError: nothing was committed.
        """
        try:
            with self.cache.engine.begin() as connection:
                return self.mark_done(connection, ids, at=at)
        except SQLAlchemyError as exc:
            raise self.cache._error(exc) from exc

    def prune(self, before: datetime, *, chunk: int = 5_000) -> int:
        """Delete the events done before `before`; returns how many. A chunk at a time, each in
        a transaction of its own, so the door never waits long for the database. Queued events
        (not done, or `failed` and waiting to be sent again) are never deleted.

        A done event is kept so that a library's late retry of it is not queued again; once
        it is deleted, such a retry is queued, and the sync records it as a `duplicate` from
        the audit log (which `history prune` alone deletes): nothing is sent twice.

        Raises:
            CacheError: the database refused (what was deleted before stays deleted).
        """
        deleted = 0
        while True:
            try:
                with self.cache.engine.begin() as connection:
                    result: Any = connection.execute(self._prune, {"before": before, "limit": chunk})
            except SQLAlchemyError as exc:
                raise self.cache._error(exc) from exc
            deleted += int(result.rowcount)
            if result.rowcount < chunk:
                return deleted

    def _scalar(self, statement: Any) -> Any:
        try:
            with self.cache.engine.connect() as connection:
                return connection.execute(statement).scalar()
        except SQLAlchemyError as exc:
            raise self.cache._error(exc) from exc

