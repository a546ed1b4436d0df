"""``/healthz``: can this process serve? It checks the database and the signing keys.

* ``database``: one trivial query on a fresh connection from the pool, reading Alembic's
  ``alembic_version`` row, so an empty or unmigrated database (a forgotten ``merkki init``, a
  SQLite file that was removed and recreated empty on connect) fails as well as an unreachable
  server.
* ``database`` also tells whether the database can take writes: read-only (PostgreSQL
  ``transaction_read_only``, e.g. a hot standby or a read-only role; SQLite refusing a write
  that changes nothing, made and rolled back at once), a full disk under a SQLite file, or a
  write that failed for one of these reasons (``issuer.db.storage_problem``; the only way to see
  PostgreSQL's disk_full) in the last ``STORAGE_PROBLEM_TTL`` seconds. Such a database still
  serves verification, status lists and pages, so the answer is 200 "degraded" with the code,
  not 503: taking every instance out of rotation would stop verification too. Writes answer
  503 ``busy`` meanwhile (``issuer.web.errors``).
* ``signing_keys``: every active institution key can be used from the configured key store
  (``ISSUER_KEY_STORE``): sealed in the database and opened with ``ISSUER_KEY_PASSPHRASE``, a
  file in the keys directory (which must then be readable), or an object in the PKCS#11 token;
  and it matches the public key its DID document publishes. A key costs about half a
  millisecond to open; the result is kept for ``KEY_CHECK_TTL`` seconds per app so that
  frequent probes stay cheap.

The public answer names each check and, when it failed, a short code; never a path, a key id or
an exception text (a load balancer and anyone else may read it). The details go to the log.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.errors import KeyError_
from issuer.core.key_envelope import DatabaseKeyStore
from issuer.core.keys import KeyStore, SigningKeyStore
from issuer.db import get_database, storage_problem
from issuer.models import KeyStatus, SigningKey
from issuer.services import keys
from issuer.services.errors import SigningUnavailableError

__all__ = [
    "KEY_CHECK_TTL",
    "STORAGE_PROBLEM_TTL",
    "Check",
    "forget_key_check",
    "note_storage_problem",
    "run_checks",
]

log = logging.getLogger("issuer.web.health")

#: Seconds a signing-key check result is reused.
KEY_CHECK_TTL = 30.0
#: A PostgreSQL health query that takes longer than this is a failure, not a hung probe.
DATABASE_TIMEOUT_MS = 2000

#: Seconds a write that failed for want of storage (read-only, disk full) is reported.
STORAGE_PROBLEM_TTL = 60.0
#: Free bytes under a SQLite file below which the disk counts as full: a transaction needs room
#: for its write-ahead log, and SQLite fails with "database or disk is full" without it.
MIN_FREE_BYTES = 8 * 1024 * 1024
#: How long the SQLite write probe waits for a writer's lock (a held lock proves the database
#: takes writes; the probe must not wait for a bulk batch).
PROBE_BUSY_TIMEOUT_MS = 100
#: Database codes of a database that still serves reads: "degraded", not "failed".
DEGRADED_CODES = frozenset({"read_only", "disk_full", "insufficient_resources"})

_EXTENSION = "issuer.web.health"
_STORAGE_EXTENSION = "issuer.web.health.storage"
# Monotonic clock, a module attribute so that tests can move time forward.
_clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: ``code`` is None when it passed."""

    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None

    @property
    def degraded(self) -> bool:
        """Failed, but reads are still served (a database that cannot write)."""
        return self.code in DEGRADED_CODES

    def as_json(self) -> dict[str, str]:
        if self.code is None:
            return {"status": "ok"}
        return {"status": "degraded" if self.degraded else "failed", "code": self.code}


@dataclass(slots=True)
class _KeyCache:
    lock: threading.Lock
    result: Check | None = None
    checked_at: float = 0.0


def run_checks() -> tuple[bool, dict[str, Any]]:
    """Run every check for the current app; ``(healthy, body)`` for ``/healthz``."""
    database = check_database()
    readable = database.ok or database.degraded
    signing_keys = cached_key_check(current_app) if readable else Check("database_unavailable")
    checks = {"database": database, "signing_keys": signing_keys}
    healthy = all(check.ok or check.degraded for check in checks.values())
    overall = "failed"
    if healthy:
        overall = "ok" if all(check.ok for check in checks.values()) else "degraded"
    body = {
        "status": overall,
        "checks": {name: check.as_json() for name, check in checks.items()},
    }
    return healthy, body


def note_storage_problem(app: Flask, code: str) -> None:
    """A write just failed because the database cannot write (``issuer.db.storage_problem``):
    report ``code`` for ``STORAGE_PROBLEM_TTL`` seconds. (A server shutting down or starting,
    ``unavailable``, is not kept: the connection check reports it while it lasts.)"""
    if code in DEGRADED_CODES:
        app.extensions[_STORAGE_EXTENSION] = (code, _clock())


def _recent_storage_problem(app: Flask) -> str | None:
    noted = app.extensions.get(_STORAGE_EXTENSION)
    if not isinstance(noted, tuple):
        return None
    code, at = noted
    return str(code) if _clock() - at < STORAGE_PROBLEM_TTL else None


def check_database() -> Check:
    """A trivial query on its own connection (not the request's session, which a failed probe
    must not leave in a broken state)."""
    engine = get_database().engine
    try:
        connection = engine.connect()
    except SQLAlchemyError as error:
        log.error("health: database unreachable: %s", _one_line(error))
        return Check("unreachable")
    try:
        with connection.begin():
            if engine.dialect.name == "postgresql":
                # Bound the probe: a locked or overloaded server answers "failed", not never.
                connection.execute(text(f"SET LOCAL statement_timeout = {DATABASE_TIMEOUT_MS}"))
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as error:
        log.error("health: database query failed: %s", _one_line(error))
        return Check("query_failed")
    finally:
        connection.close()
    if revision is None:
        log.error("health: the database has no schema version (run `merkki init`)")
        return Check("schema_missing")
    code = _write_problem(engine.dialect.name, engine.url.database) or _recent_storage_problem(
        current_app
    )
    return Check(code)


def _write_problem(dialect: str, database: str | None) -> str | None:
    """``read_only`` or ``disk_full`` when the database cannot take writes now (a separate
    connection and transaction, rolled back: nothing is written)."""
    engine = get_database().engine
    try:
        with engine.connect() as connection:
            if dialect == "postgresql":
                setting = connection.execute(text("SHOW transaction_read_only")).scalar()
                connection.rollback()
                if setting == "on":
                    log.error("health: the database is read-only (transaction_read_only)")
                    return "read_only"
                return None
            if dialect == "sqlite":
                return _sqlite_write_problem(connection, database)
    except SQLAlchemyError as error:
        log.error("health: write probe failed: %s", _one_line(error))
        return storage_problem(error) or "query_failed"
    return None


def _sqlite_write_problem(connection: Connection, database: str | None) -> str | None:
    path = (database or "").removeprefix("file:")
    if path and path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path))
        free = _free_bytes(folder)
        if free < MIN_FREE_BYTES:
            log.error("health: %d bytes free under the database file", free)
            return "disk_full"
    timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {PROBE_BUSY_TIMEOUT_MS}")
    try:
        # A write that changes nothing: SQLite still refuses it on a read-only database
        # (SQLITE_READONLY); rolled back at once.
        connection.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0 = 1"))
    except DBAPIError as error:
        problem = storage_problem(error)
        if problem is not None:
            log.error("health: the database cannot write: %s", _one_line(error))
        return problem  # "database is locked": another writer holds the lock, so it writes
    finally:
        connection.rollback()
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(timeout or 0)}")
    return None


def _free_bytes(folder: str) -> int:
    return shutil.disk_usage(folder).free


def cached_key_check(app: Flask) -> Check:
    """``check_signing_keys``, reused for ``KEY_CHECK_TTL`` seconds (one check at a time per
    app: concurrent probes wait for the one in progress instead of repeating it)."""
    cache = app.extensions.get(_EXTENSION)
    if not isinstance(cache, _KeyCache):
        cache = app.extensions.setdefault(_EXTENSION, _KeyCache(threading.Lock()))
    with cache.lock:
        now = _clock()
        if cache.result is None or now - cache.checked_at >= KEY_CHECK_TTL:
            cache.result = check_signing_keys(app)
            cache.checked_at = now
        return cache.result


def forget_key_check(app: Flask) -> None:
    """Drop the cached key check (the next probe checks again)."""
    cache = app.extensions.get(_EXTENSION)
    if isinstance(cache, _KeyCache):
        with cache.lock:
            cache.result = None


def check_signing_keys(app: Flask) -> Check:
    """Every active key loads and matches its public half; the first failure decides the code."""
    settings = get_settings(app)
    keystore = keys.keystore_for(settings)
    with Session(get_database(app).engine) as session:
        try:
            active = list(
                session.scalars(select(SigningKey).where(SigningKey.status == KeyStatus.ACTIVE))
            )
        except SQLAlchemyError as error:
            log.error("health: cannot list the signing keys: %s", _one_line(error))
            return Check("database_unavailable")
        # The keys folder matters to the files store, and to the database store for keys it has
        # not sealed yet; sealed and token keys are checked one by one below.
        directory = _files_directory(keystore, active)
        if directory is not None:
            if not active and not directory.exists():
                # A fresh installation: the folder appears with the first institution's key.
                return Check()
            if not directory.is_dir() or not os.access(directory, os.R_OK | os.X_OK):
                log.error("health: the keys directory %s is not a readable directory", directory)
                return Check("keys_dir_unreadable")
        for key in active:
            code = _key_problem(keystore, key)
            if code is not None:
                return Check(code)
    return Check()


def _files_directory(keystore: SigningKeyStore, active: list[SigningKey]) -> Path | None:
    if isinstance(keystore, KeyStore):
        return keystore.directory
    if isinstance(keystore, DatabaseKeyStore) and any(
        key.sealed_private_key is None for key in active
    ):
        return keystore.directory
    return None


def _key_problem(keystore: SigningKeyStore, key: SigningKey) -> str | None:
    try:
        held = keystore.has_private_key(key.key_id, key.sealed_private_key)
    except KeyError_ as error:
        log.error("health: active key %s: %s", key.key_id, error.message)
        return "key_unusable"
    if not held:
        log.error("health: the private half of active key %s is missing", key.key_id)
        return "key_missing"
    try:
        keys.load_private_key(keystore, key)
    except SigningUnavailableError as error:
        # Unreadable, corrupt, unencrypted, encrypted with another passphrase, or another key
        # (key_unusable, key_missing, key_mismatch); load_private_key logged the cause.
        log.error("health: active key %s: %s", key.key_id, error.reason)
        return error.reason
    return None


def _one_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
