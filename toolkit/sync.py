"""The sync engine: every run (`sync`, `retry`, the demo, benches, tests) goes through `run_sync`.

An event flows one way:

    read -> triage -> plan -> diff against the record state -> send -> record

1. **read**: `toolkit.events` turns each input line into an `InputEvent` (a line that is not a
   JSON object, too long, or holds what cannot be stored comes with its problem);
2. **triage**: a line with a problem is `invalid`; a message that an earlier real run gave a
   done outcome (or this run already saw) is a `duplicate`;
3. **plan** (pure, `toolkit.plan`): the mapping's writes, every value checked against its
   attribute type; no action, or any problem, makes it `invalid`, nothing sent;
4. **diff** (pure, `toolkit.state.diff_write`): each write trimmed to what Attio does not have
   yet, and to what no newer event has set;
5. **send**: the writes in order; the record state notes what each request did (or may have
   done) as soon as it answers, so a write that partly succeeded leaves the state of what did;
6. **record** (`toolkit.audit`): one outcome per line, committed with the record state.

Events that touch the same record (or refer to it) wait for the earlier ones; others go
concurrently. A run that sends holds the workspace's send lease (`toolkit.lease`) from before
it reads the first event to after it records the last; a dry run (no client) takes no lease,
sends nothing and keeps its record state in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import itertools
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from .audit import FINAL_STATUSES, PERSIST_TIMEOUT, AuditLog
from .cache import Cache
from .client import Attempt, AttioClient, report_attempts_to
from .errors import (
    ApiError,
    AuthError,
    CacheError,
    FatalApiError,
    LeaseLostError,
    OutageError,
    RecordingError,
    RedirectError,
    RetryableApiError,
)
from .events import InputEvent
from .heartbeat import HEARTBEAT_SECONDS
from .lease import LeaseOwner, SendLease, lease_name
from .mapping import EventMapping
from .plan import EventPlan, FromWrite, Lookup, Write, plan_event
from .schema import WorkspaceSchema
from .state import RecordStates, StateKey, WriteDiff, after_write, diff_write

__all__ = ["DEFAULT_LEASE_WAIT", "RESUMABLE", "STOPS", "SyncResult", "run_sync"]

#: How long a run waits by default for another run's send lease before refusing.
DEFAULT_LEASE_WAIT = 10.0
#: Failures that stop the whole run, since every event after would meet them too, and that will
#: pass (a key put right, Attio back): no event gets a final outcome from them.
STOPS: tuple[type[ApiError], ...] = (AuthError, RedirectError, OutageError)
#: What a run stops on without a final outcome: `STOPS`, and a retryable failure of a run Attio
#: never answered (a wrong address, or down from the start).
RESUMABLE: tuple[type[ApiError], ...] = (*STOPS, RetryableApiError)
#: Events of a file read and triaged at a time: which were processed before, and the states of
#: the records they write, are asked of the database once per batch instead of once per event.
BATCH = 256
#: How long events in flight may take to finish once a run is asked to stop (SIGINT, SIGTERM).
DRAIN_SECONDS = 10.0
#: Allocations between two young collections of Python's cycle collector during a run (its
#: default is 700). A run allocates a plan, forms and states per event and frees nearly all of
#: them by reference counting; collecting every 700 allocations, with the record states and
#: the schema alive, took a fifth of a dry run's time (`bench/dry_run.py`).
GC_YOUNG = 50_000


@dataclass
class SyncResult:
    """What a run did, as committed to the database: a count per outcome, requests sent."""

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


async def run_sync(cache: Cache, schema: WorkspaceSchema, mapping: EventMapping,
                   events: Iterable[InputEvent] | AsyncIterable[InputEvent], *,
                   client: AttioClient | None = None, command: str = "sync", input: str = "",
                   base_url: str = "", parent_run_id: int | None = None,
                   done_statuses: Sequence[str] = FINAL_STATUSES, concurrency: int = 16,
                   lease_wait: float = DEFAULT_LEASE_WAIT, on_wait: Callable[[LeaseOwner], None] | None = None,
                   on_start: Callable[[int], None] | None = None,
                   on_progress: Callable[[dict[str, int]], None] | None = None, stop: asyncio.Event | None = None,
                   flush_every: int = 500,
                   flush_seconds: float = 0.5, persist_timeout: float = PERSIST_TIMEOUT,
                   on_commit: Callable[[Session, list[dict[str, Any]]], None] | None = None) -> SyncResult:
    """Run `events` through `mapping` into Attio as one recorded run; the one way to sync.

    With a `client` the run is real: it takes the workspace's send lease (waiting up to
    `lease_wait` seconds, telling `on_wait` for whom), sends, and keeps the record state. Without
    one it is a dry run: nothing is sent and no state is kept.

    Args:
        cache: the database (audit log, record state, lease).
        schema: the cached workspace schema.
        mapping: which events become which records.
        events: the input, read lazily (only once the lease is held); an async iterable may wait
            for events to come (a live queue) and ends the run by ending.
        client: the Attio client, or None for a dry run.
        command, input, parent_run_id: what the run's row says it was.
        base_url: the Attio origin of a dry run (a real run's is its client's).
        done_statuses: earlier outcomes that make a message a duplicate (a retry re-sends
            rejected and invalid events, so for it only synced and unchanged are done).
        concurrency: events in flight at once.
        on_start: called with the run's id once its row is written.
        on_progress: called after each outcome with the counts so far.
        stop: once set, no new event starts; those in flight get `DRAIN_SECONDS` to finish, and
            the run ends `interrupted` (a signal handler sets it).
        flush_every, flush_seconds, persist_timeout, on_commit: see `toolkit.audit.AuditLog`.

    Raises:
        LeaseHeldError: another run is sending to the workspace and did not stop within `lease_wait`.
        LeaseLostError: the lease was taken over mid-run (the run stopped sending).
        RecordingError: the database refused outcomes for `persist_timeout` seconds.
    """
    dry_run = client is None
    origin = client.base_url if client is not None else base_url
    lease = None if dry_run else SendLease(cache, lease_name(origin, schema.workspace.workspace_id))
    if lease is not None:
        await lease.acquire(wait=lease_wait, on_wait=on_wait)
    states: RecordStates | None = None
    try:
        run = AuditLog.start_run(cache, command=command, input=input, mapping=mapping.label, dry_run=dry_run,
                                 base_url=origin, parent_run_id=parent_run_id)
        if on_start is not None:
            on_start(run.id or 0)
        states = RecordStates(cache, origin, persist=not dry_run)
        audit = AuditLog(cache, run, states, done_statuses=done_statuses, flush_every=flush_every,
                         flush_seconds=flush_seconds, persist_timeout=persist_timeout, on_commit=on_commit)
        engine = _Engine(schema, mapping, audit, states, client, concurrency, on_progress, stop)
        async with _heartbeat(audit, lease):
            with report_attempts_to(engine.record_attempt), _collector_tuned():
                return await engine.run(events)
    finally:
        if states is not None:
            states.close()
        if lease is not None:
            lease.release()


#: The collector's thresholds before the first run, once per run in `_collector_tuned` now.
_tuned: list[tuple[int, ...]] = []


@contextlib.contextmanager
def _collector_tuned() -> Iterator[None]:
    """While the block runs: what lives already (modules, the schema, the mapping) is left out
    of Python's cycle collections, and young ones come every `GC_YOUNG` allocations; as they
    were once the last run in the process that tuned them ends (runs may overlap)."""
    if _tuned:
        before = _tuned[0]
    else:
        before = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(GC_YOUNG, before[0]), *before[1:])
    _tuned.append(before)
    try:
        yield
    finally:
        _tuned.pop()
        if not _tuned:
            gc.set_threshold(*before)
            gc.unfreeze()


async def _batches(events: Iterable[InputEvent] | AsyncIterable[InputEvent],
                   size: int) -> AsyncIterator[list[InputEvent]]:
    """One loop for a file's events, `size` at a time, and a live queue's, one at a time (a
    batch must not wait for events that have not come)."""
    if isinstance(events, AsyncIterable):
        async for item in events:
            yield [item]
    else:
        iterator = iter(events)
        while batch := list(itertools.islice(iterator, size)):
            yield batch


@contextlib.asynccontextmanager
async def _heartbeat(audit: AuditLog, lease: SendLease | None) -> AsyncIterator[None]:
    """While the block runs: commit outcomes that have waited long enough (the input may be idle),
    and renew the run's heartbeat (and lease). A lost lease, or outcomes that cannot be recorded,
    stop it."""
    if lease is not None:
        lease.renew(audit.run_id)
    main = asyncio.current_task()
    lost: list[LeaseLostError | RecordingError] = []

    async def beat() -> None:
        due = time.monotonic() + HEARTBEAT_SECONDS
        while True:
            await asyncio.sleep(min(audit.flush_seconds, HEARTBEAT_SECONDS))
            try:
                audit.flush_if_due()
                if time.monotonic() < due:
                    continue
                due = time.monotonic() + HEARTBEAT_SECONDS
                if lease is not None:
                    lease.renew()
                audit.heartbeat()
            except CacheError:
                continue  # a busy database: the next beat tries again, well within the expiry
            except (LeaseLostError, RecordingError) as exc:
                lost.append(exc)
                if main is not None:
                    main.cancel()
                return

    beating = asyncio.create_task(beat())
    try:
        yield
    except asyncio.CancelledError:
        if lost:
            raise lost[0] from None
        raise
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


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
    """An event cannot be completed for a reason Attio would give too (two records match)."""


class _Waits(Exception):
    """An event cannot go through *yet*: a record it refers to does not exist, because the event
    that creates it has not come, or did not go through in this run. Not final: `failed`."""


@dataclass(slots=True)
class _Sent:
    """What one write of an event did; its summary for the audit log is made only for an
    outcome that gets a row (a dry run counts its synced and unchanged events)."""

    write: Write
    diff: WriteDiff
    record_id: str | None
    sent: bool

    def summary(self) -> dict[str, Any]:
        write, diff = self.write, self.diff
        return {"object": write.object, "matching_attribute": write.matching_attribute,
                "match": write.values[write.matching_attribute], "record_id": self.record_id, "sent": self.sent,
                "values": sorted(diff.values), "appended": sorted(diff.appends), "skipped_older": diff.skipped_older}


@dataclass
class _Outcome:
    status: str
    reason: str = ""
    problems: list[dict[str, Any]] | None = None
    writes: list[_Sent] = field(default_factory=list)


class _Engine:
    """One run's event loop: triage, plan, diff, send and record each event (see the module)."""

    def __init__(self, schema: WorkspaceSchema, mapping: EventMapping, audit: AuditLog, states: RecordStates,
                 client: AttioClient | None, concurrency: int,
                 on_progress: Callable[[dict[str, int]], None] | None, stop: asyncio.Event | None = None) -> None:
        self.schema = schema
        self.mapping = mapping
        self.audit = audit
        self.states = states
        self.client = client
        self.concurrency = max(1, concurrency)
        self.on_progress = on_progress
        self.would_write = 0
        #: Messages planned but not yet recorded (at most `concurrency` plus one): a repeat of
        #: one of these is a duplicate too. Recorded ones are asked of the audit log.
        self._active: set[str] = set()
        #: The first exception an event task raised: the run stops reading and re-raises it.
        self._crash: BaseException | None = None
        #: Set when the run is asked to stop (a signal): no new event starts.
        self.stop = stop or asyncio.Event()
        #: The line of the last event of this run that did not go through, per record it writes.
        self._not_through: dict[StateKey, int] = {}

    @property
    def dry_run(self) -> bool:
        return self.client is None

    def record_attempt(self, attempt: Attempt) -> None:
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

    async def run(self, events: Iterable[InputEvent] | AsyncIterable[InputEvent]) -> SyncResult:
        """Process every event; returns when all are recorded (or re-raises what stopped it)."""
        started = time.monotonic()
        slots = asyncio.Semaphore(self.concurrency)
        tails: dict[tuple[str, str], asyncio.Future[None]] = {}
        tasks: set[asyncio.Task[None]] = set()

        def settled(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()
            if not task.cancelled() and task.exception() is not None and self._crash is None:
                self._crash = task.exception()
                if isinstance(self._crash, RESUMABLE):
                    for other in tasks:  # they would meet it too: they get no outcome, and go again next run
                        other.cancel()

        state, unrecordable = "failed", False
        try:
            async for batch in _batches(events, BATCH):
                if self._crash is not None or self.stop.is_set():
                    break
                started_all = True
                for item, plan, keys in self._triage_batch(batch):
                    if self._crash is not None or self.stop.is_set():
                        started_all = False
                    if not started_all:
                        self._active.discard(item.message_key)  # triaged, never started: no outcome
                        continue
                    if self.dry_run:
                        # Nothing to wait for: the event goes through here and now, without a
                        # task (scheduling them took about a tenth of a dry run's time).
                        try:
                            await self._go(item, plan, keys)
                        except Exception as exc:  # as a task's would be: the run stops on it
                            self._crash = exc
                        continue
                    before = [tails[k] for k in keys if k in tails]
                    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    for key in keys:
                        tails[key] = done
                    if not await self._slot(slots):
                        self._active.discard(item.message_key)
                        done.set_result(None)
                        started_all = False  # stopped while every slot was busy: not started
                        continue
                    task = asyncio.create_task(self._one(item, plan, before, done, keys, tails))
                    task.add_done_callback(settled)
                    tasks.add(task)
                if not started_all:
                    break
                if self.dry_run:
                    await asyncio.sleep(0)  # the heartbeat's turn
            await self._drain(tasks)
            if self._crash is not None:
                if isinstance(self._crash, RESUMABLE):
                    state = "interrupted"  # a condition that will pass: the same command resumes
                raise self._crash
            state = "interrupted" if self.stop.is_set() else "finished"
        except asyncio.CancelledError:
            state = "interrupted"
            for task in tasks:
                task.cancel()
            raise
        except RecordingError:
            unrecordable = True
            raise
        finally:
            # Outcomes that could not be committed are not tried again: the row says `failed`.
            run = self.audit.close("failed") if unrecordable else self.audit.finish(state)
        return SyncResult(run_id=self.audit.run_id, counts=dict(self.audit.committed),
                          requests=self.audit.committed_requests, seconds=time.monotonic() - started,
                          dry_run=self.dry_run, would_write=self.would_write,
                          interrupted=run.state == "interrupted")

    async def _slot(self, slots: asyncio.Semaphore) -> bool:
        """Take a slot for one more event in flight; False when the run is stopped (or crashed)
        first: events waiting for Attio must not keep a stop from being heard."""
        if not slots.locked():  # the usual case: no task to make, no wait
            await slots.acquire()
            return True
        taking = asyncio.ensure_future(slots.acquire())
        while not taking.done():
            if self.stop.is_set() or self._crash is not None:
                taking.cancel()  # the semaphore hands on a slot a cancelled waiter was given
                return False
            await asyncio.wait({taking}, timeout=0.1)
        return True

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for the events in flight; once the run is asked to stop, for `DRAIN_SECONDS` at
        most, then cancel the rest (they get no outcome, and the same command sends them again)."""
        stop_seen: float | None = None
        while tasks:
            await asyncio.wait(set(tasks), timeout=0.1)
            if self.stop.is_set():
                stop_seen = stop_seen or time.monotonic()
                if time.monotonic() - stop_seen >= DRAIN_SECONDS:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    return

    def _triage_batch(self, batch: list[InputEvent]) -> list[tuple[InputEvent, EventPlan, set[StateKey]]]:
        """Triage a batch of events (see `_triage`), looking up in one query each which of them
        were processed before and the record states their plans need; the events to send,
        with their plans and the records each writes or refers to."""
        seen = self.audit.seen([item.message_key for item in batch if item.problem is None and item.event is not None])
        plans = [(item, plan, plan.keys()) for item in batch if (plan := self._triage(item, seen)) is not None]
        self.states.prefetch(key for _, _, keys in plans for key in keys)
        return plans

    def _triage(self, item: InputEvent, seen: set[str]) -> EventPlan | None:
        """Settle what needs no request (bad lines, duplicates, invalid values); else the plan.
        `seen`: the batch's messages recorded before (by this run, or done by an earlier one)."""
        key = item.message_key
        common = {"line": item.line, "message_key": key, "message_id": item.message_id}
        if item.problem is not None or item.event is None:
            problem = {"field": "(line)", "reason": item.problem, "bytes": item.size}  # raw is cut to RAW_LIMIT
            self._finish(status="invalid", reason=str(item.problem), raw=item.raw, problems=[problem], **common)
            return None
        event = item.event
        if key in self._active or key in seen:
            self._finish(status="duplicate", reason="this messageId was already processed", **common, **_who(event))
            return None
        seen.add(key)
        plan = plan_event(event, self.mapping, self.schema)
        if plan.no_action:
            self._finish(status="invalid", reason=f"no action takes event type {event.get('type')!r}",
                         problems=[{"field": "type", "reason": "no action takes this event type"}],
                         raw=item.raw, **common, **_who(event))
            return None
        if not plan.ok:
            reasons = "; ".join(f"{p['field']}: {p['reason']}" for p in plan.problems)
            self._finish(status="invalid", reason=reasons, problems=plan.problems, raw=item.raw, **common,
                         **_who(event))
            return None
        self._active.add(key)
        return plan

    async def _one(self, item: InputEvent, plan: EventPlan, before: list[asyncio.Future[None]],
                   done: asyncio.Future[None], keys: set[tuple[str, str]],
                   tails: dict[tuple[str, str], asyncio.Future[None]]) -> None:
        """One event as a task: once the earlier events on its records are done, `_go`, with
        its HTTP attempts kept back to be recorded with its outcome."""
        attempts = _EventAttempts(item.message_key)
        token = _current_event.set(attempts)
        try:
            for earlier in before:
                await asyncio.shield(earlier)
            await self._go(item, plan, keys, attempts.rows)
        finally:
            _current_event.reset(token)
            if not done.done():
                done.set_result(None)
            for key in keys:
                if tails.get(key) is done:
                    del tails[key]

    async def _go(self, item: InputEvent, plan: EventPlan, keys: set[tuple[str, str]],
                  attempts: Sequence[dict[str, Any]] = ()) -> None:
        """Send one event's writes and record its outcome (with `attempts`)."""
        started = time.monotonic()
        try:
            outcome = await self._send_plan(plan)
            if outcome.status in ("failed", "rejected"):
                self._not_through.update(dict.fromkeys(keys, item.line))
            for row in attempts:
                self.audit.attempt(row)
            if not self.audit.records(outcome.status):  # a dry run's synced or unchanged event: counted
                self._finish(status=outcome.status, line=item.line, message_key=item.message_key)
                return
            self._finish(status=outcome.status, reason=outcome.reason, problems=outcome.problems,
                         writes=[sent.summary() for sent in outcome.writes], raw=item.raw, line=item.line,
                         message_key=item.message_key, message_id=item.message_id,
                         seconds=time.monotonic() - started, **_who(item.event or {}))
        finally:
            self._active.discard(item.message_key)

    def _finish(self, *, status: str, **fields: Any) -> None:
        self.audit.event(status=status, **fields)  # a dry run's rows: its problems (REHEARSAL_RECORDS)
        if self.on_progress is not None:
            self.on_progress(self.audit.counts)

    # -- sending one event's writes ----------------------------------------------------------

    async def _send_plan(self, plan: EventPlan) -> _Outcome:
        record_ids: dict[int, str | None] = {}
        outcome = _Outcome(status="unchanged")
        try:
            for index, write in enumerate(plan.writes):
                sent = await self._send_write(write, record_ids, plan.time)
                record_ids[index] = sent.record_id
                outcome.writes.append(sent)
                if sent.sent:
                    outcome.status = "synced"
        except _Rejected as exc:
            return _Outcome("rejected", str(exc), writes=outcome.writes)
        except _Waits as exc:
            return _Outcome("failed", str(exc), [{"field": "(reference)", "reason": str(exc)}], outcome.writes)
        except STOPS:
            raise  # the run stops: this event gets no outcome, and the same command sends it again
        except RetryableApiError as exc:
            if self.client is not None and not self.client.answered:
                raise  # Attio never answered this run (a wrong address, or down from the start): stop
            return _Outcome("failed", _api_reason(exc), [_api_problem(exc)], outcome.writes)
        except FatalApiError as exc:
            return _Outcome("rejected", _api_reason(exc), [_api_problem(exc)], outcome.writes)
        if self.dry_run:
            outcome.reason = "dry run: nothing was sent"
        return outcome

    async def _send_write(self, write: Write, record_ids: dict[int, str | None],
                          when: datetime | None) -> _Sent:
        """Send what one write still needs, noting in the record state what each request did."""
        values = await self._resolve_all(write.values, record_ids)
        appends = await self._resolve_all(write.appends, record_ids) if write.appends else {}
        key = write.key
        entry = self.states.get(key)
        diff = diff_write(values, appends, write.matching_attribute, entry, when)
        if diff.nothing_to_send:
            return _Sent(write, diff, entry.record_id if entry else None, sent=False)
        if self.client is None:
            # A rehearsal keeps what it would have sent in memory (never in the database), so a
            # later event for the same record is trimmed as the real run would trim it. A record
            # it would create gets a stand-in id of its own.
            self.would_write += int(diff.need_assert) + int(bool(diff.appends))
            stand_in = entry.record_id if entry and entry.record_id else _stand_in(key)
            self.states.put(key, after_write(entry, values=diff.values, items=diff.appends, when=when,
                                             record_id=stand_in, hashes=diff.hashes))
            return _Sent(write, diff, stand_in, sent=True)  # this event's references resolve to it
        if diff.need_assert:
            try:
                record = await self.client.assert_record(write.object, write.matching_attribute, diff.values)
            except RetryableApiError:
                # It may have reached Attio: what it set is unknown until a later write says.
                self.states.put(key, after_write(entry, values=diff.values, when=when, certain=False))
                raise
            entry = after_write(entry, values=diff.values, when=when, record_id=str(record["id"]["record_id"]),
                                hashes=diff.hashes)
            self.states.put(key, entry)
            _written(entry.record_id)
        if diff.appends:
            assert entry is not None and entry.record_id is not None
            await self.client.update_record(write.object, entry.record_id, diff.appends, append=True)
            entry = after_write(entry, items=diff.appends, when=when)
            self.states.put(key, entry)
            _written(entry.record_id)
        return _Sent(write, diff, entry.record_id if entry else None, sent=True)

    async def _resolve_all(self, forms: dict[str, list[Any]],
                           record_ids: dict[int, str | None]) -> dict[str, list[Any]]:
        """The forms with each symbolic reference made concrete: `{"target_object",
        "target_record_id"}` (one coroutine per write, not per value: most values are plain)."""
        resolved: dict[str, list[Any]] = {}
        for slug, items in forms.items():
            for item in items:
                if isinstance(item, _SYMBOLIC):
                    break
            else:  # plain values, as planned (never changed after)
                resolved[slug] = items
                continue
            concrete = []
            for item in items:
                if isinstance(item, FromWrite):
                    record_id = record_ids.get(item.index)
                    item = {"target_object": item.object, "target_record_id": record_id or "(new record)"}
                elif isinstance(item, Lookup):
                    item = {"target_object": item.object, "target_record_id": await self._lookup(item)}
                concrete.append(item)
            resolved[slug] = concrete
        return resolved

    async def _lookup(self, ref: Lookup) -> str:
        """The id of the record a reference names: known locally, found in Attio, or created.

        A dry run cannot ask Attio: a record it does not know it takes for new, and rehearses
        what the real run does with one (created, or waited for), so that its would-write
        matches the real run's on the same input and starting state.
        """
        entry = self.states.get(ref.key)
        if entry is not None and entry.record_id:
            return entry.record_id
        if self.client is not None:
            main = ref.value[0]
            shorthand = next(iter(main.values())) if isinstance(main, dict) and len(main) == 1 else main
            found = await self.client.query_records(ref.object, filter={ref.attribute: shorthand}, limit=2)
            if len(found) > 1:
                raise _Rejected(f"more than one {ref.describe()} exists in Attio; cannot tell which to link")
            if found:
                record_id = str(found[0]["id"]["record_id"])
                self.states.put(ref.key, after_write(entry, record_id=record_id))
                return record_id
        required = {a.api_slug for a in self.schema.attributes_of(ref.object)
                    if a.is_required and a.is_writable and not a.is_archived}
        missing = sorted(required - {ref.attribute})
        if missing:
            line = self._not_through.get(ref.key)
            if line is not None:
                raise _Waits(f"waits for line {line}: {ref.describe()} does not exist in Attio yet, and the "
                             f"event that creates it did not go through; the same command sends both again")
            raise _Waits(f"waits for {ref.describe()} to exist: a new one needs {', '.join(missing)} too, which "
                         f"the reference cannot give; it is sent again by the next run, once the event that "
                         f"creates it (for a user: its identify) has gone through")
        if self.client is None:
            self.would_write += 1
            record_id = _stand_in(ref.key)
        else:
            record = await self.client.assert_record(ref.object, ref.attribute, {ref.attribute: list(ref.value)})
            record_id = str(record["id"]["record_id"])
            _written(record_id)
        self.states.put(ref.key, after_write(entry, record_id=record_id))
        return record_id


#: What `_resolve_all` makes concrete.
_SYMBOLIC = (FromWrite, Lookup)


def _stand_in(key: StateKey) -> str:
    """What a dry run takes for the id of a record it would create: one per record, whichever
    write or reference would create it, so that later events refer to it as the real run's do."""
    return f"(new {key[0]} {key[1]})"


def _written(record_id: str | None) -> None:
    current = _current_event.get()
    if current is not None and record_id:
        current.written(record_id)


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

