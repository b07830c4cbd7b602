"""The newest cached schema read straight from a SQLite file, with the standard library alone.

`attio-sync value` checks one value against the cached schema, and is called once per value
from scripts: its start is most of its time. `toolkit.cache` (SQLAlchemy, SQLModel and the
ORM models: half a second) is the one way into the database; this is a shortcut for its most
common case, `Cache.load_schema` on a SQLite file at the newest migration, giving the same
`WorkspaceSchema`. It opens an existing file and writes nothing to it; anything else (another
database, a URL with options, a file that must be created or upgraded, no schema yet, any
error) is left to `toolkit.cache`, which says what is wrong.

`HEAD_REVISION` lives here so that reading it costs nothing either.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .schema import AttributeInfo, MemberInfo, ObjectInfo, OptionInfo, StatusInfo, WorkspaceInfo, WorkspaceSchema

__all__ = ["HEAD_REVISION", "read_newest_schema"]

#: The newest migration. A database already at it opens without importing alembic (a tenth of a
#: second at every start), and `read_newest_schema` reads only a database at it;
#: tests/test_cache.py holds it to alembic's own head.
HEAD_REVISION = "0007"

#: Each snapshot table (`toolkit.models`) and the dataclass its rows become, in the order of
#: `WorkspaceSchema`'s fields; a row's columns are the dataclass's fields, plus `pull_id` and `seq`.
_TABLES: tuple[tuple[str, type[Any]], ...] = (
    ("object", ObjectInfo),
    ("attribute", AttributeInfo),
    ("select_option", OptionInfo),
    ("status", StatusInfo),
    ("workspace_member", MemberInfo),
)
#: Columns SQLite stores as 0 and 1, and columns stored as JSON text (tests/test_snapshot.py
#: holds both to the models' column types).
BOOLEAN_COLUMNS = frozenset({"is_system_attribute", "is_writable", "is_required", "is_unique", "is_multiselect",
                             "is_default_value_enabled", "is_archived", "celebration_enabled"})
JSON_COLUMNS = frozenset({"default_value", "relationship", "config"})
#: How long a read waits for a writer's lock, as `toolkit.cache.LOCK_TIMEOUT_MS`.
_BUSY_SECONDS = 5.0


def read_newest_schema(url: str) -> WorkspaceSchema | None:
    """The newest complete snapshot in the SQLite file a database URL (as `toolkit.config`
    makes them: ``sqlite:///PATH``) names, read without SQLAlchemy; None when that URL is
    anything else, or the file does not exist, is not at `HEAD_REVISION`, holds no schema yet or
    cannot be read so: `toolkit.cache.load_schema` reads (or explains) those."""
    path = _sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        # mode=rw creates nothing; query_only makes SQLite refuse any write. Not mode=ro: a
        # read-only connection leaves the WAL's -wal and -shm files behind, where the last
        # connection to close removes them.
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=_BUSY_SECONDS)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only=ON")
        return _read(connection)
    except (sqlite3.Error, TypeError, ValueError):
        return None  # not the database it should be: toolkit.cache says how
    finally:
        connection.close()


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for any other (a driver, options, memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):]
    # what SQLAlchemy would read otherwise (a query string, %-escapes) is left to it
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return Path(path)


def _read(connection: sqlite3.Connection) -> WorkspaceSchema | None:
    versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    if versions != [HEAD_REVISION]:
        return None
    pull = connection.execute("SELECT id FROM schema_pull WHERE complete ORDER BY id DESC LIMIT 1").fetchone()
    if pull is None:
        return None
    workspace = _rows(connection, "workspace", WorkspaceInfo, pull[0], ordered=False)
    if len(workspace) != 1:
        return None
    objects, attributes, options, statuses, members = (_rows(connection, table, info_type, pull[0])
                                                       for table, info_type in _TABLES)
    return WorkspaceSchema(workspace=workspace[0], objects=objects, attributes=attributes, options=options,
                           statuses=statuses, members=members)


def _rows(connection: sqlite3.Connection, table: str, info_type: type[Any], pull_id: int, *,
          ordered: bool = True) -> tuple[Any, ...]:
    """One table's rows of a pull, in the pull's order, as `info_type` instances."""
    names = tuple(info_type.__dataclass_fields__)
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.execute(f'SELECT {columns} FROM "{table}" WHERE pull_id = ?'  # our own names, no input
                                + (" ORDER BY seq" if ordered else ""), (pull_id,))
    convert = [(i, bool if name in BOOLEAN_COLUMNS else json.loads) for i, name in enumerate(names)
               if name in BOOLEAN_COLUMNS or name in JSON_COLUMNS]
    found = []
    for row in cursor:
        values = list(row)
        for i, to in convert:
            if values[i] is not None:
                values[i] = to(values[i])
        found.append(info_type(*values))
    return tuple(found)
