"""`attio-sync history ...`, `attio-sync retry` and `attio-sync demo`: presentation only.

The questions are answered by `toolkit.history`, the retry by `toolkit.retry`, the demo by
`toolkit.demo`. Here: options, rich tables on a terminal (through a pager when a list is
longer than the screen), and `--json` for machines.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.json import JSON
from rich.markup import escape
from rich.table import Table

from .audit import OUTCOMES
from .cli_common import (
    connection_options,
    console,
    db_option,
    load_settings,
    make_client,
    open_settings_cache,
)
from .errors import ConfigError
from .history import (
    EventFilter,
    RunInfo,
    RunSummary,
    Trace,
    TraceStep,
    count_events,
    event_dict,
    export_events,
    export_to_file,
    find_events,
    get_run,
    json_list,
    json_text,
    list_runs,
    parse_age,
    parse_since,
    prune,
    run_summary,
    trace,
)
from .mapping import default_mapping, load_mapping
from .retry import RETRYABLE, RetryResult, check_retryable, retry_run
from .stopping import Stopped, stop_on_signals
from .sync import DEFAULT_LEASE_WAIT

__all__ = ["demo_command", "history", "retry_command"]

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def _statuses(text: str | None, allowed: tuple[str, ...] = OUTCOMES, hint: str = "--status") -> tuple[str, ...]:
    found = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise click.BadParameter(f"unknown status {', '.join(unknown)}; choose from {', '.join(allowed)}",
                                 param_hint=hint)
    return found


def _echo_json(data: Any) -> None:
    click.echo(json_text(data, indent=2))


# Control characters (but newline and tab) and lone surrogates: stored text carrying them would
# drive the terminal (colours, clearing the screen) or fail to encode.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What JSON text leaves as it is among those (it escapes the C0 controls itself).
_UNPRINTABLE_IN_JSON = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _visible(value: object) -> str:
    """Stored text as it may be printed: each unprintable character as its escape (\\x1b)."""
    return _UNPRINTABLE.sub(_escaped, str(value))


def _cell(value: object) -> str:
    """Stored text for a table cell or a line with markup: visible, and never read as markup."""
    return escape(_visible(value))


def _visible_data(value: Any) -> Any:
    """JSON data whose strings print safely (see `_visible`), to show with rich's `JSON`."""
    if isinstance(value, str):
        return _UNPRINTABLE_IN_JSON.sub(_escaped, value)
    if isinstance(value, list):
        return [_visible_data(item) for item in value]
    if isinstance(value, dict):
        return {_visible_data(key): _visible_data(item) for key, item in value.items()}
    return value


@contextmanager
def _paged(rows: int) -> Iterator[Console]:
    """The console, through a pager when a terminal would scroll past the start of the list."""
    out = console()
    if out.is_terminal and rows + 8 > out.height:
        with out.pager(styles=True):
            yield out
    else:
        yield out


def _cache(ctx: click.Context, database: str | None, *, read_only: bool = True) -> Any:
    """The database; `read_only` unless the command writes to it (see `toolkit.cache.open_cache`)."""
    return open_settings_cache(ctx, load_settings(ctx, database=database), read_only=read_only)


def _outcome(status: str, dry_run: bool) -> str:
    """An outcome as shown: a dry run's `synced` events were not synced, they would have been."""
    return "would sync" if dry_run and status == "synced" else status


def _when(run: RunInfo) -> str:
    return f"{run.started_at:%Y-%m-%d %H:%M:%S}"


def _took(run: RunInfo) -> str:
    return "-" if run.seconds is None else f"{run.seconds:.1f}s"


def _short(path: str, width: int = 36) -> str:
    """A path as a table cell: relative to here when inside it, else its end (--json has it all)."""
    try:
        path = str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        pass
    return path if len(path) <= width else "..." + path[-(width - 3):]


def _more(shown: int, offset: int, total: int, what: str) -> str:
    if shown == 0:
        return f"no {what}" + (f" after --offset {offset}" if offset else "")
    line = f"{what} {offset + 1}-{offset + shown} of {total}"
    return line + (f"; --offset {offset + shown} for more" if offset + shown < total else "")


@click.group("history")
def history() -> None:
    """Runs, events and requests recorded by `sync` and `retry`: list, trace, export, prune.

    \b
    Examples:
      attio-sync history runs
      attio-sync history show            the newest run
      attio-sync history events --status invalid,rejected
      attio-sync history trace msg_0042
    """


@history.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Runs to show.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the newest N runs.")
@db_option
@_json_option
@click.pass_context
def history_runs(ctx: click.Context, /, limit: int, offset: int, database: str | None, as_json: bool) -> None:
    """List runs, newest first: start, duration, input, mapping, and events per outcome."""
    runs, total = list_runs(_cache(ctx, database), limit=limit, offset=offset)
    if as_json:
        _echo_json({"total": total, "offset": offset, "limit": limit, "runs": [r.as_dict() for r in runs]})
        return
    # A dry run synced nothing: what it would have synced has a column of its own, when one is listed.
    keys = [*OUTCOMES[:1], *(["would_sync"] if any(r.dry_run for r in runs) else []), *OUTCOMES[1:]]
    table = Table("run", "command", "started (UTC)", "took", "input", "mapping", *(k.replace("_", " ") for k in keys),
                  "requests")
    for run in runs:
        label = (run.command + (" (dry)" if run.dry_run else "")
                 + (f" of {run.parent_run_id}" if run.parent_run_id else ""))
        if run.state != "finished":
            label += f" [{run.state}]"
        counts = run.shown_counts()
        table.add_row(str(run.id), _cell(label), _when(run), _took(run), _cell(_short(run.input)),
                      _cell(_short(run.mapping)), *(str(counts[k]) if counts[k] else "" for k in keys),
                      str(run.requests))
    with _paged(len(runs)) as out:
        out.print(table)
        out.print(_more(len(runs), offset, total, "runs"), highlight=False)


@history.command("show")
@click.argument("run_id", required=False, type=int, metavar="[RUN]")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Problem groups to show.")
@db_option
@_json_option
@click.pass_context
def history_show(ctx: click.Context, /, run_id: int | None, top: int, database: str | None, as_json: bool) -> None:
    """One RUN's summary (the newest run's by default): counts, its most common problems
    grouped by field and reason, and its slowest requests."""
    summary = run_summary(_cache(ctx, database), run_id, top=top)
    if as_json:
        _echo_json(summary.as_dict())
        return
    print_summary(console(), summary)


def print_summary(out: Console, summary: RunSummary) -> None:
    """A run's summary as `history show` (and the demo) print it."""
    run = summary.run
    head = f"[bold]run {run.id}[/] ({_cell(run.command)}{', dry run' if run.dry_run else ''}, {run.state})"
    if run.parent_run_id:
        head += f", a retry of run {run.parent_run_id}"
    out.print(head)
    out.print(f"started {_when(run)} UTC, took {_took(run)}; input {_cell(run.input)}; mapping "
              f"{_cell(run.mapping)}", highlight=False)
    counts = ", ".join(f"{run.counts[s]} {_outcome(s, run.dry_run)}" for s in OUTCOMES if run.counts[s])
    out.print(f"{run.events} events: {counts or 'none'}; {run.requests} requests"
              + (f" ({', '.join(f'{n} x {s}' for s, n in summary.attempts_by_status.items())})"
                 if summary.attempts_by_status else ""), highlight=False)
    if not run.has_detail:
        out.print("[yellow]its per-event detail was pruned[/]; only these counts remain")
    if summary.problems:
        table = Table("events", "status", "field", "reason", "lines", "hint", title="most common problems",
                      title_justify="left")
        for group in summary.problems:
            table.add_row(str(group.events), _cell(group.status), _cell(group.field), _cell(group.reason),
                          ", ".join(map(str, group.lines)), _cell(group.hint or ""))
        out.print(table)
    if summary.slowest:
        table = Table("latency", "method", "path", "status", "attempt", "event", title="slowest requests",
                      title_justify="left")
        for request in summary.slowest:
            table.add_row(f"{request['latency'] * 1000:.0f} ms", _cell(request["method"]), _cell(request["path"]),
                          str(request["status"] or "no answer"), str(request["attempt"]),
                          _cell(request["message_key"] or ""))
        out.print(table)
    if summary.retries:
        out.print(f"retried by run {', '.join(map(str, summary.retries))}")
    stuck = [s for s in ("failed", "rejected") if run.counts[s]]
    if stuck and not run.dry_run:
        out.print(f"next: `attio-sync history events --run {run.id} --status {','.join(stuck)}` to see them, "
                  f"`attio-sync retry {run.id} --status {','.join(stuck)}` to send them again", highlight=False)


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    """A click callback reading an option with `parse`: a value it cannot read is a usage error (exit 2)."""
    def callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from exc
    return callback


def _filter_options(func: Any) -> Any:
    for option in reversed((
        click.option("--run", "run_id", type=int, metavar="RUN", help="Only this run's events."),
        click.option("--status", metavar="S[,S...]", help=f"Only these outcomes ({', '.join(OUTCOMES)})."),
        click.option("--user-id", metavar="U", help="Only events with this userId."),
        click.option("--email", metavar="E", help="Only events with this email (any case)."),
        click.option("--since", metavar="T", callback=_parsed(parse_since),
                     help="Only events recorded since T: an age (2h, 7d) or an ISO time."),
    )):
        func = option(func)
    return func


def _event_filter(run_id: int | None, status: str | None, user_id: str | None, email: str | None,
                  since: datetime | None) -> EventFilter:
    return EventFilter(run_id=run_id, statuses=_statuses(status), user_id=user_id, email=email, since=since)


@history.command("events")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Events to show.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N matching events.")
@db_option
@_json_option
@click.pass_context
def history_events(ctx: click.Context, /, run_id: int | None, status: str | None, user_id: str | None,
                   email: str | None, since: datetime | None, limit: int, offset: int, database: str | None,
                   as_json: bool) -> None:
    """List events with their outcome and reason, by run and line.

    \b
    Examples:
      attio-sync history events --run 3 --status failed,rejected
      attio-sync history events --email ada@example.com --json
      attio-sync history events --since 2h --limit 200
    """
    cache = _cache(ctx, database)
    where = _event_filter(run_id, status, user_id, email, since)
    total = count_events(cache, where)
    events = find_events(cache, where, limit=limit, offset=offset)
    if as_json:
        _echo_json({"total": total, "offset": offset, "limit": limit,
                    "events": [event_dict(e, full=True) for e in events]})
        return
    table = Table("run", "line", "message", "type", "user", "status", "reason")
    for event in events:
        table.add_row(str(event.run_id), str(event.line), _cell(event.message_key[:24]), _cell(event.event_type or ""),
                      _cell(event.user_id or event.email or ""), _cell(event.status), _cell(event.reason))
    with _paged(len(events)) as out:
        out.print(table)
        out.print(_more(len(events), offset, total, "events"), highlight=False)


@history.command("trace")
@click.argument("message_id", metavar="MESSAGE_ID")
@db_option
@_json_option
@click.pass_context
def history_trace(ctx: click.Context, /, message_id: str, database: str | None, as_json: bool) -> None:
    """Everything that happened to one event across runs: its input, the values it maps to,
    each request with Attio's answer, and the record ids written.

    MESSAGE_ID is the event's messageId, or the key `history events` shows for an event
    without one (sha256:...).
    """
    found = trace(_cache(ctx, database), message_id)
    if as_json:
        _echo_json(found.as_dict())
        return
    with _paged(sum(len(s.requests) + len(json_list(s.event.get("writes"))) + 6 for s in found.steps) + 20) as out:
        print_trace(out, found)


def print_trace(out: Console, found: Trace) -> None:
    """One event's trace as `history trace` (and the demo) print it."""
    out.print(f"[bold]{_cell(found.message_key)}[/]: input")
    if isinstance(found.input, str):
        out.print(_cell(found.input), highlight=False)
    else:
        out.print(JSON.from_data(_visible_data(found.input)))
    if found.planned is not None:
        _print_planned(out, found.planned)
    for step in found.steps:
        _print_step(out, step)


def _print_planned(out: Console, planned: dict[str, Any]) -> None:
    """The writes an event maps to now, or the problems that make it invalid."""
    table = Table("object", "matched on", "values (as validated)", title=f"maps to, under {_cell(planned['mapping'])}",
                  title_justify="left")
    for write in planned["writes"]:
        values = {**write["values"], **{f"+{k}": v for k, v in write["appends"].items()}}
        shown = "\n".join(f"{slug} = {json_text(forms)}" for slug, forms in values.items())
        table.add_row(_cell(write["object"]), _cell(write["matching_attribute"]), _cell(shown))
    if planned["writes"]:
        out.print(table)
    for problem in planned["problems"]:
        out.print(f"[red]problem[/]: {_cell(problem.get('field'))}: {_cell(problem.get('reason'))}"
                  + (f" ({_cell(problem['hint'])})" if problem.get("hint") else ""))


def _print_step(out: Console, step: TraceStep) -> None:
    """What one run did with the event: outcome, problems, requests with Attio's answers, writes."""
    run, event = step.run, step.event
    out.print(f"\n[bold]run {run.id}[/] ({_cell(run.command)}{', dry run' if run.dry_run else ''}, {_when(run)} UTC), "
              f"line {event['line']}: [bold]{_cell(_outcome(event['status'], run.dry_run))}[/]"
              + (f": {_cell(event['reason'])}" if event["reason"] else ""))
    for problem in json_list(event["problems"]):
        if not isinstance(problem, dict):  # not written by attio-sync; shown as stored
            out.print(f"  {_cell(json_text(problem))}", highlight=False)
        elif "field" in problem:
            out.print(f"  {_cell(problem['field'])}: {_cell(problem.get('reason'))}"
                      + (f" (input {_cell(json_text(problem.get('input')))})"
                         if problem.get("input") is not None else ""), highlight=False)
    if step.requests:
        table = Table("attempt", "request", "answer", "latency", "execution id")
        for request in step.requests:
            answer = " ".join(str(p) for p in (request["status"] or "no answer", request["code"],
                                               request["message"]) if p)
            table.add_row(str(request["attempt"]), _cell(f"{request['method']} {request['path']}"),
                          _cell(answer), f"{request['latency'] * 1000:.1f} ms", _cell(request["execution_id"] or ""))
        out.print(table)
    for write in json_list(event["writes"]):
        out.print(f"  {_cell(_describe_write(write))}", highlight=False)


def _describe_write(write: Any) -> str:
    """One write of an event as a trace line: the object, its record id, what was sent."""
    if not isinstance(write, dict):
        return json_text(write)
    sent = _names(write.get("values")) or "nothing new"
    appended = f"; appended {_names(write['appended'])}" if write.get("appended") else ""
    return (f"{_names(write.get('object')) or '(no object)'} {write.get('record_id') or '(no id)'}: "
            f"sent {sent}{appended}")


def _names(value: Any) -> str:
    """Attribute slugs (or any stored value) as a comma-separated line."""
    if value is None or isinstance(value, str):
        return value or ""
    items = value if isinstance(value, list) else [value]
    return ", ".join(item if isinstance(item, str) else json_text(item) for item in items)


@history.command("export")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True, help="Output format.")
@click.option("--output", metavar="FILE", type=click.Path(dir_okay=False, writable=True, path_type=str),
              help="Write to FILE instead of standard output (never the database itself).")
@click.option("--force", is_flag=True, help="Overwrite FILE when it exists.")
@db_option
@click.pass_context
def history_export(ctx: click.Context, /, run_id: int | None, status: str | None, user_id: str | None,
                   email: str | None, since: datetime | None, fmt: str, output: str | None, force: bool,
                   database: str | None) -> None:
    """Export the matching events, with their problems, writes and input, as CSV or JSON lines.

    FILE is written whole or not at all: the events go to a temporary file in its folder,
    renamed onto FILE at the end. An existing FILE is overwritten only with --force.

    \b
    Examples:
      attio-sync history export --run 3 --status rejected --format csv --output rejected.csv
      attio-sync history export --format jsonl | jq .reason
    """
    cache = _cache(ctx, database)
    where = _event_filter(run_id, status, user_id, email, since)
    if output is None:
        export_events(cache, where, sys.stdout, fmt)  # type: ignore[arg-type]
        return
    count = export_to_file(cache, where, output, fmt, force=force)  # type: ignore[arg-type]
    click.echo(f"wrote {count} events to {output}", err=True)


@history.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="AGE", callback=_parsed(parse_age),
              help="Remove the detail of runs started longer ago than AGE (30d, 12h, 2w).")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@db_option
@_json_option
@click.pass_context
def history_prune(ctx: click.Context, /, older_than: timedelta, dry_run: bool, database: str | None,
                  as_json: bool) -> None:
    """Remove old runs' event and request rows, keeping each run's summary row and counts.

    A pruned run can no longer be traced or retried, and its messages no longer count as
    processed (sent again, they are not duplicates; values already sent stay unchanged).
    """
    result = prune(_cache(ctx, database, read_only=dry_run), older_than, dry_run=dry_run)
    if as_json:
        _echo_json(result.as_dict())
        return
    verb = "would remove" if dry_run else "removed"
    runs = ", ".join(map(str, result.runs)) or "none"
    console().print(f"{verb} {result.events} events and {result.requests} requests of runs started before "
                    f"{result.cutoff:%Y-%m-%d %H:%M} UTC (runs: {runs}); run summaries kept", highlight=False)


# -- retry ------------------------------------------------------------------------------------


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
@_json_option
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
    from .cli_sync import (
        preflight,  # the same check as `sync`, so both refuse the same mappings
    )

    statuses = _statuses(status, RETRYABLE) or ("failed",)
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

    async def go() -> RetryResult:
        nonlocal stopped
        stop = asyncio.Event()
        with stop_on_signals(stop) as stopped:  # as sync: a signal ends the run cleanly
            if dry_run:
                return await retry_run(cache, run_id, schema=schema, mapping=mapping, client=None,
                                       statuses=statuses, base_url=settings.base_url, concurrency=concurrency,
                                       stop=stop)
            async with make_client(ctx, settings) as client:
                return await retry_run(cache, run_id, schema=schema, mapping=mapping, client=client,
                                       statuses=statuses, base_url=settings.base_url, concurrency=concurrency,
                                       lease_wait=lease_wait, stop=stop)

    try:
        result = asyncio.run(go())
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo(f"interrupted: the retry of run {run_id} stopped; run the same command again to finish", err=True)
        ctx.exit(stopped.exit_status or 130)
    if as_json:
        _echo_json(result.as_dict())
    else:
        _print_retry(result, mapping.label)
    if stopped.signal is not None:
        click.echo(f"interrupted by {stopped.name}: the retry of run {run_id} stopped; events in flight were given "
                   "time to finish; run the same command again to finish", err=True)
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
    table = Table("outcome", "events")
    for status in OUTCOMES:
        table.add_row("would sync" if sync.dry_run and status == "synced" else status, str(sync.counts[status]))
    out.print(table)
    if sync.dry_run:
        out.print(f"Dry run: nothing was sent. {sync.would_write} writes would be sent.")
    else:
        out.print(f"{sync.requests} requests in {sync.seconds:.1f}s; `attio-sync history show {sync.run_id}` for "
                  "what is left", highlight=False)


# -- demo --------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--db", "database", metavar="PATH",
              help="A new database file for the demo [default: a new file in a temporary folder].")
@click.option("--trace", "trace_message", metavar="MESSAGE_ID", help="The event to trace [default: the first synced].")
@_json_option
def demo_command(database: str | None, trace_message: str | None, as_json: bool) -> None:
    """Run the whole tool once, with no account and no network.

    Starts a sandbox Attio inside this process (examples/sandbox-seed.toml), pulls its schema,
    checks examples/mapping.toml, syncs examples/events.jsonl (a few hundred events, a handful
    of them bad), then shows the run's history and one event's trace. It never touches
    ./attio-sync.db: it writes a new database and says where, to explore with `history`.
    """
    from .demo import run_demo

    if database is None:
        database = str(Path(tempfile.mkdtemp(prefix="attio-sync-demo-")) / "demo.db")
    out = console()
    result = run_demo(database, trace_message=trace_message, on_step=_DemoPrinter(out, quiet=as_json).step)
    if as_json:
        _echo_json(result.as_dict())
        return
    out.print(f"\nDone in {result.seconds:.1f}s. Everything is in {database}; explore it with, for example:",
              highlight=False)
    for line in (f"attio-sync history runs --db {database}",
                 f"attio-sync history events --db {database} --status invalid",
                 f"attio-sync history export --db {database} --format csv --output demo.csv"):
        out.print(f"  {line}", highlight=False, markup=False)


class _DemoPrinter:
    """Prints each demo step as it finishes."""

    def __init__(self, out: Console, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet

    def step(self, name: str, value: Any) -> None:
        if self.quiet:
            return
        out = self.out
        if name == "pull":
            counts = ", ".join(f"{slug} {n}" for slug, n in value.attribute_counts().items())
            out.print(f"[bold]1. schema pull[/]: a sandbox Attio started in this process; pulled "
                      f"{value.schema.workspace.workspace_name} in {value.seconds:.2f}s ({value.requests} requests): "
                      f"attributes per object: {counts}", highlight=False)
        elif name == "check":
            errors = sum(1 for f in value if f.level == "error")
            out.print(f"[bold]2. check[/]: examples/mapping.toml against that schema: {errors} errors, "
                      f"{len(value) - errors} warnings", highlight=False)
            for finding in value:
                out.print(f"   {finding.level}: {escape(finding.action)}: {escape(finding.field)}: "
                          f"{escape(finding.message)}", highlight=False)
        elif name == "sync":
            counts = ", ".join(f"{value.counts[s]} {s}" for s in OUTCOMES if value.counts[s])
            out.print(f"[bold]3. sync[/]: examples/events.jsonl: {sum(value.counts.values())} events in "
                      f"{value.seconds:.1f}s, {value.requests} requests: {counts}", highlight=False)
        elif name == "summary":
            out.print("[bold]4. attio-sync history show[/]")
            print_summary(out, value)
        elif name == "trace":
            out.print(f"\n[bold]5. attio-sync history trace {escape(value.message_key)}[/]")
            print_trace(out, value)
