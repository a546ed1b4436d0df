"""Signing in and out, roles, CSRF, the sign-in throttle, one-time passwords."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from issuer.db import get_session
from issuer.services import accounts
from tests.web.staff.support import (
    PASSWORD,
    World,
    csrf_token,
    login,
    signed_in,
)


def test_staff_pages_redirect_to_sign_in_with_next(app: Flask, world: World) -> None:
    client = app.test_client()
    response = client.get("/staff/badge-classes?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
    assert "badge-classes" in response.headers["Location"]


def test_sign_in_goes_to_next_page_but_never_off_site(app: Flask, world: World) -> None:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/staff/login?next=/staff/badge-classes",
        data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/staff/badge-classes"
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/staff/login?next=//evil.example/x",
        data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/staff/"


def test_bad_credentials_get_one_generic_answer(app: Flask, world: World) -> None:
    client = app.test_client()
    wrong_password = login(client, world.a.admin_email, "not the password at all")
    unknown_user = login(client, "nobody@nowhere.test", "not the password at all")
    assert wrong_password.status_code == unknown_user.status_code == 200
    errors = [
        re.search(r'id="login-error">([^<]+)<', response.get_data(as_text=True))
        for response in (wrong_password, unknown_user)
    ]
    assert errors[0] is not None
    assert errors[1] is not None
    assert (
        errors[0].group(1) == errors[1].group(1) == "Sähköpostiosoite tai salasana ei ole oikein."
    )
    assert client.get("/staff/").status_code == 302  # still signed out


def test_session_cookie_is_hardened(app: Flask, world: World) -> None:
    client = app.test_client()
    response = login(client, world.a.admin_email)
    cookies = [value for name, value in response.headers if name == "Set-Cookie"]
    session_cookie = next(c for c in cookies if c.startswith(app.config["SESSION_COOKIE_NAME"]))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


def test_sign_in_is_throttled_per_address_and_email(app: Flask, world: World) -> None:
    client = app.test_client()
    for _ in range(accounts.MAX_FAILURES):
        assert login(client, world.a.admin_email, "wrong password guess").status_code == 200
    # Now even the right password is refused until the window ends.
    throttled = login(client, world.a.admin_email)
    assert throttled.status_code == 429
    assert "15" in throttled.get_data(as_text=True)
    # Another account from the same address is not affected.
    assert login(client, world.a.issuer_email).status_code == 302


def test_a_success_clears_the_failure_count(app: Flask, world: World) -> None:
    client = app.test_client()
    for _ in range(accounts.MAX_FAILURES - 1):
        login(client, world.a.admin_email, "wrong password guess")
    assert login(client, world.a.admin_email).status_code == 302
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    for _ in range(accounts.MAX_FAILURES - 1):
        login(client, world.a.admin_email, "wrong password guess")
    assert login(client, world.a.admin_email).status_code == 302


def test_login_without_csrf_token_is_refused(app: Flask, world: World) -> None:
    client = app.test_client()
    response = client.post(
        "/staff/login", data={"email": world.a.admin_email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_sign_out_needs_post_with_token_and_ends_the_session(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    assert client.get("/staff/logout").status_code == 405
    assert client.post("/staff/logout").status_code == 400  # no CSRF token
    assert client.get("/staff/").status_code == 200
    token = csrf_token(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_issuer_role_cannot_reach_admin_pages(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    for url in ("/staff/users", "/staff/tokens", "/staff/institution"):
        assert client.get(url).status_code == 403
    assert client.get("/staff/badge-classes").status_code == 200


def test_navigation_leads_to_every_page_the_role_may_use(app: Flask, world: World) -> None:
    """The menu and the home page link issuing, issued credentials and (admins) the audit log;
    every link they show answers 200 for that role, and no admin link is shown to an issuer."""
    admin_only = {"/staff/audit", "/staff/users", "/staff/tokens", "/staff/institution"}
    for email, is_admin in ((world.a.issuer_email, False), (world.a.admin_email, True)):
        client = signed_in(app, email)
        home = client.get("/staff/?lang=en").get_data(as_text=True)
        links = set(re.findall(r'href="(/staff/[^"?]*)"', home))
        assert {"/staff/issue/", "/staff/credentials", "/staff/badge-classes"} <= links
        assert ("/staff/audit" in links) is is_admin
        if is_admin:
            assert admin_only <= links
        else:
            assert not links & admin_only
        for link in sorted(links):
            assert client.get(link).status_code == 200, (email, link)


def test_deactivation_ends_existing_sessions(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        session = get_session()
        user = accounts.find_user_by_email(session, world.a.issuer_email)
        assert user is not None
        accounts.set_active(session, user, False)
        session.commit()
    assert client.get("/staff/").status_code == 302
    assert login(app.test_client(), world.a.issuer_email).status_code == 200  # refused


def test_one_time_password_must_be_changed_first(app: Flask, world: World) -> None:
    admin = signed_in(app, world.a.admin_email)
    token = csrf_token(admin, "/staff/users")
    created = admin.post(
        "/staff/users",
        data={"email": "New.Teacher@A.test", "name": "Uusi", "role": "issuer", "csrf_token": token},
    )
    assert created.status_code == 200
    page = created.get_data(as_text=True)
    assert "new.teacher@a.test" in page
    one_time = page.split('id="one-time-password"', 1)[1].split("<code>", 1)[1].split("<", 1)[0]

    newcomer = app.test_client()
    assert login(newcomer, "new.teacher@a.test", one_time).status_code == 302
    # Every page leads to the password change until it is done.
    assert newcomer.get("/staff/badge-classes").headers["Location"] == "/staff/password"
    token = csrf_token(newcomer, "/staff/password")
    changed = newcomer.post(
        "/staff/password",
        data={
            "current": one_time,
            "new": "my own secret passphrase",
            "confirm": "my own secret passphrase",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    assert newcomer.get("/staff/badge-classes").status_code == 200
    # The one-time password no longer works.
    assert login(app.test_client(), "new.teacher@a.test", one_time).status_code == 200


def test_password_change_ends_other_sessions(app: Flask, world: World) -> None:
    first = signed_in(app, world.a.issuer_email)
    second = signed_in(app, world.a.issuer_email)
    token = csrf_token(first, "/staff/password")
    first.post(
        "/staff/password",
        data={
            "current": PASSWORD,
            "new": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert first.get("/staff/").status_code == 200
    assert second.get("/staff/").status_code == 302


def test_staff_pages_are_translated(app: Flask, world: World) -> None:
    client = app.test_client()
    finnish = client.get("/staff/login?lang=fi").get_data(as_text=True)
    swedish = client.get("/staff/login?lang=sv").get_data(as_text=True)
    english = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert "Kirjaudu sisään" in finnish
    assert "Logga in" in swedish
    assert "Sign in" in english


# --- sessions end on the server: a replayed session cookie is refused (issue 13) -------------


def _session_cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def _replay(app: Flask, cookie: str) -> TestResponse:
    """A fresh browser presenting a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return thief.get("/staff/")


def _refused(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def test_a_session_cookie_replayed_after_sign_out_is_refused(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    cookie = _session_cookie(app, client)
    assert _replay(app, cookie).status_code == 200  # the copy works while the session lives
    other_device = signed_in(app, world.a.admin_email)

    token = csrf_token(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302

    assert _refused(_replay(app, cookie))
    # The stamp is per user: the sign-out ends the user's other sessions as well.
    assert _refused(other_device.get("/staff/"))
    # Someone else's session is untouched.
    assert signed_in(app, world.a.issuer_email).get("/staff/").status_code == 200
    # Signing in again works, with a new cookie; the old one stays dead.
    again = signed_in(app, world.a.admin_email)
    assert again.get("/staff/").status_code == 200
    assert _refused(_replay(app, cookie))


def test_a_stale_cookie_cannot_sign_anyone_out(app: Flask, world: World) -> None:
    first = signed_in(app, world.a.admin_email)
    stale = _session_cookie(app, first)
    first.post("/staff/logout", data={"csrf_token": csrf_token(first, "/staff/")})
    current = signed_in(app, world.a.admin_email)

    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], stale)
    token = csrf_token(thief, "/staff/login")
    thief.post("/staff/logout", data={"csrf_token": token})

    assert current.get("/staff/").status_code == 200


def test_a_session_cookie_replayed_after_a_password_change_is_refused(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.issuer_email)
    other = signed_in(app, world.a.issuer_email)
    before = _session_cookie(app, client)
    token = csrf_token(client, "/staff/password")
    changed = client.post(
        "/staff/password",
        data={
            "current": PASSWORD,
            "new": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    # This session continues on a re-issued cookie; the copy taken before the change does not.
    assert client.get("/staff/").status_code == 200
    assert _session_cookie(app, client) != before
    assert _refused(_replay(app, before))
    assert _refused(other.get("/staff/"))


def test_a_session_cookie_replayed_after_deactivation_is_refused_even_after_reactivation(
    app: Flask, world: World
) -> None:
    victim = signed_in(app, world.a.issuer_email)
    cookie = _session_cookie(app, victim)
    admin = signed_in(app, world.a.admin_email)
    token = csrf_token(admin, "/staff/users")
    base = f"/staff/users/{world.a.issuer_id}"
    assert admin.post(f"{base}/deactivate", data={"csrf_token": token}).status_code == 302
    assert _refused(_replay(app, cookie))
    assert _refused(victim.get("/staff/"))

    assert admin.post(f"{base}/activate", data={"csrf_token": token}).status_code == 302
    assert _refused(_replay(app, cookie))  # reactivation does not revive the old sessions
    assert signed_in(app, world.a.issuer_email).get("/staff/").status_code == 200


def test_a_session_cookie_replayed_after_an_admin_password_reset_is_refused(
    app: Flask, world: World
) -> None:
    victim = signed_in(app, world.a.issuer_email)
    cookie = _session_cookie(app, victim)
    admin = signed_in(app, world.a.admin_email)
    token = csrf_token(admin, "/staff/users")
    reset = admin.post(
        f"/staff/users/{world.a.issuer_id}/reset-password", data={"csrf_token": token}
    )
    assert reset.status_code == 200
    assert _refused(_replay(app, cookie))
