"""Searching and filtering the catalogue.

The catalogue holds every published badge class (a few hundred at most), so each request reads
them all and filters in Python: text search matches names, descriptions, learning outcomes and
keywords in any of the three languages, so a Swedish reader finds a badge class written only in
Finnish by its Finnish name too. Every word of the query must occur (case-insensitively).

Workload is compared in ECTS credits; a badge class that states only hours counts 27 hours per
credit (the Finnish convention, badge_templates/README.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.core.badgeclass.model import (
    LANGUAGES,
    BadgeClassData,
    LocalizedText,
    missing_translations,
)
from issuer.models import BadgeClass, Institution
from issuer.services import badge_class_admin, badge_classes

HOURS_PER_ECTS = 27
MAX_QUERY = 200


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value.strip().replace(",", "."))
    except ValueError:
        return None
    return number if number >= 0 else None


def _level(value: str | None) -> int | None:
    if value and value.isdigit() and 1 <= int(value) <= 8:
        return int(value)
    return None


@dataclass(frozen=True)
class CatalogQuery:
    """The reader's search: every part optional; unusable values are ignored."""

    text: str = ""
    institution: str | None = None
    area: str | None = None
    eqf: int | None = None
    min_ects: float | None = None
    max_ects: float | None = None
    language: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CatalogQuery:
        language = args.get("language")
        return cls(
            text=(args.get("q") or "").strip()[:MAX_QUERY],
            institution=args.get("institution") or None,
            area=args.get("area") or None,
            eqf=_level(args.get("eqf")),
            min_ects=_number(args.get("min_ects")),
            max_ects=_number(args.get("max_ects")),
            language=language if language in LANGUAGES else None,
        )

    @property
    def is_empty(self) -> bool:
        return self == CatalogQuery()


@dataclass(frozen=True)
class CatalogEntry:
    slug: str
    version: int
    name: str
    description: str
    image_extension: str
    achievement_type: str
    ects: float | None
    hours: float | None
    competence_points: float | None
    eqf_level: int | None
    areas: tuple[str, ...]
    languages: tuple[str, ...]
    national: bool
    institutions: tuple[tuple[str, str], ...]
    """(slug, name) of the institutions that award it."""
    search_text: str = field(repr=False)

    @property
    def effective_ects(self) -> float | None:
        if self.ects is not None:
            return self.ects
        if self.hours is not None:
            return self.hours / HOURS_PER_ECTS
        return None


def _all_languages(text: LocalizedText | None) -> list[str]:
    if text is None:
        return []
    return [text[lang] for lang in text]


def _search_text(bc: BadgeClassData) -> str:
    parts = [*_all_languages(bc.name), *_all_languages(bc.description)]
    for outcome in bc.learning_outcomes:
        parts += _all_languages(outcome)
    parts += list(bc.tags)
    parts += [bc.slug, bc.human_code or ""]
    return _fold("\n".join(parts))


def published_entries(session: Session, lang: str) -> list[CatalogEntry]:
    """Every published badge class, in the reader's language, sorted by name."""
    published = list(
        session.scalars(select(BadgeClass).where(BadgeClass.published).order_by(BadgeClass.slug))
    )
    awarding = badge_class_admin.awarding_map(session, [bc.id for bc in published])
    names = {
        institution.id: (institution.slug, institution.name(lang))
        for institution in session.scalars(select(Institution))
    }
    entries = []
    for badge_class in published:
        version = badge_classes.current_version(session, badge_class)
        bc = badge_classes.parsed(version)
        workload = bc.workload
        entries.append(
            CatalogEntry(
                slug=badge_class.slug,
                version=version.version,
                name=bc.name.get(lang),
                description=bc.description.get(lang),
                image_extension=badge_classes.image_extension(version),
                achievement_type=bc.achievement_type,
                ects=workload.ects if workload else None,
                hours=workload.hours if workload else None,
                competence_points=workload.competence_points if workload else None,
                eqf_level=bc.eqf_level,
                areas=bc.competence_areas,
                languages=tuple(code for code in LANGUAGES if not missing_translations(bc, [code])),
                national=badge_class.institution_id is None,
                institutions=tuple(
                    sorted(
                        (names[i] for i in awarding.get(badge_class.id, set()) if i in names),
                        key=lambda pair: _fold(pair[1]),
                    )
                ),
                search_text=_search_text(bc),
            )
        )
    entries.sort(key=lambda entry: _fold(entry.name))
    return entries


def matches(entry: CatalogEntry, query: CatalogQuery) -> bool:
    words = _fold(query.text).split()
    if any(word not in entry.search_text for word in words):
        return False
    if query.institution and query.institution not in {slug for slug, _ in entry.institutions}:
        return False
    if query.area and query.area not in entry.areas:
        return False
    if query.eqf is not None and entry.eqf_level != query.eqf:
        return False
    if query.language and query.language not in entry.languages:
        return False
    if query.min_ects is not None or query.max_ects is not None:
        ects = entry.effective_ects
        if ects is None:
            return False
        if query.min_ects is not None and ects < query.min_ects:
            return False
        if query.max_ects is not None and ects > query.max_ects:
            return False
    return True


def filter_entries(entries: list[CatalogEntry], query: CatalogQuery) -> list[CatalogEntry]:
    return [entry for entry in entries if matches(entry, query)]
