"""Database errors as the drivers raise them, for tests that make a service fail on purpose."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from issuer.db import DB_EXTENSION, Database, dispose, make_engine


def lost_race(app: Flask) -> OperationalError:
    """The error each database really raises when a concurrent transaction wins (shown in
    tests/test_db_conflicts.py): PostgreSQL's deadlock_detected (40P01), SQLite's busy lock."""
    original: Exception
    if app.config["DATABASE_URL"].startswith("sqlite"):
        original = sqlite3.OperationalError("database is locked")
    else:
        original = psycopg.errors.DeadlockDetected("deadlock detected")
    return OperationalError("INSERT INTO status_allocation ...", {}, original)


@contextmanager
def read_only_database(app: Flask) -> Iterator[None]:
    """Run the app on its database opened read-only, as a full disk or a read-only mount or
    replica leaves it: SQLite through a ``mode=ro`` URI, PostgreSQL with
    ``default_transaction_read_only`` on for the session. Every write then fails as the
    database really refuses it ("attempt to write a readonly database"; SQLSTATE 25006)."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        engine = make_engine(f"sqlite:///file:{url.database}?mode=ro&uri=true")
    else:
        engine = create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    writable = app.extensions[DB_EXTENSION]
    dispose(app)
    app.extensions[DB_EXTENSION] = Database(engine, sessionmaker(engine))
    try:
        yield
    finally:
        engine.dispose()
        app.extensions[DB_EXTENSION] = writable
