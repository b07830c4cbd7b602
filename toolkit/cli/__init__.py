"""The `attio-sync` command: parse options, call one library function, print the result.

No logic lives here beyond presentation. Our errors become one clear line on stderr and a
non-zero exit (`common.Cli.invoke`); the hints tell the user what to change.

Each command (or group of commands) is a module of its own, named in `COMMANDS` and imported
only when it runs, so that `attio-sync --version` and `--help` start without SQLAlchemy,
alembic or httpx. No command module imports another: what several share lives in `common`
(the root group, options, settings, the cache and the client, errors), `render` (output) and
`running` (what `sync` and `retry` share). tests/test_cli_layout.py holds both rules.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import Cli, LazyCommand

__all__ = ["COMMANDS", "cli"]

#: Every command: where it lives, and the first paragraph of its help for `attio-sync --help`
#: (a test checks it against the command's own).
COMMANDS: dict[str, LazyCommand] = {
    "check": LazyCommand("toolkit.cli.check:check_command",
                         "Check a MAPPING file against the cached schema before a sync."),
    "demo": LazyCommand("toolkit.cli.demo:demo_command",
                        "Run the whole tool once, with no account and no network."),
    "history": LazyCommand("toolkit.cli.history:history",
                           "Runs, events and requests recorded by `sync` and `retry`: list, trace, export, prune."),
    "retry": LazyCommand("toolkit.cli.retry:retry_command",
                         "Send RUN's failed events again (and with --status, its rejected or invalid ones), from "
                         "the input the run stored, as a new run linked to it."),
    "sandbox": LazyCommand("toolkit.cli.sandbox:sandbox",
                           "Serve a local Attio API (in memory) on 127.0.0.1 to rehearse a sync."),
    "schema": LazyCommand("toolkit.cli.schema:schema",
                          "Pull, show and compare the cached workspace schema."),
    "serve": LazyCommand("toolkit.cli.serve:serve_command",
                         "Receive events live, as Segment, Customer.io and RudderStack libraries send them."),
    "sync": LazyCommand("toolkit.cli.sync:sync_command",
                        "Sync EVENTS (JSON lines, a JSON array, or - for stdin) into Attio."),
    "value": LazyCommand("toolkit.cli.value:value_command",
                         "Check one VALUE against an attribute of the cached schema."),
}


@click.group(cls=Cli, lazy=COMMANDS)
@click.version_option(__version__, prog_name="attio-sync")
def cli() -> None:
    """Keep an Attio workspace in step with identify and group events.

    \b
    Start with:
      attio-sync schema pull      fetch the workspace schema into the local cache
      attio-sync schema show      see what the cache holds
    """
