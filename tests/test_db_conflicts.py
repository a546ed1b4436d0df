"""``issuer.db.is_transient_conflict`` on the errors the databases really raise when a concurrent
transaction wins: a PostgreSQL deadlock between two transactions, SQLite's write lock held past
the busy timeout. Other database errors are not transient."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from issuer.db import is_transient_conflict


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
