"""A sync against an in-process sandbox, for the sync tests (import it explicitly)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openapi_check import validate_request
from sandbox_fixtures import assert_log_conforms

from toolkit.backoff import BackoffPolicy
from toolkit.cache import Cache, open_cache
from toolkit.client import AttioClient
from toolkit.events import read_events
from toolkit.mapping import EventMapping, default_mapping, parse_mapping
from toolkit.pull import pull_schema
from toolkit.sandbox import FaultSpec, SandboxApp, SandboxConfig, SandboxTransport, create_app
from toolkit.schema import WorkspaceSchema
from toolkit.sync import SyncResult, run_sync

BASE_URL = "http://127.0.0.1:9"  # loopback: without the in-process transport it is refused


class SyncHarness:
    """A sandbox app, a pulled cache, and `sync(events)` through the real client and `run_sync`.

    `database` is a folder (the cache is `sync.db` in it) or a database path or URL (the
    `database_url` fixture: SQLite or PostgreSQL).
    """

    def __init__(self, database: Path | str, config: SandboxConfig | None = None, *,
                 app: SandboxApp | None = None) -> None:
        self.app = app or create_app(config or SandboxConfig(activate=frozenset({"users", "workspaces"}),
                                                             read_rate=None, write_rate=None))
        self.database = str(database / "sync.db") if isinstance(database, Path) else database
        self.cache: Cache = open_cache(self.database)
        self.schema: WorkspaceSchema = _run(self._pull())

    def inject(self, spec: str, seed: int = 0) -> None:
        """Faults from now on (the schema was pulled without them)."""
        from toolkit.sandbox.faults import FaultInjector

        self.app.faults = FaultInjector(FaultSpec.parse(spec), seed)

    def client(self, **kwargs: Any) -> AttioClient:
        attempts = kwargs.pop("max_attempts", 8)
        kwargs.setdefault("policy", BackoffPolicy(max_attempts=attempts, base=0.001, cap=0.01, retry_after_cap=0.01))
        # The sandbox runs with its limits off here; the client's own limiter is tested apart.
        kwargs.setdefault("read_rate", 5000)
        kwargs.setdefault("write_rate", 5000)
        token = kwargs.pop("token", self.app.config.token)
        return AttioClient(token, base_url=BASE_URL, transport=SandboxTransport(self.app), **kwargs)

    async def _pull(self) -> WorkspaceSchema:
        async with self.client() as client:
            await pull_schema(client, self.cache)
        self.app.clear_log()
        return self.cache.load_schema()

    async def async_sync(self, events: Iterable[Any] | bytes, mapping: EventMapping | str | None = None, *,
                         dry_run: bool = False, concurrency: int = 8, run_options: dict[str, Any] | None = None,
                         **client_options: Any) -> SyncResult:
        if isinstance(mapping, str):
            mapping = parse_mapping(mapping)
        mapping = mapping or default_mapping()
        data = events if isinstance(events, bytes) else "\n".join(
            e if isinstance(e, str) else json.dumps(e) for e in events).encode()
        events_in = read_events(io.BytesIO(data))
        options: dict[str, Any] = {"input": "test", "base_url": BASE_URL, "concurrency": concurrency,
                                   "flush_every": 50, **(run_options or {})}
        if dry_run:
            return await run_sync(self.cache, self.schema, mapping, events_in, **options)
        async with self.client(**client_options) as client:
            return await run_sync(self.cache, self.schema, mapping, events_in, client=client, **options)

    def sync(self, events: Iterable[Any] | bytes, mapping: EventMapping | str | None = None,
             **kwargs: Any) -> SyncResult:
        return _run(self.async_sync(events, mapping, **kwargs))

    # -- reading the sandbox back ---------------------------------------------------------------

    def records(self, obj: str) -> list[dict[str, Any]]:
        return self.app.dump()[obj]

    def find(self, obj: str, slug: str, value: Any) -> dict[str, Any]:
        """The one record whose `slug` has a value whose main field equals `value`."""
        found = [r for r in self.records(obj) if any(value in v.values() for v in r["values"].get(slug, []))]
        assert len(found) == 1, f"{len(found)} {obj} records with {slug} = {value!r}"
        return found[0]

    def outcomes(self, run_id: int | None = None) -> dict[int, tuple[str, str]]:
        """line -> (status, reason) of a run's events (the newest run by default)."""
        from sqlmodel import col, func, select

        from toolkit.models import EventRecord

        with self.cache.session() as session:
            run = run_id or session.exec(select(func.max(EventRecord.run_id))).one()
            rows = session.exec(select(EventRecord).where(col(EventRecord.run_id) == run))
            return {r.line: (r.status, r.reason) for r in rows}

    def writes(self) -> list[tuple[str, str]]:
        return [(e.method, e.path) for e in self.app.log if e.method != "GET" and not e.path.endswith("/query")]

    def conforms(self) -> None:
        """Every request the client sent and every answer the sandbox gave validate against
        Attio's OpenAPI document (the copy in tests/data)."""
        assert_log_conforms(self.app)
        for entry in self.app.log:
            validate_request(entry.method, entry.path, entry.body, entry.query)


def ids(values: list[dict[str, Any]]) -> list[str]:
    return [v["target_record_id"] for v in values]


def record_id(record: dict[str, Any]) -> str:
    return str(record["id"]["record_id"])


def _run(coroutine: Any) -> Any:
    import asyncio

    return asyncio.run(coroutine)
