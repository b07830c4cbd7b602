"""`attio-sync retry`: a run's failed (or rejected, or invalid) events sent again, as a new run.

The retry itself is `toolkit.retry`; here are the options, the output and the exit status.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..history import get_run
from ..mapping import default_mapping, load_mapping
from ..retry import RETRYABLE, RetryResult, check_retryable, retry_run
from ..stopping import Stopped, stop_on_signals
from ..sync import DEFAULT_LEASE_WAIT
from .common import connection_options, json_option, load_settings, make_client, open_settings_cache, parse_statuses
from .render import console, echo_json, outcome_table
from .running import interrupted, preflight

__all__ = ["retry_command"]


@click.command("retry")
@click.argument("run_id", type=int, metavar="RUN")
@click.option("--status", "status", default="failed", show_default=True, metavar="S[,S...]",
              help=f"Which outcomes to send again: {', '.join(RETRYABLE)}.")
@click.option("--mapping", "mapping_path", metavar="FILE",
              help="EventMapping file [default: the run's own, when it is a file].")
@click.option("--dry-run", is_flag=True, help="Send nothing: show what the retry would do.")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Events in flight at once.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Attempts per request [default 5].")
@click.option("--write-rate", type=click.FloatRange(min=0, min_open=True), help="Writes per second [default 25].")
@click.option("--no-check", is_flag=True, help="Start even when the pre-flight check finds errors.")
@click.option("--wait", "lease_wait", type=click.FloatRange(min=0), default=DEFAULT_LEASE_WAIT, show_default=True,
              metavar="SECONDS", help="How long to wait for another run sending to the same workspace.")
@click.option("--outage-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="How long to wait out an outage before stopping [env ATTIO_SYNC_OUTAGE_TIMEOUT; default 300].")
@json_option
@connection_options
@click.pass_context
def retry_command(ctx: click.Context, /, run_id: int, status: str, mapping_path: str | None, dry_run: bool,
                  concurrency: int, max_attempts: int | None, write_rate: float | None, no_check: bool,
                  lease_wait: float, outage_timeout: float | None, as_json: bool, **options: Any) -> None:
    """Send RUN's failed events again (and with --status, its rejected or invalid ones), from
    the input the run stored, as a new run linked to it.

    Events synced (or found unchanged) by another run since are not sent again. For rejected
    or invalid events, fix the mapping, or the workspace and `attio-sync schema pull`, first.
    Exit status 1 when a retried event still does not get through.

    \b
    Examples:
      attio-sync retry 3
      attio-sync retry 3 --status failed,rejected --dry-run
    """
    statuses = parse_statuses(status, RETRYABLE) or ("failed",)
    settings = load_settings(ctx, max_attempts=max_attempts, write_rate=write_rate, outage_timeout=outage_timeout,
                             **options)
    cache = open_settings_cache(ctx, settings)
    parent = get_run(cache, run_id)
    check_retryable(parent)  # before the mapping, the schema and the key: nothing else matters then
    path = mapping_path or (parent.mapping if Path(parent.mapping).is_file() else None)
    mapping = load_mapping(path) if path else default_mapping()
    schema = cache.load_schema()
    if not no_check:
        preflight(mapping, schema, settings, ctx)
    if not dry_run:
        settings.require_key()

    stopped = Stopped()
    counts: dict[str, int] = {}

    def on_progress(so_far: dict[str, int]) -> None:
        counts.update(so_far)

    async def go() -> RetryResult:
        nonlocal stopped
        stop = asyncio.Event()
        with stop_on_signals(stop) as stopped:  # as sync: a signal ends the run cleanly
            if dry_run:
                return await retry_run(cache, run_id, schema=schema, mapping=mapping, client=None,
                                       statuses=statuses, base_url=settings.base_url, concurrency=concurrency,
                                       on_progress=on_progress, stop=stop)
            async with make_client(ctx, settings) as client:
                return await retry_run(cache, run_id, schema=schema, mapping=mapping, client=client,
                                       statuses=statuses, base_url=settings.base_url, concurrency=concurrency,
                                       lease_wait=lease_wait, on_progress=on_progress, stop=stop)

    try:
        result = asyncio.run(go())
    except (KeyboardInterrupt, asyncio.CancelledError):  # a second signal: stopped at once
        click.echo(interrupted(stopped, f"the retry of run {run_id}", sum(counts.values())), err=True)
        ctx.exit(stopped.exit_status or 130)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_retry(result, mapping.label)
    if stopped.signal is not None:
        click.echo(interrupted(stopped, f"the retry of run {run_id}", sum(counts.values())), err=True)
        ctx.exit(stopped.exit_status)
    if result.sync is not None and any(result.sync.counts[s] for s in ("invalid", "rejected", "failed")):
        ctx.exit(1)


def _print_retry(result: RetryResult, mapping: str) -> None:
    out = console()
    plan = result.plan
    out.print(f"run {plan.run_id}: {len(plan.events)} {'/'.join(plan.statuses)} events to send again with "
              f"{escape(mapping)}", highlight=False)
    if plan.done_since:
        out.print(f"{len(plan.done_since)} left out: another run has synced them since", highlight=False)
    if plan.no_input:
        out.print(f"{len(plan.no_input)} left out: their input was not kept", highlight=False)
    if result.sync is None:
        out.print("nothing to send")
        return
    sync = result.sync
    out.print(f"run {sync.run_id}, a retry of run {plan.run_id}" + (" (dry run)" if sync.dry_run else ""),
              highlight=False)
    out.print(outcome_table(sync.counts, sync.dry_run))
    if sync.dry_run:
        out.print(f"Dry run: nothing was sent to Attio. {sync.would_write} writes would be sent.")
    else:
        out.print(f"{sync.requests} requests in {sync.seconds:.1f}s; `attio-sync history show {sync.run_id}` for "
                  "what is left", highlight=False)
