"""The badge-class form: HTML form fields <-> the badge.json format, and field errors.

The form's input names are the format's dotted field paths (``name.fi``, ``workload.ects``,
``learning_outcomes.2.sv``, ``esco_skills.0.uri``), so an engine ``FieldError`` for
``learning_outcomes.2`` lands next to the inputs it is about. The form does no validation of
its own: it only turns text inputs into the format's types (numbers, lists), and whatever it
cannot turn is passed on unchanged, so that the engine reports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from issuer.core.badgeclass.fields import FieldError
from issuer.core.badgeclass.model import LANGUAGES

#: Fields holding one text per language.
TEXT_FIELDS = (
    "name",
    "description",
    "criteria_narrative",
    "assessment_description",
    "quality_assurance",
    "prerequisites",
    "stackability",
    "further_information",
    "field_of_study",
)
STRING_FIELDS = (
    "slug",
    "version",
    "achievement_type",
    "human_code",
    "criteria_url",
    "quality_assurance_url",
    "assessment_type",
    "participation_form",
    "supervision",
)
INTEGER_FIELDS = ("eqf_level", "nqf_level", "validity_months")
WORKLOAD_FIELDS = ("hours", "ects", "competence_points")
#: Rows the form starts with: a micro-credential usually states three to six outcomes. More
#: are added (and any removed) with the form's own buttons, which send the form back to be
#: shown again as typed (``rearrange``): no script, so the CSP stays strict.
MIN_OUTCOME_ROWS = 3
MIN_SKILL_ROWS = 1
#: A form asking for more rows than this is not one a person filled in.
MAX_ROWS = 100


def _clean(value: str | None) -> str | None:
    """None for an empty input; otherwise the text as typed: the engine normalises it
    (``issuer.core.text``: tabs, CR LF) before it trims it, so that a control character at
    either end is refused, not trimmed away unseen."""
    if value is None or not value.strip():
        return None
    return value


def _number(value: str | None) -> Any:
    """``"2,5"`` -> 2.5 (Finnish and Swedish write a decimal comma); unparseable text stays
    text, for the engine to report."""
    text = _clean(value)
    if text is None:
        return None
    try:
        number = float(text.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _integer(value: str | None) -> Any:
    text = _clean(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _text(form: Mapping[str, str], prefix: str) -> dict[str, str] | None:
    texts = {lang: _clean(form.get(f"{prefix}.{lang}")) for lang in LANGUAGES}
    present = {lang: text for lang, text in texts.items() if text is not None}
    return present or None


def _indexes(form: Mapping[str, str], prefix: str) -> list[int]:
    found = set()
    for key in form:
        if key.startswith(prefix + "."):
            head = key[len(prefix) + 1 :].split(".", 1)[0]
            if head.isdigit() and len(head) < 4:
                found.add(int(head))
    return sorted(found)


def form_to_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The badge.json object the submitted form describes (empty inputs are left out)."""
    data: dict[str, Any] = {}
    for field in STRING_FIELDS:
        data[field] = _clean(form.get(field))
    for field in TEXT_FIELDS:
        data[field] = _text(form, field)
    for field in INTEGER_FIELDS:
        data[field] = _integer(form.get(field))
    workload = {key: _number(form.get(f"workload.{key}")) for key in WORKLOAD_FIELDS}
    data["workload"] = {k: v for k, v in workload.items() if v is not None} or None
    outcomes = [_text(form, f"learning_outcomes.{i}") for i in _indexes(form, "learning_outcomes")]
    data["learning_outcomes"] = [outcome for outcome in outcomes if outcome] or None
    skills = []
    for index in _indexes(form, "esco_skills"):
        uri = _clean(form.get(f"esco_skills.{index}.uri"))
        name = _text(form, f"esco_skills.{index}.name")
        if uri or name:
            skills.append({"uri": uri, "name": name})
    data["esco_skills"] = skills or None
    tags = [tag.strip() for tag in (form.get("tags") or "").split(",")]
    data["tags"] = [tag for tag in tags if tag] or None
    data["competence_areas"] = [a for a in form.getlist("competence_areas") if a] or None
    data["requires"] = [slug for slug in form.getlist("requires") if slug] or None
    creator_name = _text(form, "creator.name")
    creator_url = _clean(form.get("creator.url"))
    creator_id = _clean(form.get("creator.id"))
    if creator_name or creator_url or creator_id:
        data["creator"] = {"name": creator_name, "url": creator_url, "id": creator_id}
    return {key: value for key, value in data.items() if value is not None}


def data_to_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """Values to fill the form with: input name -> text, plus list fields as lists."""
    values: dict[str, Any] = {}

    def put_text(prefix: str, text: Any) -> None:
        if isinstance(text, Mapping):
            for lang in LANGUAGES:
                if isinstance(text.get(lang), str):
                    values[f"{prefix}.{lang}"] = text[lang]

    for field in STRING_FIELDS:
        if data.get(field) is not None:
            values[field] = str(data[field])
    for field in INTEGER_FIELDS:
        if data.get(field) is not None:
            values[field] = str(data[field])
    for field in TEXT_FIELDS:
        put_text(field, data.get(field))
    workload = data.get("workload")
    if isinstance(workload, Mapping):
        for key in WORKLOAD_FIELDS:
            if workload.get(key) is not None:
                values[f"workload.{key}"] = str(workload[key])
    outcomes = data.get("learning_outcomes")
    for index, outcome in enumerate(outcomes if isinstance(outcomes, list) else []):
        put_text(f"learning_outcomes.{index}", outcome)
    skills = data.get("esco_skills")
    for index, skill in enumerate(skills if isinstance(skills, list) else []):
        if isinstance(skill, Mapping):
            if skill.get("uri") is not None:
                values[f"esco_skills.{index}.uri"] = str(skill["uri"])
            put_text(f"esco_skills.{index}.name", skill.get("name"))
    tags = data.get("tags")
    if isinstance(tags, list):
        values["tags"] = ", ".join(str(tag) for tag in tags)
    creator = data.get("creator")
    if isinstance(creator, Mapping):
        put_text("creator.name", creator.get("name"))
        for key in ("url", "id"):
            if creator.get(key) is not None:
                values[f"creator.{key}"] = str(creator[key])
    areas = data.get("competence_areas")
    values["competence_areas"] = list(areas) if isinstance(areas, list) else []
    requires = data.get("requires")
    values["requires"] = list(requires) if isinstance(requires, list) else []
    values["outcome_rows"] = max(
        MIN_OUTCOME_ROWS, len(outcomes) if isinstance(outcomes, list) else 0
    )
    values["skill_rows"] = max(MIN_SKILL_ROWS, len(skills) if isinstance(skills, list) else 0)
    return values


# --- adding and removing rows ------------------------------------------------------------------

#: The form's buttons (``name="action"``): save, preview, or change the rows.
SAVE = "save"
PREVIEW = "preview"
ADD_OUTCOME = "add_outcome"
ADD_SKILL = "add_skill"
_REMOVE = re.compile(r"remove:(learning_outcomes|esco_skills)\.(\d{1,3})")


def is_row_action(action: str) -> bool:
    return action in (ADD_OUTCOME, ADD_SKILL) or _REMOVE.fullmatch(action) is not None


@dataclass(frozen=True)
class Rearranged:
    """The form after a row button: the values to show again and where focus goes (the new
    row's first input, or the list a row was removed from; WCAG 2.4.3 Focus Order)."""

    values: dict[str, Any]
    focus: str


def _shown(form: Mapping[str, str], key: str, minimum: int) -> int:
    text = form.get(key) or ""
    return min(MAX_ROWS, max(minimum, int(text))) if text.isdigit() and len(text) < 4 else minimum


def rearrange(form: MultiDict[str, str], action: str) -> Rearranged:
    """The form as typed, with a row added or removed. Nothing is validated or saved: empty
    rows are dropped and the rest renumbered, as saving would."""
    outcome_rows = _shown(form, "outcome_rows", 1)
    skill_rows = _shown(form, "skill_rows", 1)
    kept = MultiDict(form)
    focus = ""
    removed = _REMOVE.fullmatch(action)
    if removed is not None:
        prefix = f"{removed[1]}.{int(removed[2])}."
        for key in [key for key in kept if key.startswith(prefix)]:
            kept.poplist(key)
        if removed[1] == "learning_outcomes":
            outcome_rows = max(1, outcome_rows - 1)
            focus = "learning-outcomes-heading"
        else:
            skill_rows = max(1, skill_rows - 1)
            focus = "alignment-heading"
    values = data_to_form(form_to_data(kept))
    outcomes = len(_indexes_filled(values, "learning_outcomes"))
    skills = len(_indexes_filled(values, "esco_skills"))
    if action == ADD_OUTCOME:
        outcome_rows = min(MAX_ROWS, max(outcome_rows, outcomes) + 1)
        focus = f"learning_outcomes.{outcome_rows - 1}.fi"
    elif action == ADD_SKILL:
        skill_rows = min(MAX_ROWS, max(skill_rows, skills) + 1)
        focus = f"esco_skills.{skill_rows - 1}.uri"
    values["outcome_rows"] = max(outcome_rows, outcomes, 1)
    values["skill_rows"] = max(skill_rows, skills, 1)
    return Rearranged(values, focus)


def _indexes_filled(values: Mapping[str, Any], prefix: str) -> set[int]:
    return {int(key.split(".")[1]) for key in values if key.startswith(prefix + ".")}


# --- where an error is shown -------------------------------------------------------------------

#: Fields with a container ``field-PATH`` in the form (one control, or a group of them).
_CONTAINERS = frozenset(
    {
        *STRING_FIELDS,
        *TEXT_FIELDS,
        *INTEGER_FIELDS,
        *(f"workload.{key}" for key in WORKLOAD_FIELDS),
        "workload",
        "learning_outcomes",
        "esco_skills",
        "competence_areas",
        "tags",
        "requires",
        "creator",
        "creator.name",
        "creator.url",
        "creator.id",
        "image",
    }
)
_ROW = re.compile(r"(?:learning_outcomes|esco_skills)\.\d+|esco_skills\.\d+\.(?:uri|name)")
_TEXT_INPUT = re.compile(
    rf"(?:{'|'.join(TEXT_FIELDS)}|learning_outcomes\.\d+|esco_skills\.\d+\.name|creator\.name)"
    r"\.(?:fi|sv|en)"
)


def error_target(path: str) -> str:
    """The id the error summary links to for ``path``: the input of a text in one language
    (``name.sv``), else the nearest container ``field-...`` (the field, its row, its list),
    else the form itself."""
    if _TEXT_INPUT.fullmatch(path):
        return path
    parts = path.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in _CONTAINERS or _ROW.fullmatch(candidate):
            return f"field-{candidate}"
        parts.pop()
    return "badge-class-form"


# --- errors ------------------------------------------------------------------------------------


def N_(message: str) -> str:
    """Marks ``message`` for extraction; it is translated (``_``) where it is shown."""
    return message


_MESSAGES = {
    "required": N_("This field is required."),
    "type": N_("Enter a value of the right kind here."),
    "invalid": N_("This value is not valid."),
    "too_long": N_("This is too long."),
    "out_of_range": N_("This number is outside the allowed range."),
    "unknown_value": N_("Choose one of the allowed values."),
    "duplicate": N_("This value is already taken or listed twice."),
    "language": N_("Only Finnish, Swedish and English are supported."),
    "unknown_field": N_("This field is not part of a badge class."),
    "immutable": N_("This cannot be changed after the badge class is created."),
    "control_character": N_(
        "This text contains a control character (such as a backspace or form feed) that "
        "cannot be in a credential. Remove it."
    ),
}
_EU_REQUIRED = N_(
    "A MicroCredential must have this (EU Council Recommendation 2022/C 243/02, Annex I)."
)


def error_message(error: FieldError) -> str:
    """A translated message for ``error`` (the engine's own messages are English)."""
    if error.code == "required" and "MicroCredential" in error.message:
        return str(_(_EU_REQUIRED))
    message = _MESSAGES.get(error.code)
    return str(_(message)) if message is not None else error.message


def error_targets(errors: Mapping[str, str]) -> dict[str, str]:
    return {path: error_target(path) for path in errors}


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    """Field path -> translated message. A path the form has no input for (``""``, an
    unknown field) is kept too; the form lists every error at its top."""
    return {error.field: error_message(error) for error in errors}
