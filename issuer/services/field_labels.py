"""What people call the fields of a badge class, in their language (issue 15).

The file format names its fields by dotted paths (``criteria_narrative``,
``learning_outcomes.2``, ``esco_skills.0.name``); staff never should see those. This is the one
place that turns a path into the label a person reads: the badge-class form's error summary,
the refusal to publish a badge class that is not fully translated, and the refusal to issue in
a language the badge class lacks all name fields with ``label``.
"""

from __future__ import annotations

from collections.abc import Sequence

from issuer.services.translation import N_, Message, Translator, for_reader

#: Field path (list indexes dropped) -> label, marked for extraction and translated when shown.
LABELS: dict[str, str] = {
    "": N_("The badge class as a whole"),
    "slug": N_("Address name"),
    "version": N_("Version of the content"),
    "achievement_type": N_("Type of achievement"),
    "human_code": N_("Short code"),
    "name": N_("Name"),
    "description": N_("Description"),
    "criteria_narrative": N_("Criteria"),
    "criteria_url": N_("Criteria page"),
    "field_of_study": N_("Field of study"),
    "competence_areas": N_("Competence areas"),
    "tags": N_("Keywords"),
    "learning_outcomes": N_("Learning outcomes"),
    "workload": N_("Workload"),
    "workload.hours": N_("Workload in hours"),
    "workload.ects": N_("ECTS credits"),
    "workload.competence_points": N_("Competence points"),
    "eqf_level": N_("EQF level"),
    "nqf_level": N_("NQF level"),
    "assessment_type": N_("Type of assessment"),
    "assessment_description": N_("How the learning is assessed"),
    "participation_form": N_("Form of participation"),
    "supervision": N_("Supervision and identity verification"),
    "quality_assurance": N_("Quality assurance"),
    "quality_assurance_url": N_("Quality assurance page"),
    "prerequisites": N_("Prerequisites"),
    "stackability": N_("Integration and stackability"),
    "further_information": N_("Further information"),
    "validity_months": N_("Validity in months"),
    "esco_skills": N_("ESCO skills"),
    "requires": N_("Required badge classes"),
    "creator": N_("Creator"),
    "creator.name": N_("Creator's name"),
    "creator.url": N_("Creator's web page"),
    "creator.id": N_("Creator's identifier"),
    "image": N_("Artwork"),
}
_LEARNING_OUTCOME = N_("Learning outcome %(number)s")
_ESCO_SKILL = N_("ESCO skill %(number)s")
_ESCO_SKILL_NAME = N_("Name of ESCO skill %(number)s")
_ESCO_SKILL_URI = N_("Address of ESCO skill %(number)s")
_REQUIRED_BADGE = N_("Required badge class %(number)s")
_IN_LANGUAGE = N_("%(field)s (%(language)s)")
LANGUAGE_NAMES: dict[str, str] = {
    "fi": N_("Finnish"),
    "sv": N_("Swedish"),
    "en": N_("English"),
}


def label_message(path: str) -> Message | str:
    """The label of the field at ``path`` as a message to translate when shown (a text's
    language suffix named too: ``name.sv`` -> "Name (Swedish)"); an unknown path as it is."""
    head, _, lang = path.rpartition(".")
    if head and lang in LANGUAGE_NAMES:
        return Message(_IN_LANGUAGE, field=label_message(head), language=language_message(lang))
    parts = path.split(".")
    if len(parts) >= 2 and parts[1].isdigit():
        number = int(parts[1]) + 1
        rest = parts[2:]
        if parts[0] == "learning_outcomes" and not rest:
            return Message(_LEARNING_OUTCOME, number=number)
        if parts[0] == "requires" and not rest:
            return Message(_REQUIRED_BADGE, number=number)
        if parts[0] == "esco_skills":
            which = {(): _ESCO_SKILL, ("name",): _ESCO_SKILL_NAME, ("uri",): _ESCO_SKILL_URI}
            message = which.get(tuple(rest))
            if message is not None:
                return Message(message, number=number)
    known = LABELS.get(path)
    return Message(known) if known is not None else path


def label(path: str, translate: Translator = for_reader) -> str:
    """The label of the field at ``path`` in ``translate``'s language (``label_message``)."""
    return _shown(label_message(path), translate)


def language_message(lang: str) -> Message | str:
    """The name of the language ``lang`` (``fi``, ``sv``, ``en``), to translate when shown."""
    known = LANGUAGE_NAMES.get(lang)
    return Message(known) if known is not None else lang


def language(lang: str, translate: Translator = for_reader) -> str:
    """The name of the language ``lang`` (``fi``, ``sv``, ``en``) in the reader's language."""
    return _shown(language_message(lang), translate)


def labels_message(paths: Sequence[str]) -> tuple[Message | str, ...]:
    """Labels of ``paths`` as a message value (shown comma-separated, each once, in order)."""
    return tuple(label_message(path) for path in paths)


def labels(paths: Sequence[str], translate: Translator = for_reader) -> str:
    """Labels of ``paths``, comma-separated, each once, in order."""
    return ", ".join(dict.fromkeys(label(path, translate) for path in paths))


def _shown(message: Message | str, translate: Translator) -> str:
    return message.render(translate) if isinstance(message, Message) else message
