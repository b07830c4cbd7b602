"""attio-sync: keep an Attio workspace in step with identify and group events.

The library is the product; the `attio-sync` command is a thin client of it::

    import asyncio
    from toolkit import AttioClient, Settings, open_cache, pull_schema

    settings = Settings.load()                      # flags > ATTIO_* env > defaults
    cache = open_cache(settings.database)           # creates and migrates the database
    async def main():
        async with AttioClient.from_settings(settings) as client:
            return await pull_schema(client, cache)
    result = asyncio.run(main())
    schema = cache.load_schema()                    # a WorkspaceSchema
    prepared = prepare_slug("+15558675309", "people", "phone_numbers", schema)
    findings = check_mapping(load_mapping("examples/mapping.toml"), schema)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The names below are imported on first use (PEP 562), not with the package: `attio-sync
# --version` and `--help` import `toolkit`, and would otherwise wait for SQLAlchemy, alembic
# and httpx. `_EXPORTS` says where each name lives; the imports under TYPE_CHECKING give type
# checkers the same names (tests/test_cli_layout.py checks that the two agree).
if TYPE_CHECKING:
    from .audit import AuditLog
    from .cache import Cache, load_schema, open_cache
    from .client import Attempt, AttioClient
    from .config import Settings
    from .errors import (
        ApiError,
        AttioSyncError,
        ConfigError,
        FatalApiError,
        InvalidInputError,
        RetryableApiError,
        SchemaError,
    )
    from .events import InputEvent, read_events
    from .mapping import EventMapping, default_mapping, load_mapping, parse_mapping
    from .plan import EventPlan, plan_event
    from .preflight import Finding, check_mapping
    from .pull import PullResult, fetch_schema, pull_schema
    from .schema import WorkspaceSchema
    from .schema_diff import Change, diff_schemas
    from .sync import SyncResult, run_sync
    from .values import Prepared, ValueOptions, check_value, prepare, prepare_record, prepare_slug

__all__ = [
    "ApiError",
    "Attempt",
    "AttioClient",
    "AttioSyncError",
    "AuditLog",
    "Cache",
    "Change",
    "ConfigError",
    "EventMapping",
    "EventPlan",
    "FatalApiError",
    "Finding",
    "InputEvent",
    "InvalidInputError",
    "Prepared",
    "PullResult",
    "RetryableApiError",
    "SchemaError",
    "Settings",
    "SyncResult",
    "ValueOptions",
    "WorkspaceSchema",
    "check_mapping",
    "check_value",
    "default_mapping",
    "diff_schemas",
    "fetch_schema",
    "load_mapping",
    "load_schema",
    "open_cache",
    "parse_mapping",
    "plan_event",
    "prepare",
    "prepare_record",
    "prepare_slug",
    "pull_schema",
    "read_events",
    "run_sync",
]

_EXPORTS: dict[str, str] = {
    "AuditLog": "audit",
    "Cache": "cache", "load_schema": "cache", "open_cache": "cache",
    "Attempt": "client", "AttioClient": "client",
    "Settings": "config",
    "ApiError": "errors", "AttioSyncError": "errors", "ConfigError": "errors", "FatalApiError": "errors",
    "InvalidInputError": "errors", "RetryableApiError": "errors", "SchemaError": "errors",
    "InputEvent": "events", "read_events": "events",
    "EventMapping": "mapping", "default_mapping": "mapping", "load_mapping": "mapping", "parse_mapping": "mapping",
    "EventPlan": "plan", "plan_event": "plan",
    "Finding": "preflight", "check_mapping": "preflight",
    "PullResult": "pull", "fetch_schema": "pull", "pull_schema": "pull",
    "WorkspaceSchema": "schema",
    "Change": "schema_diff", "diff_schemas": "schema_diff",
    "SyncResult": "sync", "run_sync": "sync",
    "Prepared": "values", "ValueOptions": "values", "check_value": "values", "prepare": "values",
    "prepare_record": "values", "prepare_slug": "values",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # asked once: the next time is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
