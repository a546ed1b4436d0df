"""Reading single fields of the badge-class file format, one ``FieldError`` per bad field.

``FieldReader`` has one method per kind of value (a text by language, a string, a URL, a
number, a controlled value, a list, ...) and per composite field (workload, ESCO skills,
creator). Each returns the typed value, or None after recording at most one ``FieldError`` for
the field, so that ``fileformat`` reports every problem of a document at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.model import (
    ABSOLUTE_IRI,
    LANGUAGES,
    Creator,
    EscoSkill,
    LocalizedText,
    Workload,
)
from issuer.core.text import TextError, normalize_text

_HTTP_URL = re.compile(r"^https?://[^/\s?#]+[^\s<>\"{}|\\^`]*$")
_ESCO_SKILL = re.compile(
    "^"
    + re.escape(vocab.ESCO_SKILL_PREFIX)
    + r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
#: Texts of one line (names, titles): a line break in them becomes a space
#: (``issuer.core.text``); every other text keeps its line breaks.
SINGLE_LINE_TEXTS = frozenset({"name", "field_of_study", "creator.name", "esco_skills.name"})

MAX_LIST = 30


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


class FieldReader:
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
        if text is not None and (not ABSOLUTE_IRI.match(text) or text.startswith("_:")):
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
