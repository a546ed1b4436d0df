"""Platform registrations (issue 17, LTI): staff of an institution add, list and remove them on
the integrations page and make a one-time Dynamic Registration link, which the platform
(``lti1p3platform``'s stand-in, with its registration endpoint) uses to register Merkki; one
institution's registrations are invisible to another."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.db import get_session
from issuer.models.lti import LtiPlatform
from tests.conftest import BASE_URL
from tests.web.lti.platform import (
    DYNAMIC_CLIENT_ID,
    REGISTRATION_TOKEN,
    TEACHER,
    Platform,
)
from tests.web.staff.support import csrf_token, signed_in

PAGE = "/staff/integrations"


def _platforms(app: Flask, slug: str) -> list[LtiPlatform]:
    with app.app_context():
        session = get_session()
        found = session.scalars(select(LtiPlatform)).all()
        return [p for p in found if p.institution.slug == slug]


def _token(client: FlaskClient) -> str:
    return csrf_token(client, PAGE)


def _add(client: FlaskClient, platform: Platform, **changes: str) -> object:
    data = {
        "lti-name": "Moodle by hand",
        "lti-issuer": "https://moodle.a-school.example",
        "lti-client_id": "by-hand",
        "lti-deployment_ids": "1\n2",
        "lti-auth_login_url": "https://moodle.a-school.example/mod/lti/auth.php",
        "lti-auth_token_url": "https://moodle.a-school.example/mod/lti/token.php",
        "lti-key_set_url": "https://moodle.a-school.example/mod/lti/certs.php",
        "lti-csrf_token": _token(client),
        **changes,
    }
    return client.post(f"{PAGE}/lti", data=data)


def test_staff_add_list_and_remove_a_platform_of_their_own(
    lti_app: Flask, platform: Platform
) -> None:
    a = signed_in(lti_app, "admin@a.test")
    b = signed_in(lti_app, "admin@b.test")
    page = a.get(PAGE).get_data(as_text=True)
    assert platform.issuer in page  # the platform the fixture registered for a
    assert f"{BASE_URL}/lti/jwks.json" in page
    assert platform.issuer not in b.get(PAGE).get_data(as_text=True)  # invisible to b

    bad = _add(a, platform, **{"lti-auth_login_url": "http://moodle.a-school.example/auth"})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    added = _add(a, platform)
    assert added.status_code == 302  # type: ignore[attr-defined]
    assert "moodle.a-school.example" in a.get(PAGE).get_data(as_text=True)
    assert "moodle.a-school.example" not in b.get(PAGE).get_data(as_text=True)
    # The same issuer and client id cannot be registered twice, by anyone.
    assert _add(b, platform).status_code == 409  # type: ignore[attr-defined]

    mine = next(p.id for p in _platforms(lti_app, "a") if p.client_id == "by-hand")
    # b cannot remove a's platform: "not found".
    refused = b.post(f"{PAGE}/lti/{mine}/remove", data={"csrf_token": csrf_token(b, PAGE)})
    assert refused.status_code == 404
    removed = a.post(f"{PAGE}/lti/{mine}/remove", data={"csrf_token": _token(a)})
    assert removed.status_code == 302
    assert all(p.client_id != "by-hand" for p in _platforms(lti_app, "a"))


def test_forms_without_a_csrf_token_are_refused(lti_app: Flask, platform: Platform) -> None:
    a = signed_in(lti_app, "admin@a.test")
    assert a.post(f"{PAGE}/lti/invite").status_code == 400
    assert _add(a, platform, **{"lti-csrf_token": ""}).status_code == 400  # type: ignore[attr-defined]


def test_dynamic_registration_from_a_one_time_link(lti_app: Flask, platform: Platform) -> None:
    a = signed_in(lti_app, "admin@a.test")
    answer = a.post(f"{PAGE}/lti/invite", data={"csrf_token": _token(a)})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    link = re.search(r'<code id="lti-invite-url">([^<]+)</code>', answer.get_data(as_text=True))
    assert link is not None
    invite = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["invite"][0]
    # The platform opens the link with its configuration and a registration token.
    browser = lti_app.test_client()
    query = {
        "invite": invite,
        "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
        "registration_token": REGISTRATION_TOKEN,
    }
    done = browser.get("/lti/register", query_string=query)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "lti.js" in done.get_data(as_text=True)
    sent = platform.registrations[-1]
    assert sent["initiate_login_uri"] == f"{BASE_URL}/lti/login"
    assert sent["jwks_uri"] == f"{BASE_URL}/lti/jwks.json"
    assert sent["redirect_uris"] == [f"{BASE_URL}/lti/launch"]
    registered = [p for p in _platforms(lti_app, "a") if p.client_id == DYNAMIC_CLIENT_ID]
    assert len(registered) == 1
    assert registered[0].auth_token_url == f"{platform.base}/token"
    # The link works once.
    assert browser.get("/lti/register", query_string=query).status_code == 404
    # A launch with the registered client id and deployment is accepted.
    dynamic = Platform(
        tool=BASE_URL,
        base=platform.base,
        client_id=DYNAMIC_CLIENT_ID,
        deployment_id="7",
        tool_jwks=platform.tool_jwks,
    )
    launched = browser.post("/lti/launch", data=dynamic.launch(browser, TEACHER))
    assert launched.status_code == 303


def test_a_wrong_registration_token_registers_nothing(lti_app: Flask, platform: Platform) -> None:
    a = signed_in(lti_app, "admin@a.test")
    answer = a.post(f"{PAGE}/lti/invite", data={"csrf_token": _token(a)})
    link = re.search(r'<code id="lti-invite-url">([^<]+)</code>', answer.get_data(as_text=True))
    assert link is not None
    invite = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["invite"][0]
    before = len(_platforms(lti_app, "a"))
    refused = lti_app.test_client().get(
        "/lti/register",
        query_string={
            "invite": invite,
            "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
            "registration_token": "wrong",
        },
    )
    assert refused.status_code == 502
    assert len(_platforms(lti_app, "a")) == before
    unknown = lti_app.test_client().get(
        "/lti/register",
        query_string={"invite": "nothing", "openid_configuration": platform.base},
    )
    assert unknown.status_code == 404
