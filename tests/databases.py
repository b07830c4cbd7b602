"""The databases the storage tests run on: SQLite always, PostgreSQL when a server is configured.

`ATTIO_SYNC_TEST_PG` names a PostgreSQL database as a SQLAlchemy URL whose user may create
databases (`.ci/postgres` starts a throw-away server and sets it; `make test-pg` does both).
The `database_url` fixture (tests/conftest.py) is parametrized `sqlite` / `postgresql`; a
test that is about SQLite itself (its files, its locks) says `@sqlite_only`.

On PostgreSQL each test gets a copy of a template database migrated once per session (per
xdist worker): `CREATE DATABASE ... TEMPLATE` takes some 30 ms, a migration several times
that. The copy is dropped after the test (`WITH (FORCE)`: connections a test left open do not
keep it).
"""

from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy import Engine, create_engine, inspect, make_url
from sqlalchemy.pool import NullPool

from toolkit.cache import open_cache

__all__ = ["PG_ENV", "PG_HINT", "PG_URL", "PostgresServer", "is_postgres", "postgres_only", "sqlite_only",
           "table_names"]

PG_ENV = "ATTIO_SYNC_TEST_PG"
#: Read once, at import: the autouse `clean_environ` fixture removes every ATTIO_* variable.
PG_URL = os.environ.get(PG_ENV) or None
PG_HINT = f"set {PG_ENV} or run make test-pg"

#: A test that runs on SQLite only (its subject is SQLite's files or locks, or it is long and
#: says nothing more on PostgreSQL).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def postgres_only(fixture: str = "database_url") -> pytest.MarkDecorator:
    """A test about what only PostgreSQL does (or only a server shared by several machines needs),
    given its database by `fixture` (`database_url` or `empty_database_url`)."""
    return pytest.mark.parametrize(fixture, [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def table_names(url: str) -> set[str]:
    """The tables of the database at `url` (a path or a URL), on any dialect."""
    engine = create_engine(url if "://" in url else f"sqlite:///{url}", poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


class PostgresServer:
    """The configured server, for one test session: a migrated template, and copies of it."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.prefix = f"attio_t_{worker}_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.admin: Engine = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._numbers = itertools.count(1)
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}"')
        self._execute(f'CREATE DATABASE "{self.template}"')
        open_cache(self.url_of(self.template)).close()  # migrated once; every copy starts here

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool = True) -> tuple[str, str]:
        """A new database (a copy of the migrated template, or empty): its name and URL."""
        name = f"{self.prefix}_{next(self._numbers)}"
        self._execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{self.template}"' if migrated else ""))
        return name, self.url_of(name)

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.template)
        self.admin.dispose()

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(sql)
