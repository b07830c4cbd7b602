"""The sender: drains the queue of served events into Attio through the one sync engine.

`Sender.run` loops until told to stop. Each turn loads the cached schema, holds the mapping
against it, and starts a run (`toolkit.sync.run_sync`, command ``serve``) whose input is the
queue, read in arrival order as events come (`Sender.events`). The run holds the workspace's
send lease, so a `sync`, a `retry` or another `serve` on the same database and workspace never
sends at once with it: while another holds the lease this sender stands by, and takes over
when it is let go or its holder dies (the lease expires).

A run ends, and the next turn starts another, when:

- the schema refresh (`schema_refresh` seconds) finds the workspace changed: the next run plans
  with the new schema, or, when the mapping no longer holds, sending pauses until it does
  again (events keep queueing; `/readyz` says why);
- the run stops on a condition that will pass (Attio refused the key, an outage outlasted the
  breaker, the database could not record): sending pauses for `retry_pause` seconds, then the
  next run sends what has no outcome yet;
- the server stops: events in flight get the engine's drain time, and the rest stay queued.

An outcome leaves the queue in the transaction that records it (`AuditLog`'s ``on_commit``):
an event is either queued or has its outcome, never both or neither, whenever the process
dies. A `failed` outcome (a retryable error that outlasted its budget) stays queued, so the
next run tries it again; `retry RUN` re-sends it as for a file.

So served events group into runs: one from each start of sending to its end (a process start,
a schema change, a pause). Each run's `line` numbers are the queue's ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from ..cache import Cache, utcnow
from ..client import Attempt, AttioClient
from ..errors import AttioSyncError, CacheError, LeaseLostError, RecordingError, SchemaError
from ..events import InputEvent, parse_event
from ..lease import LeaseOwner
from ..mapping import EventMapping
from ..preflight import check_mapping
from ..pull import pull_schema
from ..schema import WorkspaceSchema
from ..sync import RESUMABLE, run_sync
from .inbox import Inbox
from .metrics import CIRCUIT_STATES, ServeMetrics

__all__ = ["BATCH", "POLL_SECONDS", "RETRY_PAUSE", "Sender", "SenderState"]

log = logging.getLogger(__name__)

#: Queued events read at once.
BATCH = 500
#: How often an idle sender looks at the queue without being woken (events another process's
#: door committed, on a shared database).
POLL_SECONDS = 0.5
#: How long sending pauses after a run stopped on a condition that will pass.
RETRY_PAUSE = 30.0
#: How long a sent event stays in the queue, so that a library's late retry of it is not
#: queued again (a week; libraries retry within hours).
KEEP_DONE = 7 * 24 * 3600.0
#: How often the sender deletes the events done longer ago than that.
PRUNE_EVERY = 3600.0


@dataclass
class SenderState:
    """What the sender is doing, for `/readyz` and the logs.

    Attributes:
        sending: "starting", "standing by" (another holds the lease), "sending" or "paused".
        reason: why it is paused or standing by ("" while sending).
        mapping_problems: the errors `check` finds in the mapping now (empty: it holds).
        schema_pulled: a schema is in the cache.
        run_id: the run sending now, or the last one.
    """

    sending: str = "starting"
    reason: str = ""
    mapping_problems: list[str] = field(default_factory=list)
    schema_pulled: bool = False
    run_id: int | None = None


class Sender:
    """Drains `inbox` into Attio through `run_sync`, run after run (see the module docstring).

    Args:
        cache: the database (queue, audit log, record state, lease, schema).
        inbox: the queue the door fills.
        mapping: which events become which records.
        client_factory: a new Attio client, given the hook that counts its attempts; each run
            (and each schema refresh) gets its own, so each has a fresh circuit breaker.
        metrics: the server's metrics; the sender sets the worker's figures.
        concurrency: events in flight at once.
        schema_refresh: seconds between schema pulls (None: never).
        retry_pause: seconds to pause after a run stopped on a condition that will pass.
        keep_done: seconds a sent event stays in the queue (None: for ever); older ones are
            deleted every `prune_every` seconds, the first time when the sender starts.
        label: what the runs' rows say their input was (the address served).
    """

    def __init__(self, cache: Cache, inbox: Inbox, mapping: EventMapping, *,
                 client_factory: Callable[[Callable[[Attempt], None]], AttioClient], metrics: ServeMetrics,
                 concurrency: int = 16, schema_refresh: float | None = 600.0, retry_pause: float = RETRY_PAUSE,
                 keep_done: float | None = KEEP_DONE, prune_every: float = PRUNE_EVERY,
                 label: str = "serve", batch: int = BATCH, poll: float = POLL_SECONDS) -> None:
        self.cache = cache
        self.inbox = inbox
        self.mapping = mapping
        self.client_factory = client_factory
        self.metrics = metrics
        self.concurrency = concurrency
        self.schema_refresh = schema_refresh
        self.retry_pause = retry_pause
        self.keep_done = keep_done
        self.prune_every = prune_every
        self.label = label
        self.batch = batch
        self.poll = poll
        self.state = SenderState()
        self.client: AttioClient | None = None
        self._schema: WorkspaceSchema | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._rollover = asyncio.Event()
        self._counted: dict[str, int] = {}
        #: Whether the current run has started (holds the lease); until then a stop cancels it.
        self._running = False

    # -- from the door and the health checks ------------------------------------------------

    def notify(self) -> None:
        """Events were committed to the queue: look now. Safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    @property
    def in_outage(self) -> bool:
        """Attio is failing as in an outage (the breaker is open, probing, or gave up)."""
        client = self.client
        return client is not None and client.breaker.state != "closed"

    def update_gauges(self) -> None:
        """Set the queue and circuit figures (called before each scrape and log line)."""
        try:
            depth = self.inbox.depth()
            age = self.inbox.oldest_age()
        except CacheError:
            return
        self.metrics.queue_depth.set(depth)
        self.metrics.queue_oldest_age.set(age or 0.0)
        state = self.client.breaker.state if self.client is not None else "closed"
        self.metrics.circuit.state(state if state in CIRCUIT_STATES else "closed")
        self.metrics.sending.set(1 if self.state.sending == "sending" else 0)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; returns once the last run has recorded what it finished."""
        self._loop = asyncio.get_running_loop()
        helpers = [asyncio.create_task(self._watch_outage())]
        if self.schema_refresh:
            helpers.append(asyncio.create_task(self._refresh_schema(stop)))
        if self.keep_done is not None:
            helpers.append(asyncio.create_task(self._prune_done(stop, self.keep_done)))
        try:
            while not stop.is_set():
                schema = await self._ready_schema(stop)
                if schema is None:
                    continue
                await self._one_run(schema, stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _watch_outage(self, every: float = 1.0) -> None:
        """One log line when Attio starts failing as in an outage, and one when it is over."""
        since: float | None = None
        while True:
            await asyncio.sleep(every)
            if self.in_outage and since is None:
                since = time.monotonic()
                log.warning("Attio outage begun: requests fail as if Attio were down; sending waits and probes")
            elif not self.in_outage and since is not None:
                log.warning("Attio outage ended after %.0fs: sending resumes", time.monotonic() - since)
                since = None

    async def _ready_schema(self, stop: asyncio.Event) -> WorkspaceSchema | None:
        """The schema to send with, once it is there and the mapping holds; None after a pause."""
        if self._schema is None:
            try:
                self._schema = self.cache.load_schema()
            except SchemaError:
                await self._pull(stop)
            except CacheError as exc:
                await self._pause(f"the database cannot be read: {exc}", stop)
                return None
        schema = self._schema
        if schema is None:
            self.state.schema_pulled = False
            await self._pause("no schema in the cache yet, and it could not be pulled", stop)
            return None
        self.state.schema_pulled = True
        problems = [str(f) for f in check_mapping(self.mapping, schema) if f.level == "error"]
        if problems != self.state.mapping_problems:
            for problem in problems:
                log.warning("the mapping no longer holds: %s", problem)
            if not problems and self.state.mapping_problems:
                log.warning("the mapping holds again: sending resumes")
        self.state.mapping_problems = problems
        if problems:
            self._rollover.clear()
            await self._pause(f"the mapping does not hold against the workspace ({len(problems)} errors; "
                              "see /readyz)", stop, until_rollover=True)
            return None
        return schema

    async def _one_run(self, schema: WorkspaceSchema, stop: asyncio.Event) -> None:
        self._rollover.clear()
        self._counted = {}
        client = self.client_factory(self._attempted)
        self.client = client
        self._running = False
        try:
            async with client:
                sending = asyncio.create_task(run_sync(
                    self.cache, schema, self.mapping, self.events(stop), client=client, command="serve",
                    input=self.label, lease_wait=math.inf, on_wait=self._standing_by, on_start=self._started,
                    on_progress=self._progress, stop=stop, concurrency=self.concurrency, on_commit=self._committed))
                await _first(sending, stop.wait(), timeout=None)
                if not sending.done() and not self._running:
                    # Stopped while standing by for the lease: nothing is in flight, so no drain.
                    sending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sending
                    return
                result = await sending
            log.info("run %s ended: %s", result.run_id, _counts(result.counts))
        except LeaseLostError as exc:
            self._set("standing by", f"the send lease was taken over: {exc}")
        except RESUMABLE as exc:
            await self._pause(_why(exc), stop)
        except (RecordingError, CacheError) as exc:
            await self._pause(_why(exc), stop)

    def _started(self, run_id: int) -> None:
        self._running = True
        self.state.run_id = run_id
        self._set("sending", "")
        log.info("sending: run %s", run_id)

    def _standing_by(self, owner: LeaseOwner) -> None:
        self._set("standing by", f"another process holds the send lease ({owner.holder})")

    def _set(self, sending: str, reason: str) -> None:
        if (sending, reason) != (self.state.sending, self.state.reason):
            if reason:
                log.warning("%s: %s", sending, reason)
            self.state.sending, self.state.reason = sending, reason
        self.metrics.sending.set(1 if sending == "sending" else 0)

    async def _pause(self, reason: str, stop: asyncio.Event, *, until_rollover: bool = False) -> None:
        self._set("paused", reason)
        waits = [stop.wait(), self._rollover.wait()]
        with contextlib.suppress(TimeoutError):
            await _first(*waits, timeout=None if until_rollover else self.retry_pause)

    # -- the input of a run: the queue ---------------------------------------------------------

    async def events(self, stop: asyncio.Event) -> AsyncIterator[InputEvent]:
        """The queued events in arrival order, claimed for this run as it reads them, waiting
        for more, until the run should end."""
        run_id = self.state.run_id
        assert run_id is not None, "read only once the run has started"
        while not (stop.is_set() or self._rollover.is_set()):
            self._wakeup.clear()
            try:
                rows = await asyncio.to_thread(self.inbox.claim, run_id, self.batch)
            except CacheError as exc:
                log.warning("cannot read the queue: %s", exc)
                rows = []
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await _first(self._wakeup.wait(), stop.wait(), self._rollover.wait(), timeout=self.poll)
                continue
            for row in rows:
                yield parse_event(row.id, row.event)

    def _committed(self, session: Session, events: list[dict[str, Any]]) -> None:
        """Inside the audit commit: the outcomes recorded leave the queue (a failed one stays)."""
        done = [row["line"] for row in events if row["status"] != "failed"]
        if done:
            self.inbox.mark_done(session, done)

    # -- figures -----------------------------------------------------------------------------

    def _attempted(self, attempt: Attempt) -> None:
        self.metrics.attio_requests.labels(status=str(attempt.status) if attempt.status else "error").inc()

    def _progress(self, counts: dict[str, int]) -> None:
        for status, count in counts.items():
            if count != self._counted.get(status, 0):
                self.metrics.outcomes.labels(status=status).inc(count - self._counted.get(status, 0))
                self._counted[status] = count

    # -- keeping the queue short ---------------------------------------------------------------

    async def _prune_done(self, stop: asyncio.Event, keep: float) -> None:
        """Delete the events sent more than `keep` seconds ago, now and every `prune_every`."""
        while not stop.is_set():
            try:
                deleted = await asyncio.to_thread(self.inbox.prune, utcnow() - timedelta(seconds=keep))
            except CacheError as exc:
                log.warning("cannot prune the queue: %s", exc)  # the next turn tries again
            else:
                if deleted:
                    log.info("pruned %d events sent over %s ago from the queue", deleted, timedelta(seconds=keep))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.prune_every)

    # -- keeping the schema current -------------------------------------------------------------

    async def _refresh_schema(self, stop: asyncio.Event) -> None:
        assert self.schema_refresh is not None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.schema_refresh)
            if not stop.is_set():
                await self._pull(stop)

    async def _pull(self, stop: asyncio.Event) -> None:
        """Pull the schema; when it changed, end the run so the next one uses it."""
        started = time.monotonic()
        try:
            async with self.client_factory(self._attempted) as client:
                result = await pull_schema(client, self.cache)
        except AttioSyncError as exc:
            log.warning("schema refresh failed: %s", _why(exc))
            return
        before = self._schema
        self._schema = result.schema
        if before is None or before != result.schema:
            log.info("schema pulled in %.1fs: %s", time.monotonic() - started,
                     "changed" if before is not None else "first")
            self._rollover.set()


async def _first(*waits: Any, timeout: float | None) -> None:
    """Wait until the first of these awaitables is done (or `timeout`, raising TimeoutError).

    What this made a task of (a coroutine) is cancelled after; a task given goes on.
    """
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise TimeoutError
    finally:
        for given, task in zip(waits, tasks, strict=True):
            if task is not given:
                task.cancel()


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count) or "no events"
