"""``/healthz``: the database and the signing keys, each reported ok or failed with a code."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from issuer import create_app
from issuer.config import get_settings
from issuer.core.keys import generate_private_key
from issuer.db import dispose, unit_of_work
from issuer.services import institutions, keys
from issuer.services.institutions import InstitutionDetails
from issuer.web import health
from tests.conftest import PASSPHRASE
from tests.db_errors import read_only_database

OK = {"status": "ok"}


def failed(code: str) -> dict[str, str]:
    return {"status": "failed", "code": code}


@pytest.fixture
def key_store() -> str:
    """These tests break key files and folders: the app runs the files store."""
    return "files"


@pytest.fixture
def key_ids(app: Flask) -> list[str]:
    """Two institutions, one of them with a retired key too; their active key ids."""
    with app.app_context(), unit_of_work() as session:
        keystore = keys.keystore_for(get_settings())
        first = institutions.create_institution(
            session, InstitutionDetails(slug="tamk", name_fi="TAMK"), keystore
        )
        second = institutions.create_institution(
            session, InstitutionDetails(slug="omnia", name_fi="Omnia"), keystore
        )
        keys.rotate_key(session, second, keystore)
        return [keys.active_key(session, first).key_id, keys.active_key(session, second).key_id]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The health module's clock, moved by the test: ``clock[0] += 31``."""
    now = [1000.0]
    monkeypatch.setattr(health, "_clock", lambda: now[0])
    return now


def probe(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert isinstance(body, dict)
    return response.status_code, body


def assert_no_secrets(body: dict[str, Any], *secrets: str) -> None:
    text = str(body)
    for secret in (PASSPHRASE, "test secret key", *secrets):
        assert secret not in text
    assert "/" not in text  # no path, URL or exception text at all
    assert set(body) == {"status", "checks"}
    for check in body["checks"].values():
        assert set(check) <= {"status", "code"}


def test_healthy_service(client: FlaskClient, key_ids: list[str]) -> None:
    status, body = probe(client)
    assert status == 200
    assert body == {"status": "ok", "checks": {"database": OK, "signing_keys": OK}}


def test_fresh_installation_without_keys_folder_is_healthy(app: Flask) -> None:
    assert not get_settings(app).keys_dir.exists()
    assert probe(app.test_client()) == (
        200,
        {"status": "ok", "checks": {"database": OK, "signing_keys": OK}},
    )


def test_key_check_is_cached_for_thirty_seconds(
    app: Flask, key_ids: list[str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    runs: list[int] = []
    real_check = health.check_signing_keys

    def counted(target: Flask) -> health.Check:
        runs.append(1)
        return real_check(target)

    monkeypatch.setattr(health, "check_signing_keys", counted)
    for _ in range(20):
        assert probe(client)[0] == 200
    assert len(runs) == 1

    keys.keystore_for(get_settings(app)).delete(key_ids[0])
    clock[0] += health.KEY_CHECK_TTL - 1
    assert probe(client)[0] == 200  # still the cached result
    clock[0] += 1
    status, body = probe(client)
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("key_missing")
    assert len(runs) == 2


def test_missing_key_file(client: FlaskClient, app: Flask, key_ids: list[str]) -> None:
    keys.keystore_for(get_settings(app)).delete(key_ids[1])
    status, body = probe(client)
    assert status == 503
    assert body == {
        "status": "failed",
        "checks": {"database": OK, "signing_keys": failed("key_missing")},
    }
    assert_no_secrets(body, *key_ids)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGjMF8GCSqGSIb3\n"
        b"-----END ENCRYPTED PRIVATE KEY-----\n",
    ],
    ids=["empty", "garbage", "truncated-pem"],
)
def test_corrupt_key_file(app: Flask, key_ids: list[str], content: bytes) -> None:
    keystore = keys.keystore_for(get_settings(app))
    keystore.path_for(key_ids[0]).write_bytes(content)
    status, body = probe(app.test_client())
    assert status == 503
    assert body["checks"] == {"database": OK, "signing_keys": failed("key_unusable")}
    assert_no_secrets(body, *key_ids)


def test_key_file_holding_another_key(app: Flask, key_ids: list[str]) -> None:
    keystore = keys.keystore_for(get_settings(app))
    keystore.save(key_ids[0], generate_private_key(), overwrite=True)
    status, body = probe(app.test_client())
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("key_mismatch")


def test_wrong_passphrase(app_config: dict[str, Any], key_ids: list[str]) -> None:
    other = create_app({**app_config, "KEY_PASSPHRASE": "not the passphrase"})
    try:
        status, body = probe(other.test_client())
    finally:
        dispose(other)
    assert status == 503
    assert body["checks"] == {"database": OK, "signing_keys": failed("key_unusable")}
    assert_no_secrets(body, "not the passphrase", *key_ids)


def test_keys_folder_not_a_readable_folder(app: Flask, key_ids: list[str]) -> None:
    folder = get_settings(app).keys_dir
    folder.rename(folder.with_name("keys-moved"))
    folder.write_text("a file where the folder was")
    status, body = probe(app.test_client())
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("keys_dir_unreadable")
    assert_no_secrets(body, str(folder))


def test_keys_folder_gone(app: Flask, key_ids: list[str]) -> None:
    folder = get_settings(app).keys_dir
    folder.rename(folder.with_name("keys-moved"))
    status, body = probe(app.test_client())
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("keys_dir_unreadable")


@pytest.fixture
def unreachable_url(database_url: str, tmp_path: Path) -> str:
    """The same kind of database, but one that cannot be opened: a SQLite file in a folder
    that does not exist, or a PostgreSQL database that was never created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(tmp_path / "no-such-folder" / "db.sqlite3")).render_as_string(
            hide_password=False
        )
    return url.set(database="merkki_no_such_database").render_as_string(hide_password=False)


def _app_on(app_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    app = create_app({**app_config, "DATABASE_URL": database_url})
    yield app
    dispose(app)


def test_unreachable_database(app_config: dict[str, Any], unreachable_url: str) -> None:
    for app in _app_on(app_config, unreachable_url):
        started = time.monotonic()
        status, body = probe(app.test_client())
        assert time.monotonic() - started < 5
        assert status == 503
        assert body == {
            "status": "failed",
            "checks": {
                "database": failed("unreachable"),
                "signing_keys": failed("database_unavailable"),
            },
        }
        assert_no_secrets(body, "merkki_no_such_database", "no-such-folder")


def test_database_server_down(app_config: dict[str, Any]) -> None:
    """A PostgreSQL URL whose port nobody listens on: refused at once, 503."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    url = f"postgresql+psycopg://merkki:hunter2@127.0.0.1:{port}/merkki"
    for app in _app_on(app_config, url):
        started = time.monotonic()
        status, body = probe(app.test_client())
        assert time.monotonic() - started < 5
        assert status == 503
        assert body["checks"]["database"] == failed("unreachable")
        assert_no_secrets(body, "hunter2", str(port))


def test_database_without_schema(app_config: dict[str, Any]) -> None:
    """An empty database (``merkki init`` never ran, or the SQLite file was removed and came
    back empty): the query fails, 503."""
    app = create_app(app_config)  # app_config's database is not migrated
    try:
        status, body = probe(app.test_client())
    finally:
        dispose(app)
    assert status == 503
    assert body["checks"]["database"] == failed("query_failed")


def test_database_removed_while_serving(
    app: Flask, key_ids: list[str], request: pytest.FixtureRequest
) -> None:
    """The SQLite file is deleted (it comes back empty on the next connect: the query fails),
    or the PostgreSQL database is dropped (connecting fails)."""
    url = make_url(get_settings(app).database_url)
    client = app.test_client()
    assert probe(client)[0] == 200
    dispose(app)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).unlink()
        expected = "query_failed"
    else:
        request.getfixturevalue("postgres_server").drop_database(url.database)
        expected = "unreachable"
    status, body = probe(client)
    assert status == 503
    assert body["checks"]["database"] == failed(expected)


def test_health_probes_are_not_rate_limited(app_config: dict[str, Any]) -> None:
    tight = {
        "RATE_LIMITS": "on",
        "RATE_LIMIT_LOGIN": "1 per minute",
        "RATE_LIMIT_VERIFY": "1 per minute",
        "RATE_LIMIT_API": "1 per minute",
    }
    app = create_app({**app_config, **tight})
    try:
        from issuer.services import migrate

        migrate.upgrade(app_config["DATABASE_URL"])
        client = app.test_client()
        for _ in range(30):
            response = client.get("/healthz")
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers
    finally:
        dispose(app)


# --- a database that cannot write -------------------------------------------------------------


def degraded(code: str) -> dict[str, str]:
    return {"status": "degraded", "code": code}


def test_a_read_only_database_is_reported_as_degraded(
    app: Flask, client: FlaskClient, key_ids: list[str]
) -> None:
    """SQLite opened read-only (``mode=ro``), PostgreSQL with ``default_transaction_read_only``:
    reads still work, so 200 "degraded" with the code, and the keys are still checked."""
    with read_only_database(app):
        status, body = probe(client)
    assert status == 200
    assert body == {
        "status": "degraded",
        "checks": {"database": degraded("read_only"), "signing_keys": OK},
    }
    assert_no_secrets(body)
    assert probe(client) == (200, {"status": "ok", "checks": {"database": OK, "signing_keys": OK}})


def test_a_full_disk_under_the_sqlite_file_is_reported(
    app: Flask, client: FlaskClient, key_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not get_settings(app).database_url.startswith("sqlite"):
        pytest.skip("free space under the file is checked for SQLite only")
    monkeypatch.setattr(health, "_free_bytes", lambda folder: 4096)
    status, body = probe(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == degraded("disk_full")


@pytest.mark.parametrize(
    ("original", "code"),
    [
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), "disk_full"),
        (psycopg.errors.ReadOnlySqlTransaction("read-only transaction"), "read_only"),
        (sqlite3.OperationalError("database or disk is full"), "disk_full"),
    ],
)
def test_a_write_that_failed_for_want_of_storage_is_reported_for_a_minute(
    app: Flask,
    client: FlaskClient,
    key_ids: list[str],
    clock: list[float],
    original: Exception,
    code: str,
) -> None:
    """A PostgreSQL server out of disk space answers reads and only fails writes: the failed
    write is what tells. The write answers 503 busy; /healthz names the code for 60 s."""
    error = OperationalError("INSERT INTO audit_event ...", {}, original)
    with app.test_request_context("/api/v1/credentials", method="POST"):
        response = app.make_response(app.handle_user_exception(error))
    assert response.status_code == 503
    assert response.get_json()["error"] == "busy"
    assert int(response.headers["Retry-After"]) >= 1
    status, body = probe(client)
    assert (status, body["checks"]["database"]) == (200, degraded(code))
    assert_no_secrets(body)
    clock[0] += health.STORAGE_PROBLEM_TTL + 1
    assert probe(client)[1]["checks"]["database"] == OK
