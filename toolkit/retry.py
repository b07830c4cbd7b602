"""Retry a run's failed (and, when asked, rejected or invalid) events from their stored input.

A retry is a new run (`command="retry"`, `parent_run_id` the first run) fed with the raw
lines the first run kept, in their original line order and with their original line numbers.
Usually it follows a fix: Attio is answering again (failed), or the mapping or the workspace
schema was corrected and `schema pull` run again (rejected, invalid).

What is not sent again: an event that some other real run has `synced` or found `unchanged`
since (`RetrySelection.done_since`), and an event whose input was not kept (`RetrySelection.no_input`).
A dry run, and a run whose detail `prune` removed, cannot be retried at all (`check_retryable`).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import col, select

from .cache import Cache
from .client import AttioClient
from .errors import ConfigError
from .events import InputEvent, read_events
from .history import RunInfo, get_run
from .mapping import EventMapping
from .models import EventRecord, Run
from .schema import WorkspaceSchema
from .sync import DEFAULT_LEASE_WAIT, SyncResult, run_sync

__all__ = ["RETRYABLE", "RetrySelection", "RetryResult", "check_retryable", "select_retry", "retry_run"]

#: The outcomes a retry may re-send: `failed` by default; `rejected` and `invalid` after a fix.
RETRYABLE = ("failed", "rejected", "invalid")
#: An event with one of these in another real run needs nothing more.
_DONE = ("synced", "unchanged")


@dataclass
class RetrySelection:
    """Which events of a run a retry sends, and which it leaves out and why."""

    run_id: int
    statuses: tuple[str, ...]
    events: list[InputEvent] = field(default_factory=list)
    done_since: list[str] = field(default_factory=list)
    no_input: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "statuses": list(self.statuses), "to_send": len(self.events),
                "lines": [e.line for e in self.events], "done_since": self.done_since, "no_input": self.no_input}


@dataclass
class RetryResult:
    """A retry: what was planned and, unless there was nothing to send, the new run."""

    plan: RetrySelection
    sync: SyncResult | None

    def as_dict(self) -> dict[str, Any]:
        return {"parent_run_id": self.plan.run_id, "statuses": list(self.plan.statuses),
                "retried": len(self.plan.events), "skipped_done_since": len(self.plan.done_since),
                "skipped_no_input": len(self.plan.no_input),
                **({"run": self.sync.as_dict()} if self.sync is not None else {"run": None})}


def _done_elsewhere(cache: Cache, keys: list[str], run_id: int) -> set[str]:
    """Which of these messages another real run synced or found unchanged."""
    found: set[str] = set()
    with cache.session() as session:
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            found.update(session.exec(
                select(EventRecord.message_key).join(Run, col(Run.id) == col(EventRecord.run_id))
                .where(col(EventRecord.message_key).in_(chunk), col(EventRecord.status).in_(_DONE),
                       col(Run.dry_run).is_(False), col(Run.id) != run_id)))
    return found


def select_retry(cache: Cache, run_id: int, statuses: tuple[str, ...] = ("failed",)) -> RetrySelection:
    """The events of `run_id` ending in one of `statuses` that still need sending.

    Raises:
        ConfigError: no such run, a dry run, a pruned run, or a status a retry cannot re-send.
    """
    unknown = set(statuses) - set(RETRYABLE)
    if unknown or not statuses:
        raise ConfigError([f"a retry re-sends {', '.join(RETRYABLE)} events, "
                           f"not {', '.join(sorted(unknown)) or 'none'}"])
    check_retryable(get_run(cache, run_id))  # a clear error for an unknown run too
    with cache.session() as session:
        rows = list(session.exec(select(EventRecord).where(col(EventRecord.run_id) == run_id,
                                                           col(EventRecord.status).in_(statuses))
                                 .order_by(col(EventRecord.line))))
    plan = RetrySelection(run_id, tuple(statuses))
    done = _done_elsewhere(cache, [r.message_key for r in rows], run_id)
    for row in rows:
        if row.message_key in done:
            plan.done_since.append(row.message_key)
        elif row.raw is None:
            plan.no_input.append(row.message_key)
        else:
            plan.events.append(_input_event(row))
    return plan


def check_retryable(run: RunInfo) -> None:
    """Refuse a run a retry cannot work from: a dry run (it sent nothing), or a pruned run
    (its events and their input are gone; its summary row and counts stay).

    Raises:
        ConfigError: one line saying what to do instead.
    """
    if run.dry_run:
        # A rehearsal sent nothing, so "what failed" means nothing: the real run is `sync`.
        raise ConfigError([f"run {run.id} was a dry run and sent nothing; run `attio-sync sync` on its input instead"])
    if not run.has_detail:
        raise ConfigError([f"run {run.id} was pruned (`attio-sync history prune`): its {run.events} events and "
                           "their input are gone, so it cannot be retried; run `attio-sync sync` on its input "
                           f"({run.input}) again instead (values already sent are found unchanged)"])


def _input_event(row: EventRecord) -> InputEvent:
    """The stored line read again exactly as the first run read it, with its first line number."""
    raw = row.raw or ""
    item = next(read_events(io.BytesIO(raw.encode("utf-8", "surrogatepass"))), None)
    if item is None:  # an empty line: keep it, so it is recorded as invalid again
        return InputEvent(row.line, raw, problem="empty line")
    return replace(item, line=row.line, raw=raw)


async def retry_run(cache: Cache, run_id: int, *, schema: WorkspaceSchema, mapping: EventMapping,
                    client: AttioClient | None, statuses: tuple[str, ...] = ("failed",), base_url: str | None = None,
                    concurrency: int = 16, lease_wait: float = DEFAULT_LEASE_WAIT,
                    on_progress: Callable[[dict[str, int]], None] | None = None,
                    stop: asyncio.Event | None = None) -> RetryResult:
    """Send again the events of `run_id` that ended in one of `statuses`, as a new run.

    Args:
        cache: the audit database.
        run_id: the run to retry.
        schema: the workspace schema to validate against (pull again after fixing it).
        mapping: the mapping to use (the fixed one).
        client: the Attio client; None rehearses the retry (a dry run).
        statuses: which outcomes to re-send: ``failed``, ``rejected``, ``invalid``.
        base_url: the Attio origin written to (the record state is kept per origin); by
            default the first run's.
        concurrency: events in flight at once.
        lease_wait: how long to wait for another run sending to the workspace.
        on_progress: called after each event with the counts so far.
        stop: once set, no new event starts (see `toolkit.sync.run_sync`).

    Returns:
        The plan, and the new run's result (None when there was nothing to send).

    Raises:
        ConfigError: no such run, a dry or pruned run, or a status a retry cannot re-send.
    """
    plan = select_retry(cache, run_id, statuses)
    if not plan.events:
        return RetryResult(plan, None)
    parent = get_run(cache, run_id)
    # A plain sync treats rejected and invalid as final (a re-run of the same input must not
    # re-send them); a retry exists to re-send exactly those, so only an event some other run got
    # through (synced or unchanged) is a duplicate here.
    result = await run_sync(cache, schema, mapping, plan.events, client=client, command="retry",
                            input=parent.input, base_url=base_url or _base_url(cache, run_id), parent_run_id=run_id,
                            done_statuses=_DONE, concurrency=concurrency, lease_wait=lease_wait,
                            on_progress=on_progress, stop=stop)
    return RetryResult(plan, result)


def _base_url(cache: Cache, run_id: int) -> str:
    """The Attio origin the run wrote to (its record state is keyed by it)."""
    with cache.session() as session:
        run = session.get(Run, run_id)
    return run.base_url if run is not None else ""
