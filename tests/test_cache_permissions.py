"""The database holds emails and raw events: a new one is readable by its owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.cache import open_cache
from toolkit.errors import CacheError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask that a test sets."""
    old = os.umask(0o022)
    os.umask(old)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000, 0o077, 0o277], ids=oct)
def test_a_new_database_and_its_wal_and_shm_files_are_owner_only(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    db = tmp_path / "new.db"
    cache = open_cache(str(db))
    try:
        with cache.engine.connect() as connection:  # an open connection keeps -wal and -shm on disk
            connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO probe VALUES (1)")
            connection.commit()
            wal, shm = db.with_name("new.db-wal"), db.with_name("new.db-shm")
            assert wal.exists() and shm.exists()
            assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        cache.close()


def test_a_new_database_in_a_new_folder_is_owner_only(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    db = tmp_path / "a" / "b" / "audit.db"
    open_cache(str(db)).close()
    assert mode(db) == 0o600


def test_an_existing_database_keeps_the_permissions_its_owner_gave_it(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    db = tmp_path / "shared.db"
    open_cache(str(db)).close()
    db.chmod(0o644)  # the user chose to share it
    cache = open_cache(str(db))
    with cache.engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
        connection.commit()
        assert mode(db) == 0o644 and mode(db.with_name("shared.db-wal")) == 0o644
    cache.close()
    assert mode(db) == 0o644


def test_a_database_given_as_a_url_is_owner_only_too(tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    db = tmp_path / "url.db"
    open_cache(f"sqlite:///{db}").close()
    assert mode(db) == 0o600


def test_an_in_memory_database_creates_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (":memory:", "sqlite://", "sqlite:///:memory:"):
        open_cache(url).close()
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="cannot create the database .*--db or ATTIO_SYNC_DB"):
        open_cache(str(blocker / "audit.db"))


def test_a_folder_that_cannot_be_made_names_the_file_in_the_way(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for path in (blocker / "audit.db", blocker / "deeper" / "audit.db"):
        with pytest.raises(CacheError, match=f"{blocker} is a file, not a folder"):
            open_cache(str(path))


READER = """
import sys
from sqlalchemy import text
from toolkit.cache import open_cache
from toolkit.errors import CacheError

cache = open_cache(sys.argv[1], read_only=True)
print("reads:", len(cache.pulls()))
try:
    with cache.session() as session:
        session.execute(text("CREATE TABLE probe (x INTEGER)"))
except CacheError as exc:
    print("writes:", exc)
cache.close()
try:
    open_cache(sys.argv[1])
except CacheError as exc:
    print("opening to write:", exc)
"""


def test_a_database_this_user_may_not_write_opens_read_only(tmp_path: Path) -> None:
    """As root (who may write anything) the reader runs without that power, through setpriv."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "read-only"
    folder.mkdir()
    db = folder / "audit.db"
    open_cache(str(db)).close()
    db.chmod(0o444)
    folder.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            folder.chmod(0o755)
            pytest.skip("root writes any file, and setpriv (to drop that power) is absent")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", READER, str(db)], capture_output=True, text=True,
                              timeout=60)
    finally:
        folder.chmod(0o755)
    if done.returncode != 0 and done.stderr.startswith("setpriv"):
        pytest.skip(f"setpriv cannot drop the capability here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "reads: 0" in done.stdout
    assert "writes: database sqlite:///" in done.stdout and "is read-only (attempt to write a readonly database)" \
        in done.stdout
    assert "opening to write: the database sqlite:///" in done.stdout and "is read-only" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["audit.db"]
