"""Loading badge templates as national badge classes, and looking badge classes up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer import paths
from issuer.core.badgeclass.fileformat import parse_badge_class
from issuer.models import BadgeClass, BadgeClassVersion
from issuer.services import badge_classes
from issuer.services.badge_classes import TemplateLoad
from issuer.services.errors import NotFoundError, TemplateError
from tests.conftest import SVG, badge_template, write_template


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_loading_twice_creates_nothing_new(session: Session, templates_dir: Path) -> None:
    first = badge_classes.load_templates(session, templates_dir)
    second = badge_classes.load_templates(session, templates_dir)

    assert first == [
        TemplateLoad("finnish-only", 1, "created"),
        TemplateLoad("test-badge", 1, "created"),
    ]
    assert second == [
        TemplateLoad("finnish-only", 1, "unchanged"),
        TemplateLoad("test-badge", 1, "unchanged"),
    ]
    assert (_count(session, BadgeClass), _count(session, BadgeClassVersion)) == (2, 2)
    stored = badge_classes.get_badge_class(session, "test-badge")
    assert stored.institution is None
    assert stored.published
    version = badge_classes.current_version(session, stored)
    assert version.image == SVG
    assert version.image_media_type == "image/svg+xml"
    assert parse_badge_class(version.data).validity_months == 24


def test_a_changed_template_becomes_a_new_version(session: Session, templates_dir: Path) -> None:
    badge_classes.load_templates(session, templates_dir)
    write_template(templates_dir, badge_template("test-badge", validity_months=24, version="1.1"))

    loads = badge_classes.load_templates(session, templates_dir)

    assert TemplateLoad("test-badge", 2, "updated") in loads
    stored = badge_classes.get_badge_class(session, "test-badge")
    assert stored.current_version == 2
    assert [v.version for v in stored.versions] == [1, 2]
    assert (
        badge_classes.parsed(badge_classes.get_version(session, "test-badge", 1)).version == "1.0"
    )
    assert badge_classes.parsed(badge_classes.current_version(session, stored)).version == "1.1"


def test_new_artwork_alone_is_a_new_version(session: Session, templates_dir: Path) -> None:
    badge_classes.load_templates(session, templates_dir)
    (templates_dir / "test-badge" / "image.svg").write_bytes(SVG.replace(b'"8"', b'"9"'))

    loads = badge_classes.load_templates(session, templates_dir)

    assert TemplateLoad("test-badge", 2, "updated") in loads
    assert badge_classes.get_version(session, "test-badge", 1).image == SVG


def test_png_artwork_keeps_its_media_type(session: Session, tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    write_template(tmp_path, badge_template("png-badge", image="art.png"), image=png)

    badge_classes.load_templates(session, tmp_path)

    version = badge_classes.get_version(session, "png-badge", 1)
    assert (version.image, version.image_media_type) == (png, "image/png")
    assert badge_classes.image_extension(version) == "png"


def test_an_invalid_template_is_refused_before_anything_is_written(
    session: Session, templates_dir: Path
) -> None:
    broken = badge_template("zz-broken")
    del broken["description"]
    write_template(templates_dir, broken)

    with pytest.raises(TemplateError, match=r"zz-broken.*description"):
        badge_classes.load_templates(session, templates_dir)
    assert _count(session, BadgeClass) == 0


def test_a_template_whose_slug_is_not_its_folder_is_refused(
    session: Session, templates_dir: Path
) -> None:
    folder = write_template(templates_dir, badge_template("misnamed"))
    data = json.loads((folder / "badge.json").read_text("utf-8"))
    data["slug"] = "another-name"
    (folder / "badge.json").write_text(json.dumps(data), "utf-8")

    with pytest.raises(TemplateError, match="folder name"):
        badge_classes.load_templates(session, templates_dir)


def test_a_missing_template_folder_is_an_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        badge_classes.load_templates(session, tmp_path / "nowhere")


def test_badge_classes_are_found_by_slug_or_id(session: Session, templates_dir: Path) -> None:
    badge_classes.load_templates(session, templates_dir)
    by_slug = badge_classes.get_badge_class(session, "test-badge")
    assert badge_classes.get_badge_class(session, str(by_slug.id)) is by_slug
    for unknown in ("no-such-badge", "999"):
        with pytest.raises(NotFoundError, match="no badge class"):
            badge_classes.get_badge_class(session, unknown)
    with pytest.raises(NotFoundError):
        badge_classes.get_version(session, "test-badge", 2)
    assert [b.slug for b in badge_classes.list_badge_classes(session)] == [
        "finnish-only",
        "test-badge",
    ]


def test_the_shipped_templates_load(session: Session) -> None:
    loads = badge_classes.load_templates(session, paths.BADGE_TEMPLATES_DIR)
    # DESIGN.md "Domain seeds": the five POKOT competence areas ship as badge classes.
    assert len(loads) >= 5
    assert all(load.outcome == "created" for load in loads)
    assert all(
        load.outcome == "unchanged"
        for load in badge_classes.load_templates(session, paths.BADGE_TEMPLATES_DIR)
    )
