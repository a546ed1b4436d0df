"""EU controlled vocabularies behind the micro-credential elements, and the labels Merkki shows.

Council Recommendation 2022/C 243/02, Annex I, lists the elements a micro-credential carries
(ob3-facts.md §8). OB 3.0 has no native slot for several of them, so the achievement carries
them as ``alignment`` entries whose ``targetUrl`` is the EU concept (DESIGN.md "EU micro-credential
profile"). This module holds:

* the controlled values a badge class may use (assessment type, form of participation,
  supervision and identity verification), each with the EU concept URI where one exists;
* fixed EU URIs (EQF levels, the ECTS credit system);
* every label Merkki prints for these elements, in fi / sv / en, in one place (the web layer's
  gettext catalogue will take over page chrome later; these labels also go into signed
  credentials, so they must not depend on a request's locale machinery).

Provenance of the URIs (``Concept.source``):

* ``"elm-sample"``: the concept appears, with the same English label, in the European Learning
  Model micro-credential example ``spec/samples/eu-elm-edc/AA-Annex1-MC-unsigned.json``
  (tests/core/test_badgeclass.py checks each against the file);
* ``"eu-vocabulary"``: taken from the EU vocabulary concept lists as carried by ELM tooling
  (the concept schemes ``http://data.europa.eu/snb/assessment/25831c2`` and
  ``http://data.europa.eu/snb/learning-assessment/25831c2``), with the English label published
  there; not present in the ELM sample;
* ``None`` (no URI): no EU concept could be confirmed. The alignment then points at an anchor
  of the badge class's own page (``<achievement id>#<anchor>``) instead of guessing a URI.

The English ``eu_label`` is the EU's preferred label; the fi/sv/en ``labels`` are Merkki's own
wording for readers (the EU also publishes fi and sv labels, which were not available here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

#: The languages every badge-class text may have (DESIGN.md "Languages").
LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")

#: Order in which a missing translation is replaced: the requested language first, then
#: Finnish (the language most badge classes are written in), English (the common language of
#: readers who have neither national language), Swedish.
FALLBACK_ORDER: tuple[str, ...] = ("fi", "en", "sv")

Source = Literal["elm-sample", "eu-vocabulary"]


def _labels(fi: str, sv: str, en: str) -> Mapping[str, str]:
    return MappingProxyType({"fi": fi, "sv": sv, "en": en})


@dataclass(frozen=True)
class Concept:
    """One controlled value of a badge-class field."""

    key: str
    """The value stored in badge classes (``badge.json``) and used as ``targetCode``."""
    labels: Mapping[str, str]
    uri: str | None = None
    """EU concept URI, or None where no EU concept is confirmed (see module docstring)."""
    eu_label: str | None = None
    """The EU's English preferred label of ``uri``."""
    source: Source | None = None


@dataclass(frozen=True)
class Vocabulary:
    """A controlled list, and how its values become OB 3.0 ``Alignment`` entries."""

    field: str
    """Badge-class field that takes values of this list."""
    scheme_uri: str | None
    framework: str
    """``targetFramework`` of the alignment (a proper name; not translated)."""
    target_type: str
    """``targetType`` of the alignment (an ``ext:`` value, OB 3.0 "AlignmentTargetType")."""
    anchor: str
    """Fragment of the badge page used as ``targetUrl`` when a concept has no EU URI."""
    concepts: Mapping[str, Concept]

    def concept(self, key: str) -> Concept | None:
        return self.concepts.get(key)


def _vocabulary(
    field: str,
    scheme_uri: str | None,
    framework: str,
    target_type: str,
    anchor: str,
    concepts: list[Concept],
) -> Vocabulary:
    return Vocabulary(
        field=field,
        scheme_uri=scheme_uri,
        framework=framework,
        target_type=target_type,
        anchor=anchor,
        concepts=MappingProxyType({concept.key: concept for concept in concepts}),
    )


_ASSESSMENT = "http://data.europa.eu/snb/assessment/"

#: Type of assessment (EU-REC Annex I; ELM ``provenBy.specifiedBy.dcType``).
ASSESSMENT_TYPES = _vocabulary(
    "assessment_type",
    _ASSESSMENT + "25831c2",
    "European Learning Model: Assessment type",
    "ext:AssessmentType",
    "assessment",
    [
        Concept(
            "artefact-assessment",
            _labels("Tuotoksen arviointi", "Bedömning av arbetsprodukt", "Artefact assessment"),
            _ASSESSMENT + "de4d165a6c",
            "artefact assessment",
            "elm-sample",
        ),
        Concept(
            "portfolio",
            _labels("Portfolio", "Portfolio", "Portfolio"),
            _ASSESSMENT + "4f03b91c0e",
            "portfolio",
            "eu-vocabulary",
        ),
        Concept(
            "practical-assessment",
            _labels(
                "Käytännön arviointi (näyttö)",
                "Praktisk bedömning (yrkesprov)",
                "Practical assessment (competence demonstration)",
            ),
            _ASSESSMENT + "6a4db9f11d",
            "practical assessment",
            "eu-vocabulary",
        ),
        Concept(
            "project-work",
            _labels("Projektityö", "Projektarbete", "Project work"),
            _ASSESSMENT + "795dac4096",
            "project work",
            "eu-vocabulary",
        ),
        Concept(
            "written-examination",
            _labels("Kirjallinen koe", "Skriftligt prov", "Written examination"),
            _ASSESSMENT + "6e6cb2cc78",
            "written examination",
            "eu-vocabulary",
        ),
        Concept(
            "oral-examination",
            _labels("Suullinen koe", "Muntligt prov", "Oral examination"),
            _ASSESSMENT + "d30284d7df",
            "oral examination",
            "eu-vocabulary",
        ),
        Concept(
            "continuous-evaluation",
            _labels("Jatkuva arviointi", "Fortlöpande bedömning", "Continuous evaluation"),
            _ASSESSMENT + "3484bd7e51",
            "continuous evaluation",
            "eu-vocabulary",
        ),
        Concept(
            "marked-assignment",
            _labels("Arvioitu tehtävä", "Bedömd uppgift", "Marked assignment"),
            _ASSESSMENT + "2939dae15f",
            "marked assignment",
            "eu-vocabulary",
        ),
        Concept(
            "peer-assessment",
            _labels("Vertaisarviointi", "Kamratbedömning", "Peer assessment"),
            _ASSESSMENT + "19a2e5e671",
            "peer assessment",
            "eu-vocabulary",
        ),
        Concept(
            "presentation",
            _labels("Esitys", "Presentation", "Presentation"),
            _ASSESSMENT + "c_04b30a72",
            "Presentation",
            "eu-vocabulary",
        ),
        # Finnish "osaamisen tunnistaminen ja tunnustaminen" (recognition of prior learning)
        # has no concept in the EU assessment-type list.
        Concept(
            "recognition-of-prior-learning",
            _labels(
                "Aiemmin hankitun osaamisen tunnistaminen ja tunnustaminen",
                "Identifiering och erkännande av tidigare förvärvat kunnande",
                "Recognition of prior learning",
            ),
        ),
    ],
)

_MODE = "http://data.europa.eu/snb/learning-assessment/"

#: Form of participation in the learning activity (EU-REC Annex I; ELM "mode of learning and
#: assessment", ``influencedBy.specifiedBy.mode``).
PARTICIPATION_FORMS = _vocabulary(
    "participation_form",
    _MODE + "25831c2",
    "European Learning Model: Mode of learning and assessment",
    "ext:ParticipationForm",
    "participation",
    [
        Concept(
            "online",
            _labels("Verkko-opiskelu", "Distansstudier på nätet", "Online"),
            _MODE + "920fbb3cbe",
            "Online",
            "elm-sample",
        ),
        Concept(
            "blended",
            _labels("Monimuoto-opiskelu", "Flerformsstudier", "Blended"),
            _MODE + "e92d221e4d",
            "Blended",
            "elm-sample",
        ),
        Concept(
            "onsite",
            _labels("Lähiopiskelu", "Närstudier", "On-site"),
            _MODE + "9191af2ed9",
            "Presential",
            "eu-vocabulary",
        ),
        Concept(
            "hybrid",
            _labels("Hybridiopiskelu", "Hybridstudier", "Hybrid"),
            _MODE + "c_3a90b26d",
            "Hybrid",
            "eu-vocabulary",
        ),
        Concept(
            "work-based",
            _labels("Työssä oppiminen", "Lärande i arbetet", "Work-based learning"),
            _MODE + "729f3bed4b",
            "Workbased",
            "eu-vocabulary",
        ),
    ],
)

_SUPERVISION = "http://data.europa.eu/snb/supervision-verification/"

#: Supervision and identity verification during assessment (EU-REC Annex I, optional; ELM
#: ``provenBy.idVerification``). Only the unsupervised value is confirmed by the ELM sample;
#: the other three concepts' URIs could not be confirmed, so they point at the badge page.
SUPERVISION = _vocabulary(
    "supervision",
    _SUPERVISION + "25831c2",
    "European Learning Model: Supervision and verification",
    "ext:SupervisionVerification",
    "supervision",
    [
        Concept(
            "unsupervised-no-id",
            _labels(
                "Ei valvontaa eikä henkilöllisyyden tarkistusta",
                "Utan övervakning och utan identitetskontroll",
                "Unsupervised, without identity verification",
            ),
            _SUPERVISION + "c598449d64",
            "Unsupervised without ID Verification",
            "elm-sample",
        ),
        Concept(
            "supervised-no-id",
            _labels(
                "Valvottu, ei henkilöllisyyden tarkistusta",
                "Övervakad, utan identitetskontroll",
                "Supervised, without identity verification",
            ),
        ),
        Concept(
            "supervised-online-id",
            _labels(
                "Valvottu verkossa, henkilöllisyys tarkistettu",
                "Övervakad på nätet, med identitetskontroll",
                "Supervised online, with identity verification",
            ),
        ),
        Concept(
            "supervised-onsite-id",
            _labels(
                "Valvottu paikan päällä, henkilöllisyys tarkistettu",
                "Övervakad på plats, med identitetskontroll",
                "Supervised on-site, with identity verification",
            ),
        ),
    ],
)

VOCABULARIES: Mapping[str, Vocabulary] = MappingProxyType(
    {
        vocabulary.field: vocabulary
        for vocabulary in (ASSESSMENT_TYPES, PARTICIPATION_FORMS, SUPERVISION)
    }
)

# --- EQF, NQF, credits -------------------------------------------------------------------------

#: EQF level N is the concept ``http://data.europa.eu/snb/eqf/N`` (ELM sample: ``eqf/6``).
EQF_LEVEL_URI = "http://data.europa.eu/snb/eqf/{level}"
EQF_SCHEME_URI = "http://data.europa.eu/snb/eqf/25831c2"
EQF_FRAMEWORK = "European Qualifications Framework"
EQF_TARGET_TYPE = "ext:EQFLevel"

#: The Finnish NQF (Act 93/2017 on the framework for national qualifications and other
#: competence modules) has levels 1-8 aligned with the EQF. Its levels' EU concept URIs (the
#: "qdr" scheme of the ELM sample) could not be confirmed, so the alignment points at the badge
#: page.
NQF_FRAMEWORK = "Finnish National Qualifications Framework"
NQF_TARGET_TYPE = "ext:NQFLevel"
NQF_ANCHOR = "nqf-level"

#: The ECTS credit system as a concept (ELM sample ``specifiedBy.creditPoint.framework``).
ECTS_URI = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
ECTS_EU_LABEL = "European Credit Transfer System"
ECTS_FRAMEWORK = "European Credit Transfer and Accumulation System (ECTS)"
ECTS_TARGET_TYPE = "ext:ECTSCredits"

WORKLOAD_HOURS_FRAMEWORK = "Notional workload in hours"
WORKLOAD_HOURS_TARGET_TYPE = "ext:WorkloadHours"
WORKLOAD_HOURS_ANCHOR = "workload"

#: Finnish VET competence points (osaamispiste, kompetenspoäng): no EU concept exists.
COMPETENCE_POINTS_FRAMEWORK = "Finnish VET competence points (osaamispisteet)"
COMPETENCE_POINTS_TARGET_TYPE = "ext:CompetencePoints"
COMPETENCE_POINTS_ANCHOR = "competence-points"

QUALITY_ASSURANCE_FRAMEWORK = "Quality assurance of the micro-credential"
QUALITY_ASSURANCE_TARGET_TYPE = "ext:QualityAssurance"
QUALITY_ASSURANCE_ANCHOR = "quality-assurance"

ESCO_SKILL_PREFIX = "http://data.europa.eu/esco/skill/"
ESCO_FRAMEWORK = "ESCO"
ESCO_TARGET_TYPE = "ext:ESCOSkill"

REQUIRED_ACHIEVEMENT_FRAMEWORK = "Components of the micro-credential package"
REQUIRED_ACHIEVEMENT_TARGET_TYPE = "ext:RequiredAchievement"

#: ``targetName`` of the level alignments ("EQF level 6").
LEVEL_NAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "eqf": _labels("EQF-taso {level}", "EQF-nivå {level}", "EQF level {level}"),
        "nqf": _labels("NQF-taso {level}", "NQF-nivå {level}", "NQF level {level}"),
    }
)

# --- labels ------------------------------------------------------------------------------------

#: Labels of the EU elements and the other badge-class facts, for pages and credentials.
LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "learner_identification": _labels(
            "Oppijan tunnistetiedot",
            "Identifiering av den studerande",
            "Identification of the learner",
        ),
        "title": _labels("Nimi", "Namn", "Title"),
        "issuer_country": _labels("Myöntäjän maa", "Utfärdarens land", "Country of the issuer"),
        "awarding_body": _labels("Myöntäjä", "Utfärdande organisation", "Awarding body"),
        "date_of_issue": _labels("Myöntämispäivä", "Utfärdandedatum", "Date of issue"),
        "learning_outcomes": _labels("Oppimistulokset", "Läranderesultat", "Learning outcomes"),
        "workload": _labels("Laskennallinen työmäärä", "Beräknad arbetsmängd", "Notional workload"),
        "level": _labels("Taso", "Nivå", "Level"),
        "assessment_type": _labels("Arvioinnin tyyppi", "Typ av bedömning", "Type of assessment"),
        "participation_form": _labels(
            "Osallistumismuoto", "Deltagandeform", "Form of participation"
        ),
        "quality_assurance": _labels(
            "Laadunvarmistus", "Kvalitetssäkring", "Type of quality assurance"
        ),
        "prerequisites": _labels("Osallistumisen edellytykset", "Förkunskapskrav", "Prerequisites"),
        "supervision": _labels(
            "Valvonta ja henkilöllisyyden tarkistus",
            "Övervakning och identitetskontroll",
            "Supervision and identity verification",
        ),
        "stackability": _labels(
            "Yhdistettävyys muihin kokonaisuuksiin",
            "Integrering och stapelbarhet",
            "Integration and stackability",
        ),
        "further_information": _labels("Lisätietoja", "Mer information", "Further information"),
        "validity": _labels("Voimassaolo", "Giltighet", "Validity"),
        "requires": _labels("Koostuu osista", "Består av", "Consists of"),
        "creator": _labels("Määrittelijä", "Definierad av", "Defined by"),
        "field_of_study": _labels("Ala", "Område", "Field of study"),
        "competence_areas": _labels("Osaamisalueet", "Kompetensområden", "Competence areas"),
        "esco_skills": _labels("ESCO-taidot", "ESCO-färdigheter", "ESCO skills"),
    }
)


def label(key: str, lang: str) -> str:
    """The label ``key`` in ``lang`` (falling back like every text, see ``FALLBACK_ORDER``)."""
    labels = LABELS[key]
    for candidate in (lang, *FALLBACK_ORDER):
        if candidate in labels:
            return labels[candidate]
    raise KeyError(key)  # pragma: no cover - every label has all three languages


# --- quantities --------------------------------------------------------------------------------

#: (singular, plural) unit words per language; Finnish uses the partitive plural after every
#: number but exactly 1 (also after decimals: "2,5 opintopistettä").
UNITS: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "ects": MappingProxyType(
            {
                "fi": ("opintopiste (ECTS)", "opintopistettä (ECTS)"),
                "sv": ("studiepoäng (ECTS)", "studiepoäng (ECTS)"),
                "en": ("ECTS credit", "ECTS credits"),
            }
        ),
        "hours": MappingProxyType(
            {"fi": ("tunti", "tuntia"), "sv": ("timme", "timmar"), "en": ("hour", "hours")}
        ),
        "competence_points": MappingProxyType(
            {
                "fi": ("osaamispiste", "osaamispistettä"),
                "sv": ("kompetenspoäng", "kompetenspoäng"),
                "en": ("competence point (osaamispiste)", "competence points (osaamispisteet)"),
            }
        ),
        "months": MappingProxyType(
            {"fi": ("kuukausi", "kuukautta"), "sv": ("månad", "månader"), "en": ("month", "months")}
        ),
    }
)


def format_number(value: float, lang: str) -> str:
    """``value`` rounded to two decimals without trailing zeros, with the decimal comma of
    Finnish and Swedish (``2.5`` -> ``"2,5"``, ``3.0`` -> ``"3"``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang in ("fi", "sv") else text


def format_quantity(value: float, unit: str, lang: str) -> str:
    """E.g. ``format_quantity(2.5, "ects", "fi")`` -> ``"2,5 opintopistettä (ECTS)"``."""
    words = UNITS[unit]
    singular, plural = words.get(lang) or words["en"]
    return f"{format_number(value, lang)} {singular if value == 1 else plural}"
