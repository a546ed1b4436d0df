"""A learner who hides their page hides their name everywhere public (issue 13): the JSON of
``/credentials/<id>`` (every Accept variant), ``credential.json`` and the baked images then say
only that the credential exists and its status; the holder keeps every download through the
manage link."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.core.baking import unbake
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.services import revocation
from issuer.services.audit import SystemActor
from tests.web.learner.support import (
    BASE_URL,
    CSRF,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

NAME = "Liisa Virtanen"
EMAIL = "liisa@example.fi"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
#: Every Accept a program may send for the credential's JSON (issuer.web.public).
JSON_ACCEPTS: list[dict[str, str]] = [
    {},
    {"Accept": "*/*"},
    {"Accept": "application/vc+ld+json"},
    {"Accept": "application/vc"},
    {"Accept": "application/ld+json"},
    {"Accept": "application/json"},
    {"Accept": "application/json, text/html;q=0.5"},
]
#: The public routes that would carry the signed credential (and so the holder's name).
SIGNED_DOWNLOADS = ("badge.png", "badge.svg", "credential.json")


def _stored(app: Flask, credential_id: str) -> tuple[str, list[str]]:
    """The signed text, and the strings in it that name the holder (name, identity hash)."""
    with app.app_context():
        stored = get_session().get(Credential, credential_id)
        assert stored is not None
        document = json.loads(stored.signed_json)
        identifiers = [
            entry["identityHash"] for entry in document["credentialSubject"]["identifier"]
        ]
        assert identifiers
        assert NAME in stored.signed_json
        return stored.signed_json, [NAME, EMAIL, *identifiers]


def _set_hidden(app: Flask, credential_id: str, hidden: bool) -> None:
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, credential_id)
        assert stored is not None
        stored.hidden = hidden


def _names_nobody(body: bytes, personal: list[str]) -> None:
    text = body.decode("utf-8", "replace")
    for value in personal:
        assert value not in text


def _private_json(response: Any, credential_id: str, status: str = "valid") -> None:
    assert response.status_code == 403
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body == {
        "error": "hidden",
        "message": body["message"],
        "id": f"{BASE_URL}/credentials/{credential_id}",
        "status": status,
        "hidden": True,
    }


@pytest.mark.parametrize("headers", JSON_ACCEPTS, ids=lambda h: h.get("Accept", "none"))
def test_the_credential_json_names_the_holder_only_while_shown(
    app: Flask, world: World, headers: dict[str, str]
) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    signed, personal = _stored(app, issued.id)
    client = app.test_client()

    shown = client.get(f"/credentials/{issued.id}", headers=headers)
    assert shown.status_code == 200
    assert shown.data == signed.encode("utf-8")

    _set_hidden(app, issued.id, True)
    hidden = client.get(f"/credentials/{issued.id}", headers=headers)
    _private_json(hidden, issued.id)
    _names_nobody(hidden.data, personal)

    _set_hidden(app, issued.id, False)
    assert client.get(f"/credentials/{issued.id}", headers=headers).data == signed.encode()


def test_an_unacceptable_accept_is_still_406_when_hidden(app: Flask, world: World) -> None:
    issued = issue(app)
    _set_hidden(app, issued.id, True)
    response = app.test_client().get(f"/credentials/{issued.id}", headers={"Accept": "image/gif"})
    assert response.status_code == 406


@pytest.mark.parametrize("download", SIGNED_DOWNLOADS)
def test_downloads_carry_the_credential_only_while_shown(
    app: Flask, world: World, download: str
) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    signed, personal = _stored(app, issued.id)
    client = app.test_client()
    url = f"/credentials/{issued.id}/{download}"

    shown = client.get(url)
    assert shown.status_code == 200
    carried = shown.data if download == "credential.json" else unbake(shown.data).text.encode()  # type: ignore[union-attr]
    assert carried == signed.encode("utf-8")
    # A shared cache keeps a download with the name only briefly, so that hiding takes effect.
    assert shown.headers["Cache-Control"] == "public, max-age=300"

    _set_hidden(app, issued.id, True)
    for query in ("", "?download=1"):
        hidden = client.get(url + query)
        _private_json(hidden, issued.id)
        _names_nobody(hidden.data, personal)


@pytest.mark.parametrize("download", SIGNED_DOWNLOADS)
def test_a_browser_opening_a_hidden_download_gets_a_page_in_its_language(
    app: Flask, world: World, download: str
) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    _, personal = _stored(app, issued.id)
    _set_hidden(app, issued.id, True)
    response = app.test_client().get(
        f"/credentials/{issued.id}/{download}?lang=sv", headers=BROWSER
    )
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="sv">' in page
    assert "Ett verifierbart märke" in page
    assert f"/verify/{issued.id}" in page
    assert 'data-status="valid"' in page
    _names_nobody(response.data, personal)


def test_the_private_answer_gives_the_current_status(app: Flask, world: World) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, issued.id)
        assert stored is not None
        revocation.revoke(
            session, stored, actor=SystemActor(kind="cli", label="test"), reason=f"{NAME} cheated"
        )
        stored.hidden = True
    client = app.test_client()
    for url in (f"/credentials/{issued.id}", f"/credentials/{issued.id}/credential.json"):
        response = client.get(url)
        _private_json(response, issued.id, status="revoked")
        assert NAME not in response.get_data(as_text=True)


def test_the_qr_codes_name_nobody_and_stay_public(app: Flask, world: World) -> None:
    issued = issue(app)
    _set_hidden(app, issued.id, True)
    client = app.test_client()
    for download in ("qr.png", "qr.svg"):
        assert client.get(f"/credentials/{issued.id}/{download}").status_code == 200


def _manage(client: FlaskClient, issued_id: str, token: str, **choices: str) -> None:
    manage = f"/credentials/{issued_id}/manage/{token}"
    csrf = CSRF.search(client.get(manage).text).group(1)  # type: ignore[union-attr]
    assert client.post(manage, data={**choices, "csrf_token": csrf}).status_code == 302


@pytest.mark.parametrize("hidden", [True, False], ids=["hidden", "shown"])
def test_the_holder_keeps_every_download_through_the_manage_link(
    app: Flask, world: World, hidden: bool
) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    signed, _ = _stored(app, issued.id)
    client = app.test_client()
    if hidden:
        _manage(client, issued.id, issued.manage_token, hidden="y")
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    page = client.get(manage).get_data(as_text=True)
    for download in SIGNED_DOWNLOADS:
        assert f"{manage}/{download}" in page
        response = client.get(f"{manage}/{download}")
        assert response.status_code == 200, download
        carried = (
            response.data if download == "credential.json" else unbake(response.data).text.encode()  # type: ignore[union-attr]
        )
        assert carried == signed.encode("utf-8")
        assert NAME in carried.decode("utf-8")
        # The URL holds the secret token: not cached, not sent on, not readable cross-origin.
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Access-Control-Allow-Origin" not in response.headers
        public = client.get(f"/credentials/{issued.id}/{download}")
        assert public.status_code == (403 if hidden else 200)


def test_manage_downloads_need_the_right_token(app: Flask, world: World) -> None:
    issued = issue(app)
    other = issue(app, email="other@example.fi")
    client = app.test_client()
    for download in SIGNED_DOWNLOADS:
        for token in ("wrong", other.manage_token):
            url = f"/credentials/{issued.id}/manage/{token}/{download}"
            assert client.get(url).status_code == 404
        assert client.get(f"/credentials/{'0' * 32}/manage/x/{download}").status_code == 404


def test_hiding_through_the_manage_form_hides_the_json_too(app: Flask, world: World) -> None:
    issued = issue(app, name=NAME, email=EMAIL)
    _, personal = _stored(app, issued.id)
    client = app.test_client()
    _manage(client, issued.id, issued.manage_token, hidden="y")
    page = client.get(f"/credentials/{issued.id}", headers=BROWSER)
    assert page.status_code == 200
    _names_nobody(page.data, personal)
    _private_json(client.get(f"/credentials/{issued.id}"), issued.id)
    _manage(client, issued.id, issued.manage_token)
    assert NAME in client.get(f"/credentials/{issued.id}").get_data(as_text=True)
