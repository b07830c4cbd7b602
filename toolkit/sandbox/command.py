"""`attio-sync sandbox`: serve the sandbox on 127.0.0.1 and say how to point the toolkit at it.

`toolkit.cli.COMMANDS` names it (through `toolkit.cli.sandbox`); it only parses options, builds
a `SandboxApp` with the library functions, and hands it to uvicorn.
"""

from __future__ import annotations

import dataclasses
import errno
import secrets
import socket
from pathlib import Path
from typing import Any

import click

from ..config import DB_HELP
from ..errors import AttioSyncError
from .app import SandboxApp, quiet_deliberate_drops
from .config import FaultSpec, SandboxConfig
from .seed import SeedError, config_from_seed, from_schema_dict, read_seed_file

__all__ = ["build_app", "sandbox"]

HOST = "127.0.0.1"  # never anything else: the sandbox has one token and no TLS


def _activate(_ctx: click.Context, _param: click.Parameter, value: str | None) -> frozenset[str]:
    names = frozenset(v.strip() for v in (value or "").split(",") if v.strip())
    unknown = names - {"users", "workspaces", "deals"}
    if unknown:
        raise click.BadParameter(f"only users, workspaces and deals can be activated, not {', '.join(sorted(unknown))}")
    return names


def _faults(_ctx: click.Context, _param: click.Parameter, value: str | None) -> FaultSpec:
    try:
        return FaultSpec.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def build_app(
    config: SandboxConfig,
    *,
    seed: Path | None = None,
    cache_url: str | None = None,
    company_from_email: bool | None = None,
) -> SandboxApp:
    """The app `attio-sync sandbox` serves: the standard schema, a seed file's, or a pulled one.

    Args:
        config: the sandbox settings.
        seed: a TOML or JSON seed file; its ``[workspace]`` behaviour settings
            (``company_from_email``, ``free_mail_domains``) override `config`'s.
        cache_url: a database URL whose newest pulled schema is served instead.
        company_from_email: the command line's choice, which wins over the seed's; None: not given.

    Raises:
        SeedError: the seed file cannot be used.
        AttioSyncError: the cache cannot be read (`CacheError`, `SchemaError`).
    """
    flag: dict[str, Any] = {} if company_from_email is None else {"company_from_email": company_from_email}
    if cache_url is not None:
        from ..cache import load_schema  # imported late: the cache pulls in SQLAlchemy and alembic

        config = dataclasses.replace(config, **flag)
        return SandboxApp(config, from_schema_dict(load_schema(cache_url).as_dict(), config))
    if seed is not None:
        data = read_seed_file(seed)
        config = dataclasses.replace(config_from_seed(data, config), **flag)
        return SandboxApp(config, from_schema_dict(data, config))
    return SandboxApp(dataclasses.replace(config, **flag))


@click.command(name="sandbox")
@click.option("--port", default=8711, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
@click.option("--seed", "seed", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML or JSON seed: custom objects, attributes, options, statuses, members.")
@click.option("--from-cache", is_flag=True, help="Serve the schema last pulled into the local cache.")
@click.option("--db", envvar="ATTIO_SYNC_DB", default="./attio-sync.db", metavar="PATH_OR_URL",
              help=f"With --from-cache. {DB_HELP}")
@click.option("--activate", callback=_activate, default="", metavar="users,workspaces,deals",
              help="Activate these optional standard objects.")
@click.option("--read-rate", default=100, show_default=True, type=click.IntRange(0),
              help="Reads allowed per second (0: no limit).")
@click.option("--write-rate", default=25, show_default=True, type=click.IntRange(0),
              help="Writes allowed per second (0: no limit).")
@click.option("--faults", callback=_faults, metavar="SPEC",
              help='Share of failures, e.g. "429=0.2,500=0.05,503=0.05,drop_before=0.02,drop_after=0.03,slow=0.1:0.5".')
@click.option("--fault-seed", default=0, show_default=True, help="Seed of the fault draws.")
@click.option("--latency", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Seconds every answer waits, to feel like a network.")
@click.option("--token", help="The token to accept (default: a new random one).")
@click.option("--phone-validation", type=click.Choice(["possible", "valid"]), default="possible", show_default=True,
              help="How strictly phone numbers are checked: by length, or against the real numbering plan.")
@click.option("--company-from-email/--no-company-from-email", default=None,
              help="Whether a new person brings the company of their email domain, as in Attio "
                   "(default: on, unless the seed file's [workspace] company_from_email says otherwise).")
def sandbox(
    port: int,
    seed: Path | None,
    from_cache: bool,
    db: str,
    activate: frozenset[str],
    read_rate: int,
    write_rate: int,
    faults: FaultSpec,
    fault_seed: int,
    latency: float,
    token: str | None,
    phone_validation: str,
    company_from_email: bool | None,
) -> None:
    """Serve a local Attio API (in memory) on 127.0.0.1 to rehearse a sync.

    \b
    Examples:
      attio-sync sandbox --activate users,workspaces
      attio-sync sandbox --from-cache --faults "429=0.1,drop_after=0.02"
      attio-sync sandbox --seed seed.toml --no-company-from-email
    """
    if seed is not None and from_cache:
        raise click.UsageError("--seed and --from-cache each choose the schema; pass one of them")
    config = SandboxConfig(
        token=token or secrets.token_hex(32),
        activate=activate,
        read_rate=read_rate or None,
        write_rate=write_rate or None,
        faults=faults,
        fault_seed=fault_seed,
        latency=latency,
        phone_validation=phone_validation,  # type: ignore[arg-type]
    )
    try:
        if from_cache:
            from ..config import database_url

            app = build_app(config, cache_url=database_url(db), company_from_email=company_from_email)
        else:
            app = build_app(config, seed=seed, company_from_email=company_from_email)

    except (SeedError, AttioSyncError) as exc:
        raise click.ClickException(str(exc)) from exc
    _serve(app, port)


def _listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:`port` (as uvicorn binds it), or one line saying to pick
    another port: taken before the banner, so a key is never printed for a server that
    cannot start."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {port} is in use: pass --port N") from exc
        raise click.ClickException(f"cannot listen on {HOST}:{port} ({exc.strerror or exc}): pass --port N") from exc
    return sock


def _serve(app: SandboxApp, port: int) -> None:
    """Bind the port (or say to pick another), then print where to point attio-sync, and serve."""
    import uvicorn

    with _listen(port) as sock:
        base_url = f"http://{HOST}:{port}"
        objects = ", ".join(o.api_slug for o in app.catalog.schema.objects)
        click.echo(f"Attio sandbox: {base_url}  (objects: {objects})")
        click.echo(f"  export ATTIO_BASE_URL={base_url}")
        click.echo(f"  export ATTIO_API_KEY={app.config.token}")
        click.echo("Ctrl+C stops it; everything written is forgotten.")
        quiet_deliberate_drops()
        server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
        server.run(sockets=[sock])
