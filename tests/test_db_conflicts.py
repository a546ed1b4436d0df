"""``issuer.db.is_transient_conflict`` on the errors the databases really raise when a concurrent
transaction wins: a PostgreSQL deadlock between two transactions, SQLite's write lock held past
the busy timeout. Other database errors are not transient."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from issuer.db import is_transient_conflict, storage_problem


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    options = {"connect_args": {"timeout": 0}} if database_url.startswith("sqlite") else {}
    engine = create_engine(database_url, **options)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE row_lock (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO row_lock (id) VALUES (1), (2)"))
    yield engine
    engine.dispose()


def _deadlock(engine: Engine) -> DBAPIError:
    """Two transactions each lock a row, then want the other's: PostgreSQL aborts one."""
    both_locked = threading.Barrier(2, timeout=30)
    errors: list[DBAPIError] = []

    def work(first: int, second: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '20s'"))
                update = "UPDATE row_lock SET id = id WHERE id = :id"
                connection.execute(text(update), {"id": first})
                both_locked.wait()
                connection.execute(text(update), {"id": second})
        except DBAPIError as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 1, errors  # one was chosen as the victim, the other committed
    return errors[0]


def _busy(engine: Engine) -> DBAPIError:
    """A writer holds SQLite's lock; another (busy timeout 0) cannot write."""
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            with engine.begin() as connection, pytest.raises(DBAPIError) as refused:
                connection.execute(text("INSERT INTO row_lock (id) VALUES (3)"))
        finally:
            holder.exec_driver_sql("ROLLBACK")
    return refused.value


def test_a_lost_race_is_a_transient_conflict(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        error = _busy(engine)
        assert "database is locked" in str(error.orig)
    else:
        error = _deadlock(engine)
        assert getattr(error.orig, "sqlstate", None) == "40P01"
    assert is_transient_conflict(error)


def test_other_database_errors_are_not_transient(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(IntegrityError) as duplicate:
        connection.execute(text("INSERT INTO row_lock (id) VALUES (1)"))
    assert not is_transient_conflict(duplicate.value)
    with engine.begin() as connection, pytest.raises(DBAPIError) as missing:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert not is_transient_conflict(missing.value)
    assert not is_transient_conflict(ValueError("database is locked"))


# --- a database that cannot write ----------------------------------------------------------


def _read_only_engine(engine: Engine) -> Engine:
    """The same database opened read-only, as the service would find it on a read-only mount
    or a hot standby: SQLite ``mode=ro``, PostgreSQL ``default_transaction_read_only``."""
    if engine.dialect.name == "sqlite":
        return create_engine(f"sqlite:///file:{engine.url.database}?mode=ro&uri=true")
    return create_engine(
        engine.url, connect_args={"options": "-c default_transaction_read_only=on"}
    )


def test_a_write_to_a_read_only_database_is_a_storage_problem(engine: Engine) -> None:
    read_only = _read_only_engine(engine)
    try:
        with read_only.begin() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(text("INSERT INTO row_lock (id) VALUES (3)"))
    finally:
        read_only.dispose()
    if engine.dialect.name == "sqlite":
        assert "attempt to write a readonly database" in str(refused.value.orig)
    else:
        assert getattr(refused.value.orig, "sqlstate", None) == "25006"
    assert storage_problem(refused.value) == "read_only"
    assert not is_transient_conflict(refused.value)


def test_a_full_sqlite_database_is_a_storage_problem(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's page limit stands in for a full disk")
    with engine.connect() as connection:
        # SQLITE_FULL, as on a full disk: the file may not grow by a single page.
        connection.exec_driver_sql("CREATE TABLE filler (data BLOB)")
        connection.commit()
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(DBAPIError) as full:
            connection.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(1000000))")
        connection.rollback()
    assert "database or disk is full" in str(full.value.orig)
    assert storage_problem(full.value) == "disk_full"


@pytest.mark.parametrize(
    ("original", "code"),
    [
        (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT"), "read_only"),
        (psycopg.errors.DiskFull("could not extend file"), "disk_full"),
        (psycopg.errors.OutOfMemory("out of memory"), "insufficient_resources"),
        (psycopg.errors.TooManyConnections("too many clients"), "insufficient_resources"),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), "unavailable"),
        (psycopg.errors.AdminShutdown("terminating connection"), "unavailable"),
    ],
)
def test_postgresql_storage_sqlstates(original: Exception, code: str) -> None:
    assert storage_problem(OperationalError("INSERT ...", {}, original)) == code


def test_other_errors_are_no_storage_problem(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(IntegrityError) as duplicate:
        connection.execute(text("INSERT INTO row_lock (id) VALUES (1)"))
    assert storage_problem(duplicate.value) is None
    assert storage_problem(ValueError("database or disk is full")) is None
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert storage_problem(locked) is None
