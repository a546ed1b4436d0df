"""The embedded SQLite database: foreign keys, write-ahead logging and ``synchronous=NORMAL``
on every connection, so a reader never stops a writer (a bulk job) from committing."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
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


def test_the_database_file_is_created_private(tmp_path: Path) -> None:
    """Mode 0600 from the start (SQLite alone would follow the umask: 0644), and the -wal and
    -shm files SQLite makes beside it take the same mode."""
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "merkki.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for companion in (tmp_path / "merkki.sqlite3-wal", tmp_path / "merkki.sqlite3-shm"):
            assert companion.exists()
            assert stat.S_IMODE(companion.stat().st_mode) == 0o600
        engine.dispose()
    finally:
        os.umask(old_umask)


def test_a_database_file_readable_by_others_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "merkki.sqlite3"
    path.touch()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="issuer.db"):
        make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "had mode 644; set to 0600" in caplog.text
