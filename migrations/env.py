"""Alembic environment: run by `toolkit.cache.upgrade()` with an open connection.

attio-sync never reads an alembic.ini: the cache builds the Config in code and passes the
connection in `config.attributes["connection"]`, so the same migrations run from a source
checkout, an editable install and a wheel.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import toolkit.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs `alembic` by hand
    raise RuntimeError("run migrations through toolkit.cache.upgrade(), which passes a connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
