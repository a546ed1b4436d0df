"""Defining badge classes: create, edit (new versions once issued), copy, publish, adopt, and
the package (stacking) rules the issuing service applies.

The rules of the badge-class format, including the EU micro-credential rule, are the engine's
(``issuer.core.badgeclass.fileformat.validate_badge_class``); this module adds only what needs
the database: a slug is unique across the service, and every badge class a package ``requires``
exists and is one the institution may issue.

Versions (DESIGN.md, issue 3): a version from which credentials have been issued is never
changed; editing such a badge class adds the next version. A version nobody holds yet is
corrected in place, unless its artwork changes: artwork URLs are served as immutable, so new
artwork always means a new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.core.badgeclass.fields import FieldError
from issuer.core.badgeclass.fileformat import (
    badge_class_to_dict,
    parse_badge_class,
    validate_badge_class,
)
from issuer.core.badgeclass.model import BadgeClassData, claimed_languages, missing_translations
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.models.accounts import BadgeClassAdoption, PackageSetting
from issuer.services import badge_classes
from issuer.services.errors import InvalidInputError, NotFoundError
from issuer.services.field_labels import labels, language
from issuer.services.images import CleanImage, default_artwork
from issuer.services.translation import N_, for_reader

MAX_SLUG = 100


class BadgeClassInvalidError(InvalidInputError):
    """The badge class cannot be saved; ``errors`` has one ``FieldError`` per field."""

    code = "validation_failed"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        details = "; ".join(f"{e.field or '(document)'}: {e.message}" for e in errors)
        super().__init__(f"the badge class is not valid: {details}")


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save did: the badge class, its current version, and whether that version is
    new (``False``: the version was corrected in place or nothing changed)."""

    badge_class: BadgeClass
    version: BadgeClassVersion
    new_version: bool
    changed: bool


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- reading -----------------------------------------------------------------------------------


def visible_to(session: Session, institution: Institution | None) -> list[BadgeClass]:
    """The badge classes staff of ``institution`` see: their own and the national ones
    (``None``: a service admin, who sees all)."""
    query = select(BadgeClass).order_by(BadgeClass.institution_id.is_(None), BadgeClass.slug)
    if institution is not None:
        query = query.where(
            or_(BadgeClass.institution_id == institution.id, BadgeClass.institution_id.is_(None))
        )
    return list(session.scalars(query))


def get_visible(session: Session, institution: Institution | None, slug: str) -> BadgeClass:
    """A badge class staff of ``institution`` may see; another institution's is "not found"
    (its existence is not revealed)."""
    badge_class = badge_classes.find_badge_class(session, slug)
    if badge_class is None or (
        institution is not None and badge_class.institution_id not in (None, institution.id)
    ):
        raise NotFoundError(f"no badge class {slug!r}")
    return badge_class


def is_public(session: Session, badge_class: BadgeClass, version: BadgeClassVersion) -> bool:
    """Published badge classes are public; so is any version credentials were issued from,
    even after the badge class is withdrawn (their achievement ids must keep resolving). A
    draft is not: its pages and artwork answer exactly as a slug that does not exist."""
    return badge_class.published or issued_count(session, version) > 0


def issued_count(session: Session, version: BadgeClassVersion) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.badge_class_version_id == version.id)
        )
        or 0
    )


# --- validation --------------------------------------------------------------------------------


def _requires_errors(
    session: Session, data: Mapping[str, Any], institution: Institution | None
) -> list[FieldError]:
    """Each required badge class must exist and be usable by the institution (its own or a
    national one; a national package may only require national badge classes)."""
    requires = data.get("requires")
    if not isinstance(requires, list):
        return []
    errors = []
    for index, slug in enumerate(requires):
        if not isinstance(slug, str):
            continue
        required = badge_classes.find_badge_class(session, slug)
        allowed_owners = (None,) if institution is None else (None, institution.id)
        if required is None or required.institution_id not in allowed_owners:
            errors.append(
                FieldError(
                    f"requires.{index}", "unknown_value", f"no badge class {slug!r} to require"
                )
            )
    return errors


def validate(
    session: Session,
    data: Mapping[str, Any],
    institution: Institution | None,
    *,
    existing: BadgeClass | None = None,
) -> list[FieldError]:
    """Every problem of ``data`` for a badge class of ``institution`` (None: national), one
    error per field, in the engine's field order."""
    errors = validate_badge_class(data)
    failed = {error.field for error in errors}
    slug = data.get("slug")
    if "slug" not in failed and isinstance(slug, str):
        if len(slug) > MAX_SLUG:
            errors.append(FieldError("slug", "too_long", f"at most {MAX_SLUG} characters"))
        elif existing is None:
            if badge_classes.find_badge_class(session, slug) is not None:
                errors.append(FieldError("slug", "duplicate", f"the slug {slug!r} is taken"))
        elif slug != existing.slug:
            errors.append(
                FieldError("slug", "immutable", "the slug cannot change: URLs are built from it")
            )
    errors += [e for e in _requires_errors(session, data, institution) if e.field not in failed]
    return errors


def _checked(
    session: Session,
    data: Mapping[str, Any],
    institution: Institution | None,
    image: CleanImage | None,
    existing: BadgeClass | None = None,
) -> tuple[dict[str, Any], BadgeClassData]:
    """``data`` in stored form (its ``image`` names the stored artwork) and parsed."""
    stored = dict(data)
    if image is not None:
        stored["image"] = f"image.{image.extension}"
    errors = validate(session, stored, institution, existing=existing)
    if errors:
        raise BadgeClassInvalidError(errors)
    # Round-trip through the engine so that what is stored is normalized (trimmed texts,
    # absent values omitted) exactly as templates are.
    parsed = parse_badge_class(stored)
    return badge_class_to_dict(parsed), parsed


# --- writing -----------------------------------------------------------------------------------


def create_badge_class(
    session: Session,
    institution: Institution | None,
    data: Mapping[str, Any],
    *,
    image: CleanImage | None = None,
    published: bool = False,
    auto_issue: bool | None = None,
    now: datetime | None = None,
) -> Saved:
    """A new badge class of ``institution`` (None: a national one) at version 1. Without
    ``image``, plain artwork in the colour of its competence area."""
    moment = _now(now)
    if image is None:
        areas = data.get("competence_areas")
        listed = areas if isinstance(areas, list) else []
        image = default_artwork(tuple(a for a in listed if isinstance(a, str)))
    stored, parsed = _checked(session, data, institution, image)
    if published:
        check_translated(parsed)
    badge_class = BadgeClass(
        slug=parsed.slug,
        institution_id=institution.id if institution is not None else None,
        published=published,
        current_version=1,
        created_at=moment,
        updated_at=moment,
    )
    version = BadgeClassVersion(
        badge_class=badge_class,
        version=1,
        data=stored,
        image=image.data,
        image_media_type=image.media_type,
        created_at=moment,
    )
    try:
        # A savepoint: two requests creating the same slug at once both pass ``validate``;
        # the unique constraint decides, and the loser gets the same field error.
        with session.begin_nested():
            session.add_all([badge_class, version])
    except IntegrityError:
        raise BadgeClassInvalidError(
            [FieldError("slug", "duplicate", f"the slug {parsed.slug!r} is taken")]
        ) from None
    if auto_issue is not None and institution is not None:
        set_auto_issue(session, institution, badge_class, auto_issue)
    return Saved(badge_class, version, new_version=True, changed=True)


def update_badge_class(
    session: Session,
    badge_class: BadgeClass,
    data: Mapping[str, Any],
    *,
    image: CleanImage | None = None,
    now: datetime | None = None,
) -> Saved:
    """Save new content for ``badge_class``. A version that credentials were issued from is
    kept as it is and the content becomes the next version; see the module docstring."""
    moment = _now(now)
    current = badge_classes.current_version(session, badge_class)
    if image is None:
        image = CleanImage(current.image, current.image_media_type)
    stored, parsed = _checked(session, data, badge_class.institution, image, existing=badge_class)
    if badge_class.published:
        # What is public stays complete in each language it claims (``check_translated``).
        check_translated(parsed)
    image_changed = (image.data, image.media_type) != (current.image, current.image_media_type)
    if stored == current.data and not image_changed:
        return Saved(badge_class, current, new_version=False, changed=False)
    badge_class.updated_at = moment
    if not image_changed and issued_count(session, current) == 0:
        current.data = stored
        session.flush()
        return Saved(badge_class, current, new_version=False, changed=True)
    number = current.version + 1
    version = BadgeClassVersion(
        badge_class=badge_class,
        version=number,
        data=stored,
        image=image.data,
        image_media_type=image.media_type,
        created_at=moment,
    )
    session.add(version)
    badge_class.current_version = number
    session.flush()
    return Saved(badge_class, version, new_version=True, changed=True)


def copy_badge_class(
    session: Session,
    source: BadgeClass,
    institution: Institution,
    new_slug: str,
    *,
    now: datetime | None = None,
) -> Saved:
    """A copy of ``source`` (a national badge class or the institution's own) as the
    institution's own, unpublished, to adapt. The copy is defined by the institution, so the
    national ``creator`` is not carried over; its artwork is."""
    if source.institution_id not in (None, institution.id):
        raise NotFoundError(f"no badge class {source.slug!r}")
    current = badge_classes.current_version(session, source)
    data = dict(current.data)
    data["slug"] = new_slug
    data.pop("creator", None)
    image = CleanImage(current.image, current.image_media_type)
    return create_badge_class(session, institution, data, image=image, now=now)


def set_published(session: Session, badge_class: BadgeClass, published: bool) -> None:
    """Publish ``badge_class`` (or withdraw it); ``NotTranslatedError`` naming every
    untranslated text when it is not complete in a language it claims."""
    if published:
        check_translated(badge_classes.parsed(badge_classes.current_version(session, badge_class)))
    badge_class.published = published
    session.flush()


# --- translation ------------------------------------------------------------------------------

_MISSING_IN = N_("Missing in %(languages)s: the badge class's name is given in it.")
_CANNOT_PUBLISH = N_(
    "The badge class cannot be published before it is fully translated. Missing: %(fields)s"
)


class NotTranslatedError(BadgeClassInvalidError):
    """The badge class cannot be published: ``missing`` lists (field, language) for every
    text that lacks a language the badge class claims; ``errors`` has one ``not_translated``
    ``FieldError`` per such field, in the reader's language."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        by_field: dict[str, list[str]] = {}
        for field, lang in missing:
            by_field.setdefault(field, []).append(lang)
        super().__init__(
            [
                FieldError(
                    field,
                    "not_translated",
                    for_reader(_MISSING_IN, languages=", ".join(language(lang) for lang in langs)),
                )
                for field, langs in by_field.items()
            ]
        )

    @property
    def refusal(self) -> str:
        """The refusal on one line, naming each field with its language ("Description
        (Swedish), Learning outcome 2 (English)")."""
        return for_reader(
            _CANNOT_PUBLISH, fields=labels([f"{field}.{lang}" for field, lang in self.missing])
        )


def check_translated(bc: BadgeClassData) -> None:
    """``NotTranslatedError`` unless every text of ``bc`` exists in each language it claims
    (its name is given in: ``claimed_languages``).

    Why publishing needs it (issue 15): a credential is issued in one language (DESIGN.md
    "Languages"), and only in a language its badge class is complete in; a badge class
    offered in Swedish whose learning outcomes are only in Finnish could not be issued to a
    Swedish cohort at all, so it is published only when it is complete in every language it
    is written in."""
    missing = missing_translations(bc, claimed_languages(bc))
    if missing:
        raise NotTranslatedError(missing)


# --- adoption of national badge classes -------------------------------------------------------


def _adoption(
    session: Session, institution: Institution, badge_class: BadgeClass
) -> BadgeClassAdoption | None:
    return session.scalar(
        select(BadgeClassAdoption).where(
            BadgeClassAdoption.institution_id == institution.id,
            BadgeClassAdoption.badge_class_id == badge_class.id,
        )
    )


def is_adopted(session: Session, institution: Institution, badge_class: BadgeClass) -> bool:
    return _adoption(session, institution, badge_class) is not None


def set_adopted(
    session: Session,
    institution: Institution,
    badge_class: BadgeClass,
    adopted: bool,
    *,
    now: datetime | None = None,
) -> None:
    """Say that ``institution`` awards the national ``badge_class`` (or no longer does)."""
    if badge_class.institution_id is not None:
        raise InvalidInputError("only national badge classes are adopted")
    existing = _adoption(session, institution, badge_class)
    if adopted and existing is None:
        session.add(
            BadgeClassAdoption(
                institution_id=institution.id,
                badge_class_id=badge_class.id,
                created_at=_now(now),
            )
        )
    elif not adopted and existing is not None:
        session.delete(existing)
    session.flush()


def awarding_institutions(session: Session, badge_class: BadgeClass) -> list[Institution]:
    """Which institutions award ``badge_class``: its owner; for a national one, every
    institution that has issued it at least once or has adopted it."""
    if badge_class.institution is not None:
        return [badge_class.institution]
    issued = (
        select(Credential.institution_id)
        .join(BadgeClassVersion, Credential.badge_class_version_id == BadgeClassVersion.id)
        .where(BadgeClassVersion.badge_class_id == badge_class.id)
    )
    adopted = select(BadgeClassAdoption.institution_id).where(
        BadgeClassAdoption.badge_class_id == badge_class.id
    )
    return list(
        session.scalars(
            select(Institution)
            .where(or_(Institution.id.in_(issued), Institution.id.in_(adopted)))
            .order_by(Institution.name_fi)
        )
    )


def awarding_map(session: Session, badge_class_ids: Iterable[int]) -> dict[int, set[int]]:
    """badge class id -> ids of institutions that award it (for the catalogue's filter)."""
    ids = list(badge_class_ids)
    result: dict[int, set[int]] = {badge_class_id: set() for badge_class_id in ids}
    if not ids:
        return result
    for badge_class_id, owner_id in session.execute(
        select(BadgeClass.id, BadgeClass.institution_id).where(BadgeClass.id.in_(ids))
    ):
        if owner_id is not None:
            result[badge_class_id].add(owner_id)
    for badge_class_id, institution_id in session.execute(
        select(BadgeClassVersion.badge_class_id, Credential.institution_id)
        .join(Credential, Credential.badge_class_version_id == BadgeClassVersion.id)
        .where(BadgeClassVersion.badge_class_id.in_(ids))
        .distinct()
    ):
        result[badge_class_id].add(institution_id)
    for badge_class_id, institution_id in session.execute(
        select(BadgeClassAdoption.badge_class_id, BadgeClassAdoption.institution_id).where(
            BadgeClassAdoption.badge_class_id.in_(ids)
        )
    ):
        result[badge_class_id].add(institution_id)
    return result


# --- packages (stacking) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageRule:
    """A package an institution awards: the badge classes it requires (at their current
    versions' ``requires``) and whether it is issued automatically once a learner holds them
    all (otherwise it is offered to staff for approval)."""

    package: BadgeClass
    requires: tuple[BadgeClass, ...]
    auto_issue: bool


def auto_issue(session: Session, institution: Institution, badge_class: BadgeClass) -> bool:
    setting = session.scalar(
        select(PackageSetting).where(
            PackageSetting.institution_id == institution.id,
            PackageSetting.badge_class_id == badge_class.id,
        )
    )
    return setting is not None and setting.auto_issue


def set_auto_issue(
    session: Session, institution: Institution, badge_class: BadgeClass, value: bool
) -> None:
    if badge_class.institution_id not in (None, institution.id):
        raise NotFoundError(f"no badge class {badge_class.slug!r}")
    setting = session.scalar(
        select(PackageSetting).where(
            PackageSetting.institution_id == institution.id,
            PackageSetting.badge_class_id == badge_class.id,
        )
    )
    if setting is None:
        setting = PackageSetting(
            institution_id=institution.id, badge_class_id=badge_class.id, auto_issue=value
        )
        session.add(setting)
    else:
        setting.auto_issue = value
    session.flush()


def package_rules(session: Session, institution: Institution) -> list[PackageRule]:
    """Every published package ``institution`` may issue (its own and the national ones),
    with the badge classes each requires."""
    rules = []
    for candidate in visible_to(session, institution):
        if not badge_classes.usable_by(candidate, institution):
            continue
        data = badge_classes.current_version(session, candidate).data
        slugs = data.get("requires") or []
        if not slugs:
            continue
        required = []
        for slug in slugs:
            found = badge_classes.find_badge_class(session, slug)
            if found is not None and found.institution_id in (None, institution.id):
                required.append(found)
        rules.append(
            PackageRule(
                package=candidate,
                requires=tuple(required),
                auto_issue=auto_issue(session, institution, candidate),
            )
        )
    return rules


def packages_requiring(
    session: Session, institution: Institution, badge_class: BadgeClass
) -> list[PackageRule]:
    """The package rules of ``institution`` in which ``badge_class`` is a component (what to
    check after issuing it)."""
    return [
        rule
        for rule in package_rules(session, institution)
        if any(component.id == badge_class.id for component in rule.requires)
    ]
