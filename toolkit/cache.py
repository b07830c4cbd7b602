"""The local database: open it (upgrading its schema), save and load schema snapshots.

`open_cache(url)` is the one way in. It creates the database if needed and runs every pending
alembic migration from `toolkit.migrations`, which ships inside the package, so a wheel
install upgrades its database exactly as a source checkout does. At the newest migration that
writes nothing; and `open_cache(url, read_only=True)`, for commands that only read, opens a
current SQLite file this user may not write (or in a folder it may not write) with SQLite's
``mode=ro``, so that reading works there too.

SQLAlchemy's exceptions stop here: they leave as `CacheError` (or `MigrationError`), one line
each (the statement and its parameters, which may hold emails, are left out).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import URL, Engine, event, insert, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from .config import database_url
from .errors import CacheError, MigrationError, SchemaError
from .models import (
    CachedAttribute,
    CachedMember,
    CachedObject,
    CachedOption,
    CachedStatus,
    CachedWorkspace,
    RecordState,
    SchemaPull,
)
from .schema import (
    AttributeInfo,
    MemberInfo,
    ObjectInfo,
    OptionInfo,
    StatusInfo,
    WorkspaceInfo,
    WorkspaceSchema,
    fields_of,
)
from .snapshot import HEAD_REVISION  # the newest migration: there, `attio-sync value` reads it without SQLAlchemy

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = ["Cache", "as_utc", "create_private_file", "load_schema", "open_cache", "storable_text", "upgrade"]

#: Snapshots kept; `schema diff` needs the last two, the rest is history for a user to inspect.
KEEP_PULLS = 5
#: What to install for a PostgreSQL database (psycopg 3, SQLAlchemy's `postgresql+psycopg`).
POSTGRES_EXTRA = "pip install 'attio-sync[postgres]'"
#: How long a statement waits for another connection's lock before it fails (and the caller
#: tries again later): SQLite's busy timeout, and PostgreSQL's lock_timeout alike.
LOCK_TIMEOUT_MS = 5000
#: A migration waits longer: it must get through, and it runs once.
MIGRATION_LOCK_TIMEOUT_MS = 60_000
#: The PostgreSQL advisory lock key that serializes migrations ("attio-sy" in ASCII).
_MIGRATION_LOCK = 0x617474696F2D7379

_SNAPSHOT_TABLES: tuple[tuple[type[SQLModel], type[Any]], ...] = (
    (CachedObject, ObjectInfo),
    (CachedAttribute, AttributeInfo),
    (CachedOption, OptionInfo),
    (CachedStatus, StatusInfo),
    (CachedMember, MemberInfo),
)


def migrations_path() -> Path:
    """The folder holding alembic's env.py and versions/ (inside the installed package)."""
    return Path(str(resources.files("toolkit.migrations")))


class Cache:
    """An open cache database. Create it with `open_cache`.

    `label` is the URL messages name (the one the user gave, not the read-only URI behind it).
    """

    def __init__(self, engine: Engine, label: str | None = None) -> None:
        self.engine = engine
        self._label = label
        # PostgreSQL: a lone read needs no transaction around it, and BEGIN and ROLLBACK would
        # be two more round trips to the server for each of a sync's per-event lookups (3x).
        self._reads = (engine.execution_options(isolation_level="AUTOCOMMIT")
                       if engine.dialect.name == "postgresql" else engine)

    @property
    def url(self) -> str:
        return self._label or self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Cache({self.url!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def first(self, statement: Any, params: dict[str, Any]) -> Any:
        """The first row of a prebuilt read-only statement, run on a bare connection (an ORM
        session and a fresh statement each time cost several times as much)."""
        try:
            with self._reads.connect() as connection:
                return connection.execute(statement, params).first()
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def all(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        """Every row of a prebuilt read-only statement, run on a bare connection: for the lookups
        a sync makes once per batch of events (an expanding IN of their keys)."""
        try:
            with self._reads.connect() as connection:
                return list(connection.execute(statement, params).all())
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: SQLAlchemyError) -> CacheError:
        if _is_read_only(exc):
            return CacheError(f"database {self.url} is read-only ({_reason(exc)}): give this user write access to "
                              "it and its folder, or pass --db a copy it may write")
        return CacheError(f"database {self.url}: {exc.__class__.__name__}: {_reason(exc)}")

    def close(self) -> None:
        self.engine.dispose()

    # -- schema snapshots ----------------------------------------------------------------

    def save_schema(self, schema: WorkspaceSchema, pull: SchemaPull) -> SchemaPull:
        """Store a snapshot and its pull record in one transaction, and drop old snapshots.

        Nothing is visible to readers until the transaction commits, so an interrupted pull
        leaves the previous snapshot whole.
        """
        pull.complete = True
        pull.snapshot_hash = schema.snapshot_hash()
        pull.workspace_id = schema.workspace.workspace_id
        pull.objects, pull.attributes = len(schema.objects), len(schema.attributes)
        pull.options, pull.statuses = len(schema.options), len(schema.statuses)
        pull.members = len(schema.members)
        with self.session() as session:
            _same_workspace(session, self.url, schema, pull.base_url)
            session.add(pull)
            session.flush()
            assert pull.id is not None
            session.add(CachedWorkspace(pull_id=pull.id, **fields_of(schema.workspace)))
            for items, (row_type, _) in zip(
                (schema.objects, schema.attributes, schema.options, schema.statuses, schema.members),
                _SNAPSHOT_TABLES,
                strict=True,
            ):
                # A bulk insert (executemany), not ORM objects: a large workspace has tens of
                # thousands of options, and ORM row objects made the save 8x slower.
                rows = [{"pull_id": pull.id, "seq": seq, **fields_of(item)} for seq, item in enumerate(items)]
                if rows:
                    session.execute(insert(row_type), rows)
            self._drop_old_pulls(session)
        return pull

    def _drop_old_pulls(self, session: Session) -> None:
        keep = session.exec(
            select(SchemaPull.id).where(col(SchemaPull.complete)).order_by(col(SchemaPull.id).desc())
            .limit(KEEP_PULLS)
        ).all()
        if not keep:
            return
        oldest_kept = min(i for i in keep if i is not None)
        for row_type in (CachedWorkspace, *(row for row, _ in _SNAPSHOT_TABLES)):
            session.exec(delete(row_type).where(col(row_type.pull_id) < oldest_kept))  # type: ignore[arg-type, attr-defined]
        session.exec(delete(SchemaPull).where(col(SchemaPull.id) < oldest_kept))

    def pulls(self, limit: int = KEEP_PULLS) -> list[SchemaPull]:
        """The newest complete pulls, newest first."""
        with self.session() as session:
            return list(session.exec(
                select(SchemaPull).where(col(SchemaPull.complete))
                .order_by(col(SchemaPull.id).desc()).limit(limit)
            ).all())

    def load_schema(self, pull_id: int | None = None) -> WorkspaceSchema:
        """The snapshot of one pull (default: the newest complete one).

        Raises:
            SchemaError: no pull has completed yet; the message says to run `schema pull`.
        """
        with self.session() as session:
            if pull_id is None:
                pull_id = session.exec(
                    select(SchemaPull.id).where(col(SchemaPull.complete))
                    .order_by(col(SchemaPull.id).desc()).limit(1)
                ).first()
            if pull_id is None:
                raise SchemaError(
                    f"no schema in the cache {self.url}: run `attio-sync schema pull` first"
                )
            workspace = session.get(CachedWorkspace, pull_id)
            if workspace is None:
                raise SchemaError(f"pull {pull_id} is not in the cache {self.url}")
            parts: list[tuple[Any, ...]] = []
            for row_type, info_type in _SNAPSHOT_TABLES:
                rows = session.exec(select(row_type).where(col(row_type.pull_id) == pull_id)  # type: ignore[attr-defined]
                                    .order_by(col(row_type.seq)))  # type: ignore[attr-defined]
                parts.append(tuple(_info(info_type, row) for row in rows))
            objects, attributes, options, statuses, members = parts
            return WorkspaceSchema(
                workspace=_info(WorkspaceInfo, workspace),
                objects=objects,
                attributes=attributes,
                options=options,
                statuses=statuses,
                members=members,
            )


def _info(info_type: type[Any], row: SQLModel) -> Any:
    """The frozen dataclass for a row: the same fields without `pull_id`."""
    names = info_type.__dataclass_fields__.keys()
    return info_type(**{name: getattr(row, name) for name in names})




def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_path()))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest migration (no-op when it is already there).

    Raises:
        MigrationError: it cannot be upgraded; the message says why and what to do.
    """
    try:
        _migrate(engine)
    except SQLAlchemyError as exc:
        raise _migration_error(engine, exc) from exc


#: alembic's context is global to the process: one migration at a time in it.
_MIGRATING = threading.Lock()


def _migrate(engine: Engine) -> None:
    """alembic's upgrade to head; at head it reads the version and writes nothing.

    Processes that open one database at once (several `serve` receivers starting together, two
    commands on a new file) take turns, so the second finds the schema the first made instead
    of failing to create it again: on PostgreSQL each upgrade holds a transaction-level
    advisory lock; on SQLite it takes the file's write lock before it reads the version.
    """
    if _at_head(engine):
        return
    from alembic import command

    config = _alembic_config()
    with _MIGRATING, engine.begin() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT_MS}ms'")
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        elif sqlite:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={MIGRATION_LOCK_TIMEOUT_MS}")
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the driver's own BEGIN would wait for a write
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        finally:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")


def _same_workspace(session: Session, url: str, schema: WorkspaceSchema, base_url: str) -> None:
    """Refuse to put a second workspace's schema beside the record states of the first, from
    the same Attio address: the states are the origin's, so the second's sync would skip what
    the first was sent, and link records by the first's ids."""
    before = session.exec(select(CachedWorkspace.workspace_id, CachedWorkspace.workspace_name)
                          .join(SchemaPull, col(SchemaPull.id) == col(CachedWorkspace.pull_id))
                          .where(col(SchemaPull.base_url) == base_url, col(SchemaPull.complete))
                          .order_by(col(SchemaPull.id).desc()).limit(1)).first()
    workspace = schema.workspace
    if before is None or before[0] == workspace.workspace_id:
        return
    states = select(RecordState.match_key).where(col(RecordState.base_url) == base_url).limit(1)
    if session.exec(states).first() is None:
        return  # nothing synced from it yet: the database may change workspace
    raise SchemaError(
        f"database {url} keeps the record state of workspace {before[1] or before[0]!r} ({before[0]}) at "
        f"{base_url}, and this key opens workspace {workspace.workspace_name or workspace.workspace_id!r} "
        f"({workspace.workspace_id}): one database serves one workspace, or the second's sync would skip what "
        "the first was sent. Pass --db a new file for this workspace (or use the first workspace's key).")


def _migration_error(engine: Engine, exc: SQLAlchemyError) -> MigrationError:
    label = engine.url.render_as_string(hide_password=True)
    if _is_read_only(exc) and _current_read_only(engine) is False:
        return MigrationError(
            f"the database {label} must be upgraded to this version of attio-sync, but it cannot be written "
            f"({_reason(exc)}): run any attio-sync command on it once as a user who may write it and its "
            "folder, or pass --db a writable copy")
    if _is_read_only(exc):
        return MigrationError(f"the database {label} is read-only ({_reason(exc)}), and this command writes: "
                              "give this user write access to it and its folder, or pass --db a writable copy")
    if engine.dialect.name != "sqlite" and isinstance(exc, DBAPIError) and exc.statement is None:
        # the driver failed before any statement: no server there, or it refused us
        return MigrationError(f"cannot connect to the database {label}: {_reason(exc)}; check that the server is "
                              "running and the URL (--db or ATTIO_SYNC_DB)")
    if "file is not a database" in _reason(exc):
        return MigrationError(f"{label} is not a SQLite database: pass --db the file attio-sync made, or a new "
                              "file name")
    return MigrationError(f"could not migrate {label}: {_reason(exc)}")


def _current_read_only(engine: Engine) -> bool | None:
    """Whether a SQLite file is at the newest migration, read through a read-only connection;
    None when that cannot be told."""
    path = _sqlite_file(engine) if engine.dialect.name == "sqlite" else None
    state = _read_only_state(path) if path is not None else None
    if state is None:
        return None
    state[0].dispose()
    return state[1]


def _at_head(engine: Engine) -> bool:
    """Whether the database is at `HEAD_REVISION` already (False when that cannot be read)."""
    try:
        with engine.connect() as connection:
            return _is_current(connection)
    except SQLAlchemyError:
        return False  # no version table yet, or no database: the migration says what is wrong


def _is_current(connection: Any) -> bool:
    """Whether the database behind `connection` is at the newest migration."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    versions: list[str] = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return versions == [HEAD_REVISION]


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own words, without SQLAlchemy's statement, parameters and link."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _is_read_only(exc: SQLAlchemyError) -> bool:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlite_errorname", "")).startswith("SQLITE_READONLY") or (
        "read-only" in str(orig) or "readonly database" in str(orig))


def open_cache(url: str, *, read_only: bool = False) -> Cache:
    """Open (creating and upgrading as needed) the database at a path or SQLAlchemy URL.

    Args:
        url: a path or a SQLAlchemy URL.
        read_only: the caller only reads. A SQLite file this user may not write (or in a
            folder it may not write) is then opened with SQLite's ``mode=ro`` when its schema
            is current, and nothing is written; when it must be upgraded first,
            `MigrationError` says so. (A database that can be written is opened as usual:
            at the newest migration, that writes nothing either.)

    Raises:
        CacheError: the database cannot be opened (a missing driver names what to install).
        MigrationError: it cannot be upgraded.
    """
    url = database_url(url)
    label = _hidden(url)
    try:
        engine = create_engine(_with_driver(url))
    except ImportError as exc:
        raise CacheError(_missing_driver(label, exc)) from exc
    except (SQLAlchemyError, ValueError) as exc:
        raise CacheError(f"cannot open database {label}: {exc}; pass --db a file path or a SQLAlchemy URL such "
                         "as sqlite:////absolute/path.db") from exc
    path = None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        path = _sqlite_file(engine)
        if path is not None:
            create_private_file(path)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_session)
        event.listen(engine, "before_cursor_execute", _postgres_parameters, retval=True)
    try:
        _migrate(engine)
    except SQLAlchemyError as exc:
        if read_only and path is not None and _is_read_only(exc):
            cache = _open_sqlite_read_only(path, label)
            if cache is not None:
                engine.dispose()
                return cache
        error = _migration_error(engine, exc)
        engine.dispose()
        raise error from exc
    return Cache(engine)


def _with_driver(url: str) -> str | URL:
    """`url`, with psycopg 3 (the `postgres` extra) as the driver of a PostgreSQL URL that names
    none: SQLAlchemy's default for ``postgresql://`` is psycopg2, which attio-sync does not
    install. A URL that names its driver keeps it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # create_engine says what is wrong with it
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return url


def _hidden(url: str) -> str:
    """The URL for messages: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _missing_driver(label: str, exc: ImportError) -> str:
    module = exc.name or str(exc)
    if label.startswith("postgres"):
        return (f"cannot open {label}: the PostgreSQL driver ({module}) is not installed. Install it with "
                f"{POSTGRES_EXTRA} (psycopg 3) and write the URL as postgresql+psycopg://user@host/database")
    return f"cannot open {label}: its database driver ({module}) is not installed; install it, or use SQLite (a path)"


def _open_sqlite_read_only(path: Path, label: str) -> Cache | None:
    """The existing SQLite file at `path`, opened read-only, when its schema is current; None
    when it must be upgraded first, or cannot be opened so (the caller opens it as usual and
    says what is wrong)."""
    state = _read_only_state(path)
    if state is None:
        return None
    engine, current = state
    if current:
        return Cache(engine, label)
    engine.dispose()
    return None


def _read_only_state(path: Path) -> tuple[Engine, bool] | None:
    """A read-only engine on the SQLite file, and whether its schema is current; None when the
    file cannot be read so.

    ``mode=ro`` first. A database in WAL mode whose -wal and -shm files are gone cannot be
    read that way from a folder the user may not write; it is opened ``immutable`` then (no
    one is writing it: a writer would have made those files).
    """
    for immutable in (False, True):
        if immutable and (os.access(path.parent, os.W_OK) or path.with_name(path.name + "-wal").exists()):
            return None
        query = {"mode": "ro", "uri": "true", **({"immutable": "1"} if immutable else {})}
        engine = create_engine(URL.create("sqlite", database="file:" + quote(str(path)), query=query))
        event.listen(engine, "connect", _sqlite_read_pragmas)
        try:
            with engine.connect() as connection:
                return engine, _is_current(connection)
        except SQLAlchemyError:
            engine.dispose()
    return None


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database named by path; None in memory (or given as a `file:` URI,
    which SQLite opens as it is told)."""
    database = engine.url.database
    if not database or database == ":memory:" or engine.url.query.get("uri"):
        return None
    return Path(database).expanduser()


def create_private_file(path: Path) -> None:
    """Create `path` empty, readable and writable by its owner only (0600 whatever the umask),
    with its folder; leave an existing file, and its permissions, as they are.

    SQLite takes an empty file for a new database, and gives the -wal, -shm and -journal files
    it makes beside it the same permissions: the emails and raw events in the audit log are
    not readable by other users.

    Raises:
        CacheError: the folder or the file cannot be created.
    """
    blocker = _file_in_the_way(path)
    if blocker is not None:
        raise CacheError(f"cannot create the database {path}: {blocker} is a file, not a folder; check the path "
                         "(--db or ATTIO_SYNC_DB)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_create(path, exc) from exc
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise _cannot_create(path, exc) from exc
    try:
        os.fchmod(handle, 0o600)  # the umask may have taken away the owner's own bits
    finally:
        os.close(handle)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing folder-to-be of `path` that is in fact a file, if any."""
    for parent in path.parents:
        try:
            if parent.exists():
                return None if parent.is_dir() else parent
        except OSError:
            return None
    return None


def _cannot_create(path: Path, exc: OSError) -> CacheError:
    return CacheError(f"cannot create the database {path}: {exc.strerror or exc}; check the path (--db or "
                      "ATTIO_SYNC_DB) and its folder's permissions")


def load_schema(url_or_cache: str | Cache, pull_id: int | None = None) -> WorkspaceSchema:
    """The newest cached schema at a database URL (opened read-only, see `open_cache`), or in an
    open `Cache`."""
    if isinstance(url_or_cache, Cache):
        return url_or_cache.load_schema(pull_id)
    cache = open_cache(url_or_cache, read_only=True)
    try:
        return cache.load_schema(pull_id)
    finally:
        cache.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `history` read while a sync writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Read-only: the journal mode is the file's own (setting it would write); query_only makes
    # SQLite itself refuse any write, whatever the file's permissions.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
    cursor.close()


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    # The times are `timestamp with time zone`, stored as instants whatever the session's zone;
    # UTC makes them come back in UTC too (as SQLite's do), whatever the server's TimeZone is.
    # lock_timeout: a write blocked by another connection's lock fails after as long as SQLite's
    # busy timeout, and the caller tries again (an audit commit keeps its rows for the next try)
    # instead of hanging. SET outside a transaction: it lasts for the connection.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
    finally:
        dbapi_connection.autocommit = autocommit


#: What PostgreSQL text cannot hold: NUL, and a lone surrogate (not encodable in UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable_text(value: str) -> str:
    """`value` as PostgreSQL stores it: a NUL or a lone surrogate (which an event may carry, in
    a user id or a reason quoting it) becomes its JSON escape (``\\u0000``, ``\\ud83d``);
    anything else is unchanged. SQLite stores any text as it is."""
    if not _unstorable(value):
        return value
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def _unstorable(value: str) -> bool:
    if value.isascii():
        return "\x00" in value
    return _UNSTORABLE.search(value) is not None


def _storable(value: Any) -> Any:
    return storable_text(value) if isinstance(value, str) else value


def _postgres_parameters(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                         _executemany: bool) -> tuple[str, Any]:
    # Every text parameter, in a write or in a lookup alike (so a key with a NUL in it is
    # found again as it was stored), instead of the whole commit failing on one odd value.
    # One row is a dict (or a tuple of values); several (executemany) a list of them; a batch
    # of "insertmanyvalues" comes as one dict, though `executemany` is then True.
    many = isinstance(parameters, (list, tuple)) and bool(parameters) and isinstance(parameters[0], (dict, list, tuple))
    rows = parameters if many else [parameters]
    if not any(_needs_escape(row) for row in rows):
        return statement, parameters
    cleaned = [_escaped_row(row) for row in rows]
    return statement, (type(parameters)(cleaned) if many else cleaned[0])


def _values(row: Any) -> Any:
    return row.values() if isinstance(row, dict) else row if isinstance(row, (list, tuple)) else ()


def _needs_escape(row: Any) -> bool:
    return any(isinstance(item, str) and _unstorable(item) for item in _values(row))


def _escaped_row(row: Any) -> Any:
    if isinstance(row, dict):
        return {key: _storable(item) for key, item in row.items()}
    return type(row)(_storable(item) for item in row)


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware (SQLModel refuses naive datetimes)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant, aware and in UTC; a naive datetime (as SQLite gives them back) is UTC."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
