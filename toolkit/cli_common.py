"""What every `attio-sync` command shares: settings, the cache, the client, output, errors.

Command modules (`cli.py`, `cli_sync.py`, ...) import these; none of them imports another
command module, so any of them can be imported first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console

from .cache import Cache, open_cache
from .client import AttioClient
from .config import Settings
from .errors import AttioSyncError, AuthError, LeaseHeldError, RetryableApiError, TransportError

__all__ = ["Cli", "connection_options", "console", "explain", "load_settings", "make_client",
           "open_settings_cache", "run"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
SETTINGS = "attio_sync.settings"


class Cli(click.Group):
    """A group that turns our errors into one line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AttioSyncError as exc:
            raise click.ClickException(explain(exc, ctx.meta.get(SETTINGS))) from exc


def explain(exc: AttioSyncError, settings: Settings | None = None) -> str:
    """One line (or a few) that says what went wrong and what to do about it."""
    where = settings.base_url if settings else "Attio"
    if isinstance(exc, TransportError):
        return (f"cannot reach {where}: {exc.message}. Check ATTIO_BASE_URL (or --base-url) and "
                "the network, then try again.")
    if isinstance(exc, AuthError) and exc.status == 401:
        return (f"Attio refused the API key ({exc.code or 401}: {exc.message}). Check ATTIO_API_KEY "
                "or --api-key.")
    if isinstance(exc, AuthError):
        return (f"the API key may not do {exc.method} {exc.path} ({exc.status} {exc.code}: {exc.message}). "
                "Give the key the scopes record_permission:read-write, object_configuration:read "
                "and user_management:read in Attio under Workspace settings > Developers.")
    if isinstance(exc, LeaseHeldError):
        return f"{exc}. Wait for it to finish, or pass --wait SECONDS to wait longer."
    if isinstance(exc, RetryableApiError):
        return (f"Attio did not answer successfully ({exc}) after retrying; it may be down or "
                "rate-limiting. Try again later.")
    return str(exc)


def console() -> Console:
    """Rich output; when piped, wide enough that tables do not wrap slugs mid-word."""
    out = Console()
    return out if out.is_terminal else Console(width=200)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def connection_options(func: F) -> F:
    """--api-key, --base-url and --db; each falls back to its ATTIO_* variable."""
    func = click.option("--db", "database", metavar="PATH_OR_URL",
                        help="Cache database: a path or SQLAlchemy URL [env ATTIO_SYNC_DB; default ./attio-sync.db].")(func)
    func = click.option("--base-url", metavar="URL",
                        help="Attio's origin [env ATTIO_BASE_URL; default https://api.attio.com].")(func)
    func = click.option("--api-key", metavar="KEY", help="Attio API key [env ATTIO_API_KEY].")(func)
    return func


def load_settings(ctx: click.Context, /, **options: Any) -> Settings:
    settings = Settings.load(**{k: v for k, v in options.items() if v is not None})
    ctx.meta[SETTINGS] = settings  # meta is shared by the whole context chain: Cli reads it
    return settings


def make_client(ctx: click.Context, /, settings: Settings) -> AttioClient:
    """The client for a command. An httpx transport in the root context's `obj`
    (``cli.main(obj={"transport": ...})``) replaces the network: the demo's in-process
    sandbox and the CLI tests use it."""
    obj = ctx.find_root().obj
    transport = obj.get("transport") if isinstance(obj, dict) else None
    return AttioClient.from_settings(settings, transport=transport)


def open_settings_cache(ctx: click.Context, /, settings: Settings) -> Cache:
    cache = open_cache(settings.database)
    ctx.call_on_close(cache.close)
    return cache
