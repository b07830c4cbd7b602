"""The cache database: migrations match the models (up and down, on SQLite and PostgreSQL),
snapshots round-trip and replace whole, times stay instants whatever the server's time zone."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from attio_data import workspace
from databases import is_postgres, table_names
from sqlalchemy import Engine, func, insert, text
from sqlmodel import SQLModel, col, select

from toolkit.cache import KEEP_PULLS, Cache, load_schema, migrations_path, open_cache, utcnow
from toolkit.errors import CacheError, SchemaError
from toolkit.history import get_run
from toolkit.models import CachedAttribute, RecordState, Run, SchemaPull
from toolkit.schema import WorkspaceSchema

SNAPSHOT_TABLES = {"schema_pull", "workspace", "object", "attribute", "select_option", "status", "workspace_member"}
AUDIT_TABLES = {"run", "event", "request", "record_state", "lease", "inbox"}


def snapshot(**kwargs: bool) -> WorkspaceSchema:
    data = workspace(**kwargs)
    return WorkspaceSchema.from_api(
        self_body=data["self"], objects=data["objects"], attributes=data["attributes"],
        options=[o for listed in data["options"].values() for o in listed],
        statuses=[s for listed in data["statuses"].values() for s in listed],
        members=data["members"])


def new_pull() -> SchemaPull:
    return SchemaPull(started_at=utcnow(), finished_at=utcnow(), base_url="https://api.attio.test")


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_path()))
    return config


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    """alembic's upgrade (or downgrade) to `revision`, as `toolkit.cache.upgrade` runs it."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def model_differences(cache: Cache) -> list[object]:
    """What alembic finds different between the database and the models. SQLite cannot reflect
    an index on an expression (``ix_event_email_lower``): there alembic skips it, with warnings
    (test_history_indexes.py checks that it exists and is used); PostgreSQL compares it too."""
    with cache.engine.connect() as connection, warnings.catch_warnings():
        if connection.dialect.name == "sqlite":
            skipped = r"(Skipped unsupported reflection of|autogenerate skipping metadata-specified) expression-based"
            warnings.filterwarnings("ignore", message=skipped + r" index '?ix_event_email_lower")
        return list(compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                     SQLModel.metadata))


def test_an_empty_database_upgrades_to_exactly_the_models(empty_database_url: str) -> None:
    cache = open_cache(empty_database_url)
    assert model_differences(cache) == []
    cache.close()
    assert SNAPSHOT_TABLES | AUDIT_TABLES | {"alembic_version"} == table_names(empty_database_url)


def test_every_migration_goes_down_to_nothing_and_up_again(database_url: str) -> None:
    """`alembic downgrade base` then `upgrade head`: each migration's downgrade undoes it,
    on SQLite and on PostgreSQL, and the way back up ends at exactly the models again."""
    cache = open_cache(database_url)
    migrate(cache.engine, "base", down=True)
    assert table_names(database_url) == {"alembic_version"}
    migrate(cache.engine, "head")
    assert model_differences(cache) == []
    cache.close()


def test_opening_twice_is_a_no_op(database_url: str) -> None:
    open_cache(database_url).close()
    cache = open_cache(database_url)
    with cache.engine.connect() as connection:
        version = connection.execute(text("select version_num from alembic_version")).scalar_one()
    cache.close()
    assert version == ScriptDirectory(str(migrations_path())).get_current_head()


def test_an_older_database_is_upgraded_in_place_keeping_its_data(database_url: str) -> None:
    cache = open_cache(database_url)
    migrate(cache.engine, "base", down=True)
    migrate(cache.engine, "0001")
    cache.close()
    assert "run" not in table_names(database_url)
    cache = open_cache(database_url)  # opening upgrades to head
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    assert {"run", "event", "request", "record_state", "attribute"} <= table_names(database_url)


def test_processes_opening_one_new_database_at_once_all_get_it(empty_database_url: str, tmp_path: Path) -> None:
    """Receivers starting together on one new database, or two commands on a new SQLite file:
    one migrates, the others wait for it (PostgreSQL: an advisory lock; SQLite: the file's
    write lock) and find the schema made, instead of failing on a table that exists."""
    go = tmp_path / "go"
    script = (
        "import os, time\n"
        "from toolkit.cache import open_cache\n"
        "print('ready', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
        f"open_cache({empty_database_url!r}).close()\n"
    )
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(4)]
    assert [run.stdout.readline().strip() for run in runs if run.stdout] == ["ready"] * 4
    go.touch()
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    cache = open_cache(empty_database_url)
    assert model_differences(cache) == []
    cache.close()


def test_times_are_instants_whatever_the_servers_time_zone(database_url: str) -> None:
    """A time goes in and comes out as the same instant, in UTC, on a server whose TimeZone is
    +05:45 (PostgreSQL: set for the database, so every new session starts in it)."""
    cache = open_cache(database_url)
    if is_postgres(database_url):
        with cache.engine.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{cache.engine.url.database}" SET timezone = '
                                       "'Asia/Kathmandu'")
            connection.commit()
        cache.close()
        cache = open_cache(database_url)
    started = datetime(2026, 11, 28, 23, 30, 15, 123456, tzinfo=UTC)
    with cache.session() as session:
        session.add(Run(started_at=started, heartbeat_at=started + timedelta(seconds=1)))
    run = get_run(cache, 1, now=started)
    assert run.started_at == started and run.started_at.utcoffset() == timedelta(0)
    assert run.as_dict()["started_at"] == "2026-11-28T23:30:15+00:00"
    with cache.session() as session:  # compared in SQL with an aware time: as instants
        before = session.exec(select(func.count()).select_from(Run)
                              .where(col(Run.started_at) < started + timedelta(microseconds=1))).one()
        after = session.exec(select(func.count()).select_from(Run).where(col(Run.started_at) > started)).one()
    assert (before, after) == (1, 0)
    if is_postgres(database_url):
        with cache.engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT extract(epoch FROM started_at) FROM run").scalar_one()
        assert float(stored) == started.timestamp()
    cache.close()


def test_times_an_older_version_stored_keep_their_instant_through_the_upgrade(database_url: str) -> None:
    """Before 0005, PostgreSQL stored an aware time in a ``timestamp without time zone`` column
    as the session's local time; the upgrade reads it in that zone, so the instant survives."""
    cache = open_cache(database_url)
    migrate(cache.engine, "0004", down=True)
    if is_postgres(database_url):
        with cache.engine.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{cache.engine.url.database}" SET timezone = '
                                       "'America/St_Johns'")  # -03:30 (-02:30 in summer)
            connection.commit()
    cache.engine.dispose()
    started = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    with cache.engine.begin() as connection:  # as the older version wrote it
        if is_postgres(database_url):
            connection.exec_driver_sql("RESET TIME ZONE")
        connection.execute(insert(Run.__table__).values(  # type: ignore[attr-defined]
            command="sync", started_at=started, state="finished", input="", mapping="", dry_run=False,
            base_url="", events=0, synced=0, unchanged=0, invalid=0, rejected=0, failed=0, duplicate=0,
            requests=0))
    cache.close()
    cache = open_cache(database_url)
    assert get_run(cache, 1).started_at == started
    cache.close()


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
    with fresh_cache.session() as session:
        kept = session.exec(select(func.count(CachedAttribute.pull_id.distinct()))).one()  # type: ignore[attr-defined]
    assert kept == KEEP_PULLS


def test_a_second_workspace_is_refused_beside_the_first_ones_record_states(fresh_cache: Cache) -> None:
    """Record states belong to an Attio address; a second workspace from the same address
    would have its sync skip what the first was sent, and link by the first's record ids."""
    first = snapshot()
    second = replace(first, workspace=replace(first.workspace, workspace_id="ws-staging", workspace_name="Staging"))
    fresh_cache.save_schema(first, new_pull())
    fresh_cache.save_schema(second, new_pull())  # nothing synced yet: the database may change workspace
    fresh_cache.save_schema(first, new_pull())
    with fresh_cache.session() as session:
        session.add(RecordState(base_url=new_pull().base_url, object_slug="people", match_key="k",
                                record_id="rec-1", attributes={}, updated_at=utcnow()))
    with pytest.raises(SchemaError) as refused:
        fresh_cache.save_schema(second, new_pull())
    message = str(refused.value)
    assert "'Staging' (ws-staging)" in message and repr(first.workspace.workspace_name) in message
    assert "--db a new file" in message
    assert fresh_cache.load_schema().workspace.workspace_id == first.workspace.workspace_id  # left as it was
    fresh_cache.save_schema(first, new_pull())  # the same workspace again: fine
    elsewhere = new_pull()
    elsewhere.base_url = "https://eu.attio.test"  # another address keeps states of its own
    fresh_cache.save_schema(second, elsewhere)


def test_load_schema_by_url(database_url: str) -> None:
    cache = open_cache(database_url)
    cache.save_schema(snapshot(), new_pull())
    cache.close()
    assert load_schema(database_url).is_activated("users")


def test_an_unopenable_database_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(CacheError):
        open_cache(str(tmp_path / "dir.db"))


@pytest.mark.parametrize("url", ["postgresql://ada:s3cret@db.example/sync",
                                 "postgresql+psycopg://ada:s3cret@db.example/sync"])
def test_a_postgres_url_without_its_driver_says_what_to_install(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(CacheError) as raised:
        open_cache(url)
    message = str(raised.value)
    assert "pip install 'attio-sync[postgres]'" in message and "psycopg 3" in message
    assert "s3cret" not in message and "\n" not in message


def test_a_plain_postgresql_url_means_psycopg_3_and_no_server_is_one_line() -> None:
    """`postgresql://` alone would be psycopg2 to SQLAlchemy, which attio-sync does not install;
    and a server that is not there is said so, in one line, without the password."""
    pytest.importorskip("psycopg")
    with pytest.raises(CacheError) as raised:  # nothing listens there: the driver got as far as connecting
        open_cache("postgresql://ada:s3cret@/sync?host=/nonexistent")
    message = str(raised.value)
    assert "psycopg2" not in message and "cannot connect to the database postgresql+psycopg://ada:***@" in message
    assert "check that the server is running" in message and "s3cret" not in message and "\n" not in message


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


def test_the_head_revision_the_cache_knows_is_alembic_s_head() -> None:
    """A database at HEAD_REVISION opens without alembic; it must be the newest migration."""
    from alembic.script import ScriptDirectory

    from toolkit.cache import HEAD_REVISION, _alembic_config

    assert ScriptDirectory.from_config(_alembic_config()).get_heads() == [HEAD_REVISION]


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    db = tmp_path / "current.db"
    open_cache(str(db)).close()  # made and migrated here
    code = ("import sys; from toolkit.cache import open_cache; open_cache(sys.argv[1]).close(); "
            "print('alembic' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
