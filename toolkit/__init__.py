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

__version__ = "0.1.0"

from .audit import AuditLog  # noqa: E402
from .cache import Cache, load_schema, open_cache  # noqa: E402
from .client import Attempt, AttioClient  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import (  # noqa: E402
    ApiError,
    AttioSyncError,
    ConfigError,
    FatalApiError,
    InvalidInputError,
    RetryableApiError,
    SchemaError,
)
from .events import InputEvent, read_events  # noqa: E402
from .mapping import EventMapping, default_mapping, load_mapping, parse_mapping  # noqa: E402
from .plan import EventPlan, plan_event  # noqa: E402
from .preflight import Finding, check_mapping  # noqa: E402
from .pull import PullResult, fetch_schema, pull_schema  # noqa: E402
from .schema import WorkspaceSchema  # noqa: E402
from .schema_diff import Change, diff_schemas  # noqa: E402
from .sync import SyncResult, run_sync  # noqa: E402
from .values import Prepared, ValueOptions, check_value, prepare, prepare_record, prepare_slug  # noqa: E402

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
