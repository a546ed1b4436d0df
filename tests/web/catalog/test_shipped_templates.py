"""The shipped national badge classes: `merkki init` loads them (twice without duplicates),
each is complete in fi, sv and en, and each appears in the catalogue with its own page."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer import paths
from issuer.cli import main
from issuer.core.badgeclass.model import MICRO_CREDENTIAL, missing_translations
from issuer.db import get_session
from issuer.models import BadgeClass, BadgeClassVersion
from issuer.services import badge_classes

SHIPPED = sorted(
    folder.name
    for folder in paths.BADGE_TEMPLATES_DIR.iterdir()
    if (folder / "badge.json").is_file()
)


@pytest.fixture
def templates_dir() -> Path:
    """The repository's own badge_templates/ instead of the test templates."""
    return paths.BADGE_TEMPLATES_DIR


@pytest.fixture
def initialised(app: Flask, runner: FlaskCliRunner) -> Flask:
    first = runner.invoke(main, ["init"])
    assert first.exit_code == 0, first.output
    assert f"{len(SHIPPED)} created, 0 updated, 0 unchanged" in first.stdout
    second = runner.invoke(main, ["init"])
    assert second.exit_code == 0, second.output
    assert f"0 created, 0 updated, {len(SHIPPED)} unchanged" in second.stdout
    return app


def test_init_twice_loads_each_template_once(initialised: Flask) -> None:
    assert len(SHIPPED) >= 12
    with initialised.app_context():
        session = get_session()
        stored = session.query(BadgeClass).order_by(BadgeClass.slug).all()
        assert [bc.slug for bc in stored] == SHIPPED
        assert session.query(BadgeClassVersion).count() == len(SHIPPED)
        assert all(bc.institution_id is None and bc.published for bc in stored)


def test_each_template_is_complete_in_three_languages(initialised: Flask) -> None:
    with initialised.app_context():
        session = get_session()
        for slug in SHIPPED:
            data = badge_classes.parsed(
                badge_classes.current_version(session, badge_classes.get_badge_class(session, slug))
            )
            assert missing_translations(data) == [], slug
            assert data.achievement_type == MICRO_CREDENTIAL, slug


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_each_template_appears_in_the_catalogue(initialised: Flask, lang: str) -> None:
    client = initialised.test_client()
    page = client.get(f"/catalog?lang={lang}").get_data(as_text=True)
    for slug in SHIPPED:
        assert f'data-slug="{slug}"' in page
        with initialised.app_context():
            session = get_session()
            name = badge_classes.parsed(
                badge_classes.current_version(session, badge_classes.get_badge_class(session, slug))
            ).name[lang]
        assert name.replace("'", "&#39;") in page, (slug, lang)


def test_each_template_page_shows_its_eu_facts(initialised: Flask) -> None:
    client = initialised.test_client()
    for slug in SHIPPED:
        for lang in ("fi", "sv", "en"):
            response = client.get(f"/badges/{slug}/v1/{lang}")
            assert response.status_code == 200, (slug, lang)
            html = response.get_data(as_text=True)
            for anchor in (
                "learning-outcomes",
                "workload",
                "level",
                "assessment",
                "participation",
                "quality-assurance",
            ):
                assert f'id="{anchor}"' in html, (slug, lang, anchor)


def test_search_finds_templates_by_text_in_any_language(initialised: Flask) -> None:
    client = initialised.test_client()
    finnish_name = client.get("/catalog?lang=sv&q=ennakointiosaaminen").get_data(as_text=True)
    assert 'data-slug="pokot-ennakointiosaaminen"' in finnish_name
    assert 'data-slug="valohub-mentorointi"' not in finnish_name
    area = client.get("/catalog?area=foresight").get_data(as_text=True)
    assert 'data-slug="pokot-ennakointiosaaminen"' in area
    assert 'data-slug="valohub-digipedagogiikka"' not in area
