"""`attio-sync check`: a mapping file against the cached schema (and a sample of events)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..errors import SchemaError
from ..mapping import default_mapping, load_mapping
from ..preflight import check_events, check_mapping, sample_events, sort_findings
from ..pull import PullResult, pull_schema
from ..schema import WorkspaceSchema
from .common import connection_options, load_settings, make_client, open_settings_cache, run
from .render import console

__all__ = ["check_command"]


@click.command("check")
@click.argument("mapping_file", required=False, metavar="[MAPPING]",
                type=click.Path(dir_okay=False, path_type=str))
@click.option("--events", "events_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="Also try the mapping on a sample of events (JSON lines): presence and validity per field.")
@click.option("--pull", is_flag=True, help="Pull the schema from Attio first (needs an API key).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@connection_options
@click.pass_context
def check_command(ctx: click.Context, /, mapping_file: str | None, events_file: str | None, pull: bool,
                  as_json: bool, **options: Any) -> None:
    """Check a MAPPING file against the cached schema before a sync.

    Reports errors (the sync would fail) and warnings (it might), grouped by action, each with
    what to change. Without MAPPING the two default actions are checked. Exit status 1 when
    there is an error.

    \b
    Examples:
      attio-sync check examples/mapping.toml
      attio-sync check examples/mapping.toml --events examples/events-sample.jsonl
      attio-sync check mapping.toml --pull --json
    """
    settings = load_settings(ctx, **options)
    mapping = load_mapping(mapping_file) if mapping_file else default_mapping()
    cache = open_settings_cache(ctx, settings, read_only=not pull)
    if pull:
        async def refresh() -> PullResult:
            async with make_client(ctx, settings) as client:
                return await pull_schema(client, cache)

        run(refresh())
    try:
        snapshot: WorkspaceSchema | None = cache.load_schema()
    except SchemaError:
        snapshot = None
    pulls = cache.pulls(1)
    pulled_at = pulls[0].finished_at if pulls else None
    findings = check_mapping(mapping, snapshot, pulled_at=pulled_at)
    report = None
    if events_file:
        report = check_events(mapping, snapshot, sample_events(events_file))
        findings = sort_findings([*findings, *report.findings()])
    errors = sum(1 for f in findings if f.level == "error")
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2, ensure_ascii=False))
        ctx.exit(1 if errors else 0)
    out = console()
    count = len(mapping.actions)
    out.print(f"Checked {mapping.label} ({count} action{'s' * (count != 1)}) against "
              + (f"the schema pulled {pulled_at:%Y-%m-%d %H:%M} UTC" if pulled_at else "no cached schema"),
              highlight=False, markup=False)
    groups: dict[str, list[Any]] = {}
    for finding in findings:
        groups.setdefault(finding.action, []).append(finding)
    for action, found in groups.items():
        table = Table("level", "field", "message", "hint", title=action, title_justify="left")
        for f in found:
            style = "red" if f.level == "error" else "yellow"
            table.add_row(f"[{style}]{f.level}[/]", escape(f.field), escape(f.message), escape(f.hint or ""))
        out.print(table)
    if report is not None:
        table = Table("action", "field", "from", "taken", "present", "valid", "failing lines",
                      title=f"{events_file}: {report.lines} lines, {report.not_objects} not events",
                      title_justify="left")
        for tally in report.fields:
            failing = (", ".join(str(n) for n, _ in tally.failing)
                       + (" ..." if tally.failed > len(tally.failing) else ""))
            table.add_row(escape(tally.action), escape(tally.field), escape(tally.source), str(tally.taken),
                          str(tally.present), "-" if tally.valid is None else str(tally.valid), failing)
        out.print(table)
        for event_type, count in report.untaken.items():
            out.print(f"{count} {event_type} events taken by no action", highlight=False, markup=False)
    warnings = len(findings) - errors
    out.print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}", highlight=False)
    ctx.exit(1 if errors else 0)
