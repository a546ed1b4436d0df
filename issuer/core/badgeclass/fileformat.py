"""The badge-class file format: validating, parsing and writing it, and the shipped templates.

The format is that of ``badge_templates/<slug>/badge.json``, documented in
``badge_templates/README.md``:

* ``validate_badge_class(data)`` returns one ``FieldError`` per problem field, all at once;
* ``parse_badge_class(data)`` returns the typed ``BadgeClassData`` or raises
  ``BadgeClassError`` carrying those errors;
* ``badge_class_to_dict(bc)`` is the inverse of ``parse_badge_class``;
* ``load_badge_template(folder)`` and ``load_badge_templates(root)`` read the templates on disk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.eu_profile import check_micro_credential
from issuer.core.badgeclass.fields import FieldError, FieldReader
from issuer.core.badgeclass.model import (
    ACHIEVEMENT_TYPES,
    COMPETENCE_AREAS,
    MICRO_CREDENTIAL,
    BadgeClassData,
    LocalizedText,
    json_number,
)
from issuer.core.errors import EngineError

_EXTENSION_VALUE = re.compile(r"^ext:[A-Za-z0-9._-]+$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_IMAGE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?:svg|png)$")

MAX_SLUG = 80


class BadgeClassError(EngineError):
    """A badge class is not valid; ``errors`` lists every problem field."""

    code = "invalid_badge_class"

    def __init__(self, errors: Sequence[FieldError], source: str | None = None) -> None:
        self.errors = list(errors)
        self.source = source
        where = f"{source}: " if source else ""
        details = "; ".join(
            f"{error.field or '(document)'}: {error.message}" for error in self.errors
        )
        super().__init__(f"{where}invalid badge class: {details}")


#: The top-level keys of the file format, in the order they are documented and reported.
FILE_FIELDS = (
    "slug",
    "version",
    "achievement_type",
    "name",
    "description",
    "criteria_narrative",
    "criteria_url",
    "learning_outcomes",
    "workload",
    "eqf_level",
    "nqf_level",
    "assessment_type",
    "assessment_description",
    "participation_form",
    "quality_assurance",
    "quality_assurance_url",
    "prerequisites",
    "supervision",
    "stackability",
    "further_information",
    "tags",
    "competence_areas",
    "esco_skills",
    "field_of_study",
    "human_code",
    "validity_months",
    "creator",
    "requires",
    "image",
)


def _error_order(error: FieldError) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    """Errors in the documented field order; list items by index (2 before 10)."""
    top, *rest = error.field.split(".")
    position = FILE_FIELDS.index(top) if top in FILE_FIELDS else len(FILE_FIELDS)
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in rest)
    return position, parts


def read_badge_class(
    data: Any, *, strict: bool = True
) -> tuple[BadgeClassData | None, list[FieldError]]:
    """Read ``data`` (the file format) into a ``BadgeClassData``; the errors, if any, in field
    order. One code path serves both validation and parsing, so they cannot disagree (except
    that ``strict=False``, for versions stored before texts were normalised, keeps a control
    character instead of refusing it)."""
    if not isinstance(data, dict):
        return None, [FieldError("", "type", "a badge class is a JSON object")]
    r = FieldReader(strict=strict)
    for key in data:
        if key not in FILE_FIELDS:
            r.error(str(key), "unknown_field", "not a badge-class field")

    slug = r.string(data.get("slug"), "slug", limit=MAX_SLUG)
    if slug is not None and not _SLUG.match(slug):
        r.error("slug", "invalid", "lowercase letters a-z, digits and single hyphens only")
        slug = None
    version = r.string(data.get("version"), "version", limit=40)
    achievement_type = r.string(data.get("achievement_type"), "achievement_type", limit=100)
    if achievement_type is not None and not (
        achievement_type in ACHIEVEMENT_TYPES or _EXTENSION_VALUE.match(achievement_type)
    ):
        r.error(
            "achievement_type",
            "unknown_value",
            "an OB 3.0 AchievementType (e.g. MicroCredential, Badge, Course) or ext:<Name>",
        )
        achievement_type = None
    name = r.text(data.get("name"), "name")
    description = r.text(data.get("description"), "description")
    criteria_narrative = r.text(data.get("criteria_narrative"), "criteria_narrative")
    criteria_url = r.url(data.get("criteria_url"), "criteria_url")
    outcomes: list[LocalizedText] = []
    for index, item in enumerate(r.array(data.get("learning_outcomes"), "learning_outcomes")):
        outcome = r.text(item, f"learning_outcomes.{index}", limit_key="learning_outcomes")
        if item is None:
            r.error(f"learning_outcomes.{index}", "required", "an empty learning outcome")
        if outcome is not None:
            outcomes.append(outcome)
    workload = r.workload(data.get("workload"))
    eqf_level = r.integer(data.get("eqf_level"), "eqf_level", low=1, high=8)
    nqf_level = r.integer(data.get("nqf_level"), "nqf_level", low=1, high=8)
    assessment_type = r.controlled(
        data.get("assessment_type"), "assessment_type", vocab.ASSESSMENT_TYPES
    )
    assessment_description = r.text(data.get("assessment_description"), "assessment_description")
    participation_form = r.controlled(
        data.get("participation_form"), "participation_form", vocab.PARTICIPATION_FORMS
    )
    quality_assurance = r.text(data.get("quality_assurance"), "quality_assurance")
    quality_assurance_url = r.url(data.get("quality_assurance_url"), "quality_assurance_url")
    prerequisites = r.text(data.get("prerequisites"), "prerequisites")
    supervision = r.controlled(data.get("supervision"), "supervision", vocab.SUPERVISION)
    stackability = r.text(data.get("stackability"), "stackability")
    further_information = r.text(data.get("further_information"), "further_information")
    tags = r.unique_strings(data.get("tags"), "tags", pattern=None, limit=60)
    areas = r.unique_strings(
        data.get("competence_areas"), "competence_areas", pattern=None, limit=60
    )
    for index, area in enumerate(areas):
        if area not in COMPETENCE_AREAS:
            r.error(
                f"competence_areas.{index}",
                "unknown_value",
                f"must be one of: {', '.join(COMPETENCE_AREAS)}",
            )
    esco_skills = r.esco_skills(data.get("esco_skills"))
    field_of_study = r.text(data.get("field_of_study"), "field_of_study")
    human_code = r.string(data.get("human_code"), "human_code", limit=60)
    validity_months = r.integer(data.get("validity_months"), "validity_months", low=1, high=600)
    creator = r.creator(data.get("creator"))
    requires = r.unique_strings(data.get("requires"), "requires", pattern=_SLUG, limit=MAX_SLUG)
    if slug is not None and slug in requires:
        r.error(
            f"requires.{requires.index(slug)}", "invalid", "a badge class cannot require itself"
        )
    image = r.string(data.get("image"), "image", limit=200)
    if image is not None and not _IMAGE_FILE.match(image):
        r.error("image", "invalid", "a plain file name ending in .svg or .png")
        image = None

    # Required of every badge class: OB 3.0 Achievement requires name, description, criteria.
    for field in ("slug", "version", "achievement_type"):
        if data.get(field) is None:
            r.error(field, "required", f"{field} is required")
    for field in ("name", "description"):
        if data.get(field) is None:
            r.error(field, "required", f"{field} is required in at least one language")
    if data.get("criteria_narrative") is None and data.get("criteria_url") is None:
        r.error("criteria_narrative", "required", "criteria: a narrative, a URL, or both")

    if achievement_type == MICRO_CREDENTIAL:
        check_micro_credential(r, data, outcomes, workload)

    if r.errors:
        return None, sorted(r.errors.values(), key=_error_order)
    assert slug and version and achievement_type and name and description  # noqa: PT018
    return (
        BadgeClassData(
            slug=slug,
            version=version,
            achievement_type=achievement_type,
            name=name,
            description=description,
            criteria_narrative=criteria_narrative,
            criteria_url=criteria_url,
            learning_outcomes=tuple(outcomes),
            workload=workload,
            eqf_level=eqf_level,
            nqf_level=nqf_level,
            assessment_type=assessment_type,
            assessment_description=assessment_description,
            participation_form=participation_form,
            quality_assurance=quality_assurance,
            quality_assurance_url=quality_assurance_url,
            prerequisites=prerequisites,
            supervision=supervision,
            stackability=stackability,
            further_information=further_information,
            tags=tags,
            competence_areas=areas,
            esco_skills=esco_skills,
            field_of_study=field_of_study,
            human_code=human_code,
            validity_months=validity_months,
            creator=creator,
            requires=requires,
            image=image,
        ),
        [],
    )


def validate_badge_class(data: Any) -> list[FieldError]:
    """Every problem of ``data`` (the file format), one ``FieldError`` per field; ``[]`` when
    it is valid."""
    return read_badge_class(data)[1]


def parse_badge_class(data: Any, *, strict: bool = False) -> BadgeClassData:
    """``data`` (the file format) as ``BadgeClassData``; raises ``BadgeClassError`` listing every
    problem field. Texts are normalised (``issuer.core.text``); a control character is refused
    only with ``strict`` (input: ``validate_badge_class`` checks it first), so that a version
    stored before the rule still reads."""
    badge_class, errors = read_badge_class(data, strict=strict)
    if badge_class is None:
        raise BadgeClassError(errors)
    return badge_class


def badge_class_to_dict(bc: BadgeClassData) -> dict[str, Any]:
    """``bc`` in the file format (the inverse of ``parse_badge_class``); absent values omitted."""

    def text(value: LocalizedText | None) -> dict[str, str] | None:
        return None if value is None else value.as_dict()

    def number(value: float | None) -> float | int | None:
        return None if value is None else json_number(value)

    workload = None
    if bc.workload is not None:
        workload = {
            key: number(value)
            for key, value in (
                ("hours", bc.workload.hours),
                ("ects", bc.workload.ects),
                ("competence_points", bc.workload.competence_points),
            )
            if value is not None
        }
    creator: dict[str, Any] | None = None
    if bc.creator is not None:
        creator = {"name": bc.creator.name.as_dict()}
        if bc.creator.id is not None:
            creator["id"] = bc.creator.id
        if bc.creator.url is not None:
            creator["url"] = bc.creator.url
    out: dict[str, Any] = {
        "slug": bc.slug,
        "version": bc.version,
        "achievement_type": bc.achievement_type,
        "name": bc.name.as_dict(),
        "description": bc.description.as_dict(),
        "criteria_narrative": text(bc.criteria_narrative),
        "criteria_url": bc.criteria_url,
        "learning_outcomes": [outcome.as_dict() for outcome in bc.learning_outcomes],
        "workload": workload,
        "eqf_level": bc.eqf_level,
        "nqf_level": bc.nqf_level,
        "assessment_type": bc.assessment_type,
        "assessment_description": text(bc.assessment_description),
        "participation_form": bc.participation_form,
        "quality_assurance": text(bc.quality_assurance),
        "quality_assurance_url": bc.quality_assurance_url,
        "prerequisites": text(bc.prerequisites),
        "supervision": bc.supervision,
        "stackability": text(bc.stackability),
        "further_information": text(bc.further_information),
        "tags": list(bc.tags),
        "competence_areas": list(bc.competence_areas),
        "esco_skills": [{"uri": s.uri, "name": s.name.as_dict()} for s in bc.esco_skills],
        "field_of_study": text(bc.field_of_study),
        "human_code": bc.human_code,
        "validity_months": bc.validity_months,
        "creator": creator,
        "requires": list(bc.requires),
        "image": bc.image,
    }
    return {key: value for key, value in out.items() if value not in (None, [], {})}


# --- templates on disk -------------------------------------------------------------------------

BADGE_FILE = "badge.json"


def load_badge_template(folder: Path) -> BadgeClassData:
    """Read ``folder/badge.json``; its slug must be the folder's name and its image must exist
    beside it. Raises ``BadgeClassError`` (with ``source`` = the folder) otherwise."""
    path = folder / BADGE_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadgeClassError(
            [FieldError("", "json", f"cannot read {BADGE_FILE}: {error}")], str(folder)
        ) from error
    badge_class, errors = read_badge_class(data)
    if badge_class is None:
        raise BadgeClassError(errors, str(folder))
    problems: list[FieldError] = []
    if badge_class.slug != folder.name:
        problems.append(
            FieldError("slug", "invalid", f"must equal the folder name {folder.name!r}")
        )
    if badge_class.image is None:
        problems.append(FieldError("image", "required", "a shipped badge class needs its image"))
    elif not (folder / badge_class.image).is_file():
        problems.append(
            FieldError("image", "invalid", f"{badge_class.image} not found in {folder}")
        )
    if problems:
        raise BadgeClassError(problems, str(folder))
    return badge_class


def load_badge_templates(root: Path) -> list[BadgeClassData]:
    """Every ``root/<slug>/badge.json``, sorted by slug; each package's ``requires`` must name
    badge classes of the same set. Raises ``BadgeClassError`` for the first invalid template."""
    folders = sorted(path for path in root.iterdir() if (path / BADGE_FILE).is_file())
    templates = [load_badge_template(folder) for folder in folders]
    slugs = {template.slug for template in templates}
    for template in templates:
        unknown = [
            FieldError(f"requires.{index}", "unknown_value", f"no badge class {slug!r} in {root}")
            for index, slug in enumerate(template.requires)
            if slug not in slugs
        ]
        if unknown:
            raise BadgeClassError(unknown, str(root / template.slug))
    return templates
