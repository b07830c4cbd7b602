"""A dry run's scratch file: what a rehearsal must remember beyond memory, kept apart.

A dry run never writes its record states or its bookkeeping into the database (a later real
run must not take a rehearsal for what was sent), yet at a million events it cannot hold them
in memory either. `Scratch` is SQLite's private temporary database (opened with an empty
name): held in SQLite's page cache, written to a file of its own beyond that, without journal
or syncs (nothing in it needs to survive the process). SQLite deletes the file as it opens it,
so not even a killed process leaves one behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Scratch"]

#: Keys asked for in one statement (well within SQLite's limit on parameters).
_CHUNK = 500


class Scratch:
    """A temporary SQLite database made with `schema` (statements separated by `;`)."""

    def __init__(self, schema: str) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        # No other connection ever opens it: holding the lock spares two lock calls per
        # statement (a dry run makes one per state it spills).
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.executescript(schema)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def matching(self, sql: str, keys: Sequence[Any], *, before: Sequence[Any] = ()) -> list[Any]:
        """The rows of `sql`, whose last condition is `IN ({})`, for `keys` (asked in chunks);
        `before` are the parameters ahead of the keys."""
        rows: list[Any] = []
        for start in range(0, len(keys), _CHUNK):
            part = keys[start:start + _CHUNK]
            rows.extend(self._db.execute(sql.format(", ".join("?" * len(part))), (*before, *part)))
        return rows

    def close(self) -> None:
        self._db.close()
