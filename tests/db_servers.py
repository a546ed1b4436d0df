"""Throwaway database servers for the test suite.

Every test that touches the database runs on SQLite and on a real PostgreSQL server
(DESIGN.md "Shape of the code"). The PostgreSQL server is started here, once per test session,
from the Debian ``postgresql`` package's binaries (``.ci/run`` installs the package when it is
missing): a fresh cluster in a temporary folder, listening on 127.0.0.1 and a free port, with
``fsync`` off (test data is disposable). ``MERKKI_TEST_POSTGRES_URL`` points the suite at an
existing server instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_URL_ENV = "MERKKI_TEST_POSTGRES_URL"
#: Tries to start the server, each on a new free port.
START_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    pass


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; ``url(database)`` builds a SQLAlchemy URL for one of its databases."""

    host: str
    port: int
    user: str
    data_dir: Path | None = None
    _as_user: list[str] | None = None
    _pg_ctl: str | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin_connect(self) -> object:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str, template: str | None = None) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
                # PostgreSQL 15 copies a template block by block through the write-ahead log
                # (STRATEGY WAL_LOG, the default) unless told to copy its files: for a small
                # template the file copy is about twice as fast, and the log it saves is
                # worthless for throw-away test data (CREATE DATABASE, "STRATEGY").
                if conn.info.server_version >= 150000:
                    statement = sql.SQL("{} STRATEGY FILE_COPY").format(statement)
            conn.execute(statement)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def rename_database(self, name: str, new_name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(new_name)
                )
            )

    def stop(self) -> None:
        if self.data_dir is None or self._pg_ctl is None:
            return
        subprocess.run(
            [
                *(self._as_user or []),
                self._pg_ctl,
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


class TemplateCopies:
    """Databases created from ``template`` ahead of time, by a background thread.

    ``CREATE DATABASE ... TEMPLATE`` copies the template's files (0.1-0.3 s); the PostgreSQL
    server does that while the test process runs the previous test, instead of in the test's
    set-up. ``take()`` hands out each database once; ``close()`` drops those never taken.
    """

    def __init__(self, server: PostgresServer, template: str, ahead: int = 2) -> None:
        self.server = server
        self.template = template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._used: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fill, name="template-copies", daemon=True)
        self._thread.start()

    def _drop_used(self) -> None:
        while True:
            try:
                self.server.drop_database(self._used.get_nowait())
            except queue.Empty:
                return

    def _fill(self) -> None:
        try:
            while not self._stop.is_set():
                self._drop_used()
                name = f"merkki_test_{uuid.uuid4().hex[:16]}"
                self.server.create_database(name, template=self.template)
                while True:
                    try:
                        self._ready.put(name, timeout=0.2)
                        break
                    except queue.Full:
                        self._drop_used()
                        if self._stop.is_set():
                            self.server.drop_database(name)
                            return
        except BaseException as error:
            self._error = error

    def give_back(self, name: str) -> None:
        """Drop ``name``, a database ``take()`` handed out, in the background thread: the test
        that used it need not wait for the drop (``WITH (FORCE)`` ends leftover sessions)."""
        self._used.put(name)

    def take(self) -> str:
        """The name of a new database, a copy of the template nobody else has."""
        while True:
            try:
                return self._ready.get(timeout=1)
            except queue.Empty:
                if not self._thread.is_alive():
                    raise PostgresUnavailable(
                        f"creating databases from {self.template} failed: {self._error!r}"
                    ) from self._error

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._drop_used()
        while True:
            try:
                self.server.drop_database(self._ready.get_nowait())
            except queue.Empty:
                return


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(command[:3])}... failed: {result.stderr.strip() or result.stdout.strip()}"
        )


def start_postgres() -> PostgresServer:
    """Start a private PostgreSQL cluster, or connect to ``MERKKI_TEST_POSTGRES_URL``."""
    existing = os.environ.get(SERVER_URL_ENV)
    if existing:
        from sqlalchemy.engine import make_url

        url = make_url(existing)
        return PostgresServer(
            host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres"
        )
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian "
            "package postgresql (.ci/run does)"
        )
    # PostgreSQL refuses to run as root; run it as the package's system user then.
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="merkki-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, user="postgres")
    data_dir = root / "data"
    _run(
        [
            *as_user,
            initdb,
            "-D",
            str(data_dir),
            "-U",
            "merkki",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
    )
    # A free port is free only until someone binds it: another test process of a parallel run
    # (pytest-xdist) may pick the same one for its own server at the same moment. The server
    # that loses says so in its log, and tries again on another port.
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = root / "log"
        try:
            _run(
                [
                    *as_user,
                    pg_ctl,
                    "-D",
                    str(data_dir),
                    "-o",
                    options,
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            break
        except PostgresUnavailable:
            text = log.read_text("utf-8", "replace") if log.exists() else ""
            if attempt == START_ATTEMPTS or "Address already in use" not in text:
                raise
            log.unlink()
    return PostgresServer("127.0.0.1", port, "merkki", data_dir, as_user, pg_ctl)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
