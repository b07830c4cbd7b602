"""What every `attio-sync` command shares: the root group, settings, the cache, the client, errors.

The root group (`Cli`) loads a command's module only when the command runs: this module is
imported by every `attio-sync` invocation, `--version` included, so it imports neither the
cache (SQLAlchemy, alembic) nor the client (httpx) until a command asks for them.
"""

from __future__ import annotations

import importlib
import os
import select
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from ..config import DB_HELP, Settings
from ..errors import (
    ApiError,
    AttioSyncError,
    AuthError,
    LeaseHeldError,
    MappingError,
    OutageError,
    RetryableApiError,
    TransportError,
)

if TYPE_CHECKING:
    from ..cache import Cache
    from ..client import AttioClient

__all__ = ["Cli", "LazyCommand", "connection_options", "db_option", "explain", "json_option", "load_settings",
           "make_client", "open_settings_cache", "parse_statuses", "run"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
SETTINGS = "attio_sync.settings"
#: Set to show the traceback of an unexpected error instead of its one line.
DEBUG_VARIABLE = "ATTIO_SYNC_DEBUG"


class LazyCommand(NamedTuple):
    """Where a command lives, and what `attio-sync --help` says of it without importing it."""

    #: "module:attribute", e.g. "toolkit.cli.sync:sync_command".
    target: str
    #: The first paragraph of the command's help, on one line (a test checks that they agree).
    summary: str

    def load(self) -> click.Command:
        """Import the command's module and return the command."""
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class Cli(click.Group):
    """The root group: commands loaded when they run, and errors as one line, never a traceback.

    `lazy` names each command's module (see `LazyCommand`); `--help` lists them from their
    summaries alone. Our errors become one line and exit status 1; click's own usage errors
    keep exit status 2. Anything else unexpected is one line too, that says it is a bug to
    report (with ATTIO_SYNC_DEBUG=1, the traceback instead).
    """

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of --help, as click writes it, from the summaries: no command is imported."""
        listed = [(name, self.commands.get(name) or click.Command(name, help=self.lazy[name].summary))
                  for name in self.list_commands(ctx)]
        listed = [(name, command) for name, command in listed if not command.hidden]
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except SystemExit as done:
            # Click exits 1 when the reader of its output went away (`| head`); that is no error.
            if done.code == 1 and _reader_gone():
                raise SystemExit(0) from None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AttioSyncError as exc:
            raise click.ClickException(explain(exc, ctx.meta.get(SETTINGS))) from exc
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader of our output went away (`| head`): not an error. Whatever is still
            # buffered goes nowhere, so that Python's exit does not complain about it either.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except OSError as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"cannot use{where}: {exc.strerror or exc}; check the path and its "
                                       "permissions") from exc
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            what = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise click.ClickException(f"unexpected error ({what}). This is a bug in attio-sync: please report it "
                                       f"with the command you ran ({DEBUG_VARIABLE}=1 shows the traceback)") from exc


def _reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
    except (OSError, ValueError):
        return False
    if fd < 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def explain(exc: AttioSyncError, settings: Settings | None = None) -> str:
    """One line (or a few) that says what went wrong and what to do about it."""
    where = settings.base_url if settings else "Attio"
    # Past the outage timeout, the client's breaker raises an error carrying the last failure:
    # when that was a connection that could not be made, the advice is the same.
    cause = exc if isinstance(exc, TransportError) else getattr(exc, "last", None)
    if isinstance(exc, ApiError) and isinstance(cause, TransportError):
        return (f"cannot reach {where}: {exc.message}. Check ATTIO_BASE_URL (or --base-url) and "
                "the network, then try again.")
    if isinstance(exc, AuthError) and exc.status == 401:
        return (f"Attio refused the API key ({exc.code or 401}: {exc.message}). Check ATTIO_API_KEY "
                "or --api-key.")
    if isinstance(exc, AuthError):
        return (f"the API key may not do {exc.method} {exc.path} ({exc.status} {exc.code}: {exc.message}). "
                "Give the key the scopes record_permission:read-write, object_configuration:read "
                "and user_management:read in Attio under Workspace settings > Developers.")
    if isinstance(exc, OutageError):
        return f"{exc.message}. Attio may be down: run the same command again later."
    if isinstance(exc, LeaseHeldError):
        return f"{exc}. Wait for it to finish, or pass --wait SECONDS to wait longer."
    if isinstance(exc, MappingError) and isinstance(exc.__cause__, OSError):
        return f"{exc}; check the mapping file's path and that it can be read"
    if isinstance(exc, RetryableApiError):
        return (f"Attio did not answer successfully ({exc}) after retrying; it may be down or "
                "rate-limiting. Try again later.")
    return str(exc)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine to the end."""
    import asyncio  # imported late: `attio-sync --version` needs no event loop

    return asyncio.run(coroutine)


def db_option(func: F) -> F:
    """--db, for commands that use only the database (it falls back to ATTIO_SYNC_DB)."""
    return click.option("--db", "database", metavar="PATH_OR_URL", help=DB_HELP)(func)


def connection_options(func: F) -> F:
    """--api-key, --base-url and --db; each falls back to its ATTIO_* variable."""
    func = db_option(func)
    func = click.option("--base-url", metavar="URL",
                        help="Attio's origin [env ATTIO_BASE_URL; default https://api.attio.com].")(func)
    func = click.option("--api-key", metavar="KEY", help="Attio API key [env ATTIO_API_KEY].")(func)
    return func


#: --json, for the commands that print tables otherwise.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def parse_statuses(text: str | None, allowed: tuple[str, ...], hint: str = "--status") -> tuple[str, ...]:
    """A comma-separated list of outcomes, each one of `allowed` (else a usage error, exit 2)."""
    found = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise click.BadParameter(f"unknown status {', '.join(unknown)}; choose from {', '.join(allowed)}",
                                 param_hint=hint)
    return found


def load_settings(ctx: click.Context, /, **options: Any) -> Settings:
    settings = Settings.load(**{k: v for k, v in options.items() if v is not None})
    ctx.meta[SETTINGS] = settings  # meta is shared by the whole context chain: Cli reads it
    return settings


def make_client(ctx: click.Context, /, settings: Settings, **options: Any) -> AttioClient:
    """The client for a command (`options` go to `AttioClient.from_settings`). An httpx
    transport in the root context's `obj` (``cli.main(obj={"transport": ...})``) replaces the
    network: the demo's in-process sandbox and the CLI tests use it."""
    from ..client import AttioClient  # imported late, as the cache below: see the module's docstring

    obj = ctx.find_root().obj
    transport = obj.get("transport") if isinstance(obj, dict) else None
    return AttioClient.from_settings(settings, transport=transport, **options)


def open_settings_cache(ctx: click.Context, /, settings: Settings, *, read_only: bool = False) -> Cache:
    """The database, closed with the command. `read_only` for a command that only reads: then a
    current database this user may not write still opens, read-only (see `toolkit.cache.open_cache`)."""
    from ..cache import open_cache

    cache = open_cache(settings.database, read_only=read_only)
    ctx.call_on_close(cache.close)
    return cache
