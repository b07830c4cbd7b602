"""`attio-sync sync`: the command around `toolkit.sync.run_sync` (options, progress, summary)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..audit import OUTCOMES, first_problems
from ..cache import Cache, utcnow
from ..config import Settings
from ..events import DEFAULT_MAX_LINE_BYTES, read_events
from ..lease import LeaseOwner
from ..mapping import EventMapping, default_mapping, load_mapping
from ..schema import WorkspaceSchema
from ..stopping import Stopped, stop_on_signals
from ..sync import DEFAULT_LEASE_WAIT, RESUMABLE, SyncResult, run_sync
from .common import connection_options, explain, load_settings, make_client, open_settings_cache
from .render import console, outcome_table
from .running import interrupted, preflight

__all__ = ["sync_command"]

DEFAULT_FAIL_ON = "invalid,rejected,failed"
#: Seconds between two progress lines on standard error when it is not a terminal.
LOG_EVERY = 5.0


@contextmanager
def _open_events(path: str) -> Iterator[tuple[IO[bytes], int | None]]:
    """The event stream, and how many lines it has when that can be known (a regular file)."""
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise click.ClickException(f"cannot read events from {path}: {exc.strerror or exc}") from exc
    with handle:
        lines = _count_lines(handle) if stat.S_ISREG(os.fstat(handle.fileno()).st_mode) else None
        yield handle, lines


def _count_lines(handle: IO[bytes]) -> int | None:
    """Non-empty lines of a JSON-lines file (the progress bar's total); None for a JSON array.

    Read in chunks, never line by line: one line may be hundreds of megabytes.
    """
    if handle.read(1 << 16).lstrip().startswith(b"["):
        handle.seek(0)
        return None
    handle.seek(0)
    count, filled = 0, False
    while chunk := handle.read(1 << 20):
        *ended, rest = chunk.split(b"\n")
        for part in ended:
            count += filled or bool(part.strip())
            filled = False
        filled = filled or bool(rest.strip())
    handle.seek(0)
    return count + filled


@click.command("sync")
@click.argument("events", metavar="EVENTS")
@click.option("--mapping", "mapping_path", metavar="FILE",
              help="EventMapping file (TOML); default: the two default actions.")
@click.option("--dry-run", is_flag=True, help="Send nothing: report what would be written, unchanged or invalid.")
@click.option("--write-rate", type=click.FloatRange(min=0, min_open=True), help="Writes per second [default 25].")
@click.option("--read-rate", type=click.FloatRange(min=0, min_open=True), help="Reads per second [default 100].")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Events in flight at once.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Attempts per request [default 5].")
@click.option("--fail-on", default=DEFAULT_FAIL_ON, show_default=True, metavar="STATUSES",
              help="Outcomes that make the exit status 1 (comma-separated).")
@click.option("--no-check", is_flag=True, help="Start even when the pre-flight check finds errors.")
@click.option("--wait", "lease_wait", type=click.FloatRange(min=0), default=DEFAULT_LEASE_WAIT, show_default=True,
              metavar="SECONDS", help="How long to wait for another run sending to the same workspace from this "
              "database before refusing.")
@click.option("--outage-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="While Attio keeps failing, sending pauses and probes; past this long the run stops, and the same "
              "command resumes it [env ATTIO_SYNC_OUTAGE_TIMEOUT; default 300].")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_LINE_BYTES, show_default=True,
              help="A longer input line (or array item) is invalid, and never held whole in memory.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@connection_options
@click.pass_context
def sync_command(ctx: click.Context, /, events: str, mapping_path: str | None, dry_run: bool,
                 write_rate: float | None, read_rate: float | None, concurrency: int, max_attempts: int | None,
                 fail_on: str, no_check: bool, lease_wait: float, outage_timeout: float | None, max_line_bytes: int,
                 as_json: bool, **options: Any) -> None:
    """Sync EVENTS (JSON lines, a JSON array, or - for stdin) into Attio.

    Every event ends in one outcome, recorded in the database: synced, unchanged, invalid,
    rejected, failed or duplicate. Running the same input again finishes an interrupted run
    and sends nothing twice. One run at a time sends to a workspace from one database: another
    waits for it (--wait), then refuses.

    \b
    Examples:
      attio-sync sync events.jsonl --mapping examples/mapping.toml --dry-run
      attio-sync sync events.jsonl --mapping examples/mapping.toml
      cat events.jsonl | attio-sync sync - --json
    """
    failing = {s.strip() for s in fail_on.split(",") if s.strip()}
    unknown = failing - set(OUTCOMES)
    if unknown:
        raise click.BadParameter(f"unknown outcomes {sorted(unknown)}; choose from {', '.join(OUTCOMES)}",
                                 param_hint="--fail-on")
    settings = load_settings(ctx, write_rate=write_rate, read_rate=read_rate, max_attempts=max_attempts,
                             outage_timeout=outage_timeout, **options)
    cache = open_settings_cache(ctx, settings)
    schema = cache.load_schema()
    mapping = load_mapping(mapping_path) if mapping_path else default_mapping()
    if not no_check:
        preflight(mapping, schema, settings, ctx)
    if not dry_run:
        settings.require_key()

    with _open_events(events) as (stream, lines):
        show_progress = not as_json and console().is_terminal
        run = _Run(ctx, settings, cache, schema, mapping, events, dry_run, concurrency, lease_wait, max_line_bytes)
        try:
            result = asyncio.run(run.go(stream, lines, show_progress))
        except (KeyboardInterrupt, asyncio.CancelledError):  # a second signal: stopped at once
            click.echo(run.interrupted(), err=True)
            ctx.exit(run.stopped.exit_status or 130)
        except RESUMABLE as exc:  # a condition that will pass: nothing is final from it
            left = f"{lines - sum(run.counts.values()):,} events are left" if lines is not None else "the rest is left"
            raise click.ClickException(f"{explain(exc, settings)} {run.describe().capitalize()} stopped; {left}: "
                                       "run the same command again to resume.") from exc

    total = sum(result.counts.values())
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    elif total == 0 and not result.interrupted:
        click.echo(f"no events in {events}: nothing to do", err=True)
    else:
        _print_summary(result, first_problems(cache, result.run_id))
    if run.stopped.signal is not None:
        click.echo(run.interrupted(), err=True)
        ctx.exit(run.stopped.exit_status)
    if any(result.counts.get(status, 0) for status in failing):
        ctx.exit(1)


#: How often the progress bar takes in the counts (it redraws ten times a second).
PROGRESS_SECONDS = 0.1


class _Run:
    """One `sync` command's run: its settings, its progress display, and `run_sync` under them."""

    def __init__(self, ctx: click.Context, settings: Settings, cache: Cache, schema: WorkspaceSchema,
                 mapping: EventMapping, source: str, dry_run: bool, concurrency: int, lease_wait: float,
                 max_line_bytes: int) -> None:
        self.ctx, self.settings, self.cache, self.schema, self.mapping = ctx, settings, cache, schema, mapping
        self.source, self.dry_run, self.concurrency = source, dry_run, concurrency
        self.lease_wait, self.max_line_bytes = lease_wait, max_line_bytes
        self.run_id: int | None = None
        self.stopped = Stopped()
        self.counts: dict[str, int] = {}

    def describe(self) -> str:
        """The run, as the interrupted message names it."""
        return f"run {self.run_id}" if self.run_id is not None else "the run"

    def interrupted(self) -> str:
        """The one line said when a signal stopped the run."""
        return interrupted(self.stopped, self.describe(), sum(self.counts.values()))

    def started(self, run_id: int) -> None:
        self.run_id = run_id

    def waiting(self, owner: LeaseOwner) -> None:
        click.echo(f"waiting up to {self.lease_wait:.0f}s (--wait) for {owner.describe(utcnow())}, which is "
                   "sending to this workspace from this database", err=True)

    async def go(self, stream: IO[bytes], lines: int | None, show_progress: bool) -> SyncResult:
        progress = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.fields[done]} events, {task.fields[rate]:.0f}/s, {task.fields[counts]}"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console(),
                            disable=not show_progress)
        task = progress.add_task("syncing" if not self.dry_run else "dry run", total=lines, counts="", done=0,
                                 rate=0.0)
        started = time.monotonic()
        shown_at = [0.0]

        def on_progress(counts: dict[str, int], *, last: bool = False) -> None:
            self.counts = counts
            now = time.monotonic()
            if now - shown_at[0] < PROGRESS_SECONDS and not last:  # the bar redraws 10 times a second
                return  # at most: updating it per event cost more than a dry run's event itself
            shown_at[0] = now
            done = sum(counts.values())
            shown = " ".join(f"{k} {v}" for k, v in counts.items() if v)
            progress.update(task, completed=done, counts=shown, done=done, rate=done / max(now - started, 1e-6))

        events = read_events(stream, max_line_bytes=self.max_line_bytes)
        stop = asyncio.Event()
        options: dict[str, Any] = {"command": "sync", "input": self.source, "base_url": self.settings.base_url,
                                   "concurrency": self.concurrency, "lease_wait": self.lease_wait,
                                   "on_wait": self.waiting, "on_start": self.started,
                                   "on_progress": on_progress, "stop": stop}
        reporter = None if sys.stderr.isatty() else asyncio.create_task(self._log_progress(lines))
        try:
            with progress, stop_on_signals(stop) as self.stopped:
                if self.dry_run:
                    result = await run_sync(self.cache, self.schema, self.mapping, events, **options)
                else:
                    async with make_client(self.ctx, self.settings) as client:
                        result = await run_sync(self.cache, self.schema, self.mapping, events, client=client,
                                                **options)
                on_progress(self.counts, last=True)
                return result
        finally:
            if reporter is not None:
                reporter.cancel()

    async def _log_progress(self, lines: int | None) -> None:
        """For cron and container logs (standard error not a terminal): a line every few seconds."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(LOG_EVERY)
            done = sum(self.counts.values())
            rate = done / max(time.monotonic() - started, 1e-6)
            counts = ", ".join(f"{status} {count:,}" for status, count in self.counts.items() if count)
            click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} UTC {self.describe()}: {done:,}"
                       + (f" of {lines:,}" if lines is not None else "") + f" events, {rate:,.0f}/s"
                       + (f"; {counts}" if counts else ""), err=True)


def _print_summary(result: SyncResult, problems: list[tuple[int, str, str]]) -> None:
    out = console()
    out.print(outcome_table(result.counts, result.dry_run, total=True,
                            title=f"run {result.run_id}" + (" (dry run)" if result.dry_run else "")))
    shown = sum(result.counts[s] for s in ("invalid", "rejected", "failed"))
    if problems:
        out.print(f"First problems (of {shown}):", highlight=False)
        for line, status, reason in problems:
            out.print(f"  line {line}: {status}: {reason}", highlight=False, markup=False)
    if result.dry_run:
        out.print(f"Dry run: nothing was sent to Attio. {result.would_write} writes would be sent.")
    else:
        out.print(f"{result.requests} requests in {result.seconds:.1f}s; every outcome is recorded as run "
                  f"{result.run_id} in the database.")
