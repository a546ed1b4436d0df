"""What an issuance asks for, checked once for every front end.

The JSON API, the staff form, a cohort CSV row and ``merkki issue`` each read the request in
their own shape and hand it over as an ``IssueInput`` of raw values; ``validate`` applies the
one set of rules below and returns the normalised ``Recipient`` or raises ``FieldErrors``
listing every problem as a ``FieldError`` (field, machine-readable code, message). Each front
end renders those in its own way: the API as its ``"fields"`` object, the form next to its
fields, the CSV check as the row's reason, the CLI as its one error line. The issuing service
applies the same rules again (``check``) to what it is given, so that no caller can skip them.
Every message is in the reader's language (``translation.for_reader``; issue 15), and a language
the badge class is not complete in is refused naming the fields that lack it.

The rules:

* recipient e-mail: one plain address (``issuer.services.emails``), normalised as it is hashed;
* recipient name: one line (``issuer.services.texts``: tabs and line breaks become spaces, other
  control characters are refused), runs of spaces as one, required, at most 255 characters;
* language: ``fi``, ``sv`` or ``en`` exactly (lower case, as the API and the CLI have always
  required), and one the badge class is fully translated into;
* evidence (OB 3.0 ``Evidence``): at most 20 items, each an http(s) URL and/or a narrative of
  at most 10,000 characters (multi-line free text);
* grade (OB 3.0 ``Result``): one line, at most 255 characters;
* activity dates: ``YYYY-MM-DD``, the end not before the start;
* ``valid_until``: ``YYYY-MM-DD`` (to the end of that day, UTC) or a date-time with an offset,
  in the future.

Where the front ends used to differ, the strictest rule is the one kept: the form and the CSV
check no longer trim invisible characters off an address before ``emails`` sees it, and a CSV
row's language is no longer lower-cased for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time

from issuer.core.badgeclass.model import BadgeClassData, missing_translations
from issuer.services import emails, institutions, texts
from issuer.services.errors import InvalidInputError
from issuer.services.field_labels import labels_message, language_message
from issuer.services.translation import N_, Message, for_reader

LANGUAGES = institutions.LANGUAGES
MAX_NAME_LENGTH = 255
MAX_URL_LENGTH = 2048
MAX_NARRATIVE_LENGTH = 10_000
MAX_GRADE_LENGTH = 255
MAX_EVIDENCE = 20
_HTTP_URL = re.compile(r"https?://[^\s/?#<>\"]+[^\s<>\"]*", re.IGNORECASE)

# The messages, in the reader's language where they are shown (``translation.for_reader``:
# the request's language on a page and in the API, English for the CLI and background jobs).
_AT_MOST_CHARACTERS = N_("at most %(count)s characters")
_LONGER_THAN = N_("longer than %(count)s characters")
_BEFORE = N_("is before %(field)s")
_NOT_IN_FUTURE = N_("must be in the future")
_NAME_REQUIRED = N_("the recipient's name is required")
_NAME_TOO_LONG = N_("the recipient's name is longer than %(count)s characters")
_UNKNOWN_LANGUAGE = N_("language must be one of %(languages)s, not %(value)s")
_TOO_MANY_EVIDENCE = N_("at most %(count)s evidence items")
_NOT_HTTP_URL = N_("%(value)s is not an http(s) URL")
_EMPTY_EVIDENCE = N_("an evidence item needs a url or a narrative")
_NOT_A_DATE = N_("%(field)s must be a date YYYY-MM-DD, not %(value)s")
_NOT_A_MOMENT = N_(
    "%(field)s must be a date YYYY-MM-DD or a date-time with a time zone, not %(value)s"
)
_NO_TIME_ZONE = N_("%(field)s needs a time zone (e.g. 2027-06-30T23:59:59Z)")
_UNTRANSLATED = N_("the badge class is not fully translated into %(language)s")
_UNTRANSLATED_NAMED = N_("badge class %(badge)s is not fully translated into %(language)s")
_MISSING = N_("%(refusal)s; missing: %(fields)s")

#: How the staff form names its fields and a cohort CSV its columns (the same words: one
#: evidence item, flat): the key ``validate`` uses -> the front end's name.
FLAT_NAMES: Mapping[str, str] = {
    "recipient.email": "email",
    "recipient.name": "name",
    "evidence.0.url": "evidence_url",
    "evidence.0.narrative": "evidence_narrative",
    "evidence.0": "evidence_url",
}


# --- the request -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """OB 3.0 ``Evidence``: a URL (http/https) and/or a narrative (markdown)."""

    url: str | None = None
    narrative: str | None = None


@dataclass(frozen=True, kw_only=True)
class IssueOptions:
    """What an issuance may add besides the recipient."""

    lang: str = "fi"
    evidence: Sequence[Evidence] = ()
    #: A grade or score; becomes a ``Result`` (linked to the achievement's result description
    #: when it has one).
    grade: str | None = None
    activity_start_date: date | None = None
    activity_end_date: date | None = None
    #: Overrides the badge class's validity period.
    valid_until: datetime | None = None
    #: Queue the learner's e-mail (packages and tests may turn it off).
    send_mail: bool = True


@dataclass(frozen=True, slots=True)
class Recipient:
    """One learner to issue to, and what the credential adds (``issue_many.issue_many``)."""

    email: str
    name: str
    options: IssueOptions = IssueOptions()


@dataclass(frozen=True, kw_only=True)
class IssueInput:
    """An issuance as a front end read it: texts as typed (free texts untrimmed, so that a
    control character at either end is refused, not lost unseen), dates as text or parsed."""

    email: str | None = None
    name: str | None = None
    lang: str = "fi"
    evidence: Sequence[Evidence] = ()
    grade: str | None = None
    activity_start_date: str | date | None = None
    activity_end_date: str | date | None = None
    valid_until: str | datetime | None = None

    @classmethod
    def of(cls, recipient: Recipient) -> IssueInput:
        options = recipient.options
        return cls(
            email=recipient.email,
            name=recipient.name,
            lang=options.lang,
            evidence=options.evidence,
            grade=options.grade,
            activity_start_date=options.activity_start_date,
            activity_end_date=options.activity_end_date,
            valid_until=options.valid_until,
        )


def flat_evidence(url: str | None, narrative: str | None) -> tuple[Evidence, ...]:
    """The evidence of a form or a CSV row, whose two optional fields make at most one item:
    none when both are left empty (blank as ``validate`` cleans them), else the item as typed
    (so that, say, a narrative of nothing but a control character is refused, not dropped)."""
    if _blank_url(url) and _blank_text(narrative):
        return ()
    return (Evidence(url=url, narrative=narrative),)


def _blank_url(value: str | None) -> bool:
    return value is None or not value.strip()


def _blank_text(value: str | None) -> bool:
    if value is None:
        return True
    try:
        return not texts.clean(value, "", multiline=True)
    except texts.ControlCharacterError:
        return False


# --- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one field: ``field`` as the front end names it (``recipient.email``,
    ``evidence.0.url``; the form and the CSV: ``email``, ``evidence_url``), ``code``
    machine-readable (``required``, ``invalid_email``, ``control_character``, ``too_long``,
    ``unknown_language``, ``not_translated``, ``too_many``, ``not_http_url``,
    ``empty_evidence``, ``invalid_date``, ``end_before_start``, ``not_in_future``; the API's
    own shape checks add ``unknown_field``, ``type``, ``conflict`` and ``not_found``)."""

    field: str
    code: str
    message: str
    #: Whether ``message`` says what it is about ("the recipient's name is required") or
    #: reads only next to its field ("must be in the future").
    names_field: bool = True
    #: ``message`` before translation, when it may be shown later in another language (a
    #: cohort row that fails in a background job; ``translation.Message``).
    deferred: Message | None = dataclass_field(default=None, compare=False)

    @property
    def text(self) -> str:
        """The message on its own line (a CSV row's reason, a command's error)."""
        return self.message if self.names_field else f"{self.field}: {self.message}"


class FieldErrors(InvalidInputError):
    """Several fields are invalid (API: 422 listing them); the first problem of each field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        first: dict[str, FieldError] = {}
        for error in errors:
            first.setdefault(error.field, error)
        self.errors = tuple(first.values())
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in self.errors))

    @property
    def fields(self) -> dict[str, str]:
        """field -> message (the API's ``"fields"``)."""
        return {error.field: error.message for error in self.errors}


class _Found:
    """The problems found so far, named as the front end names its fields."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names
        self.errors: list[FieldError] = []
        self.keys: set[str] = set()

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def add(self, key: str, code: str, message: str | Message, *, names_field: bool = True) -> None:
        self.keys.add(key)
        deferred = message if isinstance(message, Message) else None
        text = message.render() if isinstance(message, Message) else message
        self.errors.append(FieldError(self.name(key), code, text, names_field, deferred))

    def text(self, value: str | None, key: str, *, multiline: bool) -> str | None:
        """``value`` normalised (``issuer.services.texts``) and None when blank, or None with
        the problem noted."""
        try:
            return texts.clean_optional(value, self.name(key), multiline=multiline)
        except texts.ControlCharacterError as error:
            self.add(key, "control_character", error.message)
            return None


# --- the rules -------------------------------------------------------------------------------


def validate(
    raw: IssueInput,
    *,
    now: datetime,
    languages: Sequence[str] | None = None,
    badge_class: str | None = None,
    names: Mapping[str, str] | None = None,
    missing: Mapping[str, Sequence[str]] | None = None,
) -> Recipient:
    """``raw`` checked and normalised (module docstring), or ``FieldErrors`` naming every bad
    field as ``names`` says (default: the API's names). ``languages``: those the badge class
    (slug ``badge_class``) is fully translated into, when the caller knows them already; the
    issuing service checks them in any case. ``missing``: language -> the fields that lack it
    (``missing_fields``), so that a refusal names them."""
    found = _Found(names or {})
    email = _email(raw.email, found)
    name = _name(raw.name, found)
    _language(raw.lang, found, languages, badge_class, missing or {})
    evidence = _evidence(raw.evidence, found)
    grade = found.text(raw.grade, "grade", multiline=False)
    if grade is not None and len(grade) > MAX_GRADE_LENGTH:
        found.add(
            "grade",
            "too_long",
            for_reader(_AT_MOST_CHARACTERS, count=MAX_GRADE_LENGTH),
            names_field=False,
        )
    start = _date(raw.activity_start_date, "activity_start_date", found)
    end = _date(raw.activity_end_date, "activity_end_date", found)
    if start is not None and end is not None and end < start:
        found.add(
            "activity_end_date",
            "end_before_start",
            for_reader(_BEFORE, field=found.name("activity_start_date")),
            names_field=False,
        )
    valid_until = _valid_until(raw.valid_until, found)
    if valid_until is not None and valid_until <= now:
        found.add("valid_until", "not_in_future", Message(_NOT_IN_FUTURE), names_field=False)
    if found.errors:
        raise FieldErrors(found.errors)
    options = IssueOptions(
        lang=raw.lang,
        evidence=evidence,
        grade=grade,
        activity_start_date=start,
        activity_end_date=end,
        valid_until=valid_until,
    )
    return Recipient(email, name, options)


def check(recipient: Recipient, *, now: datetime) -> Recipient:
    """``validate`` for what the issuing service is given (API names; ``send_mail`` kept)."""
    checked = validate(IssueInput.of(recipient), now=now)
    return replace(checked, options=replace(checked.options, send_mail=recipient.options.send_mail))


def complete_languages(bc: BadgeClassData) -> list[str]:
    """Languages in which every text of the badge class exists: those it can be issued in."""
    return [lang for lang in LANGUAGES if not missing_translations(bc, [lang])]


def missing_fields(bc: BadgeClassData) -> dict[str, list[str]]:
    """language -> the fields (format paths) of ``bc`` without a text in it, for every
    language the badge class is not complete in."""
    missing: dict[str, list[str]] = {}
    for field, lang in missing_translations(bc):
        missing.setdefault(lang, []).append(field)
    return missing


def untranslated(
    lang: str, badge_class: str | None = None, fields: Sequence[str] = ()
) -> FieldError:
    """The refusal of ``lang`` for a badge class not fully translated into it, naming the
    ``fields`` that lack it when they are known (issue 15: "which field?")."""
    name = language_message(lang)
    refusal = (
        Message(_UNTRANSLATED_NAMED, badge=repr(badge_class), language=name)
        if badge_class
        else Message(_UNTRANSLATED, language=name)
    )
    if fields:
        refusal = Message(_MISSING, refusal=refusal, fields=labels_message(fields))
    return FieldError("lang", "not_translated", refusal.render(), deferred=refusal)


def _email(value: str | None, found: _Found) -> str:
    try:
        return emails.check_email(value or "")
    except InvalidInputError as error:
        blank = not (value or "").strip(" \t\r\n")
        found.add("recipient.email", "required" if blank else "invalid_email", error.message)
        return ""


def _name(value: str | None, found: _Found) -> str:
    key = "recipient.name"
    if value is None:
        found.add(key, "required", for_reader(_NAME_REQUIRED))
        return ""
    cleaned = found.text(value, key, multiline=False)
    if key in found.keys:
        return ""
    name = " ".join((cleaned or "").split())
    if not name:
        found.add(key, "required", for_reader(_NAME_REQUIRED))
    elif len(name) > MAX_NAME_LENGTH:
        found.add(key, "too_long", for_reader(_NAME_TOO_LONG, count=MAX_NAME_LENGTH))
    return name


def _language(
    lang: str,
    found: _Found,
    languages: Sequence[str] | None,
    badge_class: str | None,
    missing: Mapping[str, Sequence[str]],
) -> None:
    if lang not in LANGUAGES:
        found.add(
            "lang",
            "unknown_language",
            for_reader(_UNKNOWN_LANGUAGE, languages=", ".join(LANGUAGES), value=repr(lang)),
        )
    elif languages is not None and lang not in languages:
        refusal = untranslated(lang, badge_class, missing.get(lang, ()))
        found.add("lang", refusal.code, refusal.message)


def _evidence(items: Sequence[Evidence], found: _Found) -> tuple[Evidence, ...]:
    if len(items) > MAX_EVIDENCE:
        found.add("evidence", "too_many", for_reader(_TOO_MANY_EVIDENCE, count=MAX_EVIDENCE))
    evidence = []
    for position, item in enumerate(items[:MAX_EVIDENCE]):
        url_key, narrative_key = f"evidence.{position}.url", f"evidence.{position}.narrative"
        url = (item.url or "").strip() or None
        narrative = found.text(item.narrative, narrative_key, multiline=True)
        if url is not None and (len(url) > MAX_URL_LENGTH or not _HTTP_URL.fullmatch(url)):
            found.add(
                url_key,
                "not_http_url",
                for_reader(_NOT_HTTP_URL, value=repr(url[:80])),
                names_field=False,
            )
        if narrative is not None and len(narrative) > MAX_NARRATIVE_LENGTH:
            found.add(
                narrative_key,
                "too_long",
                for_reader(_LONGER_THAN, count=MAX_NARRATIVE_LENGTH),
                names_field=False,
            )
        if url is None and narrative is None and narrative_key not in found.keys:
            found.add(
                f"evidence.{position}",
                "empty_evidence",
                for_reader(_EMPTY_EVIDENCE),
            )
        evidence.append(Evidence(url=url, narrative=narrative))
    return tuple(evidence)


def _date(value: str | date | None, key: str, found: _Found) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        message = for_reader(_NOT_A_DATE, field=found.name(key), value=repr(value))
        found.add(key, "invalid_date", message)
        return None


def _valid_until(value: str | datetime | None, found: _Found) -> datetime | None:
    """``YYYY-MM-DD`` (valid to the end of that day, UTC) or an ISO date-time with an offset."""
    if value is None or isinstance(value, datetime):
        return value
    key, text = "valid_until", value.strip()
    if len(text) == 10:
        day = _date(text, key, found)
        return None if day is None else datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        found.add(
            key,
            "invalid_date",
            for_reader(_NOT_A_MOMENT, field=found.name(key), value=repr(value)),
        )
        return None
    if moment.tzinfo is None:
        found.add(
            key,
            "invalid_date",
            for_reader(_NO_TIME_ZONE, field=found.name(key)),
        )
        return None
    return moment.astimezone(UTC)
