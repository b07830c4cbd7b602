"""`attio-sync serve`: the command around `toolkit.serve.server.serve` (options, logs, signals)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError, SchemaError
from ..mapping import default_mapping, load_mapping
from ..stopping import stop_on_signals
from .common import connection_options, load_settings, make_client, open_settings_cache
from .running import preflight

__all__ = ["WRITE_KEYS_VARIABLE", "serve_command"]

#: Write keys from the environment, comma-separated.
WRITE_KEYS_VARIABLE = "ATTIO_SYNC_WRITE_KEYS"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Loopback by default; anything else is reachable from the network, "
              "so put TLS in front of it.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8712, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--mapping", "mapping_path", metavar="FILE",
              help="EventMapping file (TOML); default: the two default actions.")
@click.option("--write-key", "write_keys", multiple=True, metavar="KEY",
              help=f"A write key senders authenticate with; repeat for several [env {WRITE_KEYS_VARIABLE}, "
              "comma-separated].")
@click.option("--max-queue", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Queued events beyond which senders are answered 503 (they retry).")
@click.option("--schema-refresh", type=click.FloatRange(min=0), default=600.0, show_default=True, metavar="SECONDS",
              help="Pull the schema again this often and re-check the mapping (0: never).")
@click.option("--keep-done", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Keep sent events in the queue this long, so a late retry of one is not queued again; older "
                   "ones are deleted hourly (0: keep them for ever) [default 604800, a week].")
@click.option("--write-rate", type=click.FloatRange(min=0, min_open=True), help="Writes per second [default 25].")
@click.option("--read-rate", type=click.FloatRange(min=0, min_open=True), help="Reads per second [default 100].")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Events in flight at once.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Attempts per request [default 5].")
@click.option("--outage-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="While Attio keeps failing, sending pauses and probes; past this long the run ends and sending "
              "starts again after a pause [env ATTIO_SYNC_OUTAGE_TIMEOUT; default 300].")
@click.option("--no-check", is_flag=True, help="Start even when the pre-flight check finds errors.")
@connection_options
@click.pass_context
def serve_command(ctx: click.Context, /, host: str, port: int, mapping_path: str | None, write_keys: tuple[str, ...],
                  max_queue: int, schema_refresh: float, keep_done: float | None, write_rate: float | None,
                  read_rate: float | None, concurrency: int, max_attempts: int | None, outage_timeout: float | None,
                  no_check: bool, **options: Any) -> None:
    """Receive events live, as Segment, Customer.io and RudderStack libraries send them.

    Speaks their event-collection API (POST /v1/batch, /v1/identify, /v1/group, ...): point a
    library's host at this server and give it one of the write keys. Each event is committed
    to a queue in the database before it is acknowledged, then validated and sent to Attio
    through the same engine as `sync`, and recorded: `history` and `retry` show served events
    like a file's. SIGTERM or Ctrl-C stops accepting, lets events in flight finish, and exits;
    what is still queued is sent at the next start.

    \b
    Example:
      ATTIO_API_KEY=... ATTIO_SYNC_WRITE_KEYS=wk_live_1 attio-sync serve --mapping examples/mapping.toml
    """
    from ..client import Attempt, AttioClient
    from ..serve.server import ServeOptions, paths_served, serve

    keys = _write_keys(write_keys)
    settings = load_settings(ctx, write_rate=write_rate, read_rate=read_rate, max_attempts=max_attempts,
                             outage_timeout=outage_timeout, **options)
    settings.require_key()
    cache = open_settings_cache(ctx, settings)
    mapping = load_mapping(mapping_path) if mapping_path else default_mapping()
    try:
        schema = cache.load_schema()
    except SchemaError:
        click.echo("No schema in the cache yet: it is pulled before sending starts.", err=True)
    else:
        if not no_check:
            preflight(mapping, schema, settings, ctx)
    _log_to_stderr()

    def client_factory(hook: Callable[[Attempt], None]) -> AttioClient:
        return make_client(ctx, settings, on_attempt=hook)

    def listening(url: str) -> None:
        click.echo(f"attio-sync serve: listening on {url} with mapping {mapping.label}")
        click.echo("  " + ", ".join(paths_served()))
        click.echo(f"  database {cache.url}; Attio at {settings.base_url}. Ctrl-C to stop.")
        sys.stdout.flush()

    serve_options = ServeOptions(write_keys=keys, host=host, port=port, max_queue=max_queue,
                                 schema_refresh=schema_refresh or None, concurrency=concurrency)
    if keep_done is not None:
        serve_options = dataclasses.replace(serve_options, keep_done=keep_done or None)

    async def go() -> str:
        stop = asyncio.Event()
        with stop_on_signals(stop) as stopped:
            await serve(cache, mapping, serve_options, client_factory=client_factory, stop=stop,
                        on_listening=listening)
        return stopped.name

    try:
        signal_name = asyncio.run(go())
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except (KeyboardInterrupt, asyncio.CancelledError):  # a second signal: stopped at once
        signal_name = "a second signal"
    from ..serve.inbox import Inbox

    left = Inbox(cache).depth()
    click.echo(f"stopped{' by ' + signal_name if signal_name else ''}: {left} events queued for the next start.",
               err=True)


def _write_keys(given: tuple[str, ...]) -> list[str]:
    keys = [k for k in given if k] or [k.strip() for k in os.environ.get(WRITE_KEYS_VARIABLE, "").split(",")
                                       if k.strip()]
    if not keys:
        raise ConfigError([f"serve needs at least one write key, so that only your senders can send: pass "
                           f"--write-key KEY, or set {WRITE_KEYS_VARIABLE}=key1,key2. Give the same key to the "
                           "library as its write key."])
    return keys


def _log_to_stderr() -> None:
    """The server's log lines (a minute's figures, each change of state) on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("toolkit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
