"""The embedded SQLite database: foreign keys, write-ahead logging and ``synchronous=NORMAL``
on every connection, so a reader never stops a writer (a bulk job) from committing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from issuer.db import make_engine


def test_every_connection_has_foreign_keys_wal_and_normal_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'merkki.sqlite3'}")
    try:
        for _ in range(2):  # a second pooled/new connection too
            with engine.connect() as connection:
                assert connection.scalar(text("PRAGMA foreign_keys")) == 1
                assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
                assert connection.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
    finally:
        engine.dispose()


def test_a_reader_in_a_transaction_does_not_block_a_writers_commit(tmp_path: Path) -> None:
    """With a rollback journal the writer's COMMIT would wait for the reader's shared lock
    (and fail after its busy timeout); with WAL it commits and the reader keeps its snapshot."""
    url = f"sqlite:///{tmp_path / 'merkki.sqlite3'}"
    setup = make_engine(url)
    with setup.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    setup.dispose()
    reader_engine = make_engine(url)
    writer_engine = make_engine(url + "?timeout=0.5")
    try:
        with reader_engine.connect() as reader:
            reader.exec_driver_sql("BEGIN")
            assert reader.scalar(text("SELECT count(*) FROM t")) == 1
            with writer_engine.begin() as writer:
                writer.execute(text("INSERT INTO t VALUES (2)"))
            # The reader's transaction still sees its snapshot ...
            assert reader.scalar(text("SELECT count(*) FROM t")) == 1
            reader.exec_driver_sql("COMMIT")
            # ... and the next one sees the commit.
            assert reader.scalar(text("SELECT count(*) FROM t")) == 2
    finally:
        reader_engine.dispose()
        writer_engine.dispose()
