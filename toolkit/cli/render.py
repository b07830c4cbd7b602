"""Output the commands share: the console, stored text made safe to print, runs and traces.

`print_summary` and `print_trace` are how `history show` and `history trace` print (and the
demo, which shows both); `outcome_table` is a run's outcomes as `sync` and `retry` print them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.json import JSON
from rich.markup import escape
from rich.table import Table

from ..jsontext import json_list, json_text

if TYPE_CHECKING:
    from ..history import RunInfo, RunSummary, Trace, TraceStep

__all__ = ["cell", "console", "echo_json", "outcome_label", "outcome_table", "print_summary", "print_trace", "took",
           "visible", "when"]


class _Console(Console):
    """Rich's console, except that a reader going away (`| head`) is not an error: rich would
    exit with status 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)


def console() -> Console:
    """Rich output; when piped, wide enough that tables do not wrap slugs mid-word."""
    out = _Console()
    return out if out.is_terminal else _Console(width=200)


def echo_json(data: Any) -> None:
    """`data` as indented JSON on standard output (see `toolkit.history.json_text`)."""
    click.echo(json_text(data, indent=2))


# Control characters (but newline and tab) and lone surrogates: stored text carrying them would
# drive the terminal (colours, clearing the screen) or fail to encode.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What JSON text leaves as it is among those (it escapes the C0 controls itself).
_UNPRINTABLE_IN_JSON = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible(value: object) -> str:
    """Stored text as it may be printed: each unprintable character as its escape (\\x1b)."""
    return _UNPRINTABLE.sub(_escaped, str(value))


def cell(value: object) -> str:
    """Stored text for a table cell or a line with markup: visible, and never read as markup."""
    return escape(visible(value))


def _visible_data(value: Any) -> Any:
    """JSON data whose strings print safely (see `visible`), to show with rich's `JSON`."""
    if isinstance(value, str):
        return _UNPRINTABLE_IN_JSON.sub(_escaped, value)
    if isinstance(value, list):
        return [_visible_data(item) for item in value]
    if isinstance(value, dict):
        return {_visible_data(key): _visible_data(item) for key, item in value.items()}
    return value


def outcome_label(status: str, dry_run: bool) -> str:
    """An outcome as shown: a dry run's `synced` events were not synced, they would have been."""
    return "would sync" if dry_run and status == "synced" else status


def outcome_table(counts: Mapping[str, int], dry_run: bool, *, title: str | None = None,
                  total: bool = False) -> Table:
    """A run's events per outcome, every outcome a row (and with `total`, their sum)."""
    from ..history import OUTCOMES  # here: `value` prints with this module, and needs no database library

    table = Table("outcome", "events", title=title)
    for status in OUTCOMES:
        table.add_row(outcome_label(status, dry_run), str(counts[status]))
    if total:
        table.add_row("total", str(sum(counts.values())), style="bold")
    return table


def when(run: RunInfo) -> str:
    """When a run started (UTC, to the second)."""
    return f"{run.started_at:%Y-%m-%d %H:%M:%S}"


def took(run: RunInfo) -> str:
    """How long a run took, or "-" while it has not finished."""
    return "-" if run.seconds is None else f"{run.seconds:.1f}s"


def print_summary(out: Console, summary: RunSummary) -> None:
    """A run's summary as `history show` (and the demo) print it."""
    from ..history import OUTCOMES  # not the audit's: `history show` reads without a database library

    run = summary.run
    head = f"[bold]run {run.id}[/] ({cell(run.command)}{', dry run' if run.dry_run else ''}, {run.state})"
    if run.parent_run_id:
        head += f", a retry of run {run.parent_run_id}"
    out.print(head)
    out.print(f"started {when(run)} UTC, took {took(run)}; input {cell(run.input)}; mapping "
              f"{cell(run.mapping)}", highlight=False)
    counts = ", ".join(f"{run.counts[s]} {outcome_label(s, run.dry_run)}" for s in OUTCOMES if run.counts[s])
    out.print(f"{run.events} events: {counts or 'none'}; {run.requests} requests"
              + (f" ({', '.join(f'{n} x {s}' for s, n in summary.attempts_by_status.items())})"
                 if summary.attempts_by_status else ""), highlight=False)
    if not run.has_detail:
        out.print("[yellow]its per-event detail was pruned[/]; only these counts remain")
    if summary.problems:
        table = Table("events", "status", "field", "reason", "lines", "hint", title="most common problems",
                      title_justify="left")
        for group in summary.problems:
            table.add_row(str(group.events), cell(group.status), cell(group.field), cell(group.reason),
                          ", ".join(map(str, group.lines)), cell(group.hint or ""))
        out.print(table)
    if summary.slowest:
        table = Table("latency", "method", "path", "status", "attempt", "event", title="slowest requests",
                      title_justify="left")
        for request in summary.slowest:
            table.add_row(f"{request['latency'] * 1000:.0f} ms", cell(request["method"]), cell(request["path"]),
                          str(request["status"] or "no answer"), str(request["attempt"]),
                          cell(request["message_key"] or ""))
        out.print(table)
    if summary.retries:
        out.print(f"retried by run {', '.join(map(str, summary.retries))}")
    stuck = [s for s in ("failed", "rejected") if run.counts[s]]
    if stuck and not run.dry_run:
        out.print(f"next: `attio-sync history events --run {run.id} --status {','.join(stuck)}` to see them, "
                  f"`attio-sync retry {run.id} --status {','.join(stuck)}` to send them again", highlight=False)


def print_trace(out: Console, found: Trace) -> None:
    """One event's trace as `history trace` (and the demo) print it."""
    out.print(f"[bold]{cell(found.message_key)}[/]: input")
    if isinstance(found.input, str):
        out.print(cell(found.input), highlight=False)
    else:
        out.print(JSON.from_data(_visible_data(found.input)))
    if found.planned is not None:
        _print_planned(out, found.planned)
    for step in found.steps:
        _print_step(out, step)


def _print_planned(out: Console, planned: dict[str, Any]) -> None:
    """The writes an event maps to now, or the problems that make it invalid."""
    table = Table("object", "matched on", "values (as validated)", title=f"maps to, under {cell(planned['mapping'])}",
                  title_justify="left")
    for write in planned["writes"]:
        values = {**write["values"], **{f"+{k}": v for k, v in write["appends"].items()}}
        shown = "\n".join(f"{slug} = {json_text(forms)}" for slug, forms in values.items())
        table.add_row(cell(write["object"]), cell(write["matching_attribute"]), cell(shown))
    if planned["writes"]:
        out.print(table)
    for problem in planned["problems"]:
        out.print(f"[red]problem[/]: {cell(problem.get('field'))}: {cell(problem.get('reason'))}"
                  + (f" ({cell(problem['hint'])})" if problem.get("hint") else ""))


def _print_step(out: Console, step: TraceStep) -> None:
    """What one run did with the event: outcome, problems, requests with Attio's answers, writes."""
    run, event = step.run, step.event
    out.print(f"\n[bold]run {run.id}[/] ({cell(run.command)}{', dry run' if run.dry_run else ''}, {when(run)} UTC), "
              f"line {event['line']}: [bold]{cell(outcome_label(event['status'], run.dry_run))}[/]"
              + (f": {cell(event['reason'])}" if event["reason"] else ""))
    for problem in json_list(event["problems"]):
        if not isinstance(problem, dict):  # not written by attio-sync; shown as stored
            out.print(f"  {cell(json_text(problem))}", highlight=False)
        elif "field" in problem:
            out.print(f"  {cell(problem['field'])}: {cell(problem.get('reason'))}"
                      + (f" (input {cell(json_text(problem.get('input')))})"
                         if problem.get("input") is not None else ""), highlight=False)
    if step.requests:
        table = Table("attempt", "request", "answer", "latency", "execution id")
        for request in step.requests:
            answer = " ".join(str(p) for p in (request["status"] or "no answer", request["code"],
                                               request["message"]) if p)
            table.add_row(str(request["attempt"]), cell(f"{request['method']} {request['path']}"),
                          cell(answer), f"{request['latency'] * 1000:.1f} ms", cell(request["execution_id"] or ""))
        out.print(table)
    for write in json_list(event["writes"]):
        out.print(f"  {cell(_describe_write(write))}", highlight=False)


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
