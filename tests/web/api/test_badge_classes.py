"""The badge-class JSON API: bearer tokens, 422 with one error per field, versions, images."""

from __future__ import annotations

import pytest
from flask import Flask

from issuer.core.keys import KeyStore
from issuer.db import get_session
from issuer.services import accounts, badge_classes
from tests.conftest import BASE_URL
from tests.snapshots import restore_or_build
from tests.web.staff.support import (
    World,
    bearer,
    complete_micro_credential,
    fast_password_hashing,
    make_world,
    simple_badge,
)

EU_FIELDS = [
    "learning_outcomes",
    "workload",
    "eqf_level",
    "assessment_type",
    "participation_form",
    "quality_assurance",
]


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    app: Flask,
    keystore: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    fast_password_hashing(monkeypatch)
    return restore_or_build(request, app, "make_world", lambda: make_world(app, keystore))


def test_requests_without_a_valid_token_are_401_with_a_challenge(app: Flask, world: World) -> None:
    client = app.test_client()
    for headers in (
        {},
        bearer("mk_000000000000_" + "x" * 43),
        bearer("nonsense"),
        {"Authorization": f"Basic {world.a.token}"},
    ):
        response = client.get("/api/v1/badge-classes", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.get("/api/v1/badge-classes", headers=bearer(world.a.token)).status_code == 200
    with app.app_context():
        session = get_session()
        token = session.get(accounts.ApiToken, world.a.token_id)
        assert token is not None
        accounts.revoke_token(session, token)
        session.commit()
    response = client.get("/api/v1/badge-classes", headers=bearer(world.a.token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_micro_credential_missing_eu_elements_gets_422_listing_every_field(
    app: Flask, world: World
) -> None:
    data = complete_micro_credential("api-puuttuu")
    for field in EU_FIELDS:
        data.pop(field)
    response = app.test_client().post(
        "/api/v1/badge-classes", json=data, headers=bearer(world.a.token)
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "validation_failed"
    assert [error["field"] for error in body["errors"]] == EU_FIELDS
    assert all(error["code"] == "required" for error in body["errors"])
    assert all("MicroCredential" in error["message"] for error in body["errors"])
    assert set(body["errors"][0]) == {"field", "code", "message"}


def test_invalid_values_and_settings_are_reported_together(app: Flask, world: World) -> None:
    data = complete_micro_credential("api-huono", eqf_level=9, workload={"ects": -1})
    data["published"] = "yes"
    data["colour"] = "red"
    response = app.test_client().post(
        "/api/v1/badge-classes", json=data, headers=bearer(world.a.token)
    )
    assert response.status_code == 422
    fields = {error["field"]: error["code"] for error in response.get_json()["errors"]}
    assert fields == {
        "colour": "unknown_field",
        "workload.ects": "out_of_range",
        "eqf_level": "out_of_range",
        "published": "type",
    }


def test_body_must_be_a_json_object(app: Flask, world: World) -> None:
    client = app.test_client()
    for kwargs in ({"data": "not json", "content_type": "application/json"}, {"json": [1, 2]}):
        response = client.post("/api/v1/badge-classes", headers=bearer(world.a.token), **kwargs)
        assert response.status_code == 400
        assert response.get_json()["error"] == "bad_json"


def test_create_get_and_list(app: Flask, world: World) -> None:
    client = app.test_client()
    data = complete_micro_credential("api-valmis")
    data["published"] = True
    data["auto_issue"] = False
    created = client.post("/api/v1/badge-classes", json=data, headers=bearer(world.a.token))
    assert created.status_code == 201, created.get_json()
    assert created.headers["Location"] == f"{BASE_URL}/api/v1/badge-classes/api-valmis"
    body = created.get_json()
    assert body["institution"] == "a"
    assert body["published"] is True
    assert body["current_version"] == 1
    assert body["achievement_ids"]["sv"] == f"{BASE_URL}/badges/api-valmis/v1/sv"
    assert body["image_url"] == f"{BASE_URL}/badges/api-valmis/v1/image.svg"
    assert body["data"]["workload"] == {"hours": 27, "ects": 1, "competence_points": 1}

    fetched = client.get("/api/v1/badge-classes/api-valmis", headers=bearer(world.a.token))
    assert fetched.get_json()["data"] == body["data"]
    listed = client.get("/api/v1/badge-classes", headers=bearer(world.a.token)).get_json()
    slugs = {item["slug"] for item in listed["badge_classes"]}
    assert {"api-valmis", world.a.badge_slug, "test-badge", "finnish-only"} <= slugs
    assert world.b.badge_slug not in slugs
    assert client.get(body["image_url"].removeprefix(BASE_URL)).status_code == 200


def test_update_of_an_issued_badge_class_creates_a_new_version(app: Flask, world: World) -> None:
    client = app.test_client()
    url = f"/api/v1/badge-classes/{world.b.badge_slug}"
    changed = complete_micro_credential(world.b.badge_slug, eqf_level=6)
    response = client.put(url, json=changed, headers=bearer(world.b.token))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["new_version"], body["current_version"]) == (True, 2)
    assert [v["issued"] for v in body["versions"]] == [1, 0]
    # The same content again changes nothing.
    again = client.put(url, json=changed, headers=bearer(world.b.token)).get_json()
    assert (again["new_version"], again["current_version"]) == (False, 2)


def test_update_cannot_change_the_slug_and_national_ones_are_read_only(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    url = f"/api/v1/badge-classes/{world.a.badge_slug}"
    moved = client.put(url, json=simple_badge("other-slug"), headers=bearer(world.a.token))
    assert moved.status_code == 422
    assert moved.get_json()["errors"][0]["field"] == "slug"
    national = client.put(
        "/api/v1/badge-classes/test-badge",
        json=simple_badge("test-badge"),
        headers=bearer(world.a.token),
    )
    assert national.status_code == 403
    copy = client.post(
        "/api/v1/badge-classes/test-badge/copy",
        json={"slug": "api-kopio"},
        headers=bearer(world.a.token),
    )
    assert copy.status_code == 201
    assert copy.get_json()["institution"] == "a"


def test_issuer_token_cannot_do_admin_things_but_can_define_badges(
    app: Flask, world: World
) -> None:
    with app.app_context():
        session = get_session()
        institution = session.get(accounts.Institution, world.a.institution_id)
        assert institution is not None
        token = accounts.create_token(session, institution, name="issuer", created_by="t").secret
        session.commit()
    response = app.test_client().post(
        "/api/v1/badge-classes", json=simple_badge("issuer-made"), headers=bearer(token)
    )
    assert response.status_code == 201


def test_image_upload_is_checked(app: Flask, world: World) -> None:
    client = app.test_client()
    url = f"/api/v1/badge-classes/{world.a.badge_slug}/image"
    headers = bearer(world.a.token)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b'<rect width="3" height="3"/></svg>'
    )
    cleaned = client.put(url, data=svg, headers={**headers, "Content-Type": "image/svg+xml"})
    assert cleaned.status_code == 200
    body = cleaned.get_json()
    assert body["new_version"] is True
    assert body["removed_from_svg"] == ["event handler 'onload'"]
    served = client.get(body["image_url"].removeprefix(BASE_URL))
    assert b"alert" not in served.data

    mislabelled = client.put(url, data=svg, headers={**headers, "Content-Type": "image/png"})
    assert mislabelled.status_code == 422
    assert mislabelled.get_json()["error"] == "invalid_image"
    wrong_type = client.put(url, data=svg, headers={**headers, "Content-Type": "image/gif"})
    assert wrong_type.status_code == 415
    huge = client.put(
        url,
        data=b"\x89PNG" + b"0" * (1024 * 1024 + 10),
        headers={**headers, "Content-Type": "image/png"},
    )
    assert huge.status_code == 413
    assert huge.get_json()["error"] == "image_too_large"
    with app.app_context():
        stored = badge_classes.get_badge_class(get_session(), world.a.badge_slug)
        assert stored.current_version == 2


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_tabs_and_crlf_are_normalised_in_the_stored_class_and_the_signed_credential(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    data = simple_badge(
        "api-sarkain",
        name={"fi": "Sarkain\tmerkki", "en": "Tab\tbadge"},
        description={"fi": "Rivi 1\r\nRivi\t2", "en": "Line 1\rLine 2"},
        published=True,
    )
    created = client.post("/api/v1/badge-classes", json=data, headers=bearer(world.a.token))
    assert created.status_code == 201, created.get_json()
    stored = created.get_json()["data"]
    assert stored["name"] == {"fi": "Sarkain merkki", "en": "Tab badge"}
    assert stored["description"] == {"fi": "Rivi 1\nRivi 2", "en": "Line 1\nLine 2"}
    issued = client.post(
        "/api/v1/credentials",
        json={
            "badge_class": "api-sarkain",
            "recipient": {"email": "liisa@example.fi", "name": "Liisa"},
            "lang": "en",
        },
        headers=bearer(world.a.token),
    )
    assert issued.status_code == 201, issued.get_json()
    achievement = issued.get_json()["credential"]["credentialSubject"]["achievement"]
    assert achievement["name"] == "Tab badge"
    assert achievement["description"].startswith("Line 1\nLine 2")


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
def test_control_characters_are_refused_naming_the_field(
    app: Flask, world: World, character: str
) -> None:
    data = simple_badge("api-ohjaus", criteria_narrative={"fi": f"Tee{character} tehtävä."})
    response = app.test_client().post(
        "/api/v1/badge-classes", json=data, headers=bearer(world.a.token)
    )
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert (error["field"], error["code"]) == ("criteria_narrative", "control_character")
    assert "criteria_narrative.fi" in error["message"]
    assert f"U+{ord(character):04X}" in error["message"]
