"""The audit log and the record state, as a sync writes them.

`AuditLog` buffers event outcomes, HTTP attempts and record-state changes and commits them
together, in one transaction, every `flush_every` rows or `flush_seconds` (and at the end).
What a killed run had not committed is exactly what it had not confirmed: the next run sends
those events again, and since every write is an idempotent assert or append, nothing is
duplicated in Attio.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import col, select

from .cache import Cache, utcnow
from .models import EventRecord, RecordState, RequestRecord, Run

__all__ = ["FINAL_STATUSES", "OUTCOMES", "AuditLog", "StateEntry", "first_problems", "value_hash"]

#: Every outcome an input line can end in (design.md).
OUTCOMES = ("synced", "unchanged", "invalid", "rejected", "failed", "duplicate")
#: Outcomes that mean "processed": the same message in a later run is a duplicate. A `failed`
#: event is not final: running the same input again retries it.
FINAL_STATUSES = ("synced", "unchanged", "invalid", "rejected")


def value_hash(forms: Any) -> str:
    """A short stable hash of a write form (what the record state keeps per attribute)."""
    text = json.dumps(forms, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class StateEntry:
    """What attio-sync last sent for one record."""

    record_id: str | None = None
    #: slug -> [hash of the last value sent, ISO time of the event that set it (or None)]
    attributes: dict[str, list[Any]] = field(default_factory=dict)
    #: slug -> hashes of multiselect items known to be present (appended or asserted)
    items: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"attributes": self.attributes, "items": self.items}


#: Built once: a real earlier run's final outcome for a message. Asked once per input event, so it
#: runs on a bare connection; an ORM session and a fresh statement each time cost 7x as much.
_PROCESSED = (
    select(EventRecord.id).join(Run, col(Run.id) == col(EventRecord.run_id))
    .where(col(EventRecord.message_key) == bindparam("message_key"), col(Run.dry_run).is_(False),
           col(EventRecord.status).in_(FINAL_STATUSES), col(Run.id) != bindparam("run_id"))
    .limit(1)
)
#: Built once: one record's state, asked for each write whose record is not in memory.
#: This run's own outcome for a message (a message repeated within one input is a duplicate).
_IN_RUN = select(EventRecord.id).where(col(EventRecord.message_key) == bindparam("message_key"),
                                       col(EventRecord.run_id) == bindparam("run_id")).limit(1)

#: Record states kept in memory at once (least recently used go first).
STATE_CACHE = 10_000  # about 1.2 KB each: some 12 MB

_STATE = select(RecordState.record_id, RecordState.attributes).where(
    col(RecordState.base_url) == bindparam("base_url"), col(RecordState.object_slug) == bindparam("object_slug"),
    col(RecordState.match_key) == bindparam("match_key"))


class AuditLog:
    """One run's writer: outcomes, attempts and record state, committed in batches."""

    def __init__(self, cache: Cache, run: Run, *, flush_every: int = 500, flush_seconds: float = 0.5,
                 keep_state: bool = True) -> None:
        self.cache = cache
        self.run = run
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.keep_state = keep_state
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.requests = 0
        self._events: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._dirty: dict[tuple[str, str], StateEntry] = {}
        self._states: OrderedDict[tuple[str, str], StateEntry | None] = OrderedDict()
        self._buffered_keys: set[str] = set()
        self._last_flush = time.monotonic()

    @classmethod
    def start(cls, cache: Cache, *, command: str, input: str, mapping: str, dry_run: bool, base_url: str,
              parent_run_id: int | None = None, **kwargs: Any) -> AuditLog:
        run = Run(command=command, started_at=utcnow(), input=input, mapping=mapping, dry_run=dry_run,
                  base_url=base_url, parent_run_id=parent_run_id)
        with cache.session() as session:
            session.add(run)
        return cls(cache, run, keep_state=not dry_run, **kwargs)

    @property
    def run_id(self) -> int:
        assert self.run.id is not None
        return self.run.id

    # -- what came before ------------------------------------------------------------------

    def already_processed(self, message_key: str) -> bool:
        """Whether a real (not dry) earlier run gave this message a final outcome."""
        return self.cache.first(_PROCESSED, {"message_key": message_key, "run_id": self.run_id}) is not None

    def in_this_run(self, message_key: str) -> bool:
        """Whether this run has already recorded an outcome for this message.

        Only the unflushed outcomes are held in memory (at most `flush_every`); older ones are
        looked up by index, so a run over any number of events keeps constant memory.
        """
        if message_key in self._buffered_keys:
            return True
        return self.cache.first(_IN_RUN, {"message_key": message_key, "run_id": self.run_id}) is not None

    def state(self, key: tuple[str, str]) -> StateEntry | None:
        """The record state for (object, match key), from memory or the database."""
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        if key in self._dirty:  # written by this run but evicted from the cache: newer than the database
            return self._remember(key, self._dirty[key])
        row = self.cache.first(_STATE, {"base_url": self.run.base_url, "object_slug": key[0], "match_key": key[1]})
        entry = None
        if row is not None:
            data = row.attributes or {}
            entry = StateEntry(row.record_id, dict(data.get("attributes", {})), dict(data.get("items", {})))
        return self._remember(key, entry)

    def _remember(self, key: tuple[str, str], entry: StateEntry | None) -> StateEntry | None:
        """Cache a state, evicting the least recently used past `STATE_CACHE` (constant memory
        for a long run, while records that come back often stay in memory)."""
        self._states[key] = entry
        self._states.move_to_end(key)
        while len(self._states) > STATE_CACHE:
            self._states.popitem(last=False)
        return entry

    def set_state(self, key: tuple[str, str], entry: StateEntry) -> None:
        self._remember(key, entry)
        if self.keep_state:
            self._dirty[key] = entry

    # -- what happens now ------------------------------------------------------------------

    def attempt(self, row: dict[str, Any]) -> None:
        self.requests += 1
        self._requests.append({"run_id": self.run_id, **row})

    def event(self, *, status: str, line: int, message_key: str, message_id: str | None = None,
              event_type: str | None = None, user_id: str | None = None, email: str | None = None,
              reason: str = "", problems: Any = None, writes: Any = None, raw: str | None = None,
              seconds: float = 0.0) -> None:
        self.counts[status] += 1
        self._buffered_keys.add(message_key)
        self._events.append({
            "run_id": self.run_id, "line": line, "message_key": message_key, "message_id": message_id,
            "event_type": event_type, "user_id": user_id, "email": email, "status": status, "reason": reason,
            "problems": problems, "writes": writes, "raw": raw, "finished_at": utcnow(), "seconds": seconds,
        })
        if len(self._events) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Commit buffered events, attempts and state, and the run's counts, in one transaction."""
        events, requests, dirty = self._events, self._requests, self._dirty
        self._events, self._requests, self._dirty = [], [], {}
        self._buffered_keys = set()
        self._last_flush = time.monotonic()
        now = utcnow()
        with self.cache.session() as session:
            if events:
                session.execute(insert(EventRecord), events)
            if requests:
                session.execute(insert(RequestRecord), requests)
            for (obj, key), entry in dirty.items():
                self._upsert_state(session, obj, key, entry, now)
            session.execute(update(Run).where(col(Run.id) == self.run_id)
                            .values(events=sum(self.counts.values()), requests=self.requests, **self.counts))

    def _upsert_state(self, session: Any, obj: str, key: str, entry: StateEntry, now: datetime) -> None:
        row = session.get(RecordState, (self.run.base_url, obj, key))
        if row is None:
            session.add(RecordState(base_url=self.run.base_url, object_slug=obj, match_key=key,
                                    record_id=entry.record_id, attributes=entry.as_json(), updated_at=now))
        else:
            row.record_id = entry.record_id
            row.attributes = entry.as_json()
            row.updated_at = now

    def finish(self, state: str = "finished") -> Run:
        self.flush()
        with self.cache.session() as session:
            run = session.get(Run, self.run_id)
            assert run is not None
            run.finished_at = utcnow()
            run.state = state
            self.run = run
        return self.run


def first_problems(cache: Cache, run_id: int, limit: int = 5) -> list[tuple[int, str, str]]:
    """The first `(line, status, reason)` of a run's invalid, rejected and failed events."""
    with cache.session() as session:
        rows = session.exec(
            select(EventRecord.line, EventRecord.status, EventRecord.reason)
            .where(col(EventRecord.run_id) == run_id, col(EventRecord.status).in_(("invalid", "rejected", "failed")))
            .order_by(col(EventRecord.line)).limit(limit)
        ).all()
    return [(line, status, reason) for line, status, reason in rows]
