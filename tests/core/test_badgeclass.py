"""Badge classes: validation of the file format, the EU micro-credential rule, languages and the
OB 3.0 Achievement they produce."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.eu_profile import MANDATORY_EU_FIELDS, eu_facts
from issuer.core.badgeclass.fields import FieldError
from issuer.core.badgeclass.fileformat import (
    FILE_FIELDS,
    BadgeClassError,
    badge_class_to_dict,
    parse_badge_class,
    validate_badge_class,
)
from issuer.core.badgeclass.model import ACHIEVEMENT_TYPES, LocalizedText, missing_translations
from issuer.core.canonical import find_undefined_terms
from issuer.core.contexts import OB_V3, VC_V2
from issuer.core.credential import build_credential, issuer_profile
from issuer.core.schema import schema_errors
from tests.spec_files import load_json

ACHIEVEMENT_ID = "https://merkki.example/badges/ennakointi/v1/fi"
OB_SCHEMA = "schemas/ob-v3p0-json/ob_v3p0_achievementcredential_schema.json"
ELM_SAMPLE = "samples/eu-elm-edc/AA-Annex1-MC-unsigned.json"
ESCO_URI = "http://data.europa.eu/esco/skill/326809fc-238d-40c2-881e-40042f7f2f0d"


def micro_credential() -> dict[str, Any]:
    """A complete EU micro-credential in the file format."""
    return {
        "slug": "ennakointi",
        "version": "1.0",
        "achievement_type": "MicroCredential",
        "name": {"fi": "Ennakointiosaaminen", "sv": "Framsynskompetens", "en": "Foresight"},
        "description": {"fi": "Kuvaus.", "sv": "Beskrivning.", "en": "Description."},
        "criteria_narrative": {"fi": "Tee analyysi.", "sv": "Gör en analys.", "en": "Analyse."},
        "learning_outcomes": [
            {"fi": "Osaa hakea tietoa.", "sv": "Kan söka information.", "en": "Can find data."},
            {"fi": "Osaa tulkita.", "sv": "Kan tolka.", "en": "Can interpret."},
        ],
        "workload": {"hours": 81, "ects": 3, "competence_points": 3},
        "eqf_level": 6,
        "nqf_level": 6,
        "assessment_type": "portfolio",
        "assessment_description": {"fi": "Portfolio.", "sv": "Portfolio.", "en": "Portfolio."},
        "participation_form": "blended",
        "quality_assurance": {"fi": "Laatu.", "sv": "Kvalitet.", "en": "Quality."},
        "supervision": "unsupervised-no-id",
        "prerequisites": {"fi": "Opettaja.", "sv": "Lärare.", "en": "A teacher."},
        "tags": ["POKOT"],
        "competence_areas": ["foresight"],
        "esco_skills": [
            {
                "uri": ESCO_URI,
                "name": {
                    "fi": "yhteistyö",
                    "sv": "samarbete",
                    "en": "establish collaborative relations",
                },
            }
        ],
        "human_code": "POKOT-1",
        "creator": {"url": "https://www.hamk.fi/projektit/pokot", "name": {"fi": "POKOT"}},
        "image": "image.svg",
    }


def fields(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


# --- the EU rule -------------------------------------------------------------------------------

#: (what is removed or changed, the field the error must name)
MISSING_EU_ELEMENT = [
    ({"name": None}, "name"),
    ({"learning_outcomes": None}, "learning_outcomes"),
    ({"learning_outcomes": []}, "learning_outcomes"),
    ({"workload": None}, "workload"),
    ({"workload": {"competence_points": 5}}, "workload"),
    ({"eqf_level": None}, "eqf_level"),
    ({"assessment_type": None}, "assessment_type"),
    ({"participation_form": None}, "participation_form"),
    ({"quality_assurance": None}, "quality_assurance"),
]


def test_complete_micro_credential_is_valid() -> None:
    assert validate_badge_class(micro_credential()) == []
    badge_class = parse_badge_class(micro_credential())
    assert badge_class.is_micro_credential
    assert badge_class.workload is not None
    assert badge_class.workload.ects == 3
    assert badge_class.learning_outcomes[1].get("en") == "Can interpret."


def test_table_covers_every_badge_class_element_of_the_recommendation() -> None:
    from_badge_class = {f for element in MANDATORY_EU_FIELDS for f in element.fields}
    assert {field for _, field in MISSING_EU_ELEMENT} == from_badge_class
    assert len(MANDATORY_EU_FIELDS) == 11
    assert {element.source for element in MANDATORY_EU_FIELDS} == {
        "badge_class",
        "institution",
        "credential",
    }
    assert all(element.key in vocab.LABELS for element in MANDATORY_EU_FIELDS)


@pytest.mark.parametrize(("change", "field"), MISSING_EU_ELEMENT)
def test_micro_credential_missing_an_element_names_that_field(
    change: dict[str, Any], field: str
) -> None:
    data = micro_credential()
    data.update(change)
    errors = validate_badge_class(data)
    assert fields(errors) == [field]
    assert errors[0].code == "required"
    with pytest.raises(BadgeClassError) as raised:
        parse_badge_class(data)
    assert raised.value.errors == errors
    assert field in str(raised.value)


def test_every_missing_element_is_listed_at_once() -> None:
    data = micro_credential()
    for change, _ in MISSING_EU_ELEMENT:
        data.update(change)
    data["description"] = None
    data["slug"] = "Not A Slug"
    errors = validate_badge_class(data)
    assert fields(errors) == [
        "slug",
        "name",
        "description",
        "learning_outcomes",
        "workload",
        "eqf_level",
        "assessment_type",
        "participation_form",
        "quality_assurance",
    ]
    assert len(set(fields(errors))) == len(errors)


def test_other_badges_need_only_name_description_and_criteria() -> None:
    badge = {
        "slug": "kahvimestari",
        "version": "1",
        "achievement_type": "Badge",
        "name": {"fi": "Kahvimestari"},
        "description": {"fi": "Keittää kahvia."},
        "criteria_url": "https://merkki.example/kriteerit",
    }
    assert validate_badge_class(badge) == []
    del badge["criteria_url"]
    del badge["description"]
    assert fields(validate_badge_class(badge)) == ["description", "criteria_narrative"]


def test_extension_achievement_types() -> None:
    data = micro_credential() | {"achievement_type": "ext:Osaamismerkki"}
    assert validate_badge_class(data) == []
    data["achievement_type"] = "Osaamismerkki"
    assert fields(validate_badge_class(data)) == ["achievement_type"]
    assert "Competency" in ACHIEVEMENT_TYPES


# --- field checks ------------------------------------------------------------------------------

BAD_VALUES = [
    ({"workload": {"ects": -1, "hours": 81}}, "workload.ects", "out_of_range"),
    ({"workload": {"ects": "3"}}, "workload.ects", "type"),
    ({"workload": {"days": 3, "ects": 3}}, "workload.days", "unknown_field"),
    ({"eqf_level": 9}, "eqf_level", "out_of_range"),
    ({"eqf_level": True}, "eqf_level", "type"),
    ({"nqf_level": 6.5}, "nqf_level", "type"),
    ({"assessment_type": "exam"}, "assessment_type", "unknown_value"),
    ({"participation_form": "by post"}, "participation_form", "unknown_value"),
    ({"supervision": "supervised"}, "supervision", "unknown_value"),
    ({"name": {"de": "Voraussicht"}}, "name", "language"),
    ({"name": {"fi": "   "}}, "name", "required"),
    ({"name": "Ennakointi"}, "name", "type"),
    ({"name": {"fi": "x" * 201}}, "name", "too_long"),
    ({"description": {"fi": "bad\x00text"}}, "description", "control_character"),
    ({"learning_outcomes": [{"fi": "Hyvä."}, {"xx": "?"}]}, "learning_outcomes.1", "language"),
    ({"slug": "Ennakointi Osaaminen"}, "slug", "invalid"),
    ({"version": ""}, "version", "required"),
    ({"criteria_url": "ftp://example.org/x"}, "criteria_url", "invalid"),
    ({"quality_assurance_url": "/relative"}, "quality_assurance_url", "invalid"),
    ({"tags": ["POKOT", "POKOT"]}, "tags.1", "duplicate"),
    ({"competence_areas": ["cooking"]}, "competence_areas.0", "unknown_value"),
    (
        {"esco_skills": [{"uri": "http://example.org/skill", "name": {"en": "x"}}]},
        "esco_skills.0.uri",
        "invalid",
    ),
    ({"esco_skills": [{"uri": ESCO_URI}]}, "esco_skills.0.name", "required"),
    ({"creator": {"name": {"fi": "POKOT"}}}, "creator.id", "required"),
    ({"creator": {"name": {"fi": "POKOT"}, "id": "no scheme"}}, "creator.id", "invalid"),
    ({"requires": ["ennakointi"]}, "requires.0", "invalid"),
    ({"requires": ["Bad Slug"]}, "requires.0", "invalid"),
    ({"validity_months": 0}, "validity_months", "out_of_range"),
    ({"image": "../secret.svg"}, "image", "invalid"),
    ({"image": "badge.gif"}, "image", "invalid"),
    ({"colour": "blue"}, "colour", "unknown_field"),
]


@pytest.mark.parametrize(("change", "field", "code"), BAD_VALUES)
def test_bad_values_name_their_field(change: dict[str, Any], field: str, code: str) -> None:
    data = micro_credential()
    data.update(change)
    errors = validate_badge_class(data)
    assert [(error.field, error.code) for error in errors] == [(field, code)]
    assert errors[0].message


def test_one_error_per_field() -> None:
    data = micro_credential()
    data["name"] = {"de": 1, "xx": None}
    data["workload"] = {"ects": -3, "hours": -5}
    errors = validate_badge_class(data)
    assert fields(errors) == ["name", "workload.ects", "workload.hours"]
    data["learning_outcomes"] = [{"fi": "ok"}] * 2 + [{"xx": "?"}] * 9
    outcomes = [f"learning_outcomes.{index}" for index in range(2, 11)]
    assert fields(validate_badge_class(data)) == [
        "name",
        *outcomes,
        "workload.ects",
        "workload.hours",
    ]


@pytest.mark.parametrize("document", [None, [], "badge", 3])
def test_not_an_object(document: Any) -> None:
    assert validate_badge_class(document) == [
        FieldError("", "type", "a badge class is a JSON object")
    ]


def test_round_trip_through_the_file_format() -> None:
    badge_class = parse_badge_class(micro_credential())
    data = badge_class_to_dict(badge_class)
    assert parse_badge_class(data) == badge_class
    assert data["workload"] == {"hours": 81, "ects": 3, "competence_points": 3}
    assert set(data) <= set(FILE_FIELDS)
    assert None not in data.values()


# --- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "requested", "expected"),
    [
        ({"fi": "F", "sv": "S", "en": "E"}, "sv", "S"),
        ({"fi": "F", "en": "E"}, "sv", "F"),
        ({"sv": "S", "en": "E"}, "fi", "E"),
        ({"sv": "S", "en": "E"}, "de", "E"),
        ({"sv": "S"}, "en", "S"),
        ({"en": "E", "sv": "S"}, "sv", "S"),
    ],
)
def test_fallback_order(texts: dict[str, str], requested: str, expected: str) -> None:
    assert LocalizedText(texts).get(requested) == expected


def test_localized_text_rules() -> None:
    text = LocalizedText({"en": " E ", "fi": "F", "sv": ""})
    assert text.languages == ("fi", "en")
    assert text["en"] == "E"
    assert "sv" not in text
    with pytest.raises(KeyError):
        text["sv"]
    assert text == LocalizedText({"fi": "F", "en": "E"})
    assert hash(text) == hash(LocalizedText({"fi": "F", "en": "E"}))
    with pytest.raises(AttributeError):
        text.foo = "bar"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="at least one"):
        LocalizedText({"fi": "  "})
    with pytest.raises(ValueError, match="unsupported"):
        LocalizedText({"de": "D"})


def test_missing_translations_lists_field_and_language() -> None:
    data = micro_credential()
    data["learning_outcomes"][1] = {"fi": "Vain suomeksi."}
    data["prerequisites"] = {"fi": "Opettaja.", "en": "A teacher."}
    badge_class = parse_badge_class(data)
    assert missing_translations(badge_class) == [
        ("prerequisites", "sv"),
        ("creator.name", "sv"),
        ("creator.name", "en"),
        ("learning_outcomes.1", "sv"),
        ("learning_outcomes.1", "en"),
    ]


# --- the OB 3.0 Achievement --------------------------------------------------------------------


def achievement(lang: str = "fi", **kwargs: Any) -> dict[str, Any]:
    badge_class = parse_badge_class(kwargs.pop("data", None) or micro_credential())
    return achievement_json(badge_class, lang=lang, achievement_id=ACHIEVEMENT_ID, **kwargs)


def minimal_credential(achievement_: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:6f1c9e5e-2f6b-4bd5-9d0b-3b1f2d9c0a11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": "did:web:merkki.example:issuers:hamk",
            "type": ["Profile"],
            "name": "HAMK",
        },
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "type": ["AchievementSubject"],
            "achievement": achievement_,
        },
    }


def walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def test_native_properties() -> None:
    result = achievement(
        "sv",
        image_url="https://merkki.example/badges/ennakointi/v1/image.svg",
        related=[("fi", ACHIEVEMENT_ID), ("en", ACHIEVEMENT_ID.replace("/fi", "/en"))],
    )
    assert result["type"] == ["Achievement"]
    assert result["inLanguage"] == "sv"
    assert result["name"] == "Framsynskompetens"
    assert result["achievementType"] == "MicroCredential"
    assert result["creditsAvailable"] == 3
    assert isinstance(result["creditsAvailable"], int)
    assert result["humanCode"] == "POKOT-1"
    assert result["version"] == "1.0"
    assert result["tag"] == ["POKOT", "Framsynskompetens"]
    assert result["image"] == {
        "id": "https://merkki.example/badges/ennakointi/v1/image.svg",
        "type": "Image",
        "caption": "Framsynskompetens",
    }
    assert result["related"] == [
        {"id": ACHIEVEMENT_ID, "type": ["Related"], "inLanguage": "fi"},
        {"id": ACHIEVEMENT_ID.replace("/fi", "/en"), "type": ["Related"], "inLanguage": "en"},
    ]
    assert result["creator"] == {
        "id": "https://www.hamk.fi/projektit/pokot",
        "type": ["Profile"],
        "name": "POKOT",
        "url": "https://www.hamk.fi/projektit/pokot",
    }
    assert list(result)[-1] == "alignment"


def test_no_nulls_and_no_empty_arrays() -> None:
    sparse = {
        "slug": "pieni",
        "version": "1",
        "achievement_type": "Badge",
        "name": {"en": "Small"},
        "description": {"en": "Small badge."},
        "criteria_url": "https://merkki.example/criteria",
    }
    for result in (achievement(), achievement("en", data=sparse)):
        for node in walk(result):
            assert node is not None
            assert node != []
            assert node != ""
            assert node != {}
    assert achievement("en", data=sparse)["criteria"] == {"id": "https://merkki.example/criteria"}
    assert "alignment" not in achievement("en", data=sparse)


def test_learning_outcomes_in_criteria_and_description() -> None:
    data = micro_credential()
    data["learning_outcomes"][0]["en"] = "Can find\ndata."
    result = achievement("en", data=data)
    narrative = result["criteria"]["narrative"]
    assert narrative.startswith("Analyse.")
    assert "**Learning outcomes**\n\n- Can find data.\n- Can interpret." in narrative
    assert "**Type of assessment:** Portfolio. Portfolio." in narrative
    assert "**Prerequisites:** A teacher." in narrative
    assert "Learning outcomes:\n- Can find data.\n- Can interpret." in result["description"]


def alignment_by_type(result: dict[str, Any], target_type: str) -> list[dict[str, Any]]:
    return [entry for entry in result["alignment"] if entry["targetType"] == target_type]


def test_alignment_entries_carry_required_fields_and_valid_types() -> None:
    schema_enum = {"ceasn:Competency", "ceterms:Credential", "CFItem", "CFRubric",
                   "CFRubricCriterion", "CFRubricCriterionLevel", "CTDL"}  # fmt: skip
    for lang in vocab.LANGUAGES:
        result = achievement(lang, components=[("Osa", "https://merkki.example/badges/osa/v1")])
        assert len(result["alignment"]) == 11
        for entry in result["alignment"]:
            assert entry["type"] == ["Alignment"]
            assert isinstance(entry["targetName"], str)
            assert entry["targetName"].strip()
            assert re.match(r"^https?://\S+$", entry["targetUrl"])
            target_type = entry["targetType"]
            assert target_type in schema_enum or re.fullmatch(r"ext:[A-Za-z0-9._-]+", target_type)
            assert set(entry) <= {"type", "targetName", "targetUrl", "targetType",
                                  "targetCode", "targetDescription", "targetFramework"}  # fmt: skip


def test_eqf_esco_and_eu_vocabulary_alignments() -> None:
    result = achievement("fi")
    assert alignment_by_type(result, "ext:EQFLevel") == [
        {
            "type": ["Alignment"],
            "targetName": "EQF-taso 6",
            "targetUrl": "http://data.europa.eu/snb/eqf/6",
            "targetType": "ext:EQFLevel",
            "targetFramework": "European Qualifications Framework",
            "targetCode": "6",
        }
    ]
    [esco] = alignment_by_type(result, "ext:ESCOSkill")
    assert esco["targetUrl"] == ESCO_URI
    assert esco["targetFramework"] == "ESCO"
    assert esco["targetName"] == "yhteistyö"
    [assessment] = alignment_by_type(result, "ext:AssessmentType")
    assert assessment["targetUrl"] == "http://data.europa.eu/snb/assessment/4f03b91c0e"
    assert assessment["targetCode"] == "portfolio"
    assert assessment["targetDescription"] == "Portfolio."
    [participation] = alignment_by_type(result, "ext:ParticipationForm")
    assert participation["targetUrl"] == "http://data.europa.eu/snb/learning-assessment/e92d221e4d"
    assert participation["targetName"] == "Monimuoto-opiskelu"
    [ects] = alignment_by_type(result, "ext:ECTSCredits")
    assert ects["targetUrl"] == vocab.ECTS_URI
    assert ects["targetName"] == "3 opintopistettä (ECTS)"


def test_elements_without_an_eu_concept_point_at_the_badge_page() -> None:
    data = micro_credential() | {"supervision": "supervised-onsite-id"}
    result = achievement_json(
        parse_badge_class(data), lang="en", achievement_id=ACHIEVEMENT_ID + "#old"
    )
    urls = {entry["targetType"]: entry["targetUrl"] for entry in result["alignment"]}
    assert urls["ext:WorkloadHours"] == ACHIEVEMENT_ID + "#workload"
    assert urls["ext:CompetencePoints"] == ACHIEVEMENT_ID + "#competence-points"
    assert urls["ext:NQFLevel"] == ACHIEVEMENT_ID + "#nqf-level"
    assert urls["ext:SupervisionVerification"] == ACHIEVEMENT_ID + "#supervision"
    assert urls["ext:QualityAssurance"] == ACHIEVEMENT_ID + "#quality-assurance"
    data["quality_assurance_url"] = "https://merkki.example/laatu"
    result = achievement("en", data=data)
    assert alignment_by_type(result, "ext:QualityAssurance")[0]["targetUrl"] == (
        "https://merkki.example/laatu"
    )
    hours = alignment_by_type(result, "ext:WorkloadHours")[0]
    assert (hours["targetName"], hours["targetCode"]) == ("81 hours", "81")


def test_creator_profile_overrides_and_components_are_listed() -> None:
    profile = {"id": "did:web:merkki.example:issuers:hamk", "type": ["Profile"], "name": "HAMK"}
    result = achievement(
        "fi",
        creator_profile=profile,
        components=[("Perehtyminen", "https://merkki.example/badges/perehdytys/v1/fi")],
    )
    assert result["creator"] == profile
    assert (
        "**Koostuu osista**\n\n- [Perehtyminen](https://merkki.example/badges/perehdytys/v1/fi)"
        in (result["criteria"]["narrative"])
    )
    [component] = alignment_by_type(result, "ext:RequiredAchievement")
    assert component["targetUrl"] == "https://merkki.example/badges/perehdytys/v1/fi"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lang": "de"},
        {"achievement_id": "badges/ennakointi"},
        {"image_url": "image.svg"},
        {"related": [("fi", ACHIEVEMENT_ID)]},
        {"related": [("de", ACHIEVEMENT_ID)]},
        {"creator_profile": {"name": "no id"}},
        {"components": [("", "https://merkki.example/x")]},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"lang": "fi", "achievement_id": ACHIEVEMENT_ID} | kwargs
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        achievement_json(parse_badge_class(micro_credential()), **arguments)


@pytest.mark.parametrize("lang", vocab.LANGUAGES)
def test_every_term_is_defined(lang: str) -> None:
    result = achievement(
        lang,
        image_url="https://merkki.example/i.svg",
        related=[(other, ACHIEVEMENT_ID + other) for other in vocab.LANGUAGES if other != lang],
        components=[("Osa", "https://merkki.example/badges/osa")],
    )
    assert find_undefined_terms(minimal_credential(result)) == []


def test_undefined_term_check_catches_an_unknown_property() -> None:
    # The check above can fail: a property outside the OB context is reported.
    result = achievement()
    result["alignment"][0]["eqfLevel"] = 6
    assert find_undefined_terms(minimal_credential(result)) == ["eqfLevel"]


@pytest.mark.shared
@pytest.mark.parametrize("lang", vocab.LANGUAGES)
def test_achievement_validates_against_the_ob_schema(lang: str) -> None:
    validator = Draft201909Validator(load_json(OB_SCHEMA))
    result = achievement(
        lang,
        image_url="https://merkki.example/i.svg",
        related=[(other, ACHIEVEMENT_ID + other) for other in vocab.LANGUAGES if other != lang],
    )
    assert [error.message for error in validator.iter_errors(minimal_credential(result))] == []
    # The product's own copy of the schema, through a credential built by the engine.
    credential = build_credential(
        credential_id="urn:uuid:6f1c9e5e-2f6b-4bd5-9d0b-3b1f2d9c0a11",
        issuer=issuer_profile(did="did:web:merkki.example:issuers:hamk", name="HAMK"),
        achievement=result,
        recipient_name="Maija Meikäläinen",
        recipient_email="maija@example.org",
        salt="suola",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert schema_errors(credential) == []


@pytest.mark.shared
def test_schema_check_catches_a_broken_alignment() -> None:
    validator = Draft201909Validator(load_json(OB_SCHEMA))
    broken = copy.deepcopy(achievement())
    del broken["alignment"][0]["targetUrl"]
    broken["alignment"][1]["targetType"] = "EQF"
    errors = list(validator.iter_errors(minimal_credential(broken)))
    assert errors


# --- EU facts and vocabularies -----------------------------------------------------------------


def test_eu_facts_rows() -> None:
    data = micro_credential() | {"validity_months": 36, "stackability": {"fi": "Itsenäinen."}}
    badge_class = parse_badge_class(data)
    facts = dict(eu_facts(badge_class, "fi"))
    assert list(facts) == [
        "Oppimistulokset",
        "Laskennallinen työmäärä",
        "Taso",
        "Arvioinnin tyyppi",
        "Osallistumismuoto",
        "Laadunvarmistus",
        "Osallistumisen edellytykset",
        "Valvonta ja henkilöllisyyden tarkistus",
        "Yhdistettävyys muihin kokonaisuuksiin",
        "Voimassaolo",
    ]
    assert facts["Oppimistulokset"] == "Osaa hakea tietoa.\nOsaa tulkita."
    assert facts["Laskennallinen työmäärä"] == (
        "3 opintopistettä (ECTS), 81 tuntia, 3 osaamispistettä"
    )
    assert facts["Taso"] == "EQF-taso 6, NQF-taso 6"
    assert facts["Voimassaolo"] == "36 kuukautta"
    sv = dict(eu_facts(badge_class, "sv"))
    assert sv["Beräknad arbetsmängd"] == "3 studiepoäng (ECTS), 81 timmar, 3 kompetenspoäng"
    assert sv["Nivå"] == "EQF-nivå 6, NQF-nivå 6"
    # The Swedish stackability text is missing: it falls back to Finnish.
    assert sv["Integrering och stapelbarhet"] == "Itsenäinen."
    with pytest.raises(ValueError, match="lang"):
        eu_facts(badge_class, "de")


@pytest.mark.parametrize(
    ("value", "unit", "lang", "expected"),
    [
        (2.5, "ects", "fi", "2,5 opintopistettä (ECTS)"),
        (1, "ects", "fi", "1 opintopiste (ECTS)"),
        (1, "ects", "en", "1 ECTS credit"),
        (13.5, "hours", "sv", "13,5 timmar"),
        (1, "hours", "sv", "1 timme"),
        (0.25, "competence_points", "en", "0.25 competence points (osaamispisteet)"),
    ],
)
def test_quantities(value: float, unit: str, lang: str, expected: str) -> None:
    assert vocab.format_quantity(value, unit, lang) == expected


def test_every_label_exists_in_every_language() -> None:
    tables = [*vocab.LABELS.values(), *vocab.LEVEL_NAMES.values()]
    tables += [c.labels for v in vocab.VOCABULARIES.values() for c in v.concepts.values()]
    for table in tables:
        assert set(table) == set(vocab.LANGUAGES)
        assert all(text.strip() for text in table.values())


def test_concept_uris_belong_to_their_scheme() -> None:
    for vocabulary in vocab.VOCABULARIES.values():
        assert vocabulary.scheme_uri is not None
        base = vocabulary.scheme_uri.rsplit("/", 1)[0] + "/"
        for concept in vocabulary.concepts.values():
            if concept.uri is None:
                assert concept.source is None
                assert concept.eu_label is None
            else:
                assert concept.uri.startswith(base)
                assert concept.source in ("elm-sample", "eu-vocabulary")
                assert concept.eu_label
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", concept.key)


def _concepts_in(document: Any) -> dict[str, str]:
    """EU concept URI -> English label, as the ELM sample shows them."""
    found: dict[str, str] = {}
    for node in walk(document):
        if isinstance(node, dict) and node.get("type") == "Concept" and "id" in node:
            labels = node.get("prefLabel", {}).get("en", [])
            found[node["id"]] = labels[0] if labels else ""
    return found


@pytest.mark.shared
def test_sample_verified_concepts_match_the_elm_sample() -> None:
    concepts = _concepts_in(load_json(ELM_SAMPLE))
    checked = 0
    for vocabulary in vocab.VOCABULARIES.values():
        for concept in vocabulary.concepts.values():
            if concept.source == "elm-sample":
                assert concept.uri in concepts, concept.key
                assert concepts[concept.uri].lower() == (concept.eu_label or "").lower()
                checked += 1
    assert checked == 4
    assert concepts[vocab.EQF_LEVEL_URI.format(level=6)] == "Level 6"
    assert concepts[vocab.ECTS_URI] == vocab.ECTS_EU_LABEL


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_tabs_and_line_breaks_are_normalised_in_every_text() -> None:
    data = micro_credential()
    data["name"] = {"fi": "Ennakointi\tosaaminen\r\nII", "en": "Foresight"}
    data["description"] = {"fi": "Rivi 1\r\nRivi\t2\rRivi 3"}
    data["learning_outcomes"][0] = {"fi": "Osaa\thakea\r\ntietoa."}
    data["esco_skills"][0]["name"] = {"fi": "yhteis\ttyö\nja verkostot"}
    data["creator"]["name"] = {"fi": "PO\tKOT"}
    data["tags"] = ["PO\tKOT"]
    assert validate_badge_class(data) == []
    parsed = parse_badge_class(data, strict=True)
    # Single-line texts (names) turn line breaks into spaces; multi-line texts keep them as LF.
    assert parsed.name["fi"] == "Ennakointi osaaminen II"
    assert parsed.description["fi"] == "Rivi 1\nRivi 2\nRivi 3"
    assert parsed.learning_outcomes[0]["fi"] == "Osaa hakea\ntietoa."
    assert parsed.esco_skills[0].name["fi"] == "yhteis työ ja verkostot"
    assert parsed.creator is not None
    assert parsed.creator.name["fi"] == "PO KOT"
    assert parsed.tags == ("PO KOT",)
    achievement = achievement_json(parsed, lang="fi", achievement_id=ACHIEVEMENT_ID)
    assert achievement["name"] == "Ennakointi osaaminen II"
    assert achievement["description"].startswith("Rivi 1\nRivi 2\nRivi 3")
    assert "\t" not in str(achievement)
    assert "\r" not in str(achievement)


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize(
    ("change", "field", "named"),
    [
        (lambda d, c: d.update(name={"fi": f"Nimi{c}"}), "name", "name.fi"),
        (
            lambda d, c: d.update(description={"sv": f"Text{c}"}),
            "description",
            "description.sv",
        ),
        (
            lambda d, c: d["learning_outcomes"].__setitem__(1, {"en": f"Can{c}"}),
            "learning_outcomes.1",
            "learning_outcomes.1.en",
        ),
        (
            lambda d, c: d.update(criteria_narrative={"fi": f"x{c}"}),
            "criteria_narrative",
            "criteria_narrative.fi",
        ),
        (
            lambda d, c: d["esco_skills"][0].update(name={"fi": f"taito{c}"}),
            "esco_skills.0.name",
            "esco_skills.0.name.fi",
        ),
        (lambda d, c: d.update(human_code=f"P{c}1"), "human_code", "human_code"),
    ],
)
def test_control_characters_are_refused_naming_the_field(
    character: str, change: Any, field: str, named: str
) -> None:
    data = micro_credential()
    change(data, character)
    errors = validate_badge_class(data)
    assert [(error.field, error.code) for error in errors] == [(field, "control_character")]
    assert named in errors[0].message
    assert f"U+{ord(character):04X}" in errors[0].message
    with pytest.raises(BadgeClassError):
        parse_badge_class(data, strict=True)


def test_a_version_stored_before_the_rule_still_reads() -> None:
    # What an older Merkki accepted (tabs, line breaks in names, C1 controls) is stored as such;
    # reading it back normalises what it can and refuses nothing.
    data = micro_credential()
    data["name"] = {"fi": "Vanha\tnimi\nrivi"}
    data["description"] = {"fi": "Kuvaus\x85."}
    parsed = parse_badge_class(data)
    assert parsed.name["fi"] == "Vanha nimi rivi"
    assert parsed.description["fi"] == "Kuvaus\x85."
