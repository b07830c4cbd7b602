"""Shared fixtures: a clean environment, the anyio backend, real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """A database file for CLI tests."""
    return tmp_path / "attio-sync.db"


@pytest.fixture
def fresh_cache(tmp_path: Path) -> Iterator[Cache]:
    """A migrated SQLite cache on a real file."""
    cache = open_cache(str(tmp_path / "cache.db"))
    yield cache
    cache.close()


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
