"""The typed badge class: ``BadgeClassData`` and the values it is made of.

* ``LocalizedText``, a text in one or more of fi, sv and en (DESIGN.md "Languages");
* ``Workload``, ``EscoSkill``, ``Creator`` and ``BadgeClassData``, frozen dataclasses that
  ``fileformat.parse_badge_class`` builds;
* the enumerations a badge class draws on: ``ACHIEVEMENT_TYPES`` (OB 3.0), ``COMPETENCE_AREAS``
  (the POKOT core competence areas);
* ``missing_translations(bc)``, the texts of a badge class that lack a language, and
  ``claimed_languages(bc)``, the languages its name is given in;
* the small checks shared by the modules that read and render badge classes
  (``require_language``, ``ABSOLUTE_IRI``, ``json_number``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from issuer.core import eu_vocabularies as vocab

LANGUAGES = vocab.LANGUAGES

#: OB 3.0 AchievementType enumeration (OB 3.0 §"AchievementType"; the schema's enum). Other
#: values must be extensions starting with ``ext:`` (OB 3.0 §"Extending enumerated vocabularies").
ACHIEVEMENT_TYPES: frozenset[str] = frozenset(
    {
        "Achievement",
        "ApprenticeshipCertificate",
        "Assessment",
        "Assignment",
        "AssociateDegree",
        "Award",
        "Badge",
        "BachelorDegree",
        "Certificate",
        "CertificateOfCompletion",
        "Certification",
        "CommunityService",
        "Competency",
        "Course",
        "CoCurricular",
        "Degree",
        "Diploma",
        "DoctoralDegree",
        "Fieldwork",
        "GeneralEducationDevelopment",
        "JourneymanCertificate",
        "LearningProgram",
        "License",
        "Membership",
        "ProfessionalDoctorate",
        "QualityAssuranceCredential",
        "MasterCertificate",
        "MasterDegree",
        "MicroCredential",
        "ResearchDoctorate",
        "SecondarySchoolDiploma",
    }
)
MICRO_CREDENTIAL = "MicroCredential"

#: An absolute IRI (a scheme, then no spaces or characters IRIs exclude): the form of every id a
#: badge class holds or is rendered with.
ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


class LocalizedText:
    """A text in one or more of fi, sv and en (at least one), immutable.

    ``text.get(lang)`` never fails: it falls back in the order requested language, then Finnish,
    English, Swedish (``eu_vocabularies.FALLBACK_ORDER``). ``text[lang]`` is the exact
    translation and raises ``KeyError`` when it is missing.
    """

    __slots__ = ("_texts",)

    _texts: tuple[tuple[str, str], ...]

    def __init__(self, texts: Mapping[str, str]) -> None:
        unknown = [lang for lang in texts if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"unsupported language(s) {unknown}: use {', '.join(LANGUAGES)}")
        cleaned: list[tuple[str, str]] = []
        for lang in LANGUAGES:
            value = texts.get(lang)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"text in {lang!r} must be a string")
            if value.strip():
                cleaned.append((lang, value.strip()))
        if not cleaned:
            raise ValueError(f"a text needs at least one of {', '.join(LANGUAGES)}")
        object.__setattr__(self, "_texts", tuple(cleaned))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("LocalizedText is immutable")

    def get(self, lang: str) -> str:
        """The text in ``lang``, else in the first available of fi, en, sv."""
        texts = dict(self._texts)
        for candidate in (lang, *vocab.FALLBACK_ORDER):
            if candidate in texts:
                return texts[candidate]
        raise AssertionError("unreachable: a LocalizedText always holds one language")

    def __getitem__(self, lang: str) -> str:
        return dict(self._texts)[lang]

    def __contains__(self, lang: object) -> bool:
        return any(lang == key for key, _ in self._texts)

    def __iter__(self) -> Iterator[str]:
        return (lang for lang, _ in self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang, _ in self._texts)

    def as_dict(self) -> dict[str, str]:
        return dict(self._texts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalizedText) and self._texts == other._texts

    def __hash__(self) -> int:
        return hash(self._texts)

    def __repr__(self) -> str:
        return f"LocalizedText({dict(self._texts)!r})"


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Notional workload. ``hours`` and ``ects`` (27 h each in Finland) express the EU element;
    ``competence_points`` are VET osaamispisteet, kept because 1 ECTS is often too large for
    work-based learning (DESIGN.md)."""

    hours: float | None = None
    ects: float | None = None
    competence_points: float | None = None


@dataclass(frozen=True, kw_only=True)
class EscoSkill:
    uri: str
    name: LocalizedText


@dataclass(frozen=True, kw_only=True)
class Creator:
    """The body that defined a (national) badge class, e.g. a project or network; becomes
    ``achievement.creator``, an OB ``Profile``, whose ``id`` is required: ``id``, else ``url``."""

    name: LocalizedText
    url: str | None = None
    id: str | None = None

    @property
    def profile_id(self) -> str:
        identifier = self.id or self.url
        if identifier is None:  # parse_badge_class never builds such a Creator
            raise ValueError("a creator needs an id or a url")
        return identifier


@dataclass(frozen=True, kw_only=True)
class BadgeClassData:
    """A badge class, as validated by ``parse_badge_class``. Sequences are tuples (immutable)."""

    slug: str
    version: str
    achievement_type: str
    name: LocalizedText
    description: LocalizedText
    criteria_narrative: LocalizedText | None = None
    criteria_url: str | None = None
    learning_outcomes: tuple[LocalizedText, ...] = ()
    workload: Workload | None = None
    eqf_level: int | None = None
    nqf_level: int | None = None
    assessment_type: str | None = None
    assessment_description: LocalizedText | None = None
    participation_form: str | None = None
    quality_assurance: LocalizedText | None = None
    quality_assurance_url: str | None = None
    prerequisites: LocalizedText | None = None
    supervision: str | None = None
    stackability: LocalizedText | None = None
    further_information: LocalizedText | None = None
    tags: tuple[str, ...] = ()
    competence_areas: tuple[str, ...] = ()
    esco_skills: tuple[EscoSkill, ...] = ()
    field_of_study: LocalizedText | None = None
    human_code: str | None = None
    validity_months: int | None = None
    creator: Creator | None = None
    requires: tuple[str, ...] = ()
    image: str | None = None

    @property
    def is_micro_credential(self) -> bool:
        return self.achievement_type == MICRO_CREDENTIAL


#: The POKOT core competence areas (DESIGN.md "Domain seeds"); ``competence_areas`` of a badge
#: class takes these keys.
COMPETENCE_AREAS: Mapping[str, LocalizedText] = {
    "foresight": LocalizedText(
        {"fi": "Ennakointiosaaminen", "sv": "Framsynskompetens", "en": "Foresight competence"}
    ),
    "customer-partnership": LocalizedText(
        {
            "fi": "Asiakaslähtöinen kumppanuusosaaminen",
            "sv": "Kundorienterad partnerskapskompetens",
            "en": "Customer-oriented partnership competence",
        }
    ),
    "pedagogical-development": LocalizedText(
        {
            "fi": "Pedagoginen kehittämisosaaminen",
            "sv": "Pedagogisk utvecklingskompetens",
            "en": "Pedagogical development competence",
        }
    ),
    "strategy-and-process": LocalizedText(
        {
            "fi": "Strateginen- ja prosessiosaaminen",
            "sv": "Strategisk kompetens och processkompetens",
            "en": "Strategic and process competence",
        }
    ),
    "renewal-and-innovation": LocalizedText(
        {
            "fi": "Uudistumiskyky ja innovaatio-osaaminen",
            "sv": "Förnyelseförmåga och innovationskompetens",
            "en": "Capacity for renewal and innovation competence",
        }
    ),
}


def _texts(bc: BadgeClassData) -> Iterator[tuple[str, LocalizedText]]:
    single = (
        ("name", bc.name),
        ("description", bc.description),
        ("criteria_narrative", bc.criteria_narrative),
        ("assessment_description", bc.assessment_description),
        ("quality_assurance", bc.quality_assurance),
        ("prerequisites", bc.prerequisites),
        ("stackability", bc.stackability),
        ("further_information", bc.further_information),
        ("field_of_study", bc.field_of_study),
        ("creator.name", bc.creator.name if bc.creator else None),
    )
    for field, text in single:
        if text is not None:
            yield field, text
    for index, outcome in enumerate(bc.learning_outcomes):
        yield f"learning_outcomes.{index}", outcome
    for index, skill in enumerate(bc.esco_skills):
        yield f"esco_skills.{index}.name", skill.name


def missing_translations(
    bc: BadgeClassData, languages: Sequence[str] = LANGUAGES
) -> list[tuple[str, str]]:
    """(field, language) for every text of ``bc`` that lacks one of ``languages``."""
    return [(field, lang) for field, text in _texts(bc) for lang in languages if lang not in text]


def claimed_languages(bc: BadgeClassData) -> list[str]:
    """The languages ``bc`` claims to be available in: those its name is given in (a name in
    Swedish announces a Swedish version; a stray text in another language does not)."""
    return [lang for lang in LANGUAGES if lang in bc.name]


def require_language(lang: str, what: str = "lang") -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"{what} must be one of {', '.join(LANGUAGES)}, got {lang!r}")


def json_number(value: float) -> float | int:
    """A whole number as a JSON integer ("3", not "3.0"), as other issuers write it."""
    return int(value) if value.is_integer() else value
