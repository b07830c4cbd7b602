"""Alembic migrations of the cache and audit database (shipped as `toolkit.migrations`)."""
