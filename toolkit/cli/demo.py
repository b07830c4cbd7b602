"""`attio-sync demo`: the whole tool once, against a sandbox inside this process (`toolkit.demo`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ..audit import OUTCOMES
from ..demo import run_demo
from .common import json_option
from .render import console, echo_json, print_summary, print_trace

__all__ = ["demo_command"]


@click.command("demo")
@click.option("--db", "database", metavar="PATH",
              help="A new database file for the demo [default: a new file in a temporary folder].")
@click.option("--trace", "trace_message", metavar="MESSAGE_ID", help="The event to trace [default: the first synced].")
@json_option
def demo_command(database: str | None, trace_message: str | None, as_json: bool) -> None:
    """Run the whole tool once, with no account and no network.

    Starts a sandbox Attio inside this process (examples/sandbox-seed.toml), pulls its schema,
    checks examples/mapping.toml, syncs examples/events.jsonl (a few hundred events, a handful
    of them bad), then shows the run's history and one event's trace. It never touches
    ./attio-sync.db: it writes a new database and says where, to explore with `history`.
    """
    if database is None:
        database = str(Path(tempfile.mkdtemp(prefix="attio-sync-demo-")) / "demo.db")
    out = console()
    result = run_demo(database, trace_message=trace_message, on_step=_DemoPrinter(out, quiet=as_json).step)
    if as_json:
        echo_json(result.as_dict())
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
