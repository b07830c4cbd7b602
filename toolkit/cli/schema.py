"""`attio-sync schema pull|show|diff`: the workspace schema, fetched into the cache and shown."""

from __future__ import annotations

import difflib
import json
from typing import Any

import click
from rich.table import Table

from ..pull import PullResult, pull_schema
from ..schema import AttributeInfo, WorkspaceSchema
from ..schema_diff import diff_schemas
from .common import connection_options, db_option, load_settings, make_client, open_settings_cache, run
from .render import console

__all__ = ["schema"]


@click.group("schema")
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
