"""Alembic environment for Merkki (plain Alembic; no Flask app needed).

The database URL comes, in order, from a connection handed over by the caller
(``config.attributes["connection"]``), the ``sqlalchemy.url`` option set by
``issuer.services.migrate``, or ``ISSUER_DATABASE_URL`` (so that ``alembic -c migrations/alembic.ini
...`` works from a shell). ``render_as_batch`` lets SQLite, which cannot ALTER most things,
rebuild tables instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

import issuer.models  # noqa: F401 - registers the tables on Base.metadata
from issuer.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("ISSUER_DATABASE_URL")
    if not url:
        raise RuntimeError(
            "no database URL: set ISSUER_DATABASE_URL or use `merkki init`, which finds the "
            "configured database itself"
        )
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
