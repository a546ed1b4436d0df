"""Institution admins: profile and logo, staff accounts, API tokens; service admins choose."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask

from issuer.db import get_session
from issuer.models import Institution
from issuer.services import accounts
from tests.web.staff.support import World, bearer, csrf_token, signed_in
from tests.web.test_i18n_pages import english_on

PROFILE = {
    "name_fi": "Oppilaitos A",
    "name_sv": "Läroanstalt A",
    "name_en": "Institution A",
    "description_fi": "Ammatillista koulutusta Hämeessä.",
    "url": "https://a.example.fi",
    "email": "info@a.example.fi",
    "street_address": "Katu 1",
    "postal_code": "13100",
    "address_locality": "Hämeenlinna",
    "address_country": "Suomi",
    "address_country_code": "fi",
    "business_id": "1629284-5",
    "oid": "1.2.246.562.10.12345678901",
}


def _post_profile(client: Any, **changes: Any) -> Any:
    data = {**PROFILE, **changes, "csrf_token": csrf_token(client, "/staff/institution")}
    return client.post("/staff/institution?lang=en", data=data, content_type="multipart/form-data")


def test_profile_is_saved_with_a_cleaned_logo(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    logo = b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script><circle r="4"/></svg>'
    response = _post_profile(client, logo=(io.BytesIO(logo), "logo.svg", "image/svg+xml"))
    assert response.status_code == 302
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        assert institution.business_id == "1629284-5"
        assert institution.address_country_code == "FI"
        assert institution.description_fi == "Ammatillista koulutusta Hämeessä."
        assert institution.logo is not None
        assert b"script" not in institution.logo
    profile = (
        app.test_client().get("/issuers/a", headers={"Accept-Language": "sv"}).get_json(force=True)
    )
    assert profile["name"] == "Läroanstalt A"
    identifiers = {
        entry["identifierType"]: entry["identifier"] for entry in profile["otherIdentifier"]
    }
    assert "1629284-5" in identifiers.values()
    assert app.test_client().get("/catalog/institutions/a/logo").status_code == 200


def test_profile_errors_are_shown_on_the_form(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    bad_id = _post_profile(client, business_id="1629284-6")
    assert bad_id.status_code == 422
    assert "not a valid Y-tunnus" in bad_id.get_data(as_text=True)
    png_named_svg = _post_profile(
        client, logo=(io.BytesIO(b"\x89PNG\r\n\x1a\nxx"), "logo.svg", "image/svg+xml")
    )
    assert png_named_svg.status_code == 422
    assert "whose content matches its name" in png_named_svg.get_data(as_text=True)
    missing_name = _post_profile(client, name_fi="")
    assert missing_name.status_code == 400


def test_staff_accounts_are_managed_by_the_admin(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    page = client.get("/staff/users").get_data(as_text=True)
    assert world.a.issuer_email in page
    token = csrf_token(client, "/staff/users")
    duplicate = client.post(
        "/staff/users?lang=en",
        data={"email": world.a.issuer_email, "role": "issuer", "csrf_token": token},
    )
    assert duplicate.status_code == 422
    assert "already has an account" in duplicate.get_data(as_text=True)
    bad_role = client.post(
        "/staff/users", data={"email": "x@a.test", "role": "service_admin", "csrf_token": token}
    )
    assert bad_role.status_code == 400  # not one of the choices
    deactivate = client.post(
        f"/staff/users/{world.a.issuer_id}/deactivate", data={"csrf_token": token}
    )
    assert deactivate.status_code == 302
    assert "Deactivated" in client.get("/staff/users?lang=en").get_data(as_text=True)
    myself = client.post(f"/staff/users/{world.a.admin_id}/deactivate", data={"csrf_token": token})
    assert myself.status_code == 302
    assert client.get("/staff/").status_code == 200  # still signed in
    reset = client.post(
        f"/staff/users/{world.a.issuer_id}/reset-password", data={"csrf_token": token}
    )
    assert reset.status_code == 200
    assert re.search(r'id="one-time-password"><code>[^<]{16,}</code>', reset.get_data(as_text=True))


def test_api_tokens_are_shown_once_and_can_be_revoked(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    token = csrf_token(client, "/staff/tokens")
    created = client.post(
        "/staff/tokens", data={"name": "Itslearning", "role": "issuer", "csrf_token": token}
    )
    assert created.status_code == 200
    secret = re.search(r'<code id="new-token">([^<]+)</code>', created.get_data(as_text=True))
    assert secret is not None
    api = app.test_client()
    assert api.get("/api/v1/badge-classes", headers=bearer(secret.group(1))).status_code == 200
    listing = client.get("/staff/tokens").get_data(as_text=True)
    assert "Itslearning" in listing
    assert secret.group(1) not in listing
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        token_id = next(
            t.id
            for t in accounts.list_tokens(get_session(), institution)
            if t.name == "Itslearning"
        )
    assert (
        client.post(f"/staff/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    assert api.get("/api/v1/badge-classes", headers=bearer(secret.group(1))).status_code == 401


def test_service_admin_chooses_an_institution(app: Flask, world: World) -> None:
    client = signed_in(app, world.service_admin_email)
    chooser = client.get("/staff/users").get_data(as_text=True)
    assert "/staff/users?institution=a" in chooser
    assert "/staff/users?institution=b" in chooser
    b_users = client.get("/staff/users?institution=b").get_data(as_text=True)
    assert world.b.admin_email in b_users
    assert world.a.admin_email not in b_users
    assert client.get("/staff/users?institution=nowhere").status_code == 404


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_profile_texts_are_normalised_and_control_characters_refused(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.admin_email)
    response = _post_profile(
        client,
        name_sv="Läroanstalt\tA",
        description_fi="Rivi 1\r\nRivi\t2",
        address_locality="Hämeen\tlinna",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        assert institution.name_sv == "Läroanstalt A"
        assert institution.description_fi == "Rivi 1\nRivi 2"
        assert institution.address_locality == "Hämeen linna"
    for field, character in (("name_en", "\x08"), ("description_sv", "\x0c"), ("name_fi", "\x85")):
        refused = client.post(
            "/staff/institution?lang=fi",
            data={
                **PROFILE,
                field: f"Teksti{character}x",
                "csrf_token": csrf_token(client, "/staff/institution"),
            },
            content_type="multipart/form-data",
        )
        assert refused.status_code == 422, (field, refused.status_code)
        page = refused.get_data(as_text=True)
        assert field in page
        assert f"U+{ord(character):04X}" in page
        assert "ohjausmerkin" in page  # in the reader's language
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        assert institution.name_fi == "Oppilaitos A"


def test_profile_contact_address_must_be_one_plain_address(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    for address, reason in (
        ("A <info@a.example.fi>", "Anna vain sähköpostiosoite"),
        ("info@a.example.fi, x@a.example.fi", "vain yksi sähköpostiosoite"),
        ("info\u200b@a.example.fi", "U+200B"),
    ):
        refused = client.post(
            "/staff/institution?lang=fi",
            data={
                **PROFILE,
                "email": address,
                "csrf_token": csrf_token(client, "/staff/institution"),
            },
            content_type="multipart/form-data",
        )
        assert refused.status_code == 422, (address, refused.status_code)
        assert reason in refused.get_data(as_text=True)
    assert _post_profile(client, email=" Info@A.example.fi ").status_code == 302
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        assert institution.email == "info@a.example.fi"


#: A refused detail -> what the profile page says at its field, in Finnish and in Swedish.
REFUSED_DETAILS = {
    "business_id": ("1629284-6", "ei ole kelvollinen Y-tunnus", "är inte ett giltigt FO-nummer"),
    "oid": ("1.2.3", "ei ole Opintopolun organisaatio-OID", "är inte ett organisations-OID"),
    "url": ("ftp://a.example.fi", "ei ole http(s)-osoite", "är inte en http(s)-adress"),
    "address_country_code": ("F1", "ei ole ISO 3166-1", "är inte en landskod"),
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_profile_errors_are_in_the_readers_language_at_their_field(
    app: Flask, world: World
) -> None:
    """The service refuses a detail with a message, not its English text; the page shows it in
    Finnish or Swedish, at its field (issue 15)."""
    client = signed_in(app, world.a.admin_email)
    for field, (value, finnish, swedish) in REFUSED_DETAILS.items():
        for lang, expected in (("fi", finnish), ("sv", swedish)):
            data = {**PROFILE, field: value, "csrf_token": csrf_token(client, "/staff/institution")}
            response = client.post(
                f"/staff/institution?lang={lang}", data=data, content_type="multipart/form-data"
            )
            assert response.status_code == 422, (field, lang)
            page = response.get_data(as_text=True)
            assert expected in page, (field, lang)
            # Tied to its field (aria-describedby), not only in a notice at the top.
            [control] = re.findall(rf'<input[^>]* id="{field}"[^>]*>', page)
            assert 'aria-invalid="true"' in control, (field, lang)
            assert f'aria-describedby="error-{field}"' in control, (field, lang)
            assert english_on(response, lang) == [], (field, lang)
