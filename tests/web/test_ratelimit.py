"""Rate limits come from configuration and answer 429 (issuer/web/ratelimit.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from issuer import create_app
from issuer.web.ratelimit import limit_api, limit_login, limit_verify

_apps = itertools.count()


def _unique(view: Callable[[], Any], name: str, number: int) -> Callable[[], Any]:
    # Flask-Limiter keys a decorated view by its name; each test app gets its own names so
    # limits decorated for one app never add up with another's (in production every view is
    # decorated once, at import).
    view.__name__ = view.__qualname__ = f"{name}_{number}"
    return view


def _app_with_routes(app_config: dict[str, Any], **extra: str) -> Flask:
    app = create_app({**app_config, "WTF_CSRF_ENABLED": False, **extra})
    number = next(_apps)

    def verify() -> Any:
        return {"ok": True}

    def login() -> Any:
        return {"ok": True}

    def api() -> Any:
        return {"ok": True}

    app.add_url_rule("/__verify", view_func=limit_verify(_unique(verify, "verify", number)))
    app.add_url_rule(
        "/__login", view_func=limit_login(_unique(login, "login", number)), methods=["GET", "POST"]
    )
    app.add_url_rule("/__api", view_func=limit_api(_unique(api, "api", number)))
    return app


def test_verification_limit_per_client(app_config: dict[str, Any]) -> None:
    client = _app_with_routes(app_config, RATE_LIMIT_VERIFY="3 per minute").test_client()
    statuses = [client.get("/__verify").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = client.get("/__verify", environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert other.status_code == 200


def test_login_counts_posts_only(app_config: dict[str, Any]) -> None:
    client = _app_with_routes(app_config, RATE_LIMIT_LOGIN="2 per minute").test_client()
    assert [client.get("/__login").status_code for _ in range(5)] == [200] * 5
    posts = [client.post("/__login", data={"email": "a@b.fi"}).status_code for _ in range(3)]
    assert posts == [200, 200, 429]


def test_api_limit_is_per_token(app_config: dict[str, Any]) -> None:
    client = _app_with_routes(app_config, RATE_LIMIT_API="2 per minute").test_client()
    first = {"Authorization": "Bearer token-one"}
    second = {"Authorization": "Bearer token-two"}
    assert [client.get("/__api", headers=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/__api", headers=second).status_code == 200


def test_limits_can_be_switched_off(app_config: dict[str, Any]) -> None:
    app = _app_with_routes(app_config, RATE_LIMIT_VERIFY="1 per minute", RATE_LIMITS="off")
    client = app.test_client()
    assert {client.get("/__verify").status_code for _ in range(5)} == {200}


def test_bad_switch_refused(app_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RATE_LIMITS"):
        create_app({**app_config, "RATE_LIMITS": "maybe"})


def test_the_sign_in_form_is_rate_limited_per_address(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``/staff/login``: ``ISSUER_RATE_LIMIT_LOGIN`` posts per client address, across
    e-mail addresses (credential stuffing, which the per-account throttle does not see); then
    even the right password gets a readable 429 page, while another address still signs in."""
    from issuer.db import dispose, unit_of_work
    from issuer.models.accounts import Role
    from issuer.services import accounts, migrate
    from tests.web.staff.support import PASSWORD, fast_password_hashing, login

    fast_password_hashing(monkeypatch)
    app = create_app({**app_config, "RATE_LIMIT_LOGIN": "3 per minute"})
    migrate.upgrade(app_config["DATABASE_URL"])
    try:
        with app.app_context(), unit_of_work() as session:
            accounts.create_user(
                session,
                institution=None,
                email="root@merkki.test",
                role=Role.SERVICE_ADMIN,
                password=PASSWORD,
            )
        client = app.test_client()
        assert {client.get("/staff/login").status_code for _ in range(5)} == {200}  # not counted
        guesses = [login(client, f"user{n}@merkki.test", "guess").status_code for n in range(3)]
        assert guesses == [200, 200, 200]  # "wrong e-mail or password", not yet limited
        limited = login(client, "root@merkki.test")
        assert limited.status_code == 429
        assert limited.content_type.startswith("text/html")
        assert "<h1>" in limited.get_data(as_text=True)
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        assert login(elsewhere, "root@merkki.test").status_code == 302
    finally:
        dispose(app)
