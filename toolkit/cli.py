"""The `attio-sync` command: parse options, call one library function, print the result.

No logic lives here beyond presentation. Our errors become one clear line on stderr and a
non-zero exit (`cli_common.Cli.invoke`); the hints tell the user what to change. The helpers
every command shares live in `cli_common`; longer commands have modules of their own
(`cli_sync`), registered at the end of this file.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import click
from rich.table import Table

from . import __version__
from .cli_common import (
    Cli,
    connection_options,
    console,
    db_option,
    load_settings,
    make_client,
    open_settings_cache,
    run,
)
from .pull import PullResult, pull_schema
from .sandbox.command import sandbox as sandbox_command
from .schema import AttributeInfo, WorkspaceSchema
from .schema_diff import diff_schemas
from .values import ValueOptions, check_value


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="attio-sync")
def cli() -> None:
    """Keep an Attio workspace in step with identify and group events.

    \b
    Start with:
      attio-sync schema pull      fetch the workspace schema into the local cache
      attio-sync schema show      see what the cache holds
    """


@cli.group()
def schema() -> None:
    """Pull, show and compare the cached workspace schema."""


@schema.command("pull")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def schema_pull(ctx: click.Context, /, as_json: bool, **options: Any) -> None:
    """Fetch objects, attributes, options, statuses and members into the cache.

    \b
    Example:
      ATTIO_API_KEY=... attio-sync schema pull
    """
    settings = load_settings(ctx, **options)
    cache = open_settings_cache(ctx, settings)

    async def pull() -> PullResult:
        async with make_client(ctx, settings) as client:
            return await pull_schema(client, cache)

    result = run(pull())
    inactive = result.inactive_objects()
    if as_json:
        click.echo(json.dumps({
            "pull_id": result.pull.id,
            "workspace": result.schema.workspace.workspace_name,
            "objects": result.attribute_counts(),
            "options": result.pull.options,
            "statuses": result.pull.statuses,
            "members": result.pull.members,
            "requests": result.requests,
            "seconds": round(result.seconds, 3),
            "inactive": inactive,
        }, indent=2))
        return
    out = console()
    ws = result.schema.workspace
    out.print(f"Pulled [bold]{ws.workspace_name or ws.workspace_id}[/] in {result.seconds:.2f}s "
                  f"({result.requests} requests) into {cache.url}")
    table = Table("object", "attributes", title=None)
    for slug, count in result.attribute_counts().items():
        table.add_row(slug, str(count))
    out.print(table)
    out.print(f"{result.pull.options} select options, {result.pull.statuses} statuses, "
                  f"{result.pull.members} workspace members")
    for slug in ("users", "workspaces"):
        state = "activated" if result.schema.is_activated(slug) else "NOT activated"
        out.print(f"{slug}: {state}")
    for slug, hint in inactive.items():
        out.print(f"[yellow]warning[/]: {slug} is not activated, so {hint}")


@schema.command("show")
@click.argument("object_slug", required=False, metavar="[OBJECT]")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def schema_show(ctx: click.Context, /, object_slug: str | None, as_json: bool, database: str | None) -> None:
    """List the cached objects, or one OBJECT's attributes."""
    settings = load_settings(ctx, database=database)
    snapshot = open_settings_cache(ctx, settings, read_only=True).load_schema()
    if object_slug is None:
        _show_objects(snapshot, as_json)
    else:
        if snapshot.find_object(object_slug) is None:
            close = difflib.get_close_matches(object_slug, [o.api_slug for o in snapshot.objects], n=1)
            guess = f"did you mean {close[0]}? " if close else ""
            raise click.ClickException(
                f"object {object_slug!r} is not in the cached schema: {guess}`attio-sync schema show` lists them; "
                "one not activated yet: activate it in Attio, then run `attio-sync schema pull`")
        _show_attributes(snapshot, object_slug, as_json)


def _show_objects(snapshot: WorkspaceSchema, as_json: bool) -> None:
    rows = [{"api_slug": o.api_slug, "singular_noun": o.singular_noun, "plural_noun": o.plural_noun,
             "attributes": sum(1 for a in snapshot.attributes_of(o.api_slug) if not a.is_archived)}
            for o in snapshot.objects]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("object", "singular", "plural", "attributes")
    for row in rows:
        table.add_row(str(row["api_slug"]), str(row["singular_noun"] or ""), str(row["plural_noun"] or ""),
                      str(row["attributes"]))
    console().print(table)


def _attribute_row(snapshot: WorkspaceSchema, attr: AttributeInfo) -> dict[str, Any]:
    choices = snapshot.options_of(attr) or snapshot.statuses_of(attr)
    return {
        "api_slug": attr.api_slug, "title": attr.title, "type": attr.type,
        "is_multiselect": attr.is_multiselect, "is_unique": attr.is_unique,
        "is_required": attr.is_required, "is_writable": attr.is_writable,
        "is_archived": attr.is_archived,
        "options": [c.title for c in choices if not c.is_archived],
    }


def _show_attributes(snapshot: WorkspaceSchema, object_slug: str, as_json: bool) -> None:
    rows = [_attribute_row(snapshot, a) for a in snapshot.attributes_of(object_slug)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("slug", "title", "type", "multi", "unique", "required", "writable", "archived", "options",
                  title=object_slug)
    mark = {True: "yes", False: ""}
    for row in rows:
        options = ", ".join(row["options"][:6]) + (" ..." if len(row["options"]) > 6 else "")
        table.add_row(row["api_slug"], row["title"], row["type"], mark[row["is_multiselect"]],
                      mark[row["is_unique"]], mark[row["is_required"]], mark[row["is_writable"]],
                      mark[row["is_archived"]], options)
    console().print(table)


@schema.command("diff")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def schema_diff(ctx: click.Context, /, as_json: bool, database: str | None) -> None:
    """List what changed between the last two pulls."""
    settings = load_settings(ctx, database=database)
    cache = open_settings_cache(ctx, settings, read_only=True)
    pulls = cache.pulls(2)
    if len(pulls) < 2:
        raise click.ClickException(
            f"schema diff needs two pulls; the cache has {len(pulls)}. Run `attio-sync schema pull` again later.")
    newer, older = pulls
    changes = diff_schemas(cache.load_schema(older.id), cache.load_schema(newer.id))
    if as_json:
        click.echo(json.dumps({"from_pull": older.id, "to_pull": newer.id,
                               "changes": [c.as_dict() for c in changes]}, indent=2))
        return
    out = console()
    out.print(f"pull {older.id} ({older.finished_at:%Y-%m-%d %H:%M}) -> "
                  f"pull {newer.id} ({newer.finished_at:%Y-%m-%d %H:%M}): {len(changes)} changes")
    if changes:
        table = Table("change", "what", "detail")
        for change in changes:
            table.add_row(change.kind, change.subject, change.detail)
        out.print(table)


@cli.command("value")
@click.argument("target", metavar="OBJECT.ATTRIBUTE")
@click.argument("value", metavar="VALUE")
@click.option("--phone-region", metavar="CC", help="Country for phone numbers written without +, e.g. US.")
@click.option("--nulls", type=click.Choice(["skip", "unset"]), default="skip", show_default=True,
              help="What a null does: nothing, or clear the attribute.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print {ok, value, problems, notes} as JSON.")
@click.pass_context
def value_command(ctx: click.Context, /, target: str, value: str, phone_region: str | None, nulls: str,
                  database: str | None, as_json: bool) -> None:
    """Check one VALUE against an attribute of the cached schema.

    VALUE is read as JSON when it parses as JSON, otherwise as a string. Prints the exact
    write form attio-sync would send, or every problem with a hint. Exit status 1 when the
    value would be refused.

    \b
    Examples:
      attio-sync value people.phone_numbers "+15558675309"
      attio-sync value people.name "Bloggs, Joe"
      attio-sync value people.phone_numbers "020 7946 0958" --phone-region GB
    """
    settings = load_settings(ctx, database=database)
    snapshot = open_settings_cache(ctx, settings, read_only=True).load_schema()
    prepared = check_value(snapshot, target, value,
                           options=ValueOptions(phone_region=phone_region, nulls=nulls))  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(prepared.as_json(), indent=2, ensure_ascii=False))
    else:
        out = console()
        if prepared.ok:
            out.print("[green]ok[/]: would send", highlight=False)
            click.echo(json.dumps(prepared.skip and "nothing (null skipped)" or prepared.value, ensure_ascii=False))
        for problem in prepared.problems:
            out.print(f"[red]problem[/]: {problem}", highlight=False, markup=True)
        for note in prepared.notes:
            out.print(f"note: {note}", highlight=False, markup=False)
        for warning in prepared.warnings:
            out.print(f"[yellow]warning[/]: {warning}", highlight=False)
    ctx.exit(0 if prepared.ok else 1)


@cli.command("check")
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
    from rich.markup import escape

    from .errors import SchemaError
    from .mapping import default_mapping, load_mapping
    from .preflight import check_events, check_mapping, sample_events, sort_findings

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


cli.add_command(sandbox_command)

from .cli_sync import sync_command  # noqa: E402

cli.add_command(sync_command)

from .cli_history import demo_command, history, retry_command  # noqa: E402  (it uses the helpers above)

cli.add_command(history)
cli.add_command(retry_command)
cli.add_command(demo_command)
