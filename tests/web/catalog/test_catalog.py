"""The public catalogue and badge pages: search and filters, who awards what, the achievement
id as HTML and JSON-LD, the anchors the alignment entries point at."""

from __future__ import annotations

import json
import re
from html import unescape

from flask import Flask

from issuer.db import get_session
from issuer.models import Credential, Institution
from issuer.services import badge_class_admin, badge_classes
from tests.conftest import BASE_URL
from tests.web.staff.support import (
    World,
    complete_micro_credential,
    simple_badge,
)

ANCHORS = (
    "workload",
    "competence-points",
    "nqf-level",
    "supervision",
    "quality-assurance",
    "assessment",
    "participation",
)


def slugs(html: str) -> set[str]:
    return set(re.findall(r'data-slug="([^"]+)"', html))


def _add(app: Flask, world: World, slug: str, data: dict[str, object], *, published: bool) -> None:
    with app.app_context():
        session = get_session()
        institution = session.get(Institution, world.a.institution_id)
        badge_class_admin.create_badge_class(session, institution, data, published=published)
        session.commit()


def test_catalogue_lists_published_badge_classes_of_every_institution(
    app: Flask, world: World
) -> None:
    _add(app, world, "luonnos", simple_badge("luonnos"), published=False)
    page = app.test_client().get("/catalog").get_data(as_text=True)
    assert slugs(page) == {world.a.badge_slug, world.b.badge_slug, "test-badge", "finnish-only"}


def test_filters(app: Flask, world: World) -> None:
    _add(
        app,
        world,
        "iso",
        complete_micro_credential(
            "iso",
            workload={"hours": 270},
            eqf_level=6,
            competence_areas=["strategy-and-process"],
            name={"fi": "Strateginen johtaminen"},
            description={"fi": "Kuvaus."},
            criteria_narrative={"fi": "Kriteerit."},
            learning_outcomes=[{"fi": "Osaa johtaa."}],
            quality_assurance={"fi": "Laatu."},
        ),
        published=True,
    )
    client = app.test_client()

    def found(query: str) -> set[str]:
        return slugs(client.get(f"/catalog?{query}").get_data(as_text=True))

    assert found("institution=a") == {world.a.badge_slug, "iso"}
    assert found("institution=b") == {world.b.badge_slug}
    assert found("eqf=6") == {"iso"}
    assert found("area=strategy-and-process") == {"iso"}
    assert found("min_ects=5") == {"iso"}  # 270 hours = 10 ECTS
    assert found("max_ects=2") == {world.a.badge_slug, world.b.badge_slug}
    assert found("min_ects=0,5&max_ects=1,5") == {world.a.badge_slug, world.b.badge_slug}
    assert "iso" not in found("language=sv")
    assert "finnish-only" not in found("language=en")
    assert "finnish-only" in found("language=fi")
    # Text in any language, every word must match, case-insensitively.
    assert found("q=GRUNDERNA+arbetarskydd") == {world.a.badge_slug, world.b.badge_slug}
    assert found("q=johtaminen") == {"iso"}
    assert found("q=tunnistaa+vaaratilanteet") == {world.a.badge_slug, world.b.badge_slug}
    assert found("q=nothing+like+this") == set()
    # Nonsense filter values are ignored, not errors.
    assert client.get("/catalog?eqf=99&min_ects=abc&language=de").status_code == 200


def test_national_badge_classes_show_who_awards_them(app: Flask, world: World) -> None:
    client = app.test_client()
    assert "Oppilaitos A" not in client.get("/badges/test-badge?lang=fi").get_data(as_text=True)
    with app.app_context():
        session = get_session()
        institution = session.get(Institution, world.a.institution_id)
        assert institution is not None
        badge_class_admin.set_adopted(
            session, institution, badge_classes.get_badge_class(session, "test-badge"), True
        )
        session.commit()
    page = client.get("/badges/test-badge?lang=fi").get_data(as_text=True)
    assert "Oppilaitos A" in page
    assert "test-badge" in slugs(client.get("/catalog?institution=a").get_data(as_text=True))
    assert "test-badge" not in slugs(client.get("/catalog?institution=b").get_data(as_text=True))


def test_achievement_id_is_html_by_default_and_json_ld_on_request(app: Flask, world: World) -> None:
    client = app.test_client()
    url = f"/badges/{world.b.badge_slug}/v1/sv"
    page = client.get(url)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "Grunderna i arbetarskydd" in page.get_data(as_text=True)
    for accept in ("application/ld+json", "application/json", "application/json;q=0.9, */*;q=0.1"):
        response = client.get(url, headers={"Accept": accept})
        assert response.mimetype == "application/ld+json", accept
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Accept" in response.headers["Vary"]
        document = response.get_json(force=True)
        assert document["id"] == f"{BASE_URL}{url}"
        assert document["inLanguage"] == "sv"
    browser = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html"


def test_json_ld_is_the_achievement_the_credential_carries(app: Flask, world: World) -> None:
    with app.app_context():
        credential = get_session().get(Credential, world.b.credential_id)
        assert credential is not None
        achievement = json.loads(credential.signed_json)["credentialSubject"]["achievement"]
    path = achievement["id"].removeprefix(BASE_URL)
    served = (
        app.test_client().get(path, headers={"Accept": "application/ld+json"}).get_json(force=True)
    )
    served.pop("@context")
    assert served == achievement


def test_the_page_has_every_anchor_the_alignments_point_at(app: Flask, world: World) -> None:
    client = app.test_client()
    for lang in ("fi", "sv", "en"):
        url = f"/badges/{world.b.badge_slug}/v1/{lang}"
        html = client.get(url).get_data(as_text=True)
        ids = set(re.findall(r'<tr id="([^"]+)"', html))
        assert set(ANCHORS) <= ids, (lang, set(ANCHORS) - ids)
        document = client.get(url, headers={"Accept": "application/ld+json"}).get_json(force=True)
        for alignment in document["alignment"]:
            target = alignment["targetUrl"]
            if target.startswith(f"{BASE_URL}{url}#"):
                assert target.split("#", 1)[1] in ids, target


def test_page_shows_facts_outcomes_workload_and_level(app: Flask, world: World) -> None:
    html = unescape(
        app.test_client().get(f"/badges/{world.b.badge_slug}/v1/en").get_data(as_text=True)
    )
    assert "The participant can identify hazards." in html
    assert "1 ECTS credit, 27 hours" in html
    assert "EQF level 4" in html
    assert "NQF level 4" in html
    assert "Competence-based demonstration" in html or "practical" in html.lower()
    assert "Institution B" in html


def test_language_versions_link_each_other(app: Flask, world: World) -> None:
    html = app.test_client().get(f"/badges/{world.b.badge_slug}/v1/fi").get_data(as_text=True)
    assert f'href="/badges/{world.b.badge_slug}/v1/sv"' in html
    assert f'href="/badges/{world.b.badge_slug}/v1/en"' in html


def test_unpublished_badge_classes_are_not_public_unless_issued(app: Flask, world: World) -> None:
    _add(app, world, "salainen", simple_badge("salainen"), published=False)
    client = app.test_client()
    assert client.get("/badges/salainen").status_code == 404
    assert client.get("/badges/salainen/v1/fi").status_code == 404
    assert client.get("/badges/nothing-here").status_code == 404
    assert client.get(f"/badges/{world.b.badge_slug}/v9/fi").status_code == 404
    assert client.get(f"/badges/{world.b.badge_slug}/v1/de").status_code == 404
    # Withdrawn after issuing: the achievement id of issued credentials keeps resolving.
    with app.app_context():
        session = get_session()
        badge_class_admin.set_published(
            session, badge_classes.get_badge_class(session, world.b.badge_slug), False
        )
        session.commit()
    assert client.get(f"/badges/{world.b.badge_slug}/v1/fi").status_code == 200
    assert world.b.badge_slug not in slugs(client.get("/catalog").get_data(as_text=True))


def test_catalogue_is_translated(app: Flask, world: World) -> None:
    client = app.test_client()
    assert "Osaamismerkkiluettelo" in client.get("/catalog?lang=fi").get_data(as_text=True)
    assert "Märkeskatalog" in client.get("/catalog?lang=sv").get_data(as_text=True)
    assert "Badge catalogue" in client.get("/catalog?lang=en").get_data(as_text=True)


def test_institution_logo_is_served_only_when_set(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.get("/catalog/institutions/a/logo").status_code == 404
    with app.app_context():
        session = get_session()
        institution = session.get(Institution, world.a.institution_id)
        assert institution is not None
        institution.logo = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
        institution.logo_media_type = "image/svg+xml"
        session.commit()
    response = client.get("/catalog/institutions/a/logo")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "sandbox" in response.headers["Content-Security-Policy"]
