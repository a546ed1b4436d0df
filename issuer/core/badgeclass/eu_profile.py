"""The EU micro-credential profile of a badge class (DESIGN.md "EU micro-credential profile").

For ``achievementType`` ``MicroCredential``, a badge class carries every element the EU Council
Recommendation 2022/C 243/02 (Annex I) makes mandatory (ob3-facts.md §8):

* ``MANDATORY_EU_FIELDS`` and ``OPTIONAL_EU_FIELDS`` list the Annex I elements and where
  Merkki takes each from;
* ``check_micro_credential`` is the rule ``fileformat`` applies to a MicroCredential;
* ``eu_facts(bc, lang)`` gives the (label, value) rows of the EU facts table for pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.fields import FieldReader
from issuer.core.badgeclass.model import (
    BadgeClassData,
    LocalizedText,
    Workload,
    require_language,
)


@dataclass(frozen=True)
class EuElement:
    """One element of EU-REC Annex I and where Merkki takes it from."""

    key: str
    """Key of the element's label in ``eu_vocabularies.LABELS``."""
    source: Literal["badge_class", "institution", "credential"]
    location: str
    fields: tuple[str, ...] = ()
    """Badge-class fields that ``validate_badge_class`` requires for a MicroCredential."""


#: The eleven mandatory elements (EU-REC Annex I, ob3-facts.md §8). Seven come from the badge
#: class and are enforced when it is read (``fileformat``, ``check_micro_credential``); the
#: issuing institution (country, awarding body) and the credential (learner, date) supply the
#: other four, which the issuing service checks.
MANDATORY_EU_FIELDS: tuple[EuElement, ...] = (
    EuElement(
        "learner_identification",
        "credential",
        "credentialSubject.id and/or credentialSubject.identifier[] (the recipient)",
    ),
    EuElement("title", "badge_class", "achievement.name", ("name",)),
    EuElement(
        "issuer_country",
        "institution",
        "issuer.address.addressCountryCode (ISO 3166-1 alpha-2) of the institution's Profile",
    ),
    EuElement(
        "awarding_body",
        "institution",
        "issuer (the institution's Profile); achievement.creator names the body that defined "
        "a national badge class",
    ),
    EuElement("date_of_issue", "credential", "validFrom (and awardedDate)"),
    EuElement(
        "learning_outcomes",
        "badge_class",
        "achievement.criteria.narrative and achievement.description (listed), "
        "ESCO skills as alignment",
        ("learning_outcomes",),
    ),
    EuElement(
        "workload",
        "badge_class",
        "achievement.creditsAvailable (ECTS) and alignment entries for ECTS, hours and "
        "osaamispisteet",
        ("workload",),
    ),
    EuElement(
        "level", "badge_class", "alignment to http://data.europa.eu/snb/eqf/N", ("eqf_level",)
    ),
    EuElement(
        "assessment_type", "badge_class", "alignment (ext:AssessmentType)", ("assessment_type",)
    ),
    EuElement(
        "participation_form",
        "badge_class",
        "alignment (ext:ParticipationForm)",
        ("participation_form",),
    ),
    EuElement(
        "quality_assurance",
        "badge_class",
        "alignment (ext:QualityAssurance)",
        ("quality_assurance",),
    ),
)

#: The optional elements of Annex I.
OPTIONAL_EU_FIELDS: tuple[EuElement, ...] = (
    EuElement("prerequisites", "badge_class", "achievement.criteria.narrative", ("prerequisites",)),
    EuElement(
        "supervision", "badge_class", "alignment (ext:SupervisionVerification)", ("supervision",)
    ),
    EuElement("grade", "credential", "credentialSubject.result[]"),
    EuElement(
        "stackability",
        "badge_class",
        "achievement.description; components of a package as alignment (ext:RequiredAchievement)",
        ("stackability", "requires"),
    ),
    EuElement(
        "further_information", "badge_class", "achievement.description", ("further_information",)
    ),
)


_EU_REC = "EU Council Recommendation 2022/C 243/02, Annex I"


def check_micro_credential(
    r: FieldReader,
    data: Mapping[str, Any],
    outcomes: list[LocalizedText],
    workload: Workload | None,
) -> None:
    """The mandatory EU elements a MicroCredential badge class must carry (DESIGN.md "EU
    micro-credential profile"). A field that is present but invalid already has its error."""
    if not outcomes and not r.has_error("learning_outcomes"):
        r.error(
            "learning_outcomes",
            "required",
            f"a MicroCredential needs learning outcomes ({_EU_REC})",
        )
    if (workload is None or (workload.ects is None and workload.hours is None)) and not r.has_error(
        "workload"
    ):
        r.error(
            "workload",
            "required",
            f"a MicroCredential needs its notional workload in ECTS or hours ({_EU_REC})",
        )
    missing_message = {
        "eqf_level": "a MicroCredential needs its EQF level",
        "assessment_type": "a MicroCredential needs its type of assessment",
        "participation_form": "a MicroCredential needs its form of participation",
        "quality_assurance": "a MicroCredential needs its type of quality assurance",
    }
    for field, message in missing_message.items():
        if data.get(field) is None:
            r.error(field, "required", f"{message} ({_EU_REC})")


def eu_facts(bc: BadgeClassData, lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the EU micro-credential facts that the badge class holds, in
    ``lang``, in Annex I order. Values may span lines (one learning outcome per line). The
    title, the awarding body, its country, the learner and the date of issue come from the
    credential and the institution, so the page adds those rows itself."""
    require_language(lang)
    rows: list[tuple[str, str]] = []

    def row(key: str, value: str | None) -> None:
        if value:
            rows.append((vocab.label(key, lang), value))

    row("learning_outcomes", "\n".join(outcome.get(lang) for outcome in bc.learning_outcomes))
    if bc.workload is not None:
        amounts = [
            vocab.format_quantity(value, unit, lang)
            for value, unit in (
                (bc.workload.ects, "ects"),
                (bc.workload.hours, "hours"),
                (bc.workload.competence_points, "competence_points"),
            )
            if value is not None
        ]
        row("workload", ", ".join(amounts))
    levels = [
        vocab.LEVEL_NAMES[framework][lang].format(level=level)
        for framework, level in (("eqf", bc.eqf_level), ("nqf", bc.nqf_level))
        if level is not None
    ]
    row("level", ", ".join(levels))
    if bc.assessment_type is not None:
        assessment = vocab.ASSESSMENT_TYPES.concepts[bc.assessment_type].labels[lang]
        if bc.assessment_description is not None:
            assessment += "\n" + bc.assessment_description.get(lang)
        row("assessment_type", assessment)
    if bc.participation_form is not None:
        row(
            "participation_form",
            vocab.PARTICIPATION_FORMS.concepts[bc.participation_form].labels[lang],
        )
    if bc.quality_assurance is not None:
        row("quality_assurance", bc.quality_assurance.get(lang))
    if bc.prerequisites is not None:
        row("prerequisites", bc.prerequisites.get(lang))
    if bc.supervision is not None:
        row("supervision", vocab.SUPERVISION.concepts[bc.supervision].labels[lang])
    if bc.stackability is not None:
        row("stackability", bc.stackability.get(lang))
    if bc.further_information is not None:
        row("further_information", bc.further_information.get(lang))
    if bc.validity_months is not None:
        row("validity", vocab.format_quantity(bc.validity_months, "months", lang))
    return rows
