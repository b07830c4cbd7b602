"""The `attio-sync` command: parses options, calls one library function, prints the result."""

from __future__ import annotations

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="attio-sync")
def cli() -> None:
    """Keep an Attio workspace in step with identify and group events."""
