"""The database: declarative base, column types, and one session per request or command.

Unit of work (DESIGN.md "Shape of the code"; SQLAlchemy "Session Basics"): services receive an
``orm.Session`` and only ``add``/``flush``; the request or CLI boundary commits once through
``unit_of_work()`` and rolls back on error. Whatever is left uncommitted when the app context
ends is rolled back when the session closes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from flask import Flask, current_app, g
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from issuer.config import get_settings

log = logging.getLogger("issuer.db")

DB_EXTENSION = "issuer.db"
_SESSION_KEY = "issuer_db_session"

# Named constraints, so that migrations can refer to them and SQLite batch mode can rebuild
# tables (Alembic "The Importance of Naming Constraints").
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every database.

    PostgreSQL keeps the offset (``timestamptz``); SQLite stores text without one and returns
    naive values. Values are converted to UTC on the way in, and naive values coming back are
    marked UTC, so Python code only ever sees aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    """Now, in UTC (the default of every timestamp column)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


@dataclass(frozen=True, slots=True)
class Database:
    """Per-app engine and session factory (kept in ``app.extensions``, never module globals)."""

    engine: Engine
    sessionmaker: sessionmaker[Session]


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; SQLite connections get foreign keys, write-ahead logging
    and ``synchronous=NORMAL`` (``_sqlite_on_connect``). PostgreSQL is used as configured."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        _private_sqlite_file(engine.url.database, engine.url.query)
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


#: The SQLite database holds staff password hashes, salted recipient hashes and audit logs:
#: the service user's alone. SQLite gives its -wal and -shm files the same mode.
SQLITE_FILE_MODE = 0o600


def _private_sqlite_file(database: str | None, query: Any) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (it would use 0644 under the
    usual umask); an existing file readable by others is tightened, with a warning."""
    if not database or database == ":memory:" or database.startswith("file:") or "mode" in query:
        return  # in memory, or a URI the operator spelt out (e.g. mode=ro): leave it alone
    path = Path(database)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, SQLITE_FILE_MODE)
            except OSError as error:
                log.warning(
                    "database file %s has mode %o and could not be made private: %s",
                    path,
                    mode,
                    error.strerror,
                )
            else:
                log.warning("database file %s had mode %o; set to 0600", path, mode)
        return
    except OSError:
        return  # no folder, a read-only file system: SQLite reports it when it connects
    os.close(descriptor)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging (SQLite "Write-Ahead Logging"): readers (verification pages, the
    # staff UI) are not blocked while a writer (a bulk job's batch) works, and a commit appends
    # to the log instead of rewriting pages. It is a property of the database file and needs
    # the file on a local disk; an in-memory database keeps its own mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed transaction
    # survives the process being killed; only a power cut or OS crash may lose the last
    # commits, never corrupt the file (SQLite "PRAGMA synchronous").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory; close the session when a context ends."""
    if DB_EXTENSION in app.extensions:
        raise RuntimeError("issuer.db is already set up on this app")
    engine = make_engine(get_settings(app).database_url)
    app.extensions[DB_EXTENSION] = Database(engine, sessionmaker(engine))
    app.teardown_appcontext(close_session)


def get_database(app: Flask | None = None) -> Database:
    target = app if app is not None else current_app
    database = target.extensions.get(DB_EXTENSION)
    if not isinstance(database, Database):
        raise RuntimeError("issuer.db.init_app was not called for this app")
    return database


def get_session() -> Session:
    """The session of the current app context (created on first use)."""
    session = g.get(_SESSION_KEY)
    if session is None:
        session = get_database().sessionmaker()
        setattr(g, _SESSION_KEY, session)
    assert isinstance(session, Session)
    return session


def close_session(exception: BaseException | None = None) -> None:
    """Close the context's session; anything not committed is rolled back."""
    session = g.pop(_SESSION_KEY, None)
    if session is not None:
        session.close()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The boundary of one request or command: commit once at the end, roll back on error."""
    session = get_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def dispose(app: Flask) -> None:
    """Release the app's connection pool (tests, process shutdown)."""
    get_database(app).engine.dispose()


#: SQLSTATEs of a transaction the database aborted only because of concurrent transactions
#: (PostgreSQL manual, Appendix A: 40001 serialization_failure, 40P01 deadlock_detected, 55P03
#: lock_not_available; "Deadlocks" in 13.3.4: "applications ... should be prepared to retry
#: transactions"). Nothing of it was kept; the same work done again can succeed.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
#: SQLite's SQLITE_BUSY / SQLITE_LOCKED: another writer held the lock past the busy timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked")


#: SQLSTATEs of a write the database could not take because of its storage or state, not
#: because of the request (PostgreSQL manual, Appendix A), and the ``/healthz`` code of each:
#: 25006 read_only_sql_transaction (a read-only role, session or hot standby), class 53
#: insufficient resources (53100 disk_full, 53200 out_of_memory, 53300 too_many_connections),
#: 57P01-57P03 the server shutting down or not accepting connections yet.
_STORAGE_SQLSTATES = {
    "25006": "read_only",
    "53000": "insufficient_resources",
    "53100": "disk_full",
    "53200": "insufficient_resources",
    "53300": "insufficient_resources",
    "53400": "insufficient_resources",
    "57P01": "unavailable",
    "57P02": "unavailable",
    "57P03": "unavailable",
}
#: SQLite's SQLITE_READONLY and SQLITE_FULL, by the messages the driver carries.
_SQLITE_STORAGE = (
    ("attempt to write a readonly database", "read_only"),
    ("database or disk is full", "disk_full"),
)


def storage_problem(error: BaseException) -> str | None:
    """When the database refused a statement because it cannot write now (read-only, disk
    full, out of resources, shutting down): the ``/healthz`` code for it; else None."""
    if not isinstance(error, DBAPIError):
        return None
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate in _STORAGE_SQLSTATES:
        return _STORAGE_SQLSTATES[sqlstate]
    if isinstance(original, sqlite3.Error):
        message = str(original)
        for start, code in _SQLITE_STORAGE:
            if message.startswith(start):
                return code
    return None


def is_transient_conflict(error: BaseException) -> bool:
    """Did the database refuse this transaction only because of another one (a deadlock, a
    serialization failure, a lock it could not get in time)? Then retrying later is safe."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    return isinstance(original, sqlite3.OperationalError) and str(original).startswith(_SQLITE_BUSY)
