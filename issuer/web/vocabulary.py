"""Labels of the controlled values a page shows, in the reader's language (issue 15).

A badge class stores OB 3.0's ``achievementType`` as the enumeration's own token
(``MicroCredential``, ``CertificateOfCompletion``; OB 3.0 §"AchievementType"), which is what
goes into a credential; people read a label. The EU vocabularies (assessment type, form of
participation, supervision) carry their own fi/sv/en labels (``issuer.core.eu_vocabularies``).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale, gettext

#: The labels by locale: the catalogues are loaded once per process, so a label never changes,
#: and a catalogue page shows one per card.
_LABELS: dict[str, dict[str, str]] = {}


def achievement_type_labels() -> dict[str, str]:
    """The 31 OB 3.0 achievement types -> label, in the current language. Plain ``gettext`` in
    a function so that the message extraction finds them (tests/web/test_i18n.py)."""
    return {
        "Achievement": gettext("Achievement"),
        "ApprenticeshipCertificate": gettext("Apprenticeship certificate"),
        "Assessment": gettext("Assessment"),
        "Assignment": gettext("Assignment"),
        "AssociateDegree": gettext("Associate degree"),
        "Award": gettext("Award"),
        "Badge": gettext("Badge"),
        "BachelorDegree": gettext("Bachelor's degree"),
        "Certificate": gettext("Certificate"),
        "CertificateOfCompletion": gettext("Certificate of completion"),
        "Certification": gettext("Certification"),
        "CommunityService": gettext("Community service"),
        "Competency": gettext("Competency"),
        "Course": gettext("Course"),
        "CoCurricular": gettext("Co-curricular activity"),
        "Degree": gettext("Degree"),
        "Diploma": gettext("Diploma"),
        "DoctoralDegree": gettext("Doctoral degree"),
        "Fieldwork": gettext("Fieldwork"),
        "GeneralEducationDevelopment": gettext("General education development (GED)"),
        "JourneymanCertificate": gettext("Journeyman certificate"),
        "LearningProgram": gettext("Learning programme"),
        "License": gettext("Licence"),
        "Membership": gettext("Membership"),
        "ProfessionalDoctorate": gettext("Professional doctorate"),
        "QualityAssuranceCredential": gettext("Quality assurance credential"),
        "MasterCertificate": gettext("Master certificate"),
        "MasterDegree": gettext("Master's degree"),
        "MicroCredential": gettext("Micro-credential"),
        "ResearchDoctorate": gettext("Research doctorate"),
        "SecondarySchoolDiploma": gettext("Secondary school diploma"),
    }


def achievement_type(value: object) -> str:
    """The label of an achievement type; an extension (``ext:...``) or unknown value as it is."""
    text = "" if value is None else str(value)
    locale = str(get_locale())
    labels = _LABELS.get(locale)
    if labels is None:
        labels = _LABELS[locale] = achievement_type_labels()
    return labels.get(text, text)


def eqf_level(level: object) -> str:
    """ "EQF level 4" in the reader's language."""
    return str(gettext("EQF level %(level)s", level=level))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["achievement_type"] = achievement_type
    app.jinja_env.filters["eqf_level"] = eqf_level
