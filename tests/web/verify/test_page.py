"""The employer's verification page: /verify/<id> (the QR target) and /verify (upload/paste)."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from issuer.core.baking import bake_svg
from issuer.db import unit_of_work
from issuer.services import issuing, own_records, submissions
from issuer.web import verifying
from tests.conftest import SVG
from tests.web.verify.helpers import (
    EXPECTED_VERDICT,
    REASON,
    VERDICTS,
    Issued,
    Scenario,
    baked,
    scenario,
    store_tampered,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below

HEADLINES = {
    "valid": {"en": "Valid", "fi": "Voimassa", "sv": "Giltigt"},
    "revoked": {"en": "Revoked", "fi": "Peruttu", "sv": "Återkallat"},
    "suspended": {"en": "Suspended", "fi": "Keskeytetty", "sv": "Spärrat"},
    "expired": {"en": "Expired", "fi": "Vanhentunut", "sv": "Utgånget"},
    "not_genuine": {"en": "Not genuine", "fi": "Ei aito", "sv": "Inte äkta"},
}
REASON_LABEL = {
    "en": "Reason given by the issuer:",
    "fi": "Myöntäjän ilmoittama syy:",
    "sv": "Skäl som utfärdaren angett:",
}
ACCEPT_LANGUAGE = {"fi": "fi-FI,fi;q=0.9,en;q=0.5", "sv": "sv-FI,sv;q=0.9", "en": "en-GB,en"}


def _verdict(page: str) -> str:
    match = re.search(r'data-verdict="([a-z_]+)"', page)
    assert match is not None, page[:500]
    return match.group(1)


def _headline(page: str) -> str:
    match = re.search(r'<h1 id="verdict-title">([^<]*)</h1>', page)
    assert match is not None
    return html.unescape(match.group(1))


def _stored_id(app: Flask, scenario: Scenario, kind: str) -> str:
    if kind == "tampered":
        return store_tampered(app, scenario)
    return scenario.credentials[kind].id


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("kind", VERDICTS)
def test_verification_page_gives_the_verdict_in_the_readers_language(
    app: Flask, client: FlaskClient, scenario: Scenario, kind: str, lang: str
) -> None:
    credential_id = _stored_id(app, scenario, kind)
    response = client.get(
        f"/verify/{credential_id}", headers={"Accept-Language": ACCEPT_LANGUAGE[lang]}
    )
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert f'<html lang="{lang}">' in page
    verdict = EXPECTED_VERDICT[kind]
    assert _verdict(page) == verdict
    assert _headline(page) == HEADLINES[verdict][lang]
    if kind == "revoked":
        assert REASON_LABEL[lang] in page
        # The reason is shown, as text: the markup in it is escaped, never rendered.
        assert html.escape(REASON, quote=False) in page
        assert "<b>väärälle</b>" not in page
    else:
        assert REASON_LABEL[lang] not in page


def test_language_switcher_and_cookie(client: FlaskClient, scenario: Scenario) -> None:
    credential_id = scenario.credentials["valid"].id
    response = client.get(f"/verify/{credential_id}?lang=sv", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert _headline(page) == "Giltigt"
    assert 'href="?lang=fi"' in page
    assert 'href="?lang=en"' in page
    # The choice is remembered over the browser's preference.
    again = client.get(f"/verify/{credential_id}", headers={"Accept-Language": "en"})
    assert _headline(again.get_data(as_text=True)) == "Giltigt"


def test_page_shows_holder_issuer_date_outcomes_and_eu_facts(
    client: FlaskClient, scenario: Scenario
) -> None:
    # Bertil's credential was issued in Swedish; an English reader gets English texts.
    valid = scenario.credentials["valid"]
    page = client.get(f"/verify/{valid.id}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert '<td class="holder">Aino Virtanen</td>' in page
    assert "Hämeen ammattikorkeakoulu (en)" in page  # the issuer's name in the reader's language
    assert '<td class="achievement">Foresight competence</td>' in page
    assert "Learning outcomes" in page
    assert page.count("<li>The participant can") >= 2
    assert 'class="facts eu-facts"' in page
    assert "Date of issue" in page
    # The checks behind the verdict are there, folded.
    assert '<details class="card checks-details">' in page
    for name in ("format", "schema", "proof", "issuer", "validity", "status:revocation"):
        assert f'data-check="{name}"' in page
    # Printing: a button wired by a static script (no inline script), and the print CSS.
    assert "data-print" in page
    assert "<script>" not in page
    assert '<meta name="robots" content="noindex">' in page


def test_page_in_finnish_shows_finnish_outcomes(client: FlaskClient, scenario: Scenario) -> None:
    credential_id = scenario.credentials["suspended"].id  # issued in English
    page = client.get(f"/verify/{credential_id}?lang=fi").get_data(as_text=True)
    assert "Oppimistulokset" in page
    assert "<li>Osallistuja osaa" in page
    assert '<td class="achievement">Ennakointiosaaminen</td>' in page


def test_print_script_is_served(client: FlaskClient) -> None:
    response = client.get("/static/verify.js")
    assert response.status_code == 200
    assert b"window.print" in response.data


@pytest.mark.parametrize(
    "credential_id", ["0" * 32, "not-an-id", "ABCDEF" + "0" * 26, "0" * 33, "%00"]
)
def test_unknown_credential_is_a_404_page(
    client: FlaskClient, scenario: Scenario, credential_id: str
) -> None:
    response = client.get(f"/verify/{credential_id}", headers={"Accept-Language": "fi"})
    assert response.status_code == 404
    assert "Merkkiä ei löytynyt" in response.get_data(as_text=True)


def test_page_sees_a_revocation_at_once(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    from issuer.services import revocation
    from tests.web.verify.helpers import ACTOR

    credential_id = scenario.credentials["valid"].id
    assert _verdict(client.get(f"/verify/{credential_id}").get_data(as_text=True)) == "valid"
    with app.app_context(), unit_of_work() as session:
        stored = issuing.get_credential(session, credential_id)
        revocation.revoke(session, stored, actor=ACTOR, reason="Virhe")
    page = client.get(f"/verify/{credential_id}").get_data(as_text=True)
    assert _verdict(page) == "revoked"
    assert "Virhe" in page


HOLDERS = {
    "valid": "Aino Virtanen",
    "revoked": "Bertil Holm",
    "suspended": "Carla Niemi",
    "expired": "Daniel Koski",
}


def _set_hidden(app: Flask, credential_id: str, hidden: bool) -> None:
    from issuer.models import Credential

    with app.app_context(), unit_of_work() as session:
        stored = session.get(Credential, credential_id)
        assert stored is not None
        stored.hidden = hidden


def _personal(issued: Issued) -> list[str]:
    """What in the signed credential names or describes the holder: name, identity hashes,
    the achievement and its texts, evidence and results."""
    subject = issued.document["credentialSubject"]
    achievement = subject["achievement"]
    values = [subject["name"], *(entry["identityHash"] for entry in subject["identifier"])]
    values += [achievement["name"], achievement["description"]]
    values += [item.get("narrative", "") for item in issued.document.get("evidence", [])]
    return [value for value in values if value]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("kind", ["valid", "revoked", "suspended", "expired"])
def test_a_hidden_credential_gets_its_verdict_without_the_holder_or_the_claims(
    app: Flask, client: FlaskClient, scenario: Scenario, kind: str, lang: str
) -> None:
    issued = scenario.credentials[kind]
    url = f"/verify/{issued.id}?lang={lang}"
    shown = client.get(url).get_data(as_text=True)
    assert f'<td class="holder">{HOLDERS[kind]}</td>' in shown
    assert 'class="card private-credential"' not in shown

    _set_hidden(app, issued.id, True)
    response = client.get(url)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert _verdict(page) == EXPECTED_VERDICT[kind]
    assert _headline(page) == HEADLINES[EXPECTED_VERDICT[kind]][lang]
    assert 'class="card private-credential"' in page
    for value in [HOLDERS[kind], *_personal(issued)]:
        assert value not in page, value
    for absent in ('class="holder"', 'class="achievement"', "eu-facts", "learning-outcomes"):
        assert absent not in page
    assert REASON not in page  # the revocation reason is free text that may name them
    assert f"/credentials/{issued.id}" not in page  # no download link
    # The issuer the verdict vouches for, and the checks behind it, are still there.
    assert "Hämeen ammattikorkeakoulu" in page
    for name in ("proof", "issuer", "status:revocation"):
        assert f'data-check="{name}"' in page

    _set_hidden(app, issued.id, False)
    assert f'<td class="holder">{HOLDERS[kind]}</td>' in client.get(url).get_data(as_text=True)


def _revocation_list(app: Flask, credential_id: str) -> tuple[int, int | None, str | None]:
    """(version, signed version, signed text) of the credential's revocation list, as
    committed."""
    with app.app_context(), unit_of_work() as session:
        position = own_records.allocations_of(session, credential_id)["revocation"]
        return position.version, position.signed_version, position.signed_json


@pytest.mark.parametrize("route", ["page", "api"])
def test_a_revocation_signs_its_list_and_verifying_writes_nothing(
    app: Flask, client: FlaskClient, scenario: Scenario, route: str
) -> None:
    """The revocation signs the credential's status list in its own transaction; verifying
    then only reads it: the stored signature stays the same text."""
    from issuer.services import revocation
    from tests.web.verify.helpers import ACTOR

    issued = scenario.credentials["valid"]
    with app.app_context(), unit_of_work() as session:
        stored = issuing.get_credential(session, issued.id)
        revocation.revoke(session, stored, actor=ACTOR, reason="Virhe")  # a new list version
    signed = _revocation_list(app, issued.id)
    version, signed_version, text = signed
    assert signed_version == version
    assert text is not None
    assert "BitstringStatusListCredential" in text

    def verify() -> str:
        if route == "page":
            return _verdict(client.get(f"/verify/{issued.id}").get_data(as_text=True))
        answer = client.post("/api/v1/verify", data=issued.text, content_type="application/json")
        verdict: str = answer.get_json()["verdict"]
        return verdict

    assert verify() == "revoked"
    assert _revocation_list(app, issued.id) == signed
    assert verify() == "revoked"
    assert _revocation_list(app, issued.id) == signed


# --- /verify: upload or paste ---------------------------------------------------------------


def test_form_page(client: FlaskClient) -> None:
    response = client.get("/verify", headers={"Accept-Language": "sv"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in page
    assert 'name="file"' in page
    assert 'name="json"' in page
    assert "Kontrollera ett märke" in page


def _upload(client: FlaskClient, data: bytes, filename: str, lang: str = "en") -> Any:
    import io

    return client.post(
        "/verify",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        headers={"Accept-Language": lang},
    )


@pytest.mark.parametrize("kind", ["json", "png", "svg"])
@pytest.mark.parametrize("credential", VERDICTS)
def test_upload_gives_the_same_verdict_as_the_page(
    client: FlaskClient, scenario: Scenario, credential: str, kind: str
) -> None:
    text = scenario.credentials[credential].text
    response = _upload(client, baked(kind, text), f"badge.{kind}")
    assert response.status_code == 200
    assert _verdict(response.get_data(as_text=True)) == EXPECTED_VERDICT[credential]


def test_pasted_json_is_verified(client: FlaskClient, scenario: Scenario) -> None:
    response = client.post(
        "/verify",
        data={"json": scenario.credentials["revoked"].text},
        headers={"Accept-Language": "fi"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _verdict(page) == "revoked"
    assert _headline(page) == "Peruttu"


def test_uploaded_foreign_text_is_escaped(client: FlaskClient, scenario: Scenario) -> None:
    document = json.loads(scenario.credentials["valid"].text)
    document["credentialSubject"]["name"] = '<script>alert("x")</script>'
    response = _upload(client, json.dumps(document).encode(), "x.json")
    page = response.get_data(as_text=True)
    assert _verdict(page) == "not_genuine"
    assert '<script>alert("x")</script>' not in page
    # A credential whose signature fails shows why, not its claims (escaped or not).
    assert "&lt;script&gt;" not in page


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"this is not a credential", "a.txt"),
        (b"{not json", "a.json"),
        (b"[1, 2, 3]", "a.json"),
        (b"\x89PNG\r\n\x1a\ngarbage", "a.png"),
        (SVG, "plain.svg"),  # an image without a credential baked in
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>', "bomb.svg"),
    ],
)
def test_garbage_is_a_clear_400_page(client: FlaskClient, data: bytes, filename: str) -> None:
    response = _upload(client, data, filename, lang="fi")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Merkki ei pysty lukemaan" in page
    assert 'role="alert"' in page


def test_empty_submission_is_a_400_page(client: FlaskClient) -> None:
    response = client.post("/verify", data={"json": "  "}, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Choose a file" in response.get_data(as_text=True)


def test_too_large_upload_is_a_413_page(client: FlaskClient) -> None:
    data = b"{" + b" " * (submissions.MAX_SUBMISSION_BYTES + 10) + b"}"
    response = _upload(client, data, "big.json")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_a_baked_svg_of_another_issuer_unsigned_is_not_genuine(client: FlaskClient) -> None:
    document = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:6b9a1a4e-1111-4c2b-9d1e-2d0c7b2a9f00",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://example.org/issuer", "type": ["Profile"], "name": "Example"},
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:123",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://example.org/a",
                "type": ["Achievement"],
                "name": "A",
                "description": "A.",
                "criteria": {"narrative": "A."},
            },
        },
    }
    response = _upload(client, bake_svg(SVG, json.dumps(document)), "badge.svg")
    page = response.get_data(as_text=True)
    assert _verdict(page) == "not_genuine"
    assert "no proof" in page


def test_a_transient_database_conflict_is_a_503_page_in_the_readers_language(
    client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(credential_id: str) -> Any:
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(verifying, "verify_stored_for_request", busy)
    response = client.get(
        f"/verify/{scenario.credentials['valid'].id}",
        headers={"Accept-Language": ACCEPT_LANGUAGE["sv"]},
    )
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    assert "Tjänsten är upptagen just nu. Försök igen om en stund." in response.get_data(
        as_text=True
    )
