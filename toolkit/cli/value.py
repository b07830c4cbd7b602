"""`attio-sync value`: one value checked against an attribute of the cached schema."""

from __future__ import annotations

import json

import click

from ..snapshot import read_newest_schema
from ..values import ValueOptions, check_value
from .common import db_option, load_settings, open_settings_cache
from .render import console

__all__ = ["value_command"]


@click.command("value")
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
    # Straight from a current SQLite file (no SQLAlchemy: a third of a second less at every
    # call); any other database, or one that must be created or upgraded, through the cache.
    snapshot = read_newest_schema(settings.database)
    if snapshot is None:
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
