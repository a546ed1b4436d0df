"""Badge classes in the staff UI: the EU rule marked field by field, create, edit, copy,
publish, adopt, image uploads, national read-only."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.db import get_session
from issuer.services import badge_class_admin, badge_classes
from tests.web.staff.support import (
    World,
    complete_micro_credential,
    csrf_token,
    signed_in,
    simple_badge,
)

EU_FIELDS = (
    "learning_outcomes",
    "workload",
    "eqf_level",
    "assessment_type",
    "participation_form",
    "quality_assurance",
)


def to_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """The badge.json object as the form's fields (dotted names)."""
    form: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key == "workload":
            for unit, amount in value.items():
                form[f"workload.{unit}"] = str(amount)
        elif isinstance(value, dict):
            for lang, text in value.items():
                form[f"{key}.{lang}"] = text
        elif key == "learning_outcomes":
            for index, outcome in enumerate(value):
                for lang, text in outcome.items():
                    form[f"learning_outcomes.{index}.{lang}"] = text
        elif key == "tags":
            form["tags"] = ", ".join(value)
        elif isinstance(value, list):
            form[key] = value
        else:
            form[key] = str(value)
    return form


def post_form(client: FlaskClient, url: str, data: Mapping[str, Any], **extra: Any) -> Any:
    fields = {**to_form(data), **extra, "csrf_token": csrf_token(client, url)}
    return client.post(url, data=fields, content_type="multipart/form-data")


def marked_fields(html: str) -> set[str]:
    return set(re.findall(r'<p class="field-error" id="error-([^"]+)"', html))


def test_micro_credential_without_eu_elements_is_refused_with_each_field_marked(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = complete_micro_credential("puuttuu")
    for field in EU_FIELDS:
        data.pop(field)
    response = post_form(client, "/staff/badge-classes/new?lang=en", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert marked_fields(html) == set(EU_FIELDS)
    # Each mark sits next to its field and names the EU rule, in the reader's language.
    for field in EU_FIELDS:
        section = html.split(f'id="field-{field}"', 1)[1][:1500]
        assert f'id="error-{field}"' in section
    assert html.count("A MicroCredential must have this") == 2 * len(EU_FIELDS)  # list + field
    # What was typed is kept.
    assert "Työturvallisuuden perusteet" in html
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "puuttuu") is None


def test_missing_eu_elements_are_marked_in_finnish_and_swedish(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = complete_micro_credential("puuttuu")
    data.pop("eqf_level")
    finnish = post_form(client, "/staff/badge-classes/new?lang=fi", data).get_data(as_text=True)
    swedish = post_form(client, "/staff/badge-classes/new?lang=sv", data).get_data(as_text=True)
    assert marked_fields(finnish) == marked_fields(swedish) == {"eqf_level"}
    assert "A MicroCredential must have this" not in finnish + swedish


def test_complete_micro_credential_is_created_and_shown(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    response = post_form(
        client,
        "/staff/badge-classes/new",
        complete_micro_credential("valmis"),
        published="1",
        **{"workload.ects": "1,5"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert response.headers["Location"] == "/staff/badge-classes/valmis"
    page = client.get("/staff/badge-classes/valmis?lang=fi").get_data(as_text=True)
    assert "Työturvallisuuden perusteet" in page
    with app.app_context():
        session = get_session()
        stored = badge_classes.find_badge_class(session, "valmis")
        assert stored is not None
        assert stored.institution_id == world.a.institution_id
        assert stored.published
        data = badge_classes.current_version(session, stored).data
        assert data["workload"] == {"hours": 27, "ects": 1.5, "competence_points": 1}
        assert data["learning_outcomes"][1]["sv"] == "Deltagaren kan använda skyddsutrustning."


def test_edit_form_shows_the_stored_values_and_saves_changes(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    url = f"/staff/badge-classes/{world.a.badge_slug}/edit"
    form = client.get(url).get_data(as_text=True)
    assert "Osallistuja osaa käyttää suojaimia." in form
    assert 'value="practical-assessment" selected' in form
    changed = complete_micro_credential(world.a.badge_slug, eqf_level=5)
    response = post_form(client, url, changed, published="1")
    assert response.status_code == 302
    with app.app_context():
        stored = badge_classes.get_badge_class(get_session(), world.a.badge_slug)
        version = badge_classes.current_version(get_session(), stored)
        # Nothing was issued from version 1 in institution A, so it was corrected in place.
        assert (version.version, version.data["eqf_level"]) == (1, 5)


def test_editing_an_issued_badge_class_saves_a_new_version(app: Flask, world: World) -> None:
    client = signed_in(app, world.b.admin_email)
    url = f"/staff/badge-classes/{world.b.badge_slug}/edit?lang=en"
    changed = complete_micro_credential(world.b.badge_slug, eqf_level=5)
    response = post_form(client, url, changed, published="1")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as version 2" in page
    with app.app_context():
        stored = badge_classes.get_badge_class(get_session(), world.b.badge_slug)
        assert [v.data["eqf_level"] for v in stored.versions] == [4, 5]


def test_national_badge_classes_are_read_only_except_for_service_admins(
    app: Flask, world: World
) -> None:
    staff = signed_in(app, world.a.admin_email)
    assert staff.get("/staff/badge-classes/test-badge").status_code == 200
    assert staff.get("/staff/badge-classes/test-badge/edit").status_code == 403
    token = csrf_token(staff, "/staff/badge-classes/test-badge")
    refused = staff.post(
        "/staff/badge-classes/test-badge/publish", data={"csrf_token": token, "published": "0"}
    )
    assert refused.status_code == 403

    root = signed_in(app, world.service_admin_email)
    assert root.get("/staff/badge-classes/test-badge/edit").status_code == 200
    response = post_form(
        root,
        "/staff/badge-classes/test-badge/edit",
        simple_badge("test-badge", validity_months=12),
        published="1",
    )
    assert response.status_code == 302
    # A service admin without a chosen institution creates national badge classes.
    created = post_form(root, "/staff/badge-classes/new", simple_badge("uusi-kansallinen"))
    assert created.status_code == 302
    with app.app_context():
        found = badge_classes.find_badge_class(get_session(), "uusi-kansallinen")
        assert found is not None
        assert found.institution_id is None


def test_copy_of_a_national_badge_class_can_be_adapted(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    page = client.get("/staff/badge-classes/test-badge/copy").get_data(as_text=True)
    assert 'value="test-badge-oma"' in page
    token = csrf_token(client, "/staff/badge-classes/test-badge/copy")
    response = client.post(
        "/staff/badge-classes/test-badge/copy", data={"slug": "meidan-testi", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/badge-classes/meidan-testi/edit"
    assert client.get("/staff/badge-classes/meidan-testi/edit").status_code == 200
    taken = client.post(
        "/staff/badge-classes/test-badge/copy",
        data={"slug": "meidan-testi", "csrf_token": csrf_token(client, "/staff/badge-classes")},
    )
    assert taken.status_code == 422


def test_publish_and_adopt(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    token = csrf_token(client, "/staff/badge-classes")
    url = f"/staff/badge-classes/{world.a.badge_slug}/publish"
    assert client.post(url, data={"csrf_token": token, "published": "0"}).status_code == 302
    assert app.test_client().get(f"/badges/{world.a.badge_slug}").status_code == 404
    assert client.post(url, data={"csrf_token": token, "published": "1"}).status_code == 302
    assert app.test_client().get(f"/badges/{world.a.badge_slug}").status_code == 200

    adopt = client.post(
        "/staff/badge-classes/test-badge/adopt", data={"csrf_token": token, "adopted": "1"}
    )
    assert adopt.status_code == 302
    page = app.test_client().get("/badges/test-badge?lang=fi").get_data(as_text=True)
    assert "Oppilaitos A" in page


def test_uploaded_svg_with_script_is_cleaned_and_the_user_told(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
        b'<image href="https://evil.example/t.png"/><rect width="4" height="4"/></svg>'
    )
    response = post_form(
        client,
        "/staff/badge-classes/new?lang=en",
        simple_badge("piirros"),
        image=(io.BytesIO(svg), "artwork.svg", "image/svg+xml"),
    )
    assert response.status_code == 302
    page = client.get("/staff/badge-classes/piirros?lang=en").get_data(as_text=True)
    assert "Unsafe parts were removed from the SVG image" in page
    with app.app_context():
        stored = badge_classes.find_badge_class(get_session(), "piirros")
        assert stored is not None
        image = badge_classes.current_version(get_session(), stored).image
    assert b"script" not in image
    assert b"evil.example" not in image
    assert b"<rect" in image


def test_mislabelled_or_oversized_upload_is_a_form_error(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    mislabelled = post_form(
        client,
        "/staff/badge-classes/new?lang=en",
        simple_badge("vaara"),
        image=(io.BytesIO(svg), "artwork.png", "image/png"),
    )
    assert mislabelled.status_code == 422
    html = mislabelled.get_data(as_text=True)
    assert marked_fields(html) == {"image"}
    assert "whose content matches its file name" in html
    huge = b'<svg xmlns="http://www.w3.org/2000/svg">' + b" " * (1024 * 1024) + b"</svg>"
    oversized = post_form(
        client,
        "/staff/badge-classes/new?lang=en",
        simple_badge("vaara"),
        image=(io.BytesIO(huge), "big.svg", "image/svg+xml"),
    )
    assert oversized.status_code == 422
    assert "larger than 1 MiB" in oversized.get_data(as_text=True)
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "vaara") is None


def test_package_auto_issue_setting_is_saved_per_institution(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    response = post_form(
        client,
        "/staff/badge-classes/new",
        simple_badge("paketti", requires=["test-badge", world.a.badge_slug]),
        auto_issue="1",
        published="1",
    )
    assert response.status_code == 302
    with app.app_context():
        session = get_session()
        rules = badge_class_admin.package_rules(
            session,
            badge_classes.get_badge_class(session, "paketti").institution,  # type: ignore[arg-type]
        )
        assert [(r.package.slug, r.auto_issue) for r in rules] == [("paketti", True)]
    token = csrf_token(client, "/staff/badge-classes/paketti")
    client.post("/staff/badge-classes/paketti/auto-issue", data={"csrf_token": token})
    with app.app_context():
        session = get_session()
        package = badge_classes.get_badge_class(session, "paketti")
        assert package.institution is not None
        assert not badge_class_admin.auto_issue(session, package.institution, package)


def test_list_shows_own_and_national_but_not_others(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    page = client.get("/staff/badge-classes").get_data(as_text=True)
    assert world.a.badge_slug in page
    assert "test-badge" in page
    assert world.b.badge_slug not in page


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_the_form_normalises_tabs_and_crlf(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = simple_badge(
        "lomake-sarkain",
        name={"fi": "Sarkain\tmerkki "},
        description={"fi": "Rivi 1\r\nRivi\t2\r\n"},
    )
    response = post_form(client, "/staff/badge-classes/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with app.app_context():
        session = get_session()
        stored = badge_classes.find_badge_class(session, "lomake-sarkain")
        assert stored is not None
        saved = badge_classes.current_version(session, stored).data
    assert saved["name"] == {"fi": "Sarkain merkki"}
    assert saved["description"] == {"fi": "Rivi 1\nRivi 2"}


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
def test_the_form_refuses_control_characters_marking_the_field(
    app: Flask, world: World, character: str
) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = simple_badge("lomake-ohjaus", description={"fi": f"Kuvaus.{character}"})
    response = post_form(client, "/staff/badge-classes/new?lang=fi", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert marked_fields(html) == {"description"}
    assert "Tekstissä on ohjausmerkki" in html  # in the reader's language
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "lomake-ohjaus") is None
