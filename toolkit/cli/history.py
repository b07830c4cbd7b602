"""`attio-sync history ...`: runs, events and requests recorded by `sync` and `retry`.

The questions are answered by `toolkit.history`; here are the options, rich tables on a
terminal (through a pager when a list is longer than the screen), and `--json` for machines.
A command that only reads a current SQLite file reads it without SQLAlchemy
(`toolkit.history.open_audit_file`): its start was most of its time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ..history import (
    OUTCOMES,
    Database,
    EventFilter,
    count_events,
    event_dict,
    export_events,
    export_to_file,
    find_events,
    json_list,
    list_runs,
    open_audit_file,
    parse_age,
    parse_since,
    prune,
    run_summary,
    trace,
)
from .common import db_option, json_option, load_settings, open_settings_cache, parse_statuses
from .render import cell, console, echo_json, print_summary, print_trace, took, when

__all__ = ["history"]


@contextmanager
def _paged(rows: int) -> Iterator[Console]:
    """The console, through a pager when a terminal would scroll past the start of the list."""
    out = console()
    if out.is_terminal and rows + 8 > out.height:
        with out.pager(styles=True):
            yield out
    else:
        yield out


def _database(ctx: click.Context, database: str | None, *, read_only: bool = True) -> Database:
    """The database, closed with the command; `read_only` unless the command writes to it.

    A command that reads a SQLite file at the newest migration reads it with sqlite3 alone;
    anything else (another database, a file to create or upgrade, one this user may only
    read) goes through `toolkit.cache.open_cache`, which opens it or says what is wrong.
    """
    settings = load_settings(ctx, database=database)
    if read_only:
        audit = open_audit_file(settings.database)
        if audit is not None:
            ctx.call_on_close(audit.close)
            return audit
    return open_settings_cache(ctx, settings, read_only=read_only)


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
@json_option
@click.pass_context
def history_runs(ctx: click.Context, /, limit: int, offset: int, database: str | None, as_json: bool) -> None:
    """List runs, newest first: start, duration, input, mapping, and events per outcome."""
    runs, total = list_runs(_database(ctx, database), limit=limit, offset=offset)
    if as_json:
        echo_json({"total": total, "offset": offset, "limit": limit, "runs": [r.as_dict() for r in runs]})
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
        table.add_row(str(run.id), cell(label), when(run), took(run), cell(_short(run.input)),
                      cell(_short(run.mapping)), *(str(counts[k]) if counts[k] else "" for k in keys),
                      str(run.requests))
    with _paged(len(runs)) as out:
        out.print(table)
        out.print(_more(len(runs), offset, total, "runs"), highlight=False)


@history.command("show")
@click.argument("run_id", required=False, type=int, metavar="[RUN]")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Problem groups to show.")
@db_option
@json_option
@click.pass_context
def history_show(ctx: click.Context, /, run_id: int | None, top: int, database: str | None, as_json: bool) -> None:
    """One RUN's summary (the newest run's by default): counts, its most common problems
    grouped by field and reason, and its slowest requests."""
    summary = run_summary(_database(ctx, database), run_id, top=top)
    if as_json:
        echo_json(summary.as_dict())
        return
    print_summary(console(), summary)


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
    return EventFilter(run_id=run_id, statuses=parse_statuses(status, OUTCOMES), user_id=user_id, email=email,
                       since=since)


@history.command("events")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Events to show.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N matching events.")
@db_option
@json_option
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
    db = _database(ctx, database)
    where = _event_filter(run_id, status, user_id, email, since)
    total = count_events(db, where)
    events = find_events(db, where, limit=limit, offset=offset)
    if as_json:
        echo_json({"total": total, "offset": offset, "limit": limit,
                    "events": [event_dict(e, full=True) for e in events]})
        return
    table = Table("run", "line", "message", "type", "user", "status", "reason")
    for event in events:
        table.add_row(str(event.run_id), str(event.line), cell(event.message_key[:24]), cell(event.event_type or ""),
                      cell(event.user_id or event.email or ""), cell(event.status), cell(event.reason))
    with _paged(len(events)) as out:
        out.print(table)
        out.print(_more(len(events), offset, total, "events"), highlight=False)


@history.command("trace")
@click.argument("message_id", metavar="MESSAGE_ID")
@db_option
@json_option
@click.pass_context
def history_trace(ctx: click.Context, /, message_id: str, database: str | None, as_json: bool) -> None:
    """Everything that happened to one event across runs: its input, the values it maps to,
    each request with Attio's answer, and the record ids written.

    MESSAGE_ID is the event's messageId, or the key `history events` shows for an event
    without one (sha256:...).
    """
    found = trace(_database(ctx, database), message_id)
    if as_json:
        echo_json(found.as_dict())
        return
    with _paged(sum(len(s.requests) + len(json_list(s.event.get("writes"))) + 6 for s in found.steps) + 20) as out:
        print_trace(out, found)


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
    db = _database(ctx, database)
    where = _event_filter(run_id, status, user_id, email, since)
    if output is None:
        export_events(db, where, sys.stdout, fmt)  # type: ignore[arg-type]
        return
    count = export_to_file(db, where, output, fmt, force=force)  # type: ignore[arg-type]
    click.echo(f"wrote {count} events to {output}", err=True)


@history.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="AGE", callback=_parsed(parse_age),
              help="Remove the detail of runs started longer ago than AGE (30d, 12h, 2w).")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@db_option
@json_option
@click.pass_context
def history_prune(ctx: click.Context, /, older_than: timedelta, dry_run: bool, database: str | None,
                  as_json: bool) -> None:
    """Remove old runs' event and request rows, keeping each run's summary row and counts.

    A pruned run can no longer be traced or retried, and its messages no longer count as
    processed (sent again, they are not duplicates; values already sent stay unchanged).
    """
    result = prune(_database(ctx, database, read_only=dry_run), older_than, dry_run=dry_run)
    if as_json:
        echo_json(result.as_dict())
        return
    verb = "would remove" if dry_run else "removed"
    runs = ", ".join(map(str, result.runs)) or "none"
    console().print(f"{verb} {result.events} events and {result.requests} requests of runs started before "
                    f"{result.cutoff:%Y-%m-%d %H:%M} UTC (runs: {runs}); run summaries kept", highlight=False)
