"""Defining badge classes: validation (EU rule, slugs, requires), versions, copies, adoption,
package rules; and what a complete micro-credential issues."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.badgeclass.eu_profile import MANDATORY_EU_FIELDS
from issuer.core.keys import KeyStore
from issuer.models import Credential, Institution
from issuer.services import badge_class_admin, badge_classes, institutions, issuing, learner_keys
from issuer.services.badge_class_admin import BadgeClassInvalidError
from issuer.services.errors import InvalidInputError, NotFoundError
from issuer.services.images import check_image
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL
from tests.spec_files import load_json
from tests.web.staff.support import complete_micro_credential, simple_badge

EU_BADGE_CLASS_FIELDS = [
    f for e in MANDATORY_EU_FIELDS if e.source == "badge_class" for f in e.fields
]
OTHER_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>'


@pytest.fixture
def pair(session: Session, keystore: KeyStore, app: Any) -> tuple[Institution, Institution]:
    badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
    made = []
    for slug in ("a", "b"):
        made.append(
            institutions.create_institution(
                session,
                InstitutionDetails(
                    slug=slug,
                    name_fi=f"Oppilaitos {slug}",
                    name_sv="Läroanstalt",
                    name_en="Institution",
                    address_country="Suomi",
                ),
                keystore,
            )
        )
    return made[0], made[1]


def _issue(
    session: Session, keystore: KeyStore, institution: Institution, slug: str, lang: str = "fi"
) -> dict[str, Any]:
    credential = issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, slug),
        "learner@example.fi",
        "Liisa Oppija",
        lang,
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )
    document: dict[str, Any] = json.loads(credential.signed_json)
    return document


# --- the EU rule -------------------------------------------------------------------------------


def test_micro_credential_missing_every_eu_element_lists_each_field(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    data = complete_micro_credential("incomplete")
    for field in EU_BADGE_CLASS_FIELDS:
        if field != "name":
            data.pop(field)
    with pytest.raises(BadgeClassInvalidError) as raised:
        badge_class_admin.create_badge_class(session, a, data)
    fields = [error.field for error in raised.value.errors]
    assert fields == [
        "learning_outcomes",
        "workload",
        "eqf_level",
        "assessment_type",
        "participation_form",
        "quality_assurance",
    ]
    assert all(error.code == "required" for error in raised.value.errors)
    assert badge_classes.find_badge_class(session, "incomplete") is None


@pytest.mark.parametrize("field", [f for f in EU_BADGE_CLASS_FIELDS if f != "name"])
def test_each_missing_eu_element_alone_is_refused(
    session: Session, pair: tuple[Institution, Institution], field: str
) -> None:
    data = complete_micro_credential("one-missing")
    data.pop(field)
    errors = badge_class_admin.validate(session, data, pair[0])
    assert [(e.field, e.code) for e in errors] == [(field, "required")]


def test_a_badge_need_not_carry_eu_elements(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    saved = badge_class_admin.create_badge_class(session, pair[0], simple_badge("plain"))
    assert saved.version.version == 1
    assert saved.badge_class.institution_id == pair[0].id
    assert saved.version.image_media_type == "image/svg+xml"  # default artwork
    assert saved.version.data["image"] == "image.svg"


def test_complete_micro_credential_issues_every_element_and_validates_against_ob3_schema(
    session: Session, keystore: KeyStore, pair: tuple[Institution, Institution], spec_dir: Any
) -> None:
    a, _ = pair
    badge_class_admin.create_badge_class(
        session, a, complete_micro_credential("complete-mc"), published=True
    )
    credential = _issue(session, keystore, a, "complete-mc")
    schema = load_json("schemas/ob-v3p0-json/ob_v3p0_achievementcredential_schema.json")
    errors = [e.message for e in Draft201909Validator(schema).iter_errors(credential)]
    assert errors == []

    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    alignments = {entry["targetType"]: entry for entry in achievement["alignment"]}
    # Every mandatory element (EU-REC Annex I) is in the credential:
    assert subject["identifier"][0]["identityHash"].startswith("sha256$")  # learner
    assert achievement["name"] == "Työturvallisuuden perusteet"  # title
    assert credential["issuer"]["address"]["addressCountryCode"] == "FI"  # country
    assert credential["issuer"]["name"] == "Oppilaitos a"  # awarding body
    assert credential["validFrom"]  # date of issue
    assert "Osallistuja osaa tunnistaa vaaratilanteet." in achievement["description"]
    assert achievement["creditsAvailable"] == 1  # workload (ECTS)
    assert {"ext:WorkloadHours", "ext:CompetencePoints", "ext:ECTSCredits"} <= set(alignments)
    assert alignments["ext:EQFLevel"]["targetUrl"] == "http://data.europa.eu/snb/eqf/4"
    assert alignments["ext:AssessmentType"]["targetCode"] == "practical-assessment"
    assert alignments["ext:ParticipationForm"]["targetCode"] == "work-based"
    assert alignments["ext:QualityAssurance"]["targetDescription"].startswith("Koulutuksen")


def test_swedish_credential_carries_swedish_texts_and_links_other_languages(
    session: Session, keystore: KeyStore, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    saved = badge_class_admin.create_badge_class(
        session, a, complete_micro_credential("svenska"), published=True
    )
    credential = _issue(session, keystore, a, "svenska", lang="sv")
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["inLanguage"] == "sv"
    assert achievement["name"] == "Grunderna i arbetarskydd"
    assert "Deltagaren kan identifiera risksituationer." in achievement["description"]
    assert achievement["id"] == f"{BASE_URL}/badges/svenska/v{saved.version.version}/sv"
    related = {entry["inLanguage"]: entry["id"] for entry in achievement["related"]}
    assert related == {
        "fi": f"{BASE_URL}/badges/svenska/v1/fi",
        "en": f"{BASE_URL}/badges/svenska/v1/en",
    }
    assert credential["issuer"]["name"] == "Läroanstalt"


# --- slugs and requires ------------------------------------------------------------------------


def test_slugs_are_unique_across_institutions_and_national_ones(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, b = pair
    badge_class_admin.create_badge_class(session, a, simple_badge("taken"))
    for owner, slug in ((b, "taken"), (b, "test-badge")):
        with pytest.raises(BadgeClassInvalidError) as raised:
            badge_class_admin.create_badge_class(session, owner, simple_badge(slug))
        assert [(e.field, e.code) for e in raised.value.errors] == [("slug", "duplicate")]


def test_requires_must_name_badge_classes_the_institution_may_use(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, b = pair
    badge_class_admin.create_badge_class(session, b, simple_badge("b-only"))
    badge_class_admin.create_badge_class(session, a, simple_badge("a-own"))
    data = simple_badge("package", requires=["test-badge", "a-own", "b-only", "nothing-here"])
    errors = badge_class_admin.validate(session, data, a)
    assert [(e.field, e.code) for e in errors] == [
        ("requires.2", "unknown_value"),
        ("requires.3", "unknown_value"),
    ]
    # The engine's own rule still holds: a badge class cannot require itself.
    errors = badge_class_admin.validate(session, simple_badge("me", requires=["me"]), a)
    assert [(e.field, e.code) for e in errors] == [("requires.0", "invalid")]


def test_national_package_may_only_require_national_badge_classes(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    badge_class_admin.create_badge_class(session, a, simple_badge("a-own"))
    errors = badge_class_admin.validate(
        session, simple_badge("national-pack", requires=["a-own", "test-badge"]), None
    )
    assert [e.field for e in errors] == ["requires.0"]


# --- versions ----------------------------------------------------------------------------------


def test_editing_an_unissued_version_corrects_it_in_place(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    saved = badge_class_admin.create_badge_class(session, a, simple_badge("draft"))
    changed = simple_badge("draft", description={"fi": "Uusi kuvaus."})
    result = badge_class_admin.update_badge_class(session, saved.badge_class, changed)
    assert (result.new_version, result.changed, result.version.version) == (False, True, 1)
    assert result.version.data["description"] == {"fi": "Uusi kuvaus."}
    again = badge_class_admin.update_badge_class(session, saved.badge_class, changed)
    assert (again.new_version, again.changed) == (False, False)


def test_editing_an_issued_badge_class_adds_a_version_and_keeps_the_credential(
    session: Session, keystore: KeyStore, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    saved = badge_class_admin.create_badge_class(
        session, a, complete_micro_credential("issued-once"), published=True
    )
    first = _issue(session, keystore, a, "issued-once")
    stored = session.get(Credential, first["id"].rsplit("/", 1)[1])
    assert stored is not None
    signed_before = stored.signed_json
    changed = complete_micro_credential("issued-once", eqf_level=5)
    result = badge_class_admin.update_badge_class(session, saved.badge_class, changed)
    assert (result.new_version, result.version.version) == (True, 2)
    assert saved.badge_class.current_version == 2
    versions = saved.badge_class.versions
    assert [v.data["eqf_level"] for v in versions] == [4, 5]
    assert stored.signed_json == signed_before
    assert stored.badge_class_version.version == 1
    second = _issue(session, keystore, a, "issued-once")
    assert second["credentialSubject"]["achievement"]["id"].endswith("/v2/fi")


def test_new_artwork_always_makes_a_new_version(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    saved = badge_class_admin.create_badge_class(session, a, simple_badge("art"))
    image = check_image(OTHER_SVG, filename="new.svg")
    result = badge_class_admin.update_badge_class(
        session, saved.badge_class, saved.version.data, image=image
    )
    assert (result.new_version, result.version.version) == (True, 2)
    assert result.version.image == image.data


def test_the_slug_cannot_change(session: Session, pair: tuple[Institution, Institution]) -> None:
    a, _ = pair
    saved = badge_class_admin.create_badge_class(session, a, simple_badge("fixed"))
    with pytest.raises(BadgeClassInvalidError) as raised:
        badge_class_admin.update_badge_class(session, saved.badge_class, simple_badge("moved"))
    assert [(e.field, e.code) for e in raised.value.errors] == [("slug", "immutable")]


# --- copies, adoption, who awards --------------------------------------------------------------


def test_copy_of_a_national_badge_class_is_the_institutions_own_draft(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, _ = pair
    national = badge_classes.get_badge_class(session, "test-badge")
    copy = badge_class_admin.copy_badge_class(session, national, a, "our-test-badge")
    assert copy.badge_class.institution_id == a.id
    assert not copy.badge_class.published
    assert copy.version.data["slug"] == "our-test-badge"
    assert "creator" not in copy.version.data
    original = badge_classes.current_version(session, national)
    assert copy.version.image == original.image
    assert copy.version.data["name"] == original.data["name"]


def test_another_institutions_badge_class_cannot_be_copied(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, b = pair
    theirs = badge_class_admin.create_badge_class(session, b, simple_badge("theirs"))
    with pytest.raises(NotFoundError):
        badge_class_admin.copy_badge_class(session, theirs.badge_class, a, "mine-now")


def test_awarding_institutions_are_the_owner_or_adopters_and_issuers(
    session: Session, keystore: KeyStore, pair: tuple[Institution, Institution]
) -> None:
    a, b = pair
    own = badge_class_admin.create_badge_class(session, a, simple_badge("own"), published=True)
    assert badge_class_admin.awarding_institutions(session, own.badge_class) == [a]
    national = badge_classes.get_badge_class(session, "test-badge")
    assert badge_class_admin.awarding_institutions(session, national) == []
    badge_class_admin.set_adopted(session, b, national, True)
    assert badge_class_admin.awarding_institutions(session, national) == [b]
    _issue(session, keystore, a, "test-badge")
    assert badge_class_admin.awarding_institutions(session, national) == [a, b]
    badge_class_admin.set_adopted(session, b, national, False)
    assert badge_class_admin.awarding_institutions(session, national) == [a]
    with pytest.raises(InvalidInputError):
        badge_class_admin.set_adopted(session, b, own.badge_class, True)


# --- packages ----------------------------------------------------------------------------------


def test_package_rules_list_requirements_and_auto_issue_per_institution(
    session: Session, pair: tuple[Institution, Institution]
) -> None:
    a, b = pair
    badge_class_admin.create_badge_class(session, a, simple_badge("module-1"), published=True)
    package = badge_class_admin.create_badge_class(
        session,
        a,
        simple_badge("a-package", requires=["module-1", "test-badge"]),
        published=True,
        auto_issue=True,
    )
    rules = {rule.package.slug: rule for rule in badge_class_admin.package_rules(session, a)}
    assert set(rules) == {"a-package"}
    assert [bc.slug for bc in rules["a-package"].requires] == ["module-1", "test-badge"]
    assert rules["a-package"].auto_issue is True
    assert badge_class_admin.package_rules(session, b) == []
    national = badge_classes.get_badge_class(session, "test-badge")
    assert [r.package.slug for r in badge_class_admin.packages_requiring(session, a, national)] == [
        "a-package"
    ]
    badge_class_admin.set_auto_issue(session, a, package.badge_class, False)
    assert badge_class_admin.auto_issue(session, a, package.badge_class) is False
    with pytest.raises(NotFoundError):
        badge_class_admin.set_auto_issue(session, b, package.badge_class, True)


def test_a_slug_taken_between_check_and_insert_is_a_field_error(
    session: Session, pair: tuple[Institution, Institution], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    badge_class_admin.create_badge_class(session, a, simple_badge("race"))
    # As if the other request's row appeared after this one's check.
    monkeypatch.setattr(badge_class_admin, "validate", lambda *args, **kwargs: [])
    with pytest.raises(BadgeClassInvalidError) as raised:
        badge_class_admin.create_badge_class(session, b, simple_badge("race"))
    assert [(e.field, e.code) for e in raised.value.errors] == [("slug", "duplicate")]
    # The session is still usable: only the savepoint was rolled back.
    assert badge_classes.get_badge_class(session, "race").institution_id == a.id
