"""The audit log of one run: outcomes, HTTP attempts and the record state, committed together.

`AuditLog` buffers event outcomes and HTTP attempts and commits them, with the record states
changed since the last commit (`toolkit.state.RecordStates`) and the run's counts, in one
transaction every `flush_every` rows or `flush_seconds` (and at the end). What a killed run had
not committed is exactly what it had not confirmed: the next run sends those events again, and
since every write is an idempotent assert or append, nothing is duplicated in Attio.

A commit that fails (another process holds the database's write lock, a disk is full) keeps
everything buffered and is tried again at the next flush; only when commits have failed for
`persist_timeout` seconds does the run stop, with `RecordingError` naming the lines whose
outcomes are not recorded. The counts a run reports are the committed ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, bindparam, insert, or_, update
from sqlmodel import Session, col, select

from .cache import Cache, utcnow
from .errors import CacheError, RecordingError
from .history import OUTCOMES, PROBLEM_STATUSES, problem_key
from .models import EventRecord, RecordState, RequestRecord, Run
from .scratch import Scratch
from .state import RecordStates, StateEntry, StateKey

__all__ = ["FINAL_STATUSES", "OUTCOMES", "REHEARSAL_RECORDS", "AuditLog", "first_problems"]

#: Outcomes that mean "processed": the same message in a later run is a duplicate. A `failed`
#: event is not final: running the same input again retries it.
FINAL_STATUSES = ("synced", "unchanged", "invalid", "rejected")
#: What a dry run records line by line: the events that would not go through, with their
#: problems. The rest (would be synced, unchanged, duplicates) it counts: a rehearsal of a
#: million events then writes its counts and its problems, not a million rows, whose inserts
#: (with the indexes `history` needs) cost more than planning the events.
REHEARSAL_RECORDS = PROBLEM_STATUSES
#: A dry run commits after this many times `flush_every` events counted without a row (each
#: commit waits for the disk; what it commits is only counts).
_COUNTED_PER_FLUSH: Final = 10
#: How long a run goes on while its outcomes cannot be committed, before it stops.
PERSIST_TIMEOUT: Final = 60.0


def _any_done(statuses: Sequence[str]) -> Any:
    """Whether a real run gave any message an outcome in `statuses`, from the runs' counts (a
    run's counts commit with its outcomes)."""
    return select(Run.id).where(col(Run.dry_run).is_(False), or_(*(getattr(Run, s) > 0 for s in statuses))).limit(1)


def _seen(statuses: Sequence[str]) -> Any:
    """Of a batch of messages, those this run has an outcome for, or a real earlier run gave an
    outcome in `statuses`: one statement, built once per run, asked once per batch of events."""
    return (select(EventRecord.message_key).join(Run, col(Run.id) == col(EventRecord.run_id))
            .where(col(EventRecord.message_key).in_(bindparam("message_keys", expanding=True)),
                   or_(col(Run.id) == bindparam("run_id"),
                       and_(col(Run.dry_run).is_(False), or_(*(col(EventRecord.status) == s for s in statuses))))))


class AuditLog:
    """One run's writer: outcomes, attempts and record state, committed in batches.

    Args:
        cache: the database.
        run: the run's row (see `start`).
        states: the record states, whose pending changes each commit writes.
        done_statuses: outcomes of an earlier real run that make a message a `duplicate`.
        flush_every, flush_seconds: commit after this many outcomes or this long.
        persist_timeout: stop the run after commits have failed for this long.
        on_commit: called inside each commit's transaction with the session and the outcome rows
            it writes, so what else those outcomes settle (a served event leaving the queue)
            commits with them or not at all.
    """

    def __init__(self, cache: Cache, run: Run, states: RecordStates, *,
                 done_statuses: Sequence[str] = FINAL_STATUSES, flush_every: int = 500,
                 flush_seconds: float = 0.5, persist_timeout: float = PERSIST_TIMEOUT,
                 on_commit: Callable[[Session, list[dict[str, Any]]], None] | None = None) -> None:
        self.cache = cache
        self.on_commit = on_commit
        self.run = run
        self.states = states
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.persist_timeout = persist_timeout
        #: Outcomes recorded so far, committed or not (for progress).
        self.counts = dict.fromkeys(OUTCOMES, 0)
        #: Outcomes and requests the database holds (for the summary).
        self.committed = dict.fromkeys(OUTCOMES, 0)
        self.committed_requests = 0
        self._seen = _seen(done_statuses)
        self._any_done = _any_done(done_statuses)
        #: Whether an earlier real run gave any message a done outcome (asked once, by a dry
        #: run: with none, it asks the database nothing per batch; see `seen`).
        self._earlier_done: bool | None = None
        self._events: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._buffered_keys: set[str] = set()
        #: A dry run's messages counted without a row: kept in a scratch file once committed
        #: (with those it recorded), so that a repeat is still a duplicate (`seen`).
        self._counted_keys: list[str] = []
        self._counted: Scratch | None = None
        self._last_flush = time.monotonic()
        self._failing_since: float | None = None
        self._gave_up: RecordingError | None = None

    @staticmethod
    def start_run(cache: Cache, *, command: str, input: str, mapping: str, dry_run: bool, base_url: str,
                  parent_run_id: int | None = None) -> Run:
        """Write the run's row (state `running`) and return it."""
        now = utcnow()
        run = Run(command=command, started_at=now, heartbeat_at=now, input=input, mapping=mapping,
                  dry_run=dry_run, base_url=base_url, parent_run_id=parent_run_id)
        with cache.session() as session:
            session.add(run)
        return run

    @property
    def run_id(self) -> int:
        assert self.run.id is not None
        return self.run.id

    # -- what came before ------------------------------------------------------------------

    def seen(self, message_keys: Collection[str]) -> set[str]:
        """Of `message_keys`, those this run has recorded (committed or not), and those a real
        (not dry) earlier run gave one of the done outcomes: repeats, `duplicate`.

        Only the uncommitted outcomes are held in memory; the rest is asked of the database,
        by index, once per batch of events, so a run over any number of events keeps constant
        memory.
        """
        found = {key for key in message_keys if key in self._buffered_keys}
        rest = [key for key in set(message_keys) if key not in found]
        # A dry run keeps every message it committed in its scratch file, rows and counts alike.
        if rest and (not self.run.dry_run or self._any_earlier_done()):
            rows = self.cache.all(self._seen, {"message_keys": rest, "run_id": self.run_id})
            found.update(row.message_key for row in rows)
        if rest and self._counted is not None:
            found.update(key for (key,) in self._counted.matching("SELECT key FROM seen WHERE key IN ({})", rest))
        return found

    def _any_earlier_done(self) -> bool:
        if self._earlier_done is None:
            self._earlier_done = bool(self.cache.all(self._any_done, {}))
        return self._earlier_done

    # -- what happens now ------------------------------------------------------------------

    def attempt(self, row: dict[str, Any]) -> None:
        self._requests.append({"run_id": self.run_id, **row})

    def records(self, status: str) -> bool:
        """Whether an outcome of `status` gets a row (a dry run's other outcomes are counted)."""
        return not self.run.dry_run or status in REHEARSAL_RECORDS

    def event(self, *, status: str, line: int, message_key: str, message_id: str | None = None,
              event_type: str | None = None, user_id: str | None = None, email: str | None = None,
              reason: str = "", problems: Any = None, writes: Any = None, raw: str | None = None,
              seconds: float = 0.0) -> None:
        """Buffer one outcome; commits when the buffer is full or old enough."""
        self.counts[status] += 1
        self._buffered_keys.add(message_key)
        if not self.records(status):
            if status != "duplicate":
                self._counted_keys.append(message_key)
        else:
            self._events.append({
                "run_id": self.run_id, "line": line, "message_key": message_key, "message_id": message_id,
                "event_type": event_type, "user_id": user_id, "email": email, "status": status, "reason": reason,
                "problems": problems, "writes": writes, "raw": raw, "finished_at": utcnow(), "seconds": seconds,
                # how `history show` groups it: counted by index at a million events, not parsed
                "problem_key": problem_key(problems, reason) if status in PROBLEM_STATUSES else None,
            })
        if (len(self._events) >= self.flush_every or len(self._counted_keys) >= _COUNTED_PER_FLUSH * self.flush_every
                or time.monotonic() - self._last_flush >= self.flush_seconds):
            self.flush()

    def flush(self) -> bool:
        """Try to commit what is buffered; True when it is committed.

        A failed commit keeps the buffers for the next try.

        Raises:
            RecordingError: commits have failed for `persist_timeout` seconds.
        """
        if self._gave_up is not None:
            raise self._gave_up  # once stopped, no event waits out another busy timeout
        self._last_flush = time.monotonic()
        try:
            self._commit()
        except CacheError as exc:
            now = time.monotonic()
            self._failing_since = self._failing_since or now
            if now - self._failing_since >= self.persist_timeout:
                self._give_up(exc)
            return False
        self._failing_since = None
        return True

    def flush_if_due(self) -> bool:
        """Commit what is buffered when it has waited `flush_seconds`: a run whose input is
        idle (a live queue) still records its last outcomes promptly. True when nothing is left
        waiting."""
        waiting = bool(self._events or self._requests or self._counted_keys)
        if not waiting or time.monotonic() - self._last_flush < self.flush_seconds:
            return not waiting
        return self.flush()

    def flush_until_committed(self, *, pause: float = 0.5) -> None:
        """Commit what is buffered, trying again until `persist_timeout` has passed.

        Raises:
            RecordingError: it could not be committed in time.
        """
        while not self.flush():
            time.sleep(pause)

    def _give_up(self, exc: CacheError) -> None:
        lines = self.unrecorded_lines()
        shown = ", ".join(map(str, lines[:10])) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
        self._gave_up = RecordingError(
            f"run {self.run_id} stopped: for {self.persist_timeout:.0f}s the database could not record "
            f"outcomes ({exc}). {len(lines)} outcomes are not recorded" + (f" (lines {shown})" if lines else "")
            + "; running the same command again sends those events again.", lines)
        raise self._gave_up from exc

    def _commit(self) -> None:
        """Write the buffers, the pending record states and the run's counts in one transaction;
        the buffers are emptied only once it has committed."""
        events, requests, states = self._events, self._requests, self.states.pending()
        counts = dict(self.counts)  # every outcome so far is buffered, counted, or committed
        now = utcnow()
        with self.cache.session() as session:
            if events:
                session.execute(insert(EventRecord), events)
            if requests:
                session.execute(insert(RequestRecord), requests)
            for key, entry in states.items():
                _upsert_state(session, self.states.base_url, key, entry, now)
            session.execute(update(Run).where(col(Run.id) == self.run_id)
                            .values(events=sum(counts.values()), requests=self.committed_requests + len(requests),
                                    heartbeat_at=now, **counts))
            if events and self.on_commit is not None:
                self.on_commit(session, events)
        self.committed = counts
        self.committed_requests += len(requests)
        self.states.committed(states)
        if self.run.dry_run and (self._counted_keys or events):
            if self._counted is None:
                self._counted = Scratch("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
            self._counted.executemany("INSERT OR IGNORE INTO seen VALUES (?)",
                                      [(key,) for key in self._counted_keys] + [(e["message_key"],) for e in events])
        self._events, self._requests, self._buffered_keys, self._counted_keys = [], [], set(), []

    def unrecorded_lines(self) -> list[int]:
        """Lines whose outcomes are buffered but not committed."""
        return sorted(event["line"] for event in self._events)

    def heartbeat(self) -> None:
        """Note that the run is alive (a stale heartbeat shows a killed run as interrupted)."""
        with self.cache.session() as session:
            session.execute(update(Run).where(col(Run.id) == self.run_id).values(heartbeat_at=utcnow()))

    def finish(self, state: str = "finished") -> Run:
        """Commit what is left and close the run's row with `state`.

        Raises:
            RecordingError: what is left could not be committed (the row says `failed`).
        """
        try:
            self.flush_until_committed()
        except RecordingError:
            self.close("failed")
            raise
        return self.close(state)

    def close(self, state: str) -> Run:
        """Close the run's row with `state` without committing anything more."""
        if self._counted is not None:
            self._counted.close()
            self._counted = None
        try:
            with self.cache.session() as session:
                run = session.get(Run, self.run_id)
                assert run is not None
                run.finished_at = utcnow()
                run.state = state
                self.run = run
        except CacheError:
            pass  # the row stays `running`; its stale heartbeat shows it as interrupted
        return self.run


def _upsert_state(session: Session, base_url: str, key: StateKey, entry: StateEntry, now: datetime) -> None:
    obj, match = key
    row = session.get(RecordState, (base_url, obj, match))
    if row is None:
        session.add(RecordState(base_url=base_url, object_slug=obj, match_key=match,
                                record_id=entry.record_id, attributes=entry.as_json(), updated_at=now))
    else:
        row.record_id = entry.record_id
        row.attributes = entry.as_json()
        row.updated_at = now


def first_problems(cache: Cache, run_id: int, limit: int = 5) -> list[tuple[int, str, str]]:
    """The first `(line, status, reason)` of a run's invalid, rejected and failed events."""
    with cache.session() as session:
        rows = session.exec(
            select(EventRecord.line, EventRecord.status, EventRecord.reason)
            .where(col(EventRecord.run_id) == run_id, col(EventRecord.status).in_(("invalid", "rejected", "failed")))
            .order_by(col(EventRecord.line)).limit(limit)
        ).all()
    return [(line, status, reason) for line, status, reason in rows]
