"""``/healthz``: can this process serve? It checks the database and the signing keys.

* ``database``: one trivial query on a fresh connection from the pool, reading Alembic's
  ``alembic_version`` row, so an empty or unmigrated database (a forgotten ``merkki init``, a
  SQLite file that was removed and recreated empty on connect) fails as well as an unreachable
  server.
* ``signing_keys``: the keys directory is readable, and every active institution key can be
  read, decrypted with ``ISSUER_KEY_PASSPHRASE`` and matches the public key its DID document
  publishes. A key costs about half a millisecond to decrypt; the result is kept for
  ``KEY_CHECK_TTL`` seconds per app so that frequent probes stay cheap.

The public answer names each check and, when it failed, a short code; never a path, a key id or
an exception text (a load balancer and anyone else may read it). The details go to the log.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from flask import Flask, current_app
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.errors import KeyError_
from issuer.core.keys import KeyStore
from issuer.db import get_database
from issuer.models import KeyStatus, SigningKey
from issuer.services import keys
from issuer.services.errors import ServiceError

__all__ = ["KEY_CHECK_TTL", "Check", "forget_key_check", "run_checks"]

log = logging.getLogger("issuer.health")

#: Seconds a signing-key check result is reused.
KEY_CHECK_TTL = 30.0
#: A PostgreSQL health query that takes longer than this is a failure, not a hung probe.
DATABASE_TIMEOUT_MS = 2000

_EXTENSION = "issuer.health"
# Monotonic clock, a module attribute so that tests can move time forward.
_clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: ``code`` is None when it passed."""

    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None

    def as_json(self) -> dict[str, str]:
        if self.code is None:
            return {"status": "ok"}
        return {"status": "failed", "code": self.code}


@dataclass(slots=True)
class _KeyCache:
    lock: threading.Lock
    result: Check | None = None
    checked_at: float = 0.0


def run_checks() -> tuple[bool, dict[str, Any]]:
    """Run every check for the current app; ``(healthy, body)`` for ``/healthz``."""
    database = check_database()
    signing_keys = cached_key_check(current_app) if database.ok else Check("database_unavailable")
    checks = {"database": database, "signing_keys": signing_keys}
    healthy = all(check.ok for check in checks.values())
    body = {
        "status": "ok" if healthy else "failed",
        "checks": {name: check.as_json() for name, check in checks.items()},
    }
    return healthy, body


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
    return Check()


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
        directory = keystore.directory
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


def _key_problem(keystore: KeyStore, key: SigningKey) -> str | None:
    if not keystore.exists(key.key_id):
        log.error("health: the file of active key %s is missing", key.key_id)
        return "key_missing"
    try:
        keys.load_private_key(keystore, key)
    except KeyError_ as error:
        # Unreadable, corrupt, unencrypted, or encrypted with another passphrase.
        log.error("health: active key %s cannot be loaded: %s", key.key_id, error.message)
        return "key_unusable"
    except UnsupportedAlgorithm as error:
        log.error("health: active key %s uses an unsupported algorithm: %s", key.key_id, error)
        return "key_unusable"
    except ServiceError as error:
        log.error("health: active key %s: %s", key.key_id, error)
        return "key_mismatch"
    return None


def _one_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
