"""`sync`: stream events, plan and validate each, send what is new, record every outcome.

Per event (in input order as far as records are shared, concurrently otherwise):

1. a line that is not a JSON object or has no `type` is `invalid` with its line number;
2. a message already given a final outcome by an earlier run is a `duplicate`;
3. no action taking its type, or any value failing its attribute type: `invalid`, every
   problem listed, nothing sent;
4. otherwise its writes go out in order, each trimmed by the record state to what Attio does
   not have yet; nothing left to send makes it `unchanged`, else `synced`, `rejected` (Attio
   refused) or `failed` (retryable failures outlasted the budget).

Events that touch the same record (or refer to it) wait for the earlier ones; others do not.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .audit import OUTCOMES, AuditLog, StateEntry, value_hash
from .client import AttioClient, Attempt
from .errors import ApiError, FatalApiError, RetryableApiError
from .events import InputEvent
from .mapping import Mapping
from .plan import LOOKUP_ATTRIBUTES, EventPlan, FromWrite, Lookup, Write, plan_event
from .schema import WorkspaceSchema

__all__ = ["SyncResult", "Syncer"]

@dataclass
class _EventAttempts:
    """The HTTP attempts of the event being sent: kept back until its outcome is recorded, so
    they are committed with it and a successful one can carry the record id it wrote."""

    message_key: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def written(self, record_id: str) -> None:
        if self.rows:
            self.rows[-1]["record_id"] = record_id


_current_event: contextvars.ContextVar[_EventAttempts | None] = contextvars.ContextVar("current_event", default=None)


class _Rejected(Exception):
    """An event cannot be completed for a reason Attio would give too (e.g. a missing user)."""


@dataclass
class SyncResult:
    """What a run did: its id, a count per outcome, requests sent, and whether it was a dry run."""

    run_id: int
    counts: dict[str, int]
    requests: int
    seconds: float
    dry_run: bool
    would_write: int = 0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.counts, "events": sum(self.counts.values()),
                "requests": self.requests, "seconds": round(self.seconds, 3), "dry_run": self.dry_run,
                "sent": 0 if self.dry_run else self.requests, "would_write": self.would_write,
                "interrupted": self.interrupted}


@dataclass
class _Outcome:
    status: str
    reason: str = ""
    problems: list[dict[str, Any]] | None = None
    writes: list[dict[str, Any]] = field(default_factory=list)


class Syncer:
    """Runs events through a mapping into Attio (or, with no client, rehearses: a dry run).

    Args:
        schema: the cached workspace schema.
        mapping: which events become which records.
        audit: the run's audit log (and record state).
        client: the Attio client; None for a dry run, which sends nothing.
        concurrency: events in flight at once.
        on_progress: called after each event with the counts so far.
    """

    def __init__(self, schema: WorkspaceSchema, mapping: Mapping, audit: AuditLog, *,
                 client: AttioClient | None = None, concurrency: int = 16,
                 on_progress: Callable[[dict[str, int]], None] | None = None) -> None:
        self.schema = schema
        self.mapping = mapping
        self.audit = audit
        self.client = client
        self.concurrency = max(1, concurrency)
        self.on_progress = on_progress
        self.would_write = 0
        #: Messages planned but not yet recorded (at most `concurrency` plus one): a repeat of
        #: one of these is a duplicate too. Recorded ones are asked of the audit log.
        self._active: set[str] = set()
        if client is not None:
            client.on_attempt = self._record_attempt

    @property
    def dry_run(self) -> bool:
        return self.client is None

    def _record_attempt(self, attempt: Attempt) -> None:
        current = _current_event.get()
        row = {
            "message_key": current.message_key if current else None, "method": attempt.method, "path": attempt.path,
            "matching_attribute": attempt.params.get("matching_attribute"), "attempt": attempt.attempt,
            "status": attempt.status, "code": attempt.code, "message": attempt.message,
            "execution_id": attempt.execution_id, "latency": attempt.latency,
            "started_at": datetime.fromtimestamp(attempt.started_at).astimezone(),
        }
        if current is not None:
            current.rows.append(row)
        else:
            self.audit.attempt(row)

    # -- the run -----------------------------------------------------------------------------

    async def run(self, events: Iterable[InputEvent]) -> SyncResult:
        """Process every event; returns when all are recorded (or re-raises a cancellation)."""
        started = time.monotonic()
        slots = asyncio.Semaphore(self.concurrency)
        tails: dict[tuple[str, str], asyncio.Future[None]] = {}
        tasks: set[asyncio.Task[None]] = set()
        interrupted = False
        try:
            for item in events:
                plan = self._triage(item)
                if plan is None:
                    continue
                keys = plan.keys()
                before = [tails[k] for k in keys if k in tails]
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                for key in keys:
                    tails[key] = done
                await slots.acquire()
                task = asyncio.create_task(self._one(item, plan, before, done, keys, tails))
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: slots.release())
                tasks.add(task)
            if tasks:
                await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            interrupted = True
            for task in tasks:
                task.cancel()
            raise
        finally:
            run = self.audit.finish("interrupted" if interrupted else "finished")
        return SyncResult(run_id=self.audit.run_id, counts=dict(self.audit.counts), requests=self.audit.requests,
                          seconds=time.monotonic() - started, dry_run=self.dry_run,
                          would_write=self.would_write, interrupted=run.state == "interrupted")

    def _triage(self, item: InputEvent) -> EventPlan | None:
        """Settle what needs no request (bad lines, duplicates, invalid values); else the plan."""
        key = item.message_key
        common = {"line": item.line, "message_key": key, "message_id": item.message_id}
        if item.problem is not None or item.event is None:
            self._finish(status="invalid", reason=f"line {item.line}: {item.problem}", raw=item.raw[:10_000],
                         problems=[{"field": "(line)", "reason": item.problem}], **common)
            return None
        event = item.event
        who = _who(event)
        if key in self._active or self.audit.in_this_run(key) or self.audit.already_processed(key):
            self._finish(status="duplicate", reason="this messageId was already processed", **common, **who)
            return None
        plan = plan_event(event, self.mapping, self.schema)
        if plan.no_action:
            self._finish(status="invalid", reason=f"no action takes event type {event.get('type')!r}",
                         problems=[{"field": "type", "reason": "no action takes this event type"}],
                         raw=item.raw, **common, **who)
            return None
        if not plan.ok:
            reasons = "; ".join(f"{p['field']}: {p['reason']}" for p in plan.problems)
            self._finish(status="invalid", reason=reasons, problems=plan.problems, raw=item.raw, **common, **who)
            return None
        self._active.add(key)
        return plan

    async def _one(self, item: InputEvent, plan: EventPlan, before: list[asyncio.Future[None]],
                   done: asyncio.Future[None], keys: set[tuple[str, str]],
                   tails: dict[tuple[str, str], asyncio.Future[None]]) -> None:
        attempts = _EventAttempts(item.message_key)
        token = _current_event.set(attempts)
        started = time.monotonic()
        try:
            for earlier in before:
                await asyncio.shield(earlier)
            outcome = await self._send_plan(plan)
            for row in attempts.rows:
                self.audit.attempt(row)
            self._finish(status=outcome.status, reason=outcome.reason, problems=outcome.problems,
                         writes=outcome.writes, raw=item.raw, line=item.line, message_key=item.message_key,
                         message_id=item.message_id, seconds=time.monotonic() - started, **_who(item.event or {}))
        finally:
            self._active.discard(item.message_key)
            _current_event.reset(token)
            if not done.done():
                done.set_result(None)
            for key in keys:
                if tails.get(key) is done:
                    del tails[key]

    def _finish(self, *, status: str, **fields: Any) -> None:
        if self.dry_run and status in ("synced", "unchanged", "duplicate"):
            fields["raw"] = None  # a rehearsal keeps the input only where there is a problem to show
        self.audit.event(status=status, **fields)
        if self.on_progress is not None:
            self.on_progress(self.audit.counts)

    # -- sending one event's writes ----------------------------------------------------------

    async def _send_plan(self, plan: EventPlan) -> _Outcome:
        record_ids: dict[int, str | None] = {}
        outcome = _Outcome(status="unchanged")
        try:
            for index, write in enumerate(plan.writes):
                summary = await self._send_write(write, record_ids, plan.time)
                record_ids[index] = summary.get("record_id")
                outcome.writes.append(summary)
                if summary["sent"]:
                    outcome.status = "synced"
        except _Rejected as exc:
            return _Outcome("rejected", str(exc), writes=outcome.writes)
        except RetryableApiError as exc:
            return _Outcome("failed", _api_reason(exc), [_api_problem(exc)], outcome.writes)
        except FatalApiError as exc:
            return _Outcome("rejected", _api_reason(exc), [_api_problem(exc)], outcome.writes)
        if self.dry_run:
            outcome.reason = "dry run: nothing was sent"
        return outcome

    async def _send_write(self, write: Write, record_ids: dict[int, str | None],
                          when: datetime | None) -> dict[str, Any]:
        values = {slug: [await self._resolve(item, record_ids) for item in forms] for slug, forms in write.values.items()}
        appends = {slug: [await self._resolve(item, record_ids) for item in forms] for slug, forms in write.appends.items()}
        key = write.key
        entry = self.audit.state(key) or StateEntry()
        entry = StateEntry(entry.record_id, dict(entry.attributes), {k: list(v) for k, v in entry.items.items()})
        stamp = when.isoformat() if when else None
        changed = {write.matching_attribute: values[write.matching_attribute]}
        skipped_older: list[str] = []
        for slug, forms in values.items():
            if slug == write.matching_attribute:
                continue
            previous = entry.attributes.get(slug)
            digest = value_hash(forms)
            if previous and previous[0] == digest:
                continue
            if previous and stamp and previous[1] and stamp < previous[1]:
                skipped_older.append(slug)  # an older event never overwrites a newer value
                continue
            changed[slug] = forms
        new_items = {slug: [f for f in forms if value_hash(f) not in entry.items.get(slug, [])]
                     for slug, forms in appends.items()}
        new_items = {slug: forms for slug, forms in new_items.items() if forms}
        need_assert = entry.record_id is None or len(changed) > 1
        summary: dict[str, Any] = {"object": write.object, "matching_attribute": write.matching_attribute,
                                   "match": write.values[write.matching_attribute], "record_id": entry.record_id,
                                   "sent": False, "values": sorted(changed), "appended": sorted(new_items),
                                   "skipped_older": skipped_older}
        if not need_assert and not new_items:
            summary["values"] = []
            return summary
        summary["sent"] = True
        if self.client is None:
            # A rehearsal keeps what it would have sent in memory (never in the database), so a
            # later event for the same record is trimmed as the real run would trim it.
            self.would_write += int(need_assert) + int(bool(new_items))
            summary["record_id"] = entry.record_id
            entry.record_id = entry.record_id or "(new record)"
            self._remember_sent(entry, changed, new_items, stamp)
            self.audit.set_state(key, entry)
            return summary
        if need_assert:
            record = await self.client.assert_record(write.object, write.matching_attribute, changed)
            entry.record_id = record["id"]["record_id"]
            _written(entry.record_id)
            self._remember_sent(entry, changed, {}, stamp)
        if new_items:
            assert entry.record_id is not None
            await self.client.update_record(write.object, entry.record_id, new_items, append=True)
            _written(entry.record_id)
            self._remember_sent(entry, {}, new_items, stamp)
        summary["record_id"] = entry.record_id
        self.audit.set_state(key, entry)
        return summary

    @staticmethod
    def _remember_sent(entry: StateEntry, values: dict[str, list[Any]], items: dict[str, list[Any]],
                       stamp: str | None) -> None:
        """Note in a record's state what was just asserted (`values`) and appended (`items`)."""
        for slug, forms in values.items():
            entry.attributes[slug] = [value_hash(forms), max(filter(None, [stamp, _at(entry, slug)]), default=None)]
        for slug, forms in items.items():
            entry.items.setdefault(slug, []).extend(value_hash(f) for f in forms)

    async def _resolve(self, item: Any, record_ids: dict[int, str | None]) -> Any:
        """A symbolic reference made concrete: `{"target_object", "target_record_id"}`."""
        if isinstance(item, FromWrite):
            record_id = record_ids.get(item.index)
            return {"target_object": item.object, "target_record_id": record_id or "(new record)"}
        if isinstance(item, Lookup):
            record_id = await self._lookup(item)
            return {"target_object": item.object, "target_record_id": record_id}
        return item

    async def _lookup(self, ref: Lookup) -> str:
        """The id of the record a reference names: known locally, found in Attio, or created."""
        entry = self.audit.state(ref.key)
        if entry is not None and entry.record_id:
            return entry.record_id
        if self.client is None:
            return f"({ref.describe()})"
        main = ref.value[0]
        shorthand = next(iter(main.values())) if isinstance(main, dict) and len(main) == 1 else main
        found = await self.client.query_records(ref.object, filter={ref.attribute: shorthand}, limit=2)
        if len(found) > 1:
            raise _Rejected(f"more than one {ref.describe()} exists in Attio; cannot tell which to link")
        if found:
            record_id = str(found[0]["id"]["record_id"])
        else:
            required = {a.api_slug for a in self.schema.attributes_of(ref.object)
                        if a.is_required and a.is_writable and not a.is_archived}
            missing = sorted(required - {ref.attribute})
            if missing:
                raise _Rejected(f"{ref.describe()} does not exist in Attio yet, and a new one needs "
                                f"{', '.join(missing)} too, which the reference cannot give: send the event "
                                f"that creates it first (for a user: its identify)")
            record = await self.client.assert_record(ref.object, ref.attribute, {ref.attribute: list(ref.value)})
            record_id = str(record["id"]["record_id"])
            _written(record_id)
        self.audit.set_state(ref.key, StateEntry(record_id=record_id))
        return record_id


def _written(record_id: str | None) -> None:
    current = _current_event.get()
    if current is not None and record_id:
        current.written(record_id)


def _at(entry: StateEntry, slug: str) -> str | None:
    previous = entry.attributes.get(slug)
    return previous[1] if previous else None


def _who(event: dict[str, Any]) -> dict[str, Any]:
    """The event's type, userId and email, as the audit log indexes them for `history`."""
    traits = event.get("traits")
    email = traits.get("email") if isinstance(traits, dict) else None
    return {"event_type": _text(event.get("type")), "user_id": _text(event.get("userId")),
            "email": _text(email) or _text(event.get("email"))}


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _api_reason(exc: ApiError) -> str:
    return f"{exc.method} {exc.path}: {exc.status or 'no answer'} {exc.code or ''}: {exc.message}".replace("  ", " ")


def _api_problem(exc: ApiError) -> dict[str, Any]:
    return {"status": exc.status, "code": exc.code, "message": exc.message,
            "validation_errors": exc.validation_errors, "execution_id": exc.execution_id,
            "method": exc.method, "path": exc.path}


assert set(OUTCOMES) >= {"synced", "unchanged", "invalid", "rejected", "failed", "duplicate"}
