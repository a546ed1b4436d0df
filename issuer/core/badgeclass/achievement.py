"""The OB 3.0 ``Achievement`` of a badge class, in one language.

``achievement_json(...)`` renders it (OB 3.0 §"Achievement"; the schema allows one language per
credential, so each credential is issued in the recipient's language and links the other
versions with ``related``). The EU elements without a native OB slot become ``alignment``
entries or parts of the description and criteria (DESIGN.md, ob3-facts.md §8).

Only properties that the OB 3.0.3 context defines are emitted (DESIGN.md "Standards, fixed":
an undefined term would be dropped from the signature), no nulls and no empty arrays
(OB 3.0 §"Serialization").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.model import (
    ABSOLUTE_IRI,
    COMPETENCE_AREAS,
    BadgeClassData,
    Creator,
    LocalizedText,
    json_number,
    require_language,
)


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
    if not isinstance(value, str) or not ABSOLUTE_IRI.match(value) or value.startswith("_:"):
        raise ValueError(f"{what} must be an absolute URI, got {value!r}")


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
    require_language(lang)
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
        achievement["creditsAvailable"] = json_number(bc.workload.ects)
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
        require_language(other_lang, "related language")
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
