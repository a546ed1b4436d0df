"""Badge classes: the typed model, the file format's validation, and the OB 3.0 ``Achievement``.

A badge class is what an institution defines once and issues many times. Merkki keeps its texts
in Finnish, Swedish and English (DESIGN.md "Languages") and, for ``achievementType``
``MicroCredential``, every element the EU Council Recommendation 2022/C 243/02 (Annex I) makes
mandatory (DESIGN.md "EU micro-credential profile"; ob3-facts.md §8).

* ``validate_badge_class(data)`` checks a badge class in the JSON file format (the format of
  ``badge_templates/<slug>/badge.json``, documented in ``badge_templates/README.md``) and returns
  one ``FieldError`` per problem field, all at once;
* ``parse_badge_class(data)`` returns the typed ``BadgeClassData`` or raises ``BadgeClassError``
  carrying those errors;
* ``achievement_json(...)`` renders the OB 3.0 ``Achievement`` in one language (OB 3.0
  §"Achievement"; the schema allows one language per credential, so each credential is issued
  in the recipient's language and links the other versions with ``related``);
* ``eu_facts(bc, lang)`` gives the (label, value) rows of the EU facts table for pages.

Only properties that the OB 3.0.3 context defines are emitted (DESIGN.md "Standards, fixed":
an undefined term would be dropped from the signature), no nulls and no empty arrays
(OB 3.0 §"Serialization").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from issuer.core import eu_vocabularies as vocab
from issuer.core.errors import EngineError
from issuer.core.text import TextError, normalize_text

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

_EXTENSION_VALUE = re.compile(r"^ext:[A-Za-z0-9._-]+$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_IMAGE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?:svg|png)$")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_HTTP_URL = re.compile(r"^https?://[^/\s?#]+[^\s<>\"{}|\\^`]*$")
_ESCO_SKILL = re.compile(
    "^"
    + re.escape(vocab.ESCO_SKILL_PREFIX)
    + r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
#: Texts of one line (names, titles): a line break in them becomes a space
#: (``issuer.core.text``); every other text keeps its line breaks.
SINGLE_LINE_TEXTS = frozenset({"name", "field_of_study", "creator.name", "esco_skills.name"})

MAX_SLUG = 80
MAX_LIST = 30


# --- model -------------------------------------------------------------------------------------


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


# --- the EU elements ---------------------------------------------------------------------------


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
#: class and are enforced here; the issuing institution (country, awarding body) and the
#: credential (learner, date) supply the other four, which the issuing service checks.
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


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """A problem with one field. ``field`` is a dotted path in the file format
    (``"learning_outcomes"``, ``"learning_outcomes.2"``, ``"workload.ects"``; ``""`` for the
    document itself); ``code`` is machine-readable (``required``, ``type``, ``invalid``,
    ``language``, ``too_long``, ``out_of_range``, ``unknown_value``, ``duplicate``,
    ``unknown_field``, ``json``, ...)."""

    field: str
    code: str
    message: str


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


# --- reading the file format -------------------------------------------------------------------

#: Longest text accepted per field (characters); generous, but bounded.
_MAX_TEXT: Mapping[str, int] = {
    "name": 200,
    "description": 4000,
    "criteria_narrative": 8000,
    "learning_outcomes": 600,
    "assessment_description": 2000,
    "quality_assurance": 2000,
    "prerequisites": 2000,
    "stackability": 2000,
    "further_information": 4000,
    "field_of_study": 200,
    "creator.name": 200,
    "esco_skills.name": 300,
}

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

_EU_REC = "EU Council Recommendation 2022/C 243/02, Annex I"


class _Reader:
    """Reads one badge class in the file format, collecting at most one error per field."""

    def __init__(self, *, strict: bool = True) -> None:
        self.errors: dict[str, FieldError] = {}
        #: Refuse control characters (input); ``False`` reads a version stored before the rule.
        self.strict = strict

    def error(self, field: str, code: str, message: str) -> None:
        self.errors.setdefault(field, FieldError(field, code, message))

    def has_error(self, prefix: str) -> bool:
        return any(key == prefix or key.startswith(prefix + ".") for key in self.errors)

    # Primitive readers: each returns None after recording an error (or when absent).

    def text(self, value: Any, field: str, *, limit_key: str | None = None) -> LocalizedText | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(field, "type", "expected an object of texts by language (fi, sv, en)")
            return None
        unknown = sorted(str(key) for key in value if key not in LANGUAGES)
        if unknown:
            self.error(
                field,
                "language",
                f"unsupported language {', '.join(unknown)}: use {', '.join(LANGUAGES)}",
            )
            return None
        limit = _MAX_TEXT.get(limit_key or field, 2000)
        multiline = (limit_key or field) not in SINGLE_LINE_TEXTS
        texts: dict[str, str] = {}
        for lang, text in value.items():
            if text is None:
                continue
            if not isinstance(text, str):
                self.error(field, "type", f"the {lang} text must be a string")
                return None
            if len(text) > limit:
                self.error(field, "too_long", f"the {lang} text is longer than {limit} characters")
                return None
            cleaned = self.normalized(text, f"{field}.{lang}", field, multiline=multiline)
            if cleaned is None:
                return None
            texts[lang] = cleaned
        if not any(text.strip() for text in texts.values()):
            self.error(field, "required", f"a text in at least one of {', '.join(LANGUAGES)}")
            return None
        return LocalizedText(texts)

    def normalized(self, text: str, name: str, field: str, *, multiline: bool) -> str | None:
        """``text`` normalised (``issuer.core.text``); None after recording the error on
        ``field`` when it holds a control character (the message names ``name``)."""
        try:
            return normalize_text(text, name, multiline=multiline, strict=self.strict)
        except TextError as error:
            self.error(field, error.code, error.message)
            return None

    def string(self, value: Any, field: str, *, limit: int) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(field, "type", "expected a string")
            return None
        if not value.strip():
            self.error(field, "required", "must not be empty")
            return None
        if len(value) > limit:
            self.error(field, "invalid", f"at most {limit} characters")
            return None
        cleaned = self.normalized(value, field, field, multiline=False)
        return None if cleaned is None else cleaned.strip()

    def url(self, value: Any, field: str) -> str | None:
        text = self.string(value, field, limit=2000)
        if text is not None and not _HTTP_URL.match(text):
            self.error(field, "invalid", "expected an absolute http(s) URL")
            return None
        return text

    def iri(self, value: Any, field: str) -> str | None:
        text = self.string(value, field, limit=2000)
        if text is not None and (not _ABSOLUTE_IRI.match(text) or text.startswith("_:")):
            self.error(field, "invalid", "expected an absolute URI")
            return None
        return text

    def number(self, value: Any, field: str, *, maximum: float) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(field, "type", "expected a number")
            return None
        if not 0 < value <= maximum:
            self.error(field, "out_of_range", f"must be greater than 0 and at most {maximum:g}")
            return None
        return float(value)

    def integer(self, value: Any, field: str, *, low: int, high: int) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(field, "type", "expected a whole number")
            return None
        if not low <= value <= high:
            self.error(field, "out_of_range", f"must be between {low} and {high}")
            return None
        return value

    def controlled(self, value: Any, field: str, vocabulary: vocab.Vocabulary) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in vocabulary.concepts:
            allowed = ", ".join(vocabulary.concepts)
            self.error(field, "unknown_value", f"must be one of: {allowed}")
            return None
        return value

    def array(self, value: Any, field: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(field, "type", "expected a list")
            return []
        if len(value) > MAX_LIST:
            self.error(field, "too_long", f"at most {MAX_LIST} items")
            return []
        return value

    def unique_strings(
        self, value: Any, field: str, *, pattern: re.Pattern[str] | None, limit: int
    ) -> tuple[str, ...]:
        items: list[str] = []
        for index, item in enumerate(self.array(value, field)):
            path = f"{field}.{index}"
            text = self.string(item, path, limit=limit)
            if text is None:
                continue
            if pattern is not None and not pattern.match(text):
                self.error(path, "invalid", "not an allowed value")
            elif text in items:
                self.error(path, "duplicate", f"{text!r} is listed twice")
            else:
                items.append(text)
        return tuple(items)

    # Composite fields.

    def workload(self, value: Any) -> Workload | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error("workload", "type", "expected an object with hours, ects, competence_points")
            return None
        for key in value:
            if key not in ("hours", "ects", "competence_points"):
                self.error(f"workload.{key}", "unknown_field", "not a workload field")
        workload = Workload(
            hours=self.number(value.get("hours"), "workload.hours", maximum=10000),
            ects=self.number(value.get("ects"), "workload.ects", maximum=400),
            competence_points=self.number(
                value.get("competence_points"), "workload.competence_points", maximum=400
            ),
        )
        if workload == Workload():
            return None
        return workload

    def esco_skills(self, value: Any) -> tuple[EscoSkill, ...]:
        skills: list[EscoSkill] = []
        seen: set[str] = set()
        for index, item in enumerate(self.array(value, "esco_skills")):
            path = f"esco_skills.{index}"
            if not isinstance(item, dict):
                self.error(path, "type", "expected an object with uri and name")
                continue
            for key in item:
                if key not in ("uri", "name"):
                    self.error(f"{path}.{key}", "unknown_field", "not an ESCO skill field")
            uri = self.string(item.get("uri"), f"{path}.uri", limit=200)
            if item.get("uri") is None:
                self.error(f"{path}.uri", "required", "the ESCO concept URI is required")
            elif uri is not None and not _ESCO_SKILL.match(uri):
                self.error(
                    f"{path}.uri",
                    "invalid",
                    f"expected an ESCO skill URI {vocab.ESCO_SKILL_PREFIX}<uuid>",
                )
                uri = None
            elif uri in seen:
                self.error(f"{path}.uri", "duplicate", "this ESCO skill is listed twice")
                uri = None
            name = self.text(item.get("name"), f"{path}.name", limit_key="esco_skills.name")
            if item.get("name") is None:
                self.error(f"{path}.name", "required", "the skill's name is required")
            if uri is not None and name is not None:
                seen.add(uri)
                skills.append(EscoSkill(uri=uri, name=name))
        return tuple(skills)

    def creator(self, value: Any) -> Creator | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error("creator", "type", "expected an object with name, url and/or id")
            return None
        for key in value:
            if key not in ("name", "url", "id"):
                self.error(f"creator.{key}", "unknown_field", "not a creator field")
        name = self.text(value.get("name"), "creator.name")
        if value.get("name") is None:
            self.error("creator.name", "required", "the creator's name is required")
        url = self.url(value.get("url"), "creator.url")
        identifier = self.iri(value.get("id"), "creator.id")
        if value.get("url") is None and value.get("id") is None:
            self.error("creator.id", "required", "a creator needs an id (URI) or a url")
        if name is None or (url is None and identifier is None):
            return None
        return Creator(name=name, url=url, id=identifier)


def _error_order(error: FieldError) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    """Errors in the documented field order; list items by index (2 before 10)."""
    top, *rest = error.field.split(".")
    position = FILE_FIELDS.index(top) if top in FILE_FIELDS else len(FILE_FIELDS)
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in rest)
    return position, parts


def _read(data: Any, *, strict: bool = True) -> tuple[BadgeClassData | None, list[FieldError]]:
    """Read ``data`` (the file format) into a ``BadgeClassData``; the errors, if any, in field
    order. One code path serves both validation and parsing, so they cannot disagree (except
    that ``strict=False``, for versions stored before texts were normalised, keeps a control
    character instead of refusing it)."""
    if not isinstance(data, dict):
        return None, [FieldError("", "type", "a badge class is a JSON object")]
    r = _Reader(strict=strict)
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
        _check_micro_credential(r, data, outcomes, workload)

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


def _check_micro_credential(
    r: _Reader, data: Mapping[str, Any], outcomes: list[LocalizedText], workload: Workload | None
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


def validate_badge_class(data: Any) -> list[FieldError]:
    """Every problem of ``data`` (the file format), one ``FieldError`` per field; ``[]`` when
    it is valid."""
    return _read(data)[1]


def parse_badge_class(data: Any, *, strict: bool = False) -> BadgeClassData:
    """``data`` (the file format) as ``BadgeClassData``; raises ``BadgeClassError`` listing every
    problem field. Texts are normalised (``issuer.core.text``); a control character is refused
    only with ``strict`` (input: ``validate_badge_class`` checks it first), so that a version
    stored before the rule still reads."""
    badge_class, errors = _read(data, strict=strict)
    if badge_class is None:
        raise BadgeClassError(errors)
    return badge_class


def badge_class_to_dict(bc: BadgeClassData) -> dict[str, Any]:
    """``bc`` in the file format (the inverse of ``parse_badge_class``); absent values omitted."""

    def text(value: LocalizedText | None) -> dict[str, str] | None:
        return None if value is None else value.as_dict()

    def number(value: float | None) -> float | int | None:
        return None if value is None else _json_number(value)

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
    badge_class, errors = _read(data)
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


# --- the OB 3.0 Achievement --------------------------------------------------------------------


def _json_number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def _one_line(text: str) -> str:
    # A list item must stay one Markdown list item, whatever line breaks the source has.
    return " ".join(text.split())


def _anchor(achievement_id: str, anchor: str) -> str:
    return f"{achievement_id.split('#', 1)[0]}#{anchor}"


def _alignment(
    *,
    target_name: str,
    target_url: str,
    target_type: str,
    target_framework: str | None = None,
    target_code: str | None = None,
    target_description: str | None = None,
) -> dict[str, Any]:
    """An OB 3.0 ``Alignment`` (required: type, targetName, targetUrl), optional parts only when
    set (no nulls, OB 3.0 §"Serialization")."""
    entry: dict[str, Any] = {
        "type": ["Alignment"],
        "targetName": target_name,
        "targetUrl": target_url,
        "targetType": target_type,
    }
    if target_framework:
        entry["targetFramework"] = target_framework
    if target_code:
        entry["targetCode"] = target_code
    if target_description:
        entry["targetDescription"] = target_description
    return entry


def _concept_alignment(
    vocabulary: vocab.Vocabulary,
    key: str,
    lang: str,
    achievement_id: str,
    description: LocalizedText | None = None,
) -> dict[str, Any]:
    concept = vocabulary.concepts[key]
    return _alignment(
        target_name=concept.labels.get(lang) or concept.labels["en"],
        target_url=concept.uri or _anchor(achievement_id, vocabulary.anchor),
        target_type=vocabulary.target_type,
        target_framework=vocabulary.framework,
        target_code=key,
        target_description=description.get(lang) if description else None,
    )


def _level_alignments(bc: BadgeClassData, lang: str, achievement_id: str) -> list[dict[str, Any]]:
    entries = []
    if bc.eqf_level is not None:
        entries.append(
            _alignment(
                target_name=vocab.LEVEL_NAMES["eqf"][lang].format(level=bc.eqf_level),
                target_url=vocab.EQF_LEVEL_URI.format(level=bc.eqf_level),
                target_type=vocab.EQF_TARGET_TYPE,
                target_framework=vocab.EQF_FRAMEWORK,
                target_code=str(bc.eqf_level),
            )
        )
    if bc.nqf_level is not None:
        entries.append(
            _alignment(
                target_name=vocab.LEVEL_NAMES["nqf"][lang].format(level=bc.nqf_level),
                target_url=_anchor(achievement_id, vocab.NQF_ANCHOR),
                target_type=vocab.NQF_TARGET_TYPE,
                target_framework=vocab.NQF_FRAMEWORK,
                target_code=str(bc.nqf_level),
            )
        )
    return entries


def _workload_alignments(
    bc: BadgeClassData, lang: str, achievement_id: str
) -> list[dict[str, Any]]:
    workload = bc.workload
    if workload is None:
        return []
    entries = []
    label = vocab.label("workload", lang)
    if workload.ects is not None:
        entries.append(
            _alignment(
                target_name=vocab.format_quantity(workload.ects, "ects", lang),
                target_url=vocab.ECTS_URI,
                target_type=vocab.ECTS_TARGET_TYPE,
                target_framework=vocab.ECTS_FRAMEWORK,
                target_code=vocab.format_number(workload.ects, "en"),
                target_description=label,
            )
        )
    if workload.hours is not None:
        entries.append(
            _alignment(
                target_name=vocab.format_quantity(workload.hours, "hours", lang),
                target_url=_anchor(achievement_id, vocab.WORKLOAD_HOURS_ANCHOR),
                target_type=vocab.WORKLOAD_HOURS_TARGET_TYPE,
                target_framework=vocab.WORKLOAD_HOURS_FRAMEWORK,
                target_code=vocab.format_number(workload.hours, "en"),
                target_description=label,
            )
        )
    if workload.competence_points is not None:
        entries.append(
            _alignment(
                target_name=vocab.format_quantity(
                    workload.competence_points, "competence_points", lang
                ),
                target_url=_anchor(achievement_id, vocab.COMPETENCE_POINTS_ANCHOR),
                target_type=vocab.COMPETENCE_POINTS_TARGET_TYPE,
                target_framework=vocab.COMPETENCE_POINTS_FRAMEWORK,
                target_code=vocab.format_number(workload.competence_points, "en"),
                target_description=label,
            )
        )
    return entries


def _alignments(
    bc: BadgeClassData,
    lang: str,
    achievement_id: str,
    components: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """EU elements without a native OB slot, as alignment entries (DESIGN.md, ob3-facts.md §8)."""
    entries = _level_alignments(bc, lang, achievement_id)
    entries += _workload_alignments(bc, lang, achievement_id)
    if bc.assessment_type is not None:
        entries.append(
            _concept_alignment(
                vocab.ASSESSMENT_TYPES,
                bc.assessment_type,
                lang,
                achievement_id,
                bc.assessment_description,
            )
        )
    if bc.participation_form is not None:
        entries.append(
            _concept_alignment(
                vocab.PARTICIPATION_FORMS, bc.participation_form, lang, achievement_id
            )
        )
    if bc.supervision is not None:
        entries.append(_concept_alignment(vocab.SUPERVISION, bc.supervision, lang, achievement_id))
    if bc.quality_assurance is not None:
        entries.append(
            _alignment(
                target_name=vocab.label("quality_assurance", lang),
                target_url=bc.quality_assurance_url
                or _anchor(achievement_id, vocab.QUALITY_ASSURANCE_ANCHOR),
                target_type=vocab.QUALITY_ASSURANCE_TARGET_TYPE,
                target_framework=vocab.QUALITY_ASSURANCE_FRAMEWORK,
                target_description=bc.quality_assurance.get(lang),
            )
        )
    for skill in bc.esco_skills:
        entries.append(
            _alignment(
                target_name=skill.name.get(lang),
                target_url=skill.uri,
                target_type=vocab.ESCO_TARGET_TYPE,
                target_framework=vocab.ESCO_FRAMEWORK,
            )
        )
    for name, url in components:
        entries.append(
            _alignment(
                target_name=name,
                target_url=url,
                target_type=vocab.REQUIRED_ACHIEVEMENT_TARGET_TYPE,
                target_framework=vocab.REQUIRED_ACHIEVEMENT_FRAMEWORK,
            )
        )
    return entries


def _description(bc: BadgeClassData, lang: str) -> str:
    """Plain text (OB ``description`` is not Markdown): the description, then the learning
    outcomes, stackability and further information (EU elements that have no other slot)."""
    parts = [bc.description.get(lang)]
    if bc.learning_outcomes:
        lines = [f"- {_one_line(outcome.get(lang))}" for outcome in bc.learning_outcomes]
        parts.append(vocab.label("learning_outcomes", lang) + ":\n" + "\n".join(lines))
    for key, text in (
        ("stackability", bc.stackability),
        ("further_information", bc.further_information),
    ):
        if text is not None:
            parts.append(f"{vocab.label(key, lang)}: {text.get(lang)}")
    return "\n\n".join(parts)


def _criteria_narrative(
    bc: BadgeClassData, lang: str, components: Sequence[tuple[str, str]]
) -> str:
    """Markdown: what is needed to earn the badge (OB 3.0 ``Criteria.narrative``)."""
    parts = []
    if bc.criteria_narrative is not None:
        parts.append(bc.criteria_narrative.get(lang))
    if bc.learning_outcomes:
        items = "\n".join(f"- {_one_line(outcome.get(lang))}" for outcome in bc.learning_outcomes)
        parts.append(f"**{vocab.label('learning_outcomes', lang)}**\n\n{items}")
    if bc.assessment_type is not None:
        concept = vocab.ASSESSMENT_TYPES.concepts[bc.assessment_type]
        line = f"**{vocab.label('assessment_type', lang)}:** {concept.labels[lang]}"
        if bc.assessment_description is not None:
            line += f". {bc.assessment_description.get(lang)}"
        parts.append(line)
    if bc.prerequisites is not None:
        parts.append(f"**{vocab.label('prerequisites', lang)}:** {bc.prerequisites.get(lang)}")
    if components:
        items = "\n".join(f"- [{_one_line(name)}]({url})" for name, url in components)
        parts.append(f"**{vocab.label('requires', lang)}**\n\n{items}")
    return "\n\n".join(parts)


def _creator_profile(creator: Creator, lang: str) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "id": creator.profile_id,
        "type": ["Profile"],
        "name": creator.name.get(lang),
    }
    if creator.url is not None:
        profile["url"] = creator.url
    return profile


def _require_iri(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ABSOLUTE_IRI.match(value) or value.startswith("_:"):
        raise ValueError(f"{what} must be an absolute URI, got {value!r}")


def _require_lang(lang: str, what: str = "lang") -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"{what} must be one of {', '.join(LANGUAGES)}, got {lang!r}")


def achievement_json(
    bc: BadgeClassData,
    *,
    lang: str,
    achievement_id: str,
    image_url: str | None = None,
    related: Sequence[tuple[str, str]] = (),
    creator_profile: Mapping[str, Any] | None = None,
    components: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The OB 3.0 ``Achievement`` of ``bc`` in ``lang``.

    ``related``: (language, achievement id) of the other language versions, emitted as
    ``Related`` entries. ``creator_profile``: an OB ``Profile`` to use as ``creator``; by default
    the badge class's own ``creator``. ``components``: (name, URL) of the badge classes a package
    ``requires``, listed in the criteria and as alignment entries. Texts missing in ``lang`` fall
    back as ``LocalizedText.get`` does. Raises ``ValueError`` for a language other than fi, sv,
    en or an id that is not an absolute URI.
    """
    _require_lang(lang)
    _require_iri(achievement_id, "achievement_id")
    name = bc.name.get(lang)
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": bc.achievement_type,
        "name": name,
        "description": _description(bc, lang),
        "inLanguage": lang,
    }
    criteria: dict[str, Any] = {}
    if bc.criteria_url is not None:
        criteria["id"] = bc.criteria_url
    narrative = _criteria_narrative(bc, lang, components)
    if narrative:
        criteria["narrative"] = narrative
    achievement["criteria"] = criteria
    if bc.workload is not None and bc.workload.ects is not None:
        # OB 3.0 "creditsAvailable": credit hours possible; in Europe these are ECTS credits.
        # A whole number is written as a JSON integer ("3", not "3.0"), as other issuers do.
        achievement["creditsAvailable"] = _json_number(bc.workload.ects)
    if bc.field_of_study is not None:
        achievement["fieldOfStudy"] = bc.field_of_study.get(lang)
    if bc.human_code is not None:
        achievement["humanCode"] = bc.human_code
    achievement["version"] = bc.version
    tags = list(bc.tags)
    for area in bc.competence_areas:
        area_name = COMPETENCE_AREAS[area].get(lang)
        if area_name not in tags:
            tags.append(area_name)
    if tags:
        achievement["tag"] = tags
    if image_url is not None:
        _require_iri(image_url, "image_url")
        achievement["image"] = {"id": image_url, "type": "Image", "caption": name}
    related_entries = []
    for other_lang, url in related:
        _require_lang(other_lang, "related language")
        _require_iri(url, "related achievement id")
        if other_lang == lang:
            raise ValueError(f"related lists the achievement's own language {lang!r}")
        related_entries.append({"id": url, "type": ["Related"], "inLanguage": other_lang})
    if related_entries:
        achievement["related"] = related_entries
    for component_name, url in components:
        if not component_name.strip():
            raise ValueError("a component needs a name")
        _require_iri(url, "component URL")
    if creator_profile is not None:
        types = creator_profile.get("type")
        if "id" not in creator_profile or not (
            types == "Profile" or (isinstance(types, list) and "Profile" in types)
        ):
            raise ValueError("creator_profile must be an OB Profile with an id and type Profile")
        achievement["creator"] = dict(creator_profile)
    elif bc.creator is not None:
        achievement["creator"] = _creator_profile(bc.creator, lang)
    alignments = _alignments(bc, lang, achievement_id, components)
    if alignments:
        achievement["alignment"] = alignments
    return achievement


# --- facts for pages ---------------------------------------------------------------------------


def eu_facts(bc: BadgeClassData, lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the EU micro-credential facts that the badge class holds, in
    ``lang``, in Annex I order. Values may span lines (one learning outcome per line). The
    title, the awarding body, its country, the learner and the date of issue come from the
    credential and the institution, so the page adds those rows itself."""
    _require_lang(lang)
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
