"""Error pages in the reader's language for people, JSON for the API (issue 15): unknown routes
and each status a person can meet, in the public and the staff layout."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose
from issuer.services.errors import NotFoundError, SigningUnavailableError
from tests.web.staff.support import fast_password_hashing, make_world, signed_in

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

#: status -> (title, explanation) of the public error page, in fi and sv.
TEXTS: dict[str, dict[int, tuple[str, str]]] = {
    "fi": {
        400: ("Virheellinen pyyntö", "Pyyntöä ei voitu tulkita."),
        403: ("Ei käyttöoikeutta", "Sinulla ei ole oikeutta avata tätä sivua."),
        404: ("Sivua ei löytynyt", "Tässä osoitteessa ei ole sivua."),
        405: ("Ei sallittu", "Tämä osoite ei hyväksy tällaista pyyntöä."),
        413: ("Liian suuri", "Lähettämäsi aineisto on liian suuri"),
        429: ("Liian monta pyyntöä", "Osoitteestasi on tullut liian monta pyyntöä."),
        500: ("Jokin meni vikaan", "Tapahtui odottamaton virhe."),
        503: ("Palvelu ei ole käytettävissä", "Palvelu ei pysty vastaamaan juuri nyt."),
    },
    "sv": {
        400: ("Felaktig begäran", "Begäran kunde inte tolkas."),
        403: ("Ingen åtkomst", "Du har inte behörighet att öppna den här sidan."),
        404: ("Sidan hittades inte", "Det finns ingen sida på den här adressen."),
        405: ("Inte tillåtet", "Den här adressen tar inte emot den sortens begäran."),
        413: ("För stor", "Det du skickade är för stort"),
        429: ("För många förfrågningar", "Det har kommit för många förfrågningar från din adress."),
        500: ("Något gick fel", "Ett oväntat fel inträffade."),
        503: ("Tjänsten är inte tillgänglig", "Tjänsten kan inte svara just nu."),
    },
}
ERROR_CODE = {"fi": "Virhekoodi: %d", "sv": "Felkod: %d"}
#: Werkzeug's own English pages, which no reader should see any more.
WERKZEUG_ENGLISH = (
    "The requested URL was not found",
    "The method is not allowed",
    "The browser (or proxy) sent a request",
    "The server encountered an internal error",
    "You don't have the permission",
)


def _add_test_routes(app: Flask) -> None:
    """Routes that fail on purpose, on a page and under the JSON API (before any request)."""

    def fail(status: int) -> Any:
        if status == 500:
            raise RuntimeError("a bug")
        abort(status)

    def missing() -> Any:
        raise NotFoundError("no such thing 'x'")

    def unsigned() -> Any:
        raise SigningUnavailableError("the key file is missing", "key_missing")

    app.add_url_rule("/test-failure/<int:status>", "test_failure", fail)
    app.add_url_rule("/api/v1/test-failure/<int:status>", "api_test_failure", fail)
    app.add_url_rule("/test-missing", "test_missing", missing)
    app.add_url_rule("/test-unsigned", "test_unsigned", unsigned)
    app.add_url_rule("/api/v1/test-unsigned", "api_test_unsigned", unsigned)


def _assert_page(response: TestResponse, lang: str, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    title, explanation = TEXTS[lang][status]
    assert f"<title>{title} · Merkki</title>" in page
    assert f"<h1>{title}</h1>" in page
    assert explanation in page
    assert ERROR_CODE[lang] % status in page
    assert '<a href="/accessibility">' in page
    for english in WERKZEUG_ENGLISH:
        assert english not in page
    assert "Traceback" not in page
    return page


def _get(client: FlaskClient, url: str, lang: str, method: str = "GET", **kwargs: Any) -> Any:
    headers = {"Accept": BROWSER, "Accept-Language": lang, **kwargs.pop("headers", {})}
    return client.open(url, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("lang", ["fi", "sv"])
@pytest.mark.parametrize("url", ["/no/such/page", "/staff-no-such-page", "/badges/x/y/z/w"])
def test_an_unknown_route_is_a_page_in_the_readers_language(
    client: FlaskClient, lang: str, url: str
) -> None:
    page = _assert_page(_get(client, url, lang), lang, 404)
    # The way on: the start page, verification and the catalogue.
    for link in ('href="/"', 'href="/verify"', 'href="/catalog"'):
        assert link in page
    assert '<meta name="robots" content="noindex">' in page


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_each_status_is_a_page_in_the_readers_language(app: Flask, lang: str) -> None:
    _add_test_routes(app)
    client = app.test_client()
    for status in (400, 403, 404, 500, 503):
        response = _get(client, f"/test-failure/{status}", lang)
        _assert_page(response, lang, status)
    # A signing key that cannot be used: 503 with its own message and Retry-After.
    unsigned = _get(client, "/test-unsigned", lang)
    assert unsigned.status_code == 503
    assert unsigned.mimetype == "text/html"
    assert f"<h1>{TEXTS[lang][503][0]}</h1>" in unsigned.get_data(as_text=True)
    assert {
        "fi": "Merkkejä ei voi juuri nyt allekirjoittaa.",
        "sv": "Märken kan inte signeras just nu.",
    }[lang] in unsigned.get_data(as_text=True)
    assert "key file" not in unsigned.get_data(as_text=True)
    assert int(unsigned.headers["Retry-After"]) > 0
    # Allow is kept, telling a client what the address accepts.
    not_allowed = _get(client, "/catalog", lang, method="POST")
    _assert_page(not_allowed, lang, 405)
    assert "GET" in not_allowed.headers["Allow"]
    # A service's "not found" on a page is the page too, not JSON (its message is English).
    missing = _get(client, "/test-missing", lang)
    _assert_page(missing, lang, 404)
    assert "no such thing" not in missing.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_a_too_large_body_is_a_page_in_the_readers_language(
    app: Flask, app_config: dict[str, Any], lang: str
) -> None:
    small = create_app({**app_config, "MAX_REQUEST_BYTES": "1000"})
    try:
        response = _get(small.test_client(), "/", lang, method="POST", data=b"x" * 2000)
        _assert_page(response, lang, 413)
    finally:
        dispose(small)


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_a_rate_limit_is_a_page_in_the_readers_language(
    app: Flask, app_config: dict[str, Any], lang: str
) -> None:
    limited = create_app({**app_config, "RATE_LIMIT_VERIFY": "1 per minute"})
    try:
        client = limited.test_client()
        assert _get(client, "/verify", lang).status_code == 200
        response = _get(client, "/verify", lang)
        _assert_page(response, lang, 429)
        assert int(response.headers["Retry-After"]) > 0
    finally:
        dispose(limited)


@pytest.mark.parametrize(
    "url", ["/api/v1/no-such-thing", "/api/v1/test-failure/404", "/status/x/revocation/1"]
)
def test_the_api_keeps_its_json_errors_whatever_the_browser_asks(app: Flask, url: str) -> None:
    _add_test_routes(app)
    response = _get(app.test_client(), url, "fi")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "not_found"


def test_the_api_statuses_stay_json(app: Flask) -> None:
    _add_test_routes(app)
    client = app.test_client()
    for status in (400, 403, 404, 500, 503):
        response = _get(client, f"/api/v1/test-failure/{status}", "sv")
        assert response.status_code == status
        assert response.mimetype == "application/json"
        assert set(response.get_json()) == {"error", "message"}
    unavailable = _get(client, "/api/v1/test-unsigned", "sv")
    assert unavailable.get_json()["error"] == SigningUnavailableError.code
    assert unavailable.get_json()["message"].startswith("Märken kan inte signeras just nu.")
    assert int(unavailable.headers["Retry-After"]) > 0


def test_a_client_that_prefers_json_gets_json_for_an_unknown_route(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_a_message_written_for_the_reader_is_shown(client: FlaskClient, lang: str) -> None:
    """A refusal whose message was written for people (a form route sent JSON) shows it."""
    response = client.post(
        "/verify", json={"a": 1}, headers={"Accept": BROWSER, "Accept-Language": lang}
    )
    assert response.status_code == 415
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert {
        "fi": "Tähän osoitteeseen lähetetään lomake, ei JSONia.",
        "sv": "Den här adressen tar emot ett formulär, inte JSON.",
    }[lang] in page


@pytest.mark.parametrize(
    ("lang", "not_found", "not_allowed"),
    [
        ("fi", ("Ei löytynyt", "Täällä ei ole mitään"), ("Ei sallittu", "Roolisi ei salli tätä.")),
        (
            "sv",
            ("Hittades inte", "Här finns ingenting"),
            ("Inte tillåtet", "Din roll tillåter inte detta."),
        ),
    ],
)
def test_staff_error_pages_are_in_the_staff_layout_and_the_readers_language(
    app: Flask,
    keystore: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    not_found: tuple[str, str],
    not_allowed: tuple[str, str],
) -> None:
    fast_password_hashing(monkeypatch)
    world = make_world(app, keystore)
    admin = signed_in(app, world.b.admin_email)
    issuer = signed_in(app, world.b.issuer_email)
    for client, url, status, (title, explanation) in (
        (admin, f"/staff/credentials/{'0' * 32}", 404, not_found),  # staff_credentials
        (admin, "/staff/badge-classes/no-such-badge", 404, not_found),  # staff
        (admin, "/staff/issue/jobs/999999", 404, not_found),  # staff_issuing
        (issuer, "/staff/users", 403, not_allowed),
    ):
        response = _get(client, url, lang)
        assert response.status_code == status, url
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in page
        assert f"<h1>{title}</h1>" in page, url
        assert explanation in page, url
        assert 'href="/staff/"' in page  # back to the staff pages
        # The staff layout, with its menu and sign-out for the signed-in staff member.
        assert 'action="/staff/logout"' in page, url
        for english in ("Not found", "Not allowed", *WERKZEUG_ENGLISH):
            assert english not in page, url
