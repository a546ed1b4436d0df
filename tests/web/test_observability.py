"""Request ids, structured logs and Prometheus metrics (issuer/web/observability.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.web.observability import loggable_path, path_holds_secret


def test_every_response_has_a_request_id(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32
    assert first != second


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(
    client: FlaskClient,
) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})
    assert kept.headers["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert replaced.headers["X-Request-ID"] != "<script>alert(1)</script>"


def test_a_request_refused_up_front_still_gets_its_id(app_config: dict[str, Any]) -> None:
    # The body-size check answers 413 before any view; the id must already be there.
    client = create_app({**app_config, "MAX_REQUEST_BYTES": "1024"}).test_client()
    body = b"{" + b" " * 2048 + b"}"
    response = client.post(
        "/api/v1/verify",
        data=body,
        headers={"X-Request-ID": "lb-refused-1"},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.headers["X-Request-ID"] == "lb-refused-1"
    fresh = client.post("/api/v1/verify", data=body, content_type="application/json")
    assert fresh.status_code == 413
    assert len(fresh.headers["X-Request-ID"]) == 32


def test_access_log_is_one_json_object_per_line(
    app: Flask, app_config: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # ``app`` has migrated the database, so /healthz answers 200 here too.
    app = create_app({**app_config, "LOG_FORMAT": "json"})
    capsys.readouterr()
    request_id = app.test_client().get("/healthz").headers["X-Request-ID"]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r.get("path") == "/healthz"]
    assert access
    assert access[0]["status"] == 200
    assert access[0]["request_id"] == request_id
    assert access[0]["method"] == "GET"
    assert isinstance(access[0]["duration_ms"], float | int)


def test_metrics_for_loopback_without_token(client: FlaskClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"merkki_http_requests_total" in response.data
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert remote.status_code == 404


def test_metrics_with_token(app_config: dict[str, Any]) -> None:
    client = create_app({**app_config, "METRICS_TOKEN": "s3cret-token"}).test_client()
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200


def test_bad_log_format_refused(app_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        create_app({**app_config, "LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/credentials/abc/manage/s3cr3t-T0ken", "/credentials/abc/manage/[redacted]"),
        ("/credentials/abc/manage/s3cr3t/extra", "/credentials/abc/manage/[redacted]/extra"),
        ("/credentials/abc", "/credentials/abc"),
        ("/badges/manage/v1/fi", "/badges/manage/v1/fi"),
        ("/credentials/abc/manage/", "/credentials/abc/manage/"),
    ],
)
def test_secrets_in_paths_are_redacted_for_the_log(path: str, logged: str) -> None:
    assert loggable_path(path) == logged
    assert path_holds_secret(path) is (logged != path)
