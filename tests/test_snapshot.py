"""`toolkit.snapshot`: the newest cached schema read from a SQLite file without SQLAlchemy is the
one `Cache.load_schema` reads; anything else is left to the cache; `value` starts without the
database libraries (issue 16)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from attio_data import workspace
from databases import is_postgres
from sqlalchemy import JSON, Boolean
from sqlmodel import SQLModel

from toolkit.cache import open_cache, utcnow
from toolkit.config import database_url
from toolkit.models import SchemaPull
from toolkit.schema import WorkspaceSchema
from toolkit.snapshot import BOOLEAN_COLUMNS, HEAD_REVISION, JSON_COLUMNS, read_newest_schema

SNAPSHOT_TABLES = ("workspace", "object", "attribute", "select_option", "status", "workspace_member")


def snapshot(**kwargs: bool) -> WorkspaceSchema:
    data = workspace(**kwargs)
    return WorkspaceSchema.from_api(
        self_body=data["self"], objects=data["objects"], attributes=data["attributes"],
        options=[o for listed in data["options"].values() for o in listed],
        statuses=[s for listed in data["statuses"].values() for s in listed],
        members=data["members"])


def new_pull() -> SchemaPull:
    return SchemaPull(started_at=utcnow(), finished_at=utcnow(), base_url="https://api.attio.test")


def test_the_newest_schema_reads_as_the_cache_reads_it(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "cache.db"))
    cache = open_cache(url)
    cache.save_schema(snapshot(deals=False), new_pull())
    cache.save_schema(snapshot(), new_pull())  # the newest, with every kind of row
    expected = cache.load_schema()
    cache.close()
    assert expected.options and expected.statuses and expected.members
    assert any(a.config for a in expected.attributes) and any(a.is_required for a in expected.attributes)
    assert read_newest_schema(url) == expected


def test_its_column_types_are_the_models(tmp_path: Path) -> None:
    """The columns it turns into bools, and from JSON text, are those the models declare so."""
    tables = [SQLModel.metadata.tables[name] for name in SNAPSHOT_TABLES]
    assert {c.name for t in tables for c in t.columns if isinstance(c.type, Boolean)} == BOOLEAN_COLUMNS
    assert {c.name for t in tables for c in t.columns if isinstance(c.type, JSON)} == JSON_COLUMNS


def test_it_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    cache = open_cache(str(db))
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert read_newest_schema(database_url(str(db))) is not None
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_whatever_it_cannot_read_plainly_is_left_to_the_cache(tmp_path: Path, database_url: str) -> None:
    """Another database, a file that does not exist (not created here), one to upgrade, one
    with no schema yet, one that is no database: None, and `toolkit.cache` says what to do."""
    if is_postgres(database_url):
        open_cache(database_url).close()
        assert read_newest_schema(database_url) is None
        return
    missing = tmp_path / "missing.db"
    assert read_newest_schema(f"sqlite:///{missing}") is None
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    open_cache(str(empty)).close()
    assert read_newest_schema(f"sqlite:///{empty}") is None  # no pull yet
    cache = open_cache(str(empty))
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    assert read_newest_schema(f"sqlite:///{empty}") is not None
    with sqlite3.connect(empty) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0005'")  # an older version: upgrade first
    assert read_newest_schema(f"sqlite:///{empty}") is None
    (tmp_path / "text.db").write_text("not a database")
    for url in (f"sqlite:///{tmp_path / 'text.db'}", "sqlite://", f"sqlite:///{empty}?mode=ro",
                f"sqlite+pysqlite:///{empty}"):
        assert read_newest_schema(url) is None, url
    assert HEAD_REVISION == "0007"


_STARTS = """
import json, sys
from toolkit.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="attio-sync", standalone_mode=False)
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_value_starts_without_the_database_libraries(tmp_path: Path) -> None:
    """`attio-sync value` on a current SQLite cache: what it prints, without SQLAlchemy, SQLModel,
    alembic or httpx (most of a second at every call of a script that checks values one by one)."""
    db = tmp_path / "cache.db"
    cache = open_cache(str(db))
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    done = subprocess.run([sys.executable, "-c", _STARTS, "value", "people.name", "Ada", "--json", "--db", str(db)],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["ok"] is True
    loaded = {m.partition(".")[0] for m in json.loads(done.stderr.strip().splitlines()[-1])}
    assert not loaded & {"sqlalchemy", "sqlmodel", "alembic", "httpx", "pydantic"}


@pytest.mark.parametrize("args", [["people.name", "Ada"], ["people.plan", "Platinum"], ["people.nope", "x"]])
def test_value_says_the_same_through_the_cache(tmp_path: Path, args: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The same output and status whether the schema is read plainly or through the cache."""
    from click.testing import CliRunner

    from toolkit.cli import cli

    db = tmp_path / "cache.db"
    cache = open_cache(str(db))
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    plain = CliRunner().invoke(cli, ["value", *args, "--json", "--db", str(db)])
    monkeypatch.setattr("toolkit.cli.value.read_newest_schema", lambda _url: None)
    through = CliRunner().invoke(cli, ["value", *args, "--json", "--db", str(db)])
    assert (plain.exit_code, plain.output) == (through.exit_code, through.output)
