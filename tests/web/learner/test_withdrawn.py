"""A revoked or suspended badge on the learner's page and the manage page (issue 15): the state
and the issuer's reason shown, nothing to share or download, no validity dates; and every date
on the page in Helsinki time, in the reader's format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from markupsafe import escape

from issuer.config import get_settings
from issuer.core import eu_vocabularies as vocab
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.services import badge_classes, institutions, issuing, revocation
from issuer.services.audit import SystemActor
from issuer.services.dates import format_date
from issuer.services.issuing_context import IssuingContext
from tests.web.learner.support import (
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

BROWSER = {"Accept": "text/html"}
ACTOR = SystemActor(kind="cli", label="test")
REASONS = {
    "revoke": "Näyttö arvioitiin <b>väärälle</b> henkilölle",
    "suspend": "Selvitys kesken",
}
HEADLINES = {"revoke": "This badge has been revoked", "suspend": "This badge is suspended"}
#: What a withdrawn badge's page must not offer: sharing, downloads, the certificate.
OFFERS = (
    "linkedin.com",
    "data-copy=",
    "/badge.png?download=1",
    "/badge.svg?download=1",
    "/credential.json",
    "/qr.png?download=1",
    "/certificate.pdf",
)


def _translate(app: Flask, lang: str, message: str) -> str:
    with app.test_request_context(), force_locale(lang):
        return str(gettext(message))


def _withdraw(app: Flask, credential_id: str, action: str) -> None:
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, credential_id)
        assert stored is not None
        revocation.change_status(session, stored, action, actor=ACTOR, reason=REASONS[action])


def _valid_until(app: Flask, credential_id: str) -> datetime:
    with app.app_context():
        stored = get_session().get(Credential, credential_id)
        assert stored is not None
        assert stored.valid_until is not None  # test-badge is valid for 24 months
        return stored.valid_until


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_badge_in_force_offers_sharing_downloads_and_its_validity(
    app: Flask, world: World, lang: str
) -> None:
    """The counterpart of the tests below: what they find missing is there while in force."""
    issued = issue(app)
    page = app.test_client().get(f"/credentials/{issued.id}?lang={lang}", headers=BROWSER).text
    for offer in OFFERS:
        assert offer in page, offer
    assert format_date(_valid_until(app, issued.id), lang) in page
    assert vocab.label("validity", lang) in page


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("action", ["revoke", "suspend"])
def test_a_withdrawn_badge_shows_why_and_offers_nothing_to_share(
    app: Flask, world: World, action: str, lang: str
) -> None:
    issued = issue(app, name="Liisa Virtanen")
    valid_until = _valid_until(app, issued.id)
    _withdraw(app, issued.id, action)
    response = app.test_client().get(f"/credentials/{issued.id}?lang={lang}", headers=BROWSER)
    assert response.status_code == 200
    page = response.text

    assert str(escape(_translate(app, lang, HEADLINES[action]))) in page
    assert str(escape(_translate(app, lang, "Reason given by the issuer:"))) in page
    # The reason as staff wrote it, as text (markup escaped, never rendered).
    assert f'<span class="status-reason">{escape(REASONS[action])}</span>' in page
    assert "<b>" not in page
    for offer in OFFERS:
        assert offer not in page, offer
    # No validity dates: neither "valid until" nor the badge class's validity period.
    assert format_date(valid_until, lang) not in page
    assert vocab.label("validity", lang) not in page
    # A link preview says so too, not that the badge was awarded.
    headline = escape(_translate(app, lang, HEADLINES[action]))
    assert f'<meta property="og:description" content="{headline}">' in page
    assert f'<meta name="twitter:description" content="{headline}">' in page
    # The employer's way to check it stays, and what the badge was stays readable.
    assert f"/verify/{issued.id}" in page
    assert "Liisa Virtanen" in page


@pytest.mark.parametrize("action", ["revoke", "suspend"])
def test_the_manage_page_of_a_withdrawn_badge_shows_why_and_offers_no_downloads(
    app: Flask, world: World, action: str
) -> None:
    issued = issue(app)
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    client = app.test_client()
    before = client.get(f"{manage}?lang=fi").text
    for download in ("badge.png", "badge.svg", "credential.json", "certificate.pdf"):
        assert f"{manage}/{download}" in before, download

    _withdraw(app, issued.id, action)
    page = client.get(f"{manage}?lang=fi").text
    assert str(escape(_translate(app, "fi", HEADLINES[action]))) in page
    assert f'<span class="status-reason">{escape(REASONS[action])}</span>' in page
    for download in ("badge.png", "badge.svg", "credential.json", "certificate.pdf"):
        assert f"{manage}/{download}" not in page, download
    # The holder can still hide the page.
    assert 'name="hidden"' in page


def test_a_suspension_shows_the_reason_of_the_suspension_in_force(app: Flask, world: World) -> None:
    issued = issue(app)
    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, issued.id)
        assert stored is not None
        revocation.suspend(session, stored, actor=ACTOR, reason="Ensimmäinen selvitys")
        revocation.unsuspend(session, stored, actor=ACTOR)
        revocation.suspend(session, stored, actor=ACTOR, reason="Toinen selvitys")
    page = app.test_client().get(f"/credentials/{issued.id}?lang=fi", headers=BROWSER).text
    assert "Toinen selvitys" in page
    assert "Ensimmäinen selvitys" not in page


LATE_EVENING = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)
#: 22:30 UTC on 3 December is 00:30 on 4 December in Helsinki (UTC+2 in winter).
HELSINKI_DAY = {"fi": "4.12.2026", "sv": "4.12.2026", "en": "4 December 2026"}
UTC_DAY = {"fi": "3.12.2026", "sv": "3.12.2026", "en": "3 December 2026"}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_badge_issued_late_in_the_evening_utc_is_dated_the_next_day_in_helsinki(
    app: Flask, world: World, lang: str
) -> None:
    with app.app_context(), unit_of_work() as session:
        issued = issuing.issue(
            session,
            IssuingContext.from_settings(get_settings()),
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            "ilta@example.fi",
            "Iida Ilta",
            now=LATE_EVENING,
        )
        credential_id = issued.credential.id
    client = app.test_client()
    page = client.get(f"/credentials/{credential_id}?lang={lang}", headers=BROWSER).text
    assert HELSINKI_DAY[lang] in page
    assert UTC_DAY[lang] not in page
    # The verification page dates it the same way.
    verified = client.get(f"/verify/{credential_id}?lang={lang}").text
    assert HELSINKI_DAY[lang] in verified
    assert UTC_DAY[lang] not in verified
