"""Shared fixtures: a clean environment, the anyio backend, real databases (SQLite, and
PostgreSQL when `ATTIO_SYNC_TEST_PG` names one: see tests/databases.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import PG_HINT, PG_URL, PostgresServer
from sandbox_fixtures import ALL_OBJECTS, Harness, MakeSandbox

from toolkit.cache import Cache, open_cache
from toolkit.sandbox import SandboxApp, SandboxConfig, create_app
from toolkit.schema import WorkspaceSchema

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ATTIO_* variables (nor sends their key anywhere)."""
    import os

    for name in list(os.environ):
        if name.startswith("ATTIO_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def close_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every `Cache` a test opened is closed after it: a PostgreSQL connection left for the
    garbage collector warns (and warnings are errors here)."""
    opened: list[Cache] = []
    real_init = Cache.__init__

    def tracked_init(self: Cache, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Cache, "__init__", tracked_init)
    yield
    for cache in opened:
        cache.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """A database file for CLI tests."""
    return tmp_path / "attio-sync.db"


# -- databases: SQLite, and PostgreSQL when one is configured ---------------------------------

DATABASES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The configured PostgreSQL server (skips the test when there is none)."""
    if PG_URL is None:
        pytest.skip(f"PostgreSQL: {PG_HINT}")
    server = PostgresServer(PG_URL)
    yield server
    server.close()


def _database(request: pytest.FixtureRequest, folder: Path, *, migrated: bool = True) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(folder / "test.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name, url = server.create(migrated=migrated)
    try:
        yield url
    finally:
        server.drop(name)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database for `open_cache`: a SQLite file path (migrated when first opened),
    or the URL of a migrated PostgreSQL database, dropped after the test."""
    yield from _database(request, tmp_path)


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`database_url`, never migrated (for the migration tests)."""
    yield from _database(request, tmp_path, migrated=False)


@pytest.fixture(scope="module", params=DATABASES)
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`database_url` for a module's shared fixture."""
    yield from _database(request, tmp_path_factory.mktemp("db"))


@pytest.fixture
def fresh_cache(database_url: str) -> Iterator[Cache]:
    """A migrated cache, on SQLite (a real file) and on PostgreSQL."""
    cache = open_cache(database_url)
    yield cache
    cache.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests ran on PostgreSQL, or that they were skipped and how to run them.

    The skips for want of a server fold into one line of `-ra`'s summary (not one per test).
    """
    outcomes: dict[str, str] = {}
    for key in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(key, []):
            if "postgres" in getattr(report, "keywords", {}) and (report.when == "call" or report.outcome != "passed"):
                outcomes.setdefault(report.nodeid, report.outcome)
                if report.skipped and isinstance(report.longrepr, tuple) and PG_HINT in str(report.longrepr[2]):
                    report.longrepr = (str(Path(__file__).with_name("databases.py")), None, report.longrepr[2])
    if not outcomes:
        return
    skipped = sum(1 for outcome in outcomes.values() if outcome == "skipped")
    if PG_URL is None:
        terminalreporter.write_line(f"PostgreSQL: {skipped} tests skipped ({PG_HINT})", yellow=True, bold=True)
        return
    ran = len(outcomes) - skipped
    also = f", {skipped} skipped" if skipped else ""
    terminalreporter.write_line(f"PostgreSQL: {ran} tests ran on PostgreSQL{also}", green=True)


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """A factory: ``make_sandbox(config=None, schema=None, *, app=None)``; all objects activated
    by default; pass a ready `app` to control its clocks."""
    made: list[Harness] = []

    def make(
        config: SandboxConfig | None = None,
        schema: WorkspaceSchema | None = None,
        *,
        app: SandboxApp | None = None,
        **kwargs: Any,
    ) -> Harness:
        if app is None:
            if config is None:
                kwargs.setdefault("activate", ALL_OBJECTS)
                config = SandboxConfig(**kwargs)
            app = create_app(config, schema)
        harness = Harness(app)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
    for harness in made:
        harness.check_conformance()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Harness:
    """A sandbox with users, workspaces and deals activated."""
    return make_sandbox()


# -- scheduling: the long tests first, one per worker ----------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deal the tests marked `slow` (longest first) to the heads of the parts xdist's worksteal
    scheduler gives each worker, so each starts at once on a worker of its own and the rest of
    the suite fills the time beside it, instead of a minute-long test starting last.

    worksteal hands worker k the k-th of n contiguous parts of the collection (sizes as below);
    every worker collects the same order, as xdist requires.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [item for item in items if item.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    slow.sort(key=lambda item: -float(item.get_closest_marker("slow").kwargs.get("seconds", 0)))  # type: ignore[union-attr]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for number, item in enumerate(slow):
        shares[number % workers].append(item)
    ordered: list[pytest.Item] = []
    left = len(items)
    for k in range(workers):
        size = left // (workers - k)  # what worksteal sends worker k
        take = max(0, size - len(shares[k]))
        ordered += shares[k] + rest[:take]
        rest = rest[take:]
        left -= size
    items[:] = ordered + rest
