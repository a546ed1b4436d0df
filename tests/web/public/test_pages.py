"""The start page (``/``) and the accessibility statement (``/accessibility``), in fi/sv/en, and
the statement's link in the footer of every kind of page (issue 15)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose, unit_of_work
from issuer.services import institutions
from issuer.services.dates import format_date
from issuer.services.institutions import InstitutionDetails
from issuer.web.pages import STATEMENT_PREPARED, STATEMENT_REVIEWED
from issuer.web.security import PAGE_CSP
from tests.web.staff.support import fast_password_hashing, make_world, signed_in

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
STATEMENT_LINK = {
    "fi": "Saavutettavuusseloste",
    "sv": "Tillgänglighetsutlåtande",
    "en": "Accessibility statement",
}


def _page(client: FlaskClient, url: str, lang: str, status: int = 200) -> str:
    response = client.get(url, headers={"Accept": BROWSER, "Accept-Language": lang})
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "text/html", url
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page, url
    return page


def _text(page: str) -> str:
    """The page's text, tags removed and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _no_inline_code(page: str) -> None:
    """Nothing the strict CSP would block: no inline script, style or event handler."""
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert re.search(r"<style\b|\sstyle=", page) is None
    assert re.search(r"\son[a-z]+=", page) is None


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("fi", ["Tarkista merkki", "Selaa osaamismerkkejä", "Henkilökunnan kirjautuminen"]),
        ("sv", ["Kontrollera ett märke", "Bläddra i märkeskatalogen", "Inloggning för personal"]),
        ("en", ["Verify a badge", "Browse the badge catalogue", "Staff sign-in"]),
    ],
)
def test_the_start_page_serves_its_three_audiences_in_each_language(
    client: FlaskClient, lang: str, texts: list[str]
) -> None:
    response = client.get("/", headers={"Accept": BROWSER, "Accept-Language": lang})
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    text = _text(page)
    for wanted in texts:
        assert wanted in text, wanted
    # One h1; one h2 per audience; the layout's landmarks and skip link.
    assert page.count("<h1") == 1
    assert len(re.findall(r"<h2 id=\"(?:verify|catalogue|staff)-title\"", page)) == 3
    for landmark in ("<header", "<main", "<footer", '<nav class="site-nav"', 'href="#main"'):
        assert landmark in page, landmark
    # Verify: upload here (the verification page's own form target), or go to the full page.
    assert re.search(r'<form method="post" action="/verify" enctype="multipart/form-data">', page)
    assert 'name="file" type="file"' in page
    assert '<label for="start-file">' in page
    assert 'href="/verify"' in page
    # Browse: a search box that opens the catalogue, and the catalogue itself.
    assert re.search(r'<form method="get" action="/catalog" role="search"', page)
    assert '<label for="start-q">' in page
    assert 'href="/catalog"' in page
    # Staff sign-in.
    assert 'href="/staff/login"' in page
    assert f'<a href="/accessibility">{STATEMENT_LINK[lang]}</a>' in page
    _no_inline_code(page)


def test_the_logo_leads_to_the_start_page(client: FlaskClient) -> None:
    page = _page(client, "/catalog", "fi")
    assert '<a class="brand" href="/">' in page
    assert client.get("/", headers={"Accept": BROWSER}).status_code == 200


def test_the_start_page_upload_verifies_like_the_verification_page(client: FlaskClient) -> None:
    """The start page's form posts to ``/verify``: an empty submission gets that page's own
    message, in the reader's language (nothing new to keep in step)."""
    response = client.post("/verify", data={}, headers={"Accept": BROWSER, "Accept-Language": "sv"})
    assert response.status_code == 400
    assert 'lang="sv"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "fi",
            [
                "Saavutettavuusseloste",
                "Palvelu täyttää saavutettavuusvaatimukset osittain (WCAG 2.1, taso AA).",
                "Sisältö, joka ei vielä ole saavutettavaa",
                "WCAG 1.4.11",
                "WCAG 1.4.10",
                "Valvontaviranomainen",
                "Etelä-Suomen aluehallintovirasto",
                "Saavutettavuuden valvonnan yksikkö",
                "www.saavutettavuusvaatimukset.fi",
                "Digitaalisten palvelujen tarjoamisesta annetun lain (306/2019)",
            ],
        ),
        (
            "sv",
            [
                "Tillgänglighetsutlåtande",
                "Tjänsten uppfyller tillgänglighetskraven delvis (WCAG 2.1, nivå AA).",
                "Innehåll som ännu inte är tillgängligt",
                "Tillsynsmyndighet",
                "Regionförvaltningsverket i Södra Finland",
                "Enheten för tillgänglighetstillsyn",
                "www.tillganglighetskrav.fi",
                "lagen om tillhandahållande av digitala tjänster (306/2019)",
            ],
        ),
        (
            "en",
            [
                "Accessibility statement",
                "The service partially meets the accessibility requirements (WCAG 2.1, level AA).",
                "Regional State Administrative Agency for Southern Finland",
                "Accessibility Monitoring Unit",
                "www.webaccessibility.fi",
                "Act on the Provision of Digital Services (306/2019)",
            ],
        ),
    ],
)
def test_the_accessibility_statement_in_each_language(
    client: FlaskClient, lang: str, texts: list[str]
) -> None:
    page = _page(client, "/accessibility", lang)
    text = _text(page)
    for wanted in texts:
        assert wanted in text, wanted
    assert page.count("<h1") == 1
    assert '<a href="mailto:saavutettavuus@avi.fi">saavutettavuus@avi.fi</a>' in page
    assert '<a href="tel:+358295016000">0295 016 000</a>' in page
    # The dates in the reader's language, in the one format of every page (a calendar date in
    # Finland).
    assert format_date(STATEMENT_PREPARED, lang) in text
    assert format_date(STATEMENT_REVIEWED, lang) in text
    assert "http://127.0.0.1:5000" in text  # the service the statement is about
    _no_inline_code(page)


def test_without_a_contact_setting_the_statement_names_the_institutions_addresses(
    app: Flask, client: FlaskClient, keystore: KeyStore
) -> None:
    page = _page(client, "/accessibility", "fi")
    # No institution has an address yet: the default text alone.
    assert "Lähetä palaute oppilaitokselle, joka myönsi merkkisi, tai organisaatiolle" in page
    with app.app_context(), unit_of_work() as session:
        institutions.create_institution(
            session,
            InstitutionDetails(
                slug="hamk",
                name_fi="Hämeen ammattikorkeakoulu",
                name_sv="Tavastlands yrkeshögskola",
                email="saavutettavuus@hamk.example",
            ),
            keystore,
        )
        institutions.create_institution(
            session, InstitutionDetails(slug="quiet", name_fi="Ei osoitetta"), keystore
        )
    page = _page(client, "/accessibility", "sv")
    assert (
        'Tavastlands yrkeshögskola: <a href="mailto:saavutettavuus@hamk.example">'
        "saavutettavuus@hamk.example</a>"
    ) in page
    assert "Ei osoitetta" not in page


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        (
            "saavutettavuus@oppilaitos.example",
            '<a href="mailto:saavutettavuus@oppilaitos.example">'
            "saavutettavuus@oppilaitos.example</a>",
        ),
        (
            "Oppilaitos Oy,\n  palaute@oppilaitos.example, 040 123 4567",
            "Oppilaitos Oy, palaute@oppilaitos.example, 040 123 4567",
        ),
        ("<b>Oppilaitos</b>", "&lt;b&gt;Oppilaitos&lt;/b&gt;"),
    ],
)
def test_the_feedback_contact_is_configurable(
    app: Flask, app_config: dict[str, Any], setting: str, shown: str
) -> None:
    configured = create_app({**app_config, "ACCESSIBILITY_CONTACT": setting})
    try:
        page = _page(configured.test_client(), "/accessibility", "en")
        assert shown in page
        assert "The institutions that use this service" not in page
    finally:
        dispose(configured)


def test_every_kind_of_page_links_to_the_statement_in_its_footer(
    app: Flask, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Public pages, the learner's and the employer's pages, error pages, and the staff layout
    signed out and in: all carry the link, in the page's language."""
    fast_password_hashing(monkeypatch)
    world = make_world(app, keystore)
    credential_id = world.b.credential_id
    assert credential_id is not None
    unknown = "0" * 32
    public = app.test_client()
    staff = signed_in(app, world.b.admin_email)
    issuer = signed_in(app, world.b.issuer_email)
    pages: list[tuple[FlaskClient, str, int]] = [
        (public, "/", 200),
        (public, "/accessibility", 200),
        (public, "/catalog", 200),
        (public, f"/badges/{world.b.badge_slug}", 200),
        (public, "/verify", 200),
        (public, f"/verify/{credential_id}", 200),
        (public, f"/verify/{unknown}", 404),
        (public, f"/credentials/{credential_id}", 200),
        (public, f"/credentials/{unknown}", 404),
        (public, "/no/such/page", 404),
        (public, "/staff/login", 200),
        (staff, "/staff/", 200),
        (staff, "/staff/credentials", 200),
        (staff, f"/staff/credentials/{unknown}", 404),
        (staff, "/staff/issue/", 200),
        (staff, "/staff/no-such-page", 404),
        (issuer, "/staff/users", 403),
    ]
    for lang in ("fi", "sv"):
        for client, url, status in pages:
            page = _page(client, url, lang, status)
            footer = page.split('<footer class="site-footer">', 1)[1]
            assert f'<a href="/accessibility">{STATEMENT_LINK[lang]}</a>' in footer, url
