"""Badge classes and their immutable versions; loading the shipped ``badge_templates/``.

A badge class's content (``badge.json`` data and artwork) is never edited in place: a change is
a new ``BadgeClassVersion``, and credentials point at the version they were issued from, so the
achievement id and image URL inside a signed credential always show what was signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.badgeclass.fileformat import (
    BadgeClassError,
    badge_class_to_dict,
    load_badge_templates,
    parse_badge_class,
)
from issuer.core.badgeclass.model import BadgeClassData
from issuer.models import BadgeClass, BadgeClassVersion, Institution
from issuer.services.errors import ConflictError, NotFoundError, TemplateError

IMAGE_MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
IMAGE_EXTENSIONS = {media_type: suffix[1:] for suffix, media_type in IMAGE_MEDIA_TYPES.items()}

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class TemplateLoad:
    """What ``load_templates`` did with one template."""

    slug: str
    version: int
    outcome: Outcome


def image_extension(version: BadgeClassVersion) -> str:
    """``svg`` or ``png``: the file extension of the version's artwork."""
    return IMAGE_EXTENSIONS[version.image_media_type]


def image_url(base_url: str, version: BadgeClassVersion) -> str:
    """The artwork URL of a badge-class version (``urls.artwork_url``), as credentials of it
    name their image."""
    extension = image_extension(version)
    return urls.artwork_url(base_url, version.badge_class.slug, version.version, extension)


def parsed(version: BadgeClassVersion) -> BadgeClassData:
    """The version's data as the engine's typed badge class."""
    return parse_badge_class(version.data)


def _read_templates(templates_dir: Path) -> list[tuple[BadgeClassData, bytes, str]]:
    if not templates_dir.is_dir():
        raise TemplateError(f"badge template folder {templates_dir} does not exist")
    try:
        templates = load_badge_templates(templates_dir)
    except BadgeClassError as error:
        raise TemplateError(error.message) from None
    loaded = []
    for template in templates:
        assert template.image is not None  # load_badge_templates requires the image
        image_path = templates_dir / template.slug / template.image
        media_type = IMAGE_MEDIA_TYPES[image_path.suffix.lower()]
        try:
            image = image_path.read_bytes()
        except OSError as error:
            raise TemplateError(f"cannot read {image_path}: {error.strerror}") from None
        loaded.append((template, image, media_type))
    return loaded


def load_templates(
    session: Session, templates_dir: Path, *, now: datetime | None = None
) -> list[TemplateLoad]:
    """Load ``templates_dir/<slug>/badge.json`` and artwork as published national badge classes.

    Idempotent: an unchanged template adds nothing; a changed one (data or image) becomes the
    badge class's next version. Every template is checked before anything is written.
    """
    moment = now or datetime.now(UTC)
    results = []
    for template, image, media_type in _read_templates(templates_dir):
        data = badge_class_to_dict(template)
        badge_class = find_badge_class(session, template.slug)
        if badge_class is None:
            badge_class = BadgeClass(
                slug=template.slug,
                institution=None,
                published=True,
                current_version=1,
                created_at=moment,
                updated_at=moment,
            )
            session.add(badge_class)
            _add_version(session, badge_class, 1, data, image, media_type, moment)
            results.append(TemplateLoad(template.slug, 1, "created"))
            continue
        if badge_class.institution_id is not None:
            raise ConflictError(
                f"template {template.slug!r} clashes with an institution's badge class of the "
                "same slug"
            )
        current = current_version(session, badge_class)
        if (current.data, current.image, current.image_media_type) == (data, image, media_type):
            results.append(TemplateLoad(template.slug, current.version, "unchanged"))
            continue
        number = current.version + 1
        _add_version(session, badge_class, number, data, image, media_type, moment)
        badge_class.current_version = number
        badge_class.updated_at = moment
        results.append(TemplateLoad(template.slug, number, "updated"))
    session.flush()
    return results


def _add_version(
    session: Session,
    badge_class: BadgeClass,
    number: int,
    data: dict[str, object],
    image: bytes,
    media_type: str,
    moment: datetime,
) -> BadgeClassVersion:
    version = BadgeClassVersion(
        badge_class=badge_class,
        version=number,
        data=data,
        image=image,
        image_media_type=media_type,
        created_at=moment,
    )
    session.add(version)
    return version


def list_badge_classes(session: Session) -> list[BadgeClass]:
    return list(session.scalars(select(BadgeClass).order_by(BadgeClass.slug)))


#: The largest id an INTEGER primary key holds on PostgreSQL (``issuer.web.security.MAX_DB_INT``).
MAX_ID = 2**31 - 1


def find_badge_class(session: Session, slug: str) -> BadgeClass | None:
    return session.scalar(select(BadgeClass).where(BadgeClass.slug == slug))


def get_badge_class(session: Session, reference: str) -> BadgeClass:
    """A badge class by slug, or by the numeric id ``merkki badge list`` shows (slugs start
    with a letter, so the two cannot be confused)."""
    if reference.isascii() and reference.isdigit():
        number = int(reference)
        # Beyond what an id column holds (PostgreSQL's INTEGER): no such badge class, rather
        # than an overflow in the database driver.
        badge_class = session.get(BadgeClass, number) if number <= MAX_ID else None
    else:
        badge_class = find_badge_class(session, reference)
    if badge_class is None:
        raise NotFoundError(f"no badge class {reference!r}")
    return badge_class


def current_version(session: Session, badge_class: BadgeClass) -> BadgeClassVersion:
    version = session.scalar(
        select(BadgeClassVersion).where(
            BadgeClassVersion.badge_class_id == badge_class.id,
            BadgeClassVersion.version == badge_class.current_version,
        )
    )
    if version is None:  # the schema cannot prevent it, but nothing writes it
        raise NotFoundError(
            f"badge class {badge_class.slug!r} has no version {badge_class.current_version}"
        )
    return version


def get_version(session: Session, slug: str, number: int) -> BadgeClassVersion:
    version = session.scalar(
        select(BadgeClassVersion)
        .join(BadgeClass)
        .where(BadgeClass.slug == slug, BadgeClassVersion.version == number)
    )
    if version is None:
        raise NotFoundError(f"no badge class {slug!r} version {number}")
    return version


def usable_by(badge_class: BadgeClass, institution: Institution) -> bool:
    """May ``institution`` issue ``badge_class``? National ones: every institution."""
    return badge_class.published and badge_class.institution_id in (None, institution.id)
