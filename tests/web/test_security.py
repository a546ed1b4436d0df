"""Security headers, request size limits, cookie hardening (issuer/web/security.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.web.security import PAGE_CSP


def test_pages_carry_a_strict_csp_and_hardening_headers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert csp == PAGE_CSP
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_hsts_over_https(client: FlaskClient) -> None:
    response = client.get("/healthz", base_url="https://merkki.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_svg_responses_are_sandboxed(app: Flask) -> None:
    @app.get("/__test.svg")
    def svg() -> Any:
        return app.response_class(
            b"<svg xmlns='http://www.w3.org/2000/svg'/>", mimetype="image/svg+xml"
        )

    response = app.test_client().get("/__test.svg")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_fifty_megabyte_body_is_refused_quickly_and_service_keeps_serving(
    client: FlaskClient,
) -> None:
    body = b"x" * (50 * 1024 * 1024)
    started = time.perf_counter()
    response = client.post("/api/v1/verify", data=body, content_type="application/json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 413
    assert response.is_json
    assert elapsed < 5
    assert client.get("/healthz").status_code == 200


def test_request_size_limit_is_configurable(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "MAX_REQUEST_BYTES": "1024"})
    response = app.test_client().post(
        "/api/v1/verify", data=b"{" + b" " * 2048 + b"}", content_type="application/json"
    )
    assert response.status_code == 413


def test_bad_size_setting_is_refused(app_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="MAX_REQUEST_BYTES"):
        create_app({**app_config, "MAX_REQUEST_BYTES": "lots"})


def test_session_cookies_are_hardened(app: Flask, app_config: dict[str, Any]) -> None:
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # http base URL in tests
    https_app = create_app({**app_config, "BASE_URL": "https://merkki.example.fi"})
    assert https_app.config["SESSION_COOKIE_SECURE"] is True


def test_proxy_fix_trusts_only_configured_proxies(app_config: dict[str, Any]) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    seen: dict[str, tuple[str | None, str]] = {}
    for name, extra in (("plain", {}), ("proxied", {"PROXY_FIX": "1"})):
        app = create_app({**app_config, **extra})

        @app.get("/__whoami")
        def whoami() -> Any:
            from flask import request

            return {"addr": request.remote_addr, "scheme": request.scheme}

        body = app.test_client().get("/__whoami", headers=headers).get_json()
        seen[name] = (body["addr"], body["scheme"])
    assert seen["plain"] == ("127.0.0.1", "http")
    assert seen["proxied"] == ("203.0.113.9", "https")


# --- values no column can hold (issue 13; tests/test_hostile_values.py walks every route) ---


def test_a_nul_byte_anywhere_is_a_4xx_with_json_on_json_routes(client: FlaskClient) -> None:
    assert client.get("/issuers/a%00b").status_code == 404
    assert client.get("/api/v1/badge-classes/x%00").status_code == 404
    query = client.get("/catalog?q=a%00b")
    assert query.status_code == 422
    api = client.post("/api/v1/verify", json={"id": "urn:uuid:\x00"})
    assert api.status_code == 422
    assert api.get_json()["error"] == "unprocessable_entity"
    assert "NUL" in api.get_json()["message"]
    # The six characters \u0000 as text are not a NUL: such a body reaches the view.
    text = client.post("/api/v1/verify", json={"note": "\\u0000"})
    assert "NUL" not in text.get_data(as_text=True)
    assert text.status_code != 422 or text.get_json()["error"] != "unprocessable_entity"
    form = client.post("/staff/login", data={"email": "a\x00@b.fi", "password": "x"})
    assert form.status_code == 422
    header = client.post(
        "/api/v1/credentials", headers={"Authorization": "Bearer mk_\x00", "Idempotency-Key": "k"}
    )
    assert header.status_code == 400


def test_huge_integers_in_routes_are_404_on_every_database(client: FlaskClient) -> None:
    for number in (2**31, 2**63, 2**64, 10**40):
        assert client.get(f"/api/v1/jobs/{number}").status_code == 404
        assert client.get(f"/status/x/revocation/{number}").status_code == 404
    # The largest value a PostgreSQL INTEGER holds still routes (and names nothing here).
    assert client.get(f"/status/x/revocation/{2**31 - 1}").status_code == 404


def test_errors_under_status_are_json(client: FlaskClient) -> None:
    for url in ("/status/nobody/revocation/1", "/status/x/revocation/99999999999999999999"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        assert response.get_json()["error"] == "not_found"


def test_a_json_body_on_a_form_route_is_415(client: FlaskClient) -> None:
    response = client.post("/staff/login", json=["not", "a", "form"])
    assert response.status_code == 415
