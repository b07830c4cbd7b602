"""Shared fixtures: a clean environment, the anyio backend, real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.cache import Cache, open_cache

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
