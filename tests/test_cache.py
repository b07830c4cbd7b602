"""The cache database: migrations match the models, snapshots round-trip and replace whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from attio_data import workspace
from sqlmodel import SQLModel, create_engine

from toolkit.cache import KEEP_PULLS, Cache, load_schema, migrations_path, open_cache, utcnow
from toolkit.errors import CacheError, SchemaError
from toolkit.models import SchemaPull
from toolkit.schema import WorkspaceSchema


def snapshot(**kwargs: bool) -> WorkspaceSchema:
    data = workspace(**kwargs)
    return WorkspaceSchema.from_api(
        self_body=data["self"], objects=data["objects"], attributes=data["attributes"],
        options=[o for listed in data["options"].values() for o in listed],
        statuses=[s for listed in data["statuses"].values() for s in listed],
        members=data["members"])


def new_pull() -> SchemaPull:
    return SchemaPull(started_at=utcnow(), finished_at=utcnow(), base_url="https://api.attio.test")


def test_an_empty_database_upgrades_to_exactly_the_models(tmp_path: Path) -> None:
    cache = open_cache(str(tmp_path / "empty.db"))
    with cache.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                       SQLModel.metadata)
    assert differences == []
    tables = {r[0] for r in sqlite3.connect(tmp_path / "empty.db").execute(
        "select name from sqlite_master where type='table'")}
    assert {"schema_pull", "workspace", "object", "attribute", "select_option", "status", "workspace_member",
            "alembic_version"} <= tables


def test_opening_twice_is_a_no_op(tmp_path: Path) -> None:
    path = str(tmp_path / "twice.db")
    open_cache(path).close()
    open_cache(path).close()
    (version,) = sqlite3.connect(path).execute("select version_num from alembic_version").fetchone()
    assert version == ScriptDirectory(str(migrations_path())).get_current_head()


def test_an_older_database_is_upgraded_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_path()))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    with sqlite3.connect(path) as db:
        assert "run" not in {r[0] for r in db.execute("select name from sqlite_master")}
    cache = open_cache(str(path))  # opening upgrades to head
    cache.save_schema(snapshot(), new_pull())
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"run", "event", "request", "record_state", "attribute"} <= tables


def test_a_snapshot_round_trips(fresh_cache: Cache) -> None:
    schema = snapshot()
    pull = fresh_cache.save_schema(schema, new_pull())
    loaded = fresh_cache.load_schema()
    assert loaded == schema
    assert loaded.snapshot_hash() == schema.snapshot_hash() == pull.snapshot_hash
    assert (pull.objects, pull.attributes, pull.options, pull.statuses, pull.members) == (5, 26, 6, 4, 2)
    assert loaded.find_attribute("people", "email_addresses").is_unique  # type: ignore[union-attr]
    assert [o.title for o in loaded.options_of(loaded.attribute("people", "plan"))] == ["Free", "Pro", "Enterprise",
                                                                                     "Legacy"]


def test_no_schema_says_to_pull(fresh_cache: Cache) -> None:
    with pytest.raises(SchemaError, match="schema pull"):
        fresh_cache.load_schema()


def test_a_failed_save_leaves_the_previous_snapshot_whole(fresh_cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    first = snapshot(deals=True)
    fresh_cache.save_schema(first, new_pull())
    broken = snapshot(deals=False)
    # Two members with one id: the primary key fails half-way through the insert.
    broken = WorkspaceSchema(workspace=broken.workspace, objects=broken.objects, attributes=broken.attributes,
                             options=broken.options, statuses=broken.statuses,
                             members=broken.members + broken.members[:1])
    with pytest.raises(CacheError):
        fresh_cache.save_schema(broken, new_pull())
    assert fresh_cache.load_schema() == first
    assert len(fresh_cache.pulls()) == 1


def test_only_the_newest_pulls_are_kept(fresh_cache: Cache) -> None:
    for _ in range(KEEP_PULLS + 2):
        fresh_cache.save_schema(snapshot(), new_pull())
    pulls = fresh_cache.pulls(limit=100)
    assert len(pulls) == KEEP_PULLS
    assert [p.id for p in pulls] == sorted((p.id for p in pulls), reverse=True)
    with sqlite3.connect(fresh_cache.engine.url.database) as db:  # type: ignore[arg-type]
        (kept,) = db.execute("select count(distinct pull_id) from attribute").fetchone()
    assert kept == KEEP_PULLS


def test_load_schema_by_url(tmp_path: Path) -> None:
    cache = open_cache(str(tmp_path / "c.db"))
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    assert load_schema(str(tmp_path / "c.db")).is_activated("users")


def test_an_unopenable_database_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(CacheError):
        open_cache(str(tmp_path / "dir.db"))


def _psycopg_missing() -> bool:
    try:
        import psycopg  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.mark.skipif(not _psycopg_missing(), reason="psycopg is installed here")
def test_a_postgres_url_without_its_driver_says_what_to_install() -> None:
    with pytest.raises(CacheError) as raised:
        open_cache("postgresql://ada:s3cret@db.example/sync")
    message = str(raised.value)
    assert "pip install 'attio-sync[postgres]'" in message and "psycopg 3" in message
    assert "s3cret" not in message and "\n" not in message


def test_a_file_that_is_not_a_database_says_so_and_stays_as_it_was(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    for read_only in (False, True):
        with pytest.raises(CacheError, match="is not a SQLite database: pass --db"):
            open_cache(str(notes), read_only=read_only)
    assert notes.read_text() == "not a database\n"


def test_a_database_error_is_one_line_without_the_statement_or_its_values(fresh_cache: Cache) -> None:
    fresh_cache.save_schema(snapshot(), new_pull())
    broken = snapshot()
    broken = WorkspaceSchema(workspace=broken.workspace, objects=broken.objects, attributes=broken.attributes,
                             options=broken.options, statuses=broken.statuses,
                             members=broken.members + broken.members[:1])
    with pytest.raises(CacheError) as raised:
        fresh_cache.save_schema(broken, new_pull())
    message = str(raised.value)
    assert "\n" not in message and "[SQL" not in message and "IntegrityError" in message


def test_reading_a_current_database_writes_nothing_and_leaves_no_files(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    open_cache(str(db)).close()
    before = (db.read_bytes(), sorted(p.name for p in tmp_path.iterdir()))
    cache = open_cache(str(db), read_only=True)
    with pytest.raises(SchemaError):
        cache.load_schema()
    cache.close()
    assert (db.read_bytes(), sorted(p.name for p in tmp_path.iterdir())) == before
