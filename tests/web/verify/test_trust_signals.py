"""The verification page for an employer (issue 15): the issuer's facts from its profile in
this service shown as trust signals only when the signature confirms the institution; a
credential that fails its signature or the format shows why, never its claims; and every
verdict says what it means."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import update

from issuer.core.credential import build_credential, issuer_profile
from issuer.core.dataintegrity.signing import sign
from issuer.core.did import did_key_for, did_key_verification_method, did_web_for
from issuer.core.keys import generate_private_key
from issuer.core.multikey import encode_public_key
from issuer.db import unit_of_work
from issuer.models import Institution
from issuer.models.issuing import StatusList
from issuer.services import institutions
from issuer.web.verify.presentation import advice_texts
from tests.conftest import BASE_URL
from tests.web.verify.helpers import (
    EXPECTED_VERDICT,
    VERDICTS,
    Scenario,
    png_image,
    scenario,
    store_tampered,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below

WEBSITE = "https://www.hamk.fi/"
BUSINESS_ID = "1234567-1"
OID = "1.2.246.562.10.12345678901"
COUNTRY = {"fi": "Suomi", "sv": "Finland", "en": "Finland"}
NAMES = {
    "fi": "Hämeen ammattikorkeakoulu",
    "sv": "Hämeen ammattikorkeakoulu (sv)",
    "en": "Hämeen ammattikorkeakoulu (en)",
}
#: What only the institution's profile holds: none of it may show unless the signature
#: confirms the institution.
PROFILE_ONLY = (BUSINESS_ID, OID, WEBSITE, "/catalog/institutions/hamk/logo")


def _translate(app: Flask, lang: str, message: str) -> str:
    with app.test_request_context(), force_locale(lang):
        return str(gettext(message))


def _escaped(app: Flask, lang: str, message: str) -> str:
    return str(escape(_translate(app, lang, message)))


def _with_profile(app: Flask) -> None:
    """HAMK's profile as its admin would fill it in: website, Y-tunnus, OID and a logo."""
    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, "hamk")
        assert isinstance(hamk, Institution)
        hamk.url = WEBSITE
        hamk.business_id = BUSINESS_ID
        hamk.oid = OID
        hamk.logo = png_image()
        hamk.logo_media_type = "image/png"


def _pasted(client: FlaskClient, document: dict[str, Any] | str, lang: str = "en") -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    response = client.post(f"/verify?lang={lang}", data={"json": text})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The language switcher sends the pasted text again (one hidden field per language form):
    # the reader's own input, escaped and never shown. The checks below are about what the
    # page shows, so that field is left out (and checked to hold exactly what was sent).
    echoed = _ECHO.findall(page)
    assert all(unescape(value) == text for value in echoed), "the switcher re-sends other text"
    return _ECHO.sub("", page)


_ECHO = re.compile(r'<input type="hidden" name="json" value="([^"]*)">')


def _verdict(page: str) -> str:
    start = page.index('data-verdict="') + len('data-verdict="')
    return page[start : page.index('"', start)]


def _forged(issuer_id: str | None = None, *, method: str | None = None) -> dict[str, Any]:
    """A credential naming HAMK, with HAMK's name, website and ids in its own issuer profile,
    signed with a key that is not HAMK's: its own did:key as the issuer (``issuer_id`` None),
    or under the issuer id given (HAMK's DID), named by ``method`` or by the did:key."""
    private_key = generate_private_key()
    did = did_key_for(private_key.public_key())
    profile = issuer_profile(did=issuer_id or did, name=NAMES["fi"])
    profile["url"] = WEBSITE
    unsigned = build_credential(
        credential_id="urn:uuid:2b0e8a3c-4bd6-4d5a-8f0e-1f9e7c0b1a2d",
        issuer=profile,
        achievement={
            "id": "https://example.fi/achievements/1",
            "type": ["Achievement"],
            "name": "Forged competence",
            "description": "Forged.",
            "criteria": {"narrative": "Forged."},
        },
        recipient_name="Matti Mallikas",
        recipient_email="matti@example.fi",
        salt="00" * 16,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    if method == "hamk":
        # A key of its own, named as if it were in HAMK's DID document.
        multibase = encode_public_key(private_key.public_key())
        return sign(unsigned, private_key, f"{issuer_id}#{multibase}")
    return sign(unsigned, private_key, did_key_verification_method(did))


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_genuine_credential_shows_the_issuers_confirmed_facts(
    app: Flask, client: FlaskClient, scenario: Scenario, lang: str
) -> None:
    _with_profile(app)
    for page in (
        client.get(f"/verify/{scenario.credentials['valid'].id}?lang={lang}").text,
        # The same credential uploaded by the holder: confirmed by its signature just the same.
        _pasted(client, scenario.credentials["valid"].text, lang),
    ):
        assert _verdict(page) == "valid"
        assert _escaped(app, lang, "About the issuer") in page
        assert f'<td class="issuer-official-name">{escape(NAMES[lang])}</td>' in page
        assert f'<a href="{WEBSITE}" rel="noopener">{WEBSITE}</a>' in page
        assert f'<td class="issuer-business-id">{BUSINESS_ID}</td>' in page
        assert f'<td class="issuer-oid">{OID}</td>' in page
        assert f'<td class="issuer-country">{COUNTRY[lang]}</td>' in page
        assert 'src="/catalog/institutions/hamk/logo"' in page


def test_an_institution_without_a_profile_shows_what_it_has(
    client: FlaskClient, scenario: Scenario
) -> None:
    page = client.get(f"/verify/{scenario.credentials['valid'].id}?lang=en").text
    assert "About the issuer" in page
    assert '<td class="issuer-country">Finland</td>' in page
    for fact in PROFILE_ONLY:
        assert fact not in page, fact


@pytest.mark.parametrize(
    ("forgery", "verdicts"),
    [
        # Its own did:key, with HAMK's name: intact, but nobody vouches for the name.
        ("self-asserted", {"valid"}),
        # HAMK's DID as the issuer, signed with a did:key: the key is not HAMK's.
        ("did:key under HAMK's DID", {"unverifiable"}),
        # HAMK's DID and a key named as if it were in HAMK's DID document: it is not.
        ("unknown key in HAMK's DID", {"not_genuine", "unverifiable"}),
    ],
)
def test_a_forged_credential_naming_a_real_institution_gets_none_of_its_facts(
    app: Flask, client: FlaskClient, scenario: Scenario, forgery: str, verdicts: set[str]
) -> None:
    _with_profile(app)
    hamk = did_web_for(BASE_URL, "hamk")
    document = {
        "self-asserted": lambda: _forged(),
        "did:key under HAMK's DID": lambda: _forged(hamk),
        "unknown key in HAMK's DID": lambda: _forged(hamk, method="hamk"),
    }[forgery]()
    page = _pasted(client, document)
    assert _verdict(page) in verdicts
    assert "About the issuer" not in page
    assert "issuer-card" not in page
    for fact in PROFILE_ONLY:
        assert fact not in page, fact
    # Never the official name in another language, as if the profile had been consulted.
    assert NAMES["en"] not in page


def test_a_tampered_credential_shows_why_and_none_of_its_claims(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _with_profile(app)
    for lang in ("fi", "sv", "en"):
        for page in (
            _pasted(client, scenario.credentials["tampered"].text, lang),
            client.get(f"/verify/{store_tampered(app, scenario)}?lang={lang}").text,
        ):
            assert _verdict(page) == "not_genuine"
            # Neither the altered claim nor the original ones, nor the issuer's facts.
            for claim in ("Someone Else", "Aino Virtanen", "Frida Forged"):
                assert claim not in page, claim
            assert 'class="holder"' not in page
            assert 'class="achievement"' not in page
            for fact in PROFILE_ONLY:
                assert fact not in page, fact
            # Why: the failed check by its name, and what it means, in the reader's language.
            assert _escaped(app, lang, "Checks that failed:") in page
            assert _escaped(app, lang, "Digital signature") in page
            reason = (
                "Its digital signature does not match its content: the content was changed "
                "after signing, or it was not signed with the key it names."
            )
            assert _escaped(app, lang, reason) in page


def test_a_malformed_credential_shows_why_and_none_of_its_claims(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    document = scenario.credentials["valid"].document
    document["credentialSubject"]["type"] = ["NotAnAchievementSubject"]
    page = _pasted(client, document)
    assert _verdict(page) in ("malformed", "not_genuine")
    assert "Aino Virtanen" not in page
    assert 'class="holder"' not in page
    assert "Checks that failed:" in page
    assert BUSINESS_ID not in page


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("kind", VERDICTS)
def test_every_verdict_says_what_it_means_for_an_employer(
    app: Flask, client: FlaskClient, scenario: Scenario, kind: str, lang: str
) -> None:
    credential_id = store_tampered(app, scenario) if kind == "tampered" else None
    page = client.get(f"/verify/{credential_id or scenario.credentials[kind].id}?lang={lang}").text
    verdict = EXPECTED_VERDICT[kind]
    with app.test_request_context(), force_locale(lang):
        advice = advice_texts()
    assert _escaped(app, lang, "What this means") in page
    assert str(escape(advice[verdict])) in page
    # One advice per verdict, not the same words for all.
    assert len(set(advice.values())) == len(advice)


def test_a_self_asserted_issuer_gets_its_own_advice(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    page = _pasted(client, _forged())
    assert _verdict(page) == "valid"
    with app.test_request_context(), force_locale("en"):
        advice = advice_texts()
    assert str(escape(advice["self_asserted"])) in page
    assert str(escape(advice["valid"])) not in page


def _claims_absent(page: str, claims: tuple[str, ...]) -> None:
    for claim in claims:
        assert claim not in page, claim
    for mark in ('class="holder"', 'class="achievement"', 'class="issuer"', "details-title"):
        assert mark not in page, mark
    assert "About the issuer" not in page
    for fact in PROFILE_ONLY:
        assert fact not in page, fact


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_credential_that_could_not_be_verified_shows_the_verdict_and_why_not_its_claims(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    """HAMK's DID as the issuer, signed with a key nobody shows to be HAMK's: intact, but not
    verified. Its claims are not shown as facts, in any language; the verdict, the reason and
    the advice are."""
    _with_profile(app)
    document = _forged(did_web_for(BASE_URL, "hamk"))
    claims = ("Matti Mallikas", "Forged competence", "Forged.", NAMES["fi"], WEBSITE)
    for lang in ("fi", "sv", "en"):
        page = _pasted(client, document, lang)
        assert _verdict(page) == "unverifiable"
        _claims_absent(page, claims)
        assert _escaped(app, lang, "What the credential claims") not in page
        with app.test_request_context(), force_locale(lang):
            advice = advice_texts()["unverifiable"]
        assert str(escape(advice)) in page
        reason = (
            "The issuer's identity could not be confirmed: the key that signed it is not shown "
            "to belong to the issuer it names."
        )
        assert _escaped(app, lang, reason) in page
        withheld = (
            "What it says about the holder, the achievement and the issuer is not shown here, "
            "because it could not be confirmed."
        )
        assert _escaped(app, lang, withheld) in page
    # The JSON API keeps its contract (README: the summary is always there, beside
    # "verified": false); a program reads the verdict, not a page.
    body = client.post("/api/v1/verify", json=document).get_json()
    assert (body["verified"], body["verdict"]) == (False, "unverifiable")
    assert body["credential"]["recipient"]["name"] == "Matti Mallikas"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_our_own_credential_whose_status_cannot_be_checked_shows_none_of_its_claims(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    """Our own credentials, their status lists left unsigned (as an older Merkki left them): a
    valid one could not be verified, an expired one is expired but not verified either; neither
    shows its holder or badge. A revoked one is still revoked by our records, with its facts."""
    _with_profile(app)
    with app.app_context(), unit_of_work() as session:
        session.execute(update(StatusList).values(signed_json=None, signed_version=None))
    for kind, verdict, holder in (
        ("valid", "unverifiable", "Aino Virtanen"),
        ("expired", "expired", "Daniel Koski"),
    ):
        for lang in ("fi", "sv"):
            page = client.get(f"/verify/{scenario.credentials[kind].id}?lang={lang}").text
            assert _verdict(page) == verdict, kind
            _claims_absent(page, (holder,))
            reason = (
                "Whether it has been revoked could not be checked: the issuer's status list is "
                "not validly signed."
            )
            unavailable = (
                "Whether it has been revoked could not be checked: the issuer's status list "
                "could not be retrieved."
            )
            assert any(_escaped(app, lang, text) in page for text in (reason, unavailable)), kind
    page = client.get(f"/verify/{scenario.credentials['revoked'].id}?lang=fi").text
    assert _verdict(page) == "revoked"
    assert '<td class="holder">Bertil Holm</td>' in page
    assert f'<td class="issuer-business-id">{BUSINESS_ID}</td>' in page
