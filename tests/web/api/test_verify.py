"""POST /api/v1/verify, and its agreement with `merkki verify` and the page."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.cli import main
from issuer.services import submissions
from tests.conftest import SVG
from tests.web.verify.helpers import (
    EXPECTED_VERDICT,
    VERDICTS,
    Scenario,
    baked,
    scenario,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below

KINDS = ("json", "png", "svg")


def _post_file(client: FlaskClient, data: bytes, filename: str) -> Any:
    return client.post(
        "/api/v1/verify",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _api_verdict(client: FlaskClient, kind: str, text: str) -> dict[str, Any]:
    if kind == "json":
        response = client.post(
            "/api/v1/verify", data=text.encode(), content_type="application/json"
        )
    else:
        response = _post_file(client, baked(kind, text), f"badge.{kind}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def _cli_verdict(app: Flask, tmp_path: Path, kind: str, text: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / f"credential.{kind}"
    path.write_bytes(baked(kind, text))
    result = app.test_cli_runner().invoke(main, ["verify", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("credential", VERDICTS)
def test_api_and_cli_agree_for_json_png_and_svg(
    app: Flask, client: FlaskClient, scenario: Scenario, tmp_path: Path, credential: str
) -> None:
    text = scenario.credentials[credential].text
    expected = EXPECTED_VERDICT[credential]
    for kind in KINDS:
        body = _api_verdict(client, kind, text)
        exit_code, report = _cli_verdict(app, tmp_path, kind, text)

        assert body["verdict"] == expected, (kind, body)
        assert body["verified"] is (expected == "valid")
        assert body["source"] == kind
        assert report["verdict"] == expected, (kind, report)
        assert exit_code == (0 if expected == "valid" else 1)
        # The same service function: the same checks, in the same order, with the same words.
        assert report["checks"] == body["checks"]


def test_answer_shape(client: FlaskClient, scenario: Scenario) -> None:
    body = _api_verdict(client, "json", scenario.credentials["revoked"].text)
    assert set(body) >= {"verified", "verdict", "checks", "credential"}
    assert body["verified"] is False
    assert body["verdict"] == "revoked"
    for check in body["checks"]:
        assert set(check) >= {"name", "ok", "message"}
        assert check["ok"] in (True, False, None)
    revocation = next(c for c in body["checks"] if c["name"] == "status:revocation")
    assert revocation["ok"] is False
    assert "väärälle" in revocation["message"]
    assert body["credential"]["recipient"]["name"] == "Bertil Holm"
    assert body["credential"]["issuer"]["id"] == "did:web:127.0.0.1%3A5000:issuers:hamk"
    assert body["revocationReason"].startswith("Näyttö hyväksyttiin")


@pytest.mark.parametrize(
    "media_type", ["application/ld+json", "application/vc+ld+json", "application/vc"]
)
def test_json_ld_media_types_are_accepted(
    client: FlaskClient, scenario: Scenario, media_type: str
) -> None:
    response = client.post(
        "/api/v1/verify", data=scenario.credentials["valid"].text, content_type=media_type
    )
    assert response.status_code == 200
    assert response.get_json()["verdict"] == "valid"


def test_a_json_file_upload_works(client: FlaskClient, scenario: Scenario) -> None:
    response = _post_file(client, scenario.credentials["valid"].text.encode(), "c.json")
    assert response.get_json()["verified"] is True


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"a string"', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_malformed_json_is_400(client: FlaskClient, data: bytes, content_type: str) -> None:
    response = client.post("/api/v1/verify", data=data, content_type=content_type)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] in ("unreadable_credential", "invalid_input")
    assert body["message"]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "broken.png"),
        (SVG, "unbaked.svg"),
        (b"<!DOCTYPE svg [<!ENTITY a 'b'>]><svg>&a;</svg>", "entities.svg"),
        (b"GIF89a....", "a.gif"),
    ],
)
def test_bad_images_are_400(client: FlaskClient, data: bytes, filename: str) -> None:
    response = _post_file(client, data, filename)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unreadable_credential"


def test_multipart_without_file_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/verify", data={"other": "x"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "'file'" in response.get_json()["message"]


def test_other_media_types_are_415(client: FlaskClient) -> None:
    response = client.post("/api/v1/verify", data=b"x", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"


def test_too_large_is_413(client: FlaskClient) -> None:
    big = b"{" + b" " * (submissions.MAX_SUBMISSION_BYTES + 100_000) + b"}"
    response = client.post("/api/v1/verify", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] in ("too_large", "request_entity_too_large")


def test_a_file_just_over_the_cap_is_413(client: FlaskClient) -> None:
    big = b"{" + b" " * submissions.MAX_SUBMISSION_BYTES + b"}"
    response = _post_file(client, big, "big.json")
    assert response.status_code == 413


def test_get_is_405_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/verify")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_no_token_needed_and_no_csrf(client: FlaskClient, scenario: Scenario) -> None:
    # Anyone may verify: no Authorization header, no cookie, no form token.
    response = client.post("/api/v1/verify", json=json.loads(scenario.credentials["expired"].text))
    assert response.status_code == 200
    assert response.get_json()["verdict"] == "expired"
