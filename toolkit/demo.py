"""The demo: the whole main job against an in-process sandbox, with no account and no network.

`run_demo` starts a sandbox inside this process (the example seed: users and workspaces
activated, a select `plan`, a date, the standard phone numbers), pulls its schema into a fresh
database, checks the example mapping, syncs the example events, and returns the run's history
summary and one event's trace. Requests go through `SandboxTransport`, so nothing leaves the
process. `attio-sync demo` prints each step as it happens (`on_step`).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backoff import BackoffPolicy
from .cache import Cache, open_cache
from .client import AttioClient
from .errors import ConfigError
from .events import read_events
from .history import EventFilter, RunSummary, Trace, find_events, run_summary, trace
from .mapping import EventMapping, load_mapping
from .preflight import Finding, check_mapping
from .pull import PullResult, pull_schema
from .sandbox import (
    FaultSpec,
    SandboxApp,
    SandboxConfig,
    SandboxTransport,
    create_app,
    load_seed_file,
)
from .sync import SyncResult, run_sync

__all__ = ["DEMO_BASE_URL", "DemoFiles", "DemoResult", "find_examples", "run_demo"]

#: The origin the demo's records and record state are kept under. Never resolved: every
#: request goes to the in-process sandbox through its transport.
DEMO_BASE_URL = "http://sandbox.localhost"
#: A little weather, so the history shows retries at work (a fixed seed: the same every time).
DEMO_FAULTS = "429=0.03,503=0.01"


@dataclass(frozen=True)
class DemoFiles:
    """The three example files the demo reads."""

    seed: Path
    mapping: Path
    events: Path


def find_examples(root: Path | None = None) -> DemoFiles:
    """The example files under ``./examples``, else next to the package (a source checkout).

    Raises:
        ConfigError: neither place has them (an installed wheel ships no examples).
    """
    candidates = [root] if root is not None else [Path.cwd(), Path(__file__).resolve().parents[1]]
    for base in candidates:
        files = DemoFiles(base / "examples" / "sandbox-seed.toml", base / "examples" / "mapping.toml",
                          base / "examples" / "events.jsonl")
        if all(p.is_file() for p in (files.seed, files.mapping, files.events)):
            return files
    raise ConfigError([("the demo needs examples/sandbox-seed.toml, examples/mapping.toml and "
                        "examples/events.jsonl: run it from a checkout of attio-sync (`make demo`)")])


@dataclass
class DemoResult:
    """Every step's result, for printing or for a test to hold."""

    database: str
    files: DemoFiles
    pull: PullResult
    findings: list[Finding]
    sync: SyncResult
    summary: RunSummary
    trace: Trace
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database, "seconds": round(self.seconds, 3),
                "mapping": str(self.files.mapping), "events": str(self.files.events),
                "pull": {"objects": self.pull.attribute_counts(), "requests": self.pull.requests},
                "findings": [f.as_dict() for f in self.findings], "sync": self.sync.as_dict(),
                "summary": self.summary.as_dict(), "trace": self.trace.as_dict()}


StepHook = Callable[[str, Any], None]


def sandbox_app(seed: Path) -> SandboxApp:
    """The demo's sandbox: the example seed, its limits off (the client's own limiter still
    paces requests), a little injected weather, stable record ids."""
    config = SandboxConfig(activate=frozenset({"users", "workspaces"}), read_rate=None, write_rate=None,
                           faults=FaultSpec.parse(DEMO_FAULTS), fault_seed=1, id_seed=1)
    return create_app(config, load_seed_file(seed, config))


def _client(app: SandboxApp) -> AttioClient:
    # Fast backoff: the sandbox's 429s and 503s are retried in milliseconds, not seconds.
    return AttioClient(app.config.token, base_url=DEMO_BASE_URL, transport=SandboxTransport(app),
                       read_rate=2000, write_rate=2000,
                       policy=BackoffPolicy(max_attempts=6, base=0.005, cap=0.05, retry_after_cap=0.05))


def run_demo(database: str, *, files: DemoFiles | None = None, trace_message: str | None = None,
             on_step: StepHook | None = None, concurrency: int = 16) -> DemoResult:
    """Run the demo into `database` (a path or URL of a new, empty database).

    Args:
        database: where the schema and the audit log go.
        files: the seed, mapping and events (default: `find_examples()`).
        trace_message: the messageId to trace (default: the first event synced).
        on_step: called with (step name, its result) after each step: ``pull``, ``check``,
            ``sync``, ``summary``, ``trace``.
        concurrency: events in flight at once.

    Raises:
        ConfigError: the examples are missing, the database already holds runs, or the mapping
            has errors against the sandbox's schema.
    """
    started = time.monotonic()
    files = files or find_examples()
    mapping = load_mapping(files.mapping)
    cache = open_cache(database)
    try:
        with cache.session() as session:
            from sqlmodel import select

            from .models import Run

            if session.exec(select(Run.id).limit(1)).first() is not None:
                raise ConfigError([(f"{cache.url} already holds runs; the demo starts from an empty database "
                                    "(leave out --db, or name a new file)")])
        result = asyncio.run(_demo(cache, files, mapping, trace_message, on_step or (lambda step, value: None),
                                   concurrency))
    finally:
        cache.close()
    result.seconds = time.monotonic() - started
    return result


async def _demo(cache: Cache, files: DemoFiles, mapping: EventMapping, trace_message: str | None, step: StepHook,
                concurrency: int) -> DemoResult:
    app = sandbox_app(files.seed)
    async with _client(app) as client:
        pulled = await pull_schema(client, cache)
        step("pull", pulled)
        findings = check_mapping(mapping, pulled.schema, pulled_at=pulled.pull.finished_at)
        step("check", findings)
        errors = [f for f in findings if f.level == "error"]
        if errors:
            raise ConfigError([f"{files.mapping} does not fit the sandbox's schema: "
                               + "; ".join(f"{f.action}: {f.field}: {f.message}" for f in errors)])
        data = files.events.read_bytes()
        synced = await run_sync(cache, pulled.schema, mapping, read_events(io.BytesIO(data)), client=client,
                                input=str(files.events), concurrency=concurrency)
        step("sync", synced)
    summary = run_summary(cache, synced.run_id)
    step("summary", summary)
    if trace_message is None:
        first = find_events(cache, EventFilter(run_id=synced.run_id, statuses=("synced",)), limit=1)
        trace_message = first[0].message_key if first else None
    if trace_message is None:
        raise ConfigError(["no event was synced, so there is nothing to trace"])
    traced = trace(cache, trace_message)
    step("trace", traced)
    return DemoResult(cache.url, files, pulled, findings, synced, summary, traced, 0.0)
