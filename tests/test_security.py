"""Security headers, request size limits, cookie hardening (issuer/security.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.security import PAGE_CSP


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
