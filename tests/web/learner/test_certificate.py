"""The printable certificate route, ``/credentials/<id>/certificate.pdf``: the PDF in the
credential's language (holder, badge, issuer, date; its QR code decodes to the verification
URL), the same privacy as the learner page (hidden: 403), and no certificate for a revoked
(410) or suspended (409) credential."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from flask import Flask
from pypdf import PdfReader

from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.services import issue_input, revocation
from issuer.services.audit import SystemActor
from tests.web.learner.support import (
    BASE_URL,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ACTOR = SystemActor(kind="cli", label="test")
TITLES = {"fi": "Merkki test-badge", "sv": "Märke test-badge"}
LOGO_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">'
    b'<rect width="300" height="100" fill="#c81e28"/></svg>'
)
WORDS = {"fi": ("Todistus", "Myönnetty"), "sv": ("Intyg", "Tilldelat")}


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


def _qr_codes(pdf: bytes) -> list[str]:
    return [
        result.text
        for image in PdfReader(io.BytesIO(pdf)).pages[0].images
        for result in zxingcpp.read_barcodes(image.image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def _helsinki_date(app: Flask, credential_id: str) -> str:
    with app.app_context():
        stored = get_session().get(Credential, credential_id)
        assert stored is not None
        issued = stored.issued_at.replace(tzinfo=stored.issued_at.tzinfo or UTC)
    day = issued.astimezone(ZoneInfo("Europe/Helsinki"))
    return f"{day.day}.{day.month}.{day.year}"


def _change(app: Flask, credential_id: str, action: str) -> None:
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, credential_id)
        assert stored is not None
        if action == "revoke":
            revocation.revoke(session, stored, actor=ACTOR, reason="väärä henkilö")
        elif action == "suspend":
            revocation.suspend(session, stored, actor=ACTOR, reason="selvitetään")
        else:
            stored.hidden = True


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_the_certificate_is_a_pdf_in_the_credentials_language_with_a_verifying_qr_code(
    app: Flask, world: World, lang: str
) -> None:
    name = "Máret Ánde Čuđđe-Ŋuolla"
    issued = issue(app, name=name, options=issue_input.IssueOptions(lang=lang))
    # The reader's language does not matter: the certificate is in the credential's.
    response = app.test_client().get(
        f"/credentials/{issued.id}/certificate.pdf", headers={"Accept-Language": "en"}
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="certificate-{issued.id}.pdf"'
    )
    assert response.headers["Cache-Control"] == "public, max-age=300"  # like the baked images
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Robots-Tag"] == "noindex"
    text = _text(response.data)
    for expected in (
        name,
        TITLES[lang],
        {"fi": "HAMK fi", "sv": "HAMK sv"}[lang],
        _helsinki_date(app, issued.id),
        *WORDS[lang],
    ):
        assert expected in text, expected
    assert _qr_codes(response.data) == [f"{BASE_URL}/verify/{issued.id}"]
    download = app.test_client().get(f"/credentials/{issued.id}/certificate.pdf?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_the_certificate_shows_the_institution_profile_and_eu_facts(
    app: Flask, world: World
) -> None:
    from issuer import paths
    from issuer.services import badge_classes

    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, paths.BADGE_TEMPLATES_DIR)
    issued = issue(app, badge="pokot-ennakointiosaaminen")
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, issued.id)
        assert stored is not None
        stored.institution.url = "https://www.hamk.fi"
        stored.institution.business_id = "1234567-1"
        stored.institution.oid = "1.2.246.562.10.12345678901"
        stored.institution.logo = LOGO_SVG
        stored.institution.logo_media_type = "image/svg+xml"
    response = app.test_client().get(f"/credentials/{issued.id}/certificate.pdf")
    assert response.status_code == 200
    # The logo (SVG, rendered), the badge artwork and the QR code.
    images = PdfReader(io.BytesIO(response.data)).pages[0].images
    assert len(images) == 3
    assert _qr_codes(response.data) == [f"{BASE_URL}/verify/{issued.id}"]
    text = _text(response.data).replace("\n", " ")
    for expected in (
        "https://www.hamk.fi",
        "Y-tunnus: 1234567-1",
        "1.2.246.562.10.12345678901",
        "Suomi",
        "Oppimistulokset",
        "EQF",
    ):
        assert expected in text, expected


def test_the_learner_page_links_the_certificate_while_the_badge_is_in_force(
    app: Flask, world: World
) -> None:
    issued = issue(app)
    client = app.test_client()
    link = f"{BASE_URL}/credentials/{issued.id}/certificate.pdf"
    assert link in client.get(f"/credentials/{issued.id}", headers=BROWSER).text
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    assert f"{manage}/certificate.pdf" in client.get(manage).text
    _change(app, issued.id, "suspend")
    assert link not in client.get(f"/credentials/{issued.id}", headers=BROWSER).text
    assert f"{manage}/certificate.pdf" not in client.get(manage).text


@pytest.mark.parametrize(("action", "status"), [("revoke", 410), ("suspend", 409)])
def test_a_revoked_or_suspended_badge_has_no_certificate(
    app: Flask, world: World, action: str, status: int
) -> None:
    issued = issue(app, name="Liisa Virtanen")
    _change(app, issued.id, action)
    client = app.test_client()
    for url in (
        f"/credentials/{issued.id}/certificate.pdf",
        f"/credentials/{issued.id}/manage/{issued.manage_token}/certificate.pdf",
    ):
        page = client.get(url, headers={**BROWSER, "Accept-Language": "sv"})
        assert page.status_code == status
        assert page.mimetype == "text/html"
        assert page.headers["Cache-Control"] == "no-store"
        body = page.get_data(as_text=True)
        expected = {"revoke": "återkallat", "suspend": "tillfälligt upphävt"}[action]
        assert expected in body
        assert f"/verify/{issued.id}" in body
        assert "Liisa Virtanen" not in body
    answer = client.get(f"/credentials/{issued.id}/certificate.pdf")
    assert answer.status_code == status
    assert answer.get_json()["error"] == {"revoke": "revoked", "suspend": "suspended"}[action]


def test_an_expired_badge_keeps_its_certificate_which_prints_the_validity(
    app: Flask, world: World
) -> None:
    """Expiry is printed on the certificate itself (and the QR code gives the verdict), unlike a
    revocation or suspension, which a print-out made earlier could not show."""
    issued = issue(app)
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, issued.id)
        assert stored is not None
        stored.valid_until = datetime(2020, 1, 1, tzinfo=UTC)
    client = app.test_client()
    assert "This badge has expired" in client.get(
        f"/credentials/{issued.id}?lang=en", headers=BROWSER
    ).get_data(as_text=True)
    response = client.get(f"/credentials/{issued.id}/certificate.pdf")
    assert response.status_code == 200
    assert "Voimassa 1.1.2020 asti" in _text(response.data)


def test_a_hidden_badge_has_its_certificate_only_through_the_manage_link(
    app: Flask, world: World
) -> None:
    issued = issue(app, name="Liisa Virtanen")
    _change(app, issued.id, "hide")
    client = app.test_client()
    hidden = client.get(f"/credentials/{issued.id}/certificate.pdf")
    # The same answer as every other public document of a hidden credential.
    assert hidden.status_code == 403
    assert hidden.get_json()["error"] == "hidden"
    assert client.get(f"/credentials/{issued.id}/badge.png").get_json() == hidden.get_json()
    page = client.get(f"/credentials/{issued.id}/certificate.pdf", headers=BROWSER)
    assert page.status_code == 403
    assert "Liisa Virtanen" not in page.get_data(as_text=True)

    own = client.get(f"/credentials/{issued.id}/manage/{issued.manage_token}/certificate.pdf")
    assert own.status_code == 200
    assert own.mimetype == "application/pdf"
    assert own.headers["Cache-Control"] == "no-store"
    assert own.headers["Referrer-Policy"] == "no-referrer"
    assert "Liisa Virtanen" in _text(own.data)
    wrong = client.get(f"/credentials/{issued.id}/manage/wrong/certificate.pdf")
    assert wrong.status_code == 404


def test_an_unknown_credential_has_no_certificate(app: Flask, world: World) -> None:
    client = app.test_client()
    for credential_id in ("0" * 32, "not-an-id"):
        assert client.get(f"/credentials/{credential_id}/certificate.pdf").status_code == 404


def test_a_hostile_name_still_gives_a_certificate(app: Flask, world: World) -> None:
    """The longest name the service stores, mixing right-to-left letters, combining marks and
    characters the font lacks, with no space to break at."""
    name = ("محمد" + "שרה" + "x\u0301\u0323" + "名" + "Ŋ") * 23
    issued = issue(app, name=name[:255])
    response = app.test_client().get(f"/credentials/{issued.id}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(response.data)).pages) <= 2
    assert _qr_codes(response.data) == [f"{BASE_URL}/verify/{issued.id}"]
