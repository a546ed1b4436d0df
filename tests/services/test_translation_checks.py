"""Issue 15: a badge class is published only when it is complete in every language it claims,
refusals name the missing field and language, and issue-input and cohort-file refusals are in
the reader's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from issuer.core.badgeclass.fileformat import parse_badge_class
from issuer.core.badgeclass.model import claimed_languages
from issuer.core.keys import KeyStore
from issuer.models import Institution
from issuer.services import (
    badge_class_admin,
    bulk_csv,
    field_labels,
    institutions,
    issue_input,
)
from issuer.services.badge_class_admin import NotTranslatedError
from issuer.services.institutions import InstitutionDetails
from issuer.services.issue_input import IssueInput
from issuer.services.translation import english, translator, use_reader_translator
from tests.web.staff.support import simple_badge

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def half_swedish(slug: str, **changes: Any) -> dict[str, Any]:
    """Named in Finnish and Swedish; the description and one learning outcome only in Finnish."""
    return simple_badge(
        slug,
        name={"fi": "Puoliksi", "sv": "Halvt"},
        description={"fi": "Kuvaus."},
        criteria_narrative={"fi": "Kriteerit.", "sv": "Kriterier."},
        learning_outcomes=[{"fi": "Osaa.", "sv": "Kan."}, {"fi": "Tietää."}],
        **changes,
    )


@pytest.fixture
def institution(session: Session, keystore: KeyStore) -> Institution:
    return institutions.create_institution(
        session,
        InstitutionDetails(slug="a", name_fi="Oppilaitos", name_sv="Läroanstalt", name_en="School"),
        keystore,
    )


@pytest.fixture
def finnish_reader() -> Iterator[None]:
    """A reader of Finnish, as the web layer installs for a request in Finnish."""
    use_reader_translator(translator("fi"))
    try:
        yield
    finally:
        use_reader_translator(english)


# --- publishing -------------------------------------------------------------------------------


def test_a_badge_class_claims_the_languages_its_name_is_in() -> None:
    assert claimed_languages(parse_badge_class(half_swedish("x"))) == ["fi", "sv"]
    finnish = simple_badge("y", name={"fi": "Vain suomeksi"}, description={"fi": "K."})
    assert claimed_languages(parse_badge_class(finnish)) == ["fi"]


def test_publishing_an_untranslated_badge_class_names_each_field_and_language(
    session: Session, institution: Institution
) -> None:
    saved = badge_class_admin.create_badge_class(session, institution, half_swedish("half"))
    with pytest.raises(NotTranslatedError) as refused:
        badge_class_admin.set_published(session, saved.badge_class, True)
    assert refused.value.missing == [("description", "sv"), ("learning_outcomes.1", "sv")]
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("description", "not_translated"),
        ("learning_outcomes.1", "not_translated"),
    }
    assert all("Swedish" in e.message for e in refused.value.errors)
    assert refused.value.refusal.endswith(
        "Missing: Description (Swedish), Learning outcome 2 (Swedish)"
    )
    assert not saved.badge_class.published
    # Withdrawing is always possible.
    badge_class_admin.set_published(session, saved.badge_class, False)


def test_created_published_only_when_complete(session: Session, institution: Institution) -> None:
    with pytest.raises(NotTranslatedError):
        badge_class_admin.create_badge_class(
            session, institution, half_swedish("half"), published=True
        )
    finnish_only = simple_badge(
        "fi-only", name={"fi": "Vain suomeksi"}, description={"fi": "Kuvaus."}
    )
    saved = badge_class_admin.create_badge_class(session, institution, finnish_only, published=True)
    assert saved.badge_class.published


def test_a_published_badge_class_stays_complete(session: Session, institution: Institution) -> None:
    saved = badge_class_admin.create_badge_class(
        session, institution, simple_badge("whole"), published=True
    )
    with pytest.raises(NotTranslatedError) as refused:
        badge_class_admin.update_badge_class(
            session, saved.badge_class, simple_badge("whole", description={"fi": "Vain."})
        )
    assert refused.value.missing == [("description", "sv"), ("description", "en")]
    assert [e.message for e in refused.value.errors] == [
        "Missing in Swedish, English: the badge class's name is given in it."
    ]


def test_the_refusal_to_publish_is_in_the_readers_language(
    session: Session, institution: Institution, finnish_reader: None
) -> None:
    saved = badge_class_admin.create_badge_class(session, institution, half_swedish("half"))
    with pytest.raises(NotTranslatedError) as refused:
        badge_class_admin.set_published(session, saved.badge_class, True)
    assert refused.value.refusal == (
        "Merkkiluokkaa ei voi julkaista ennen kuin se on käännetty kokonaan. "
        "Puuttuu: Kuvaus (ruotsi), Osaamistavoite 2 (ruotsi)"
    )


# --- field labels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("slug", "Address name"),
        ("criteria_narrative", "Criteria"),
        ("eqf_level", "EQF level"),
        ("learning_outcomes.2", "Learning outcome 3"),
        ("esco_skills.0.name", "Name of ESCO skill 1"),
        ("description.sv", "Description (Swedish)"),
        ("", "The badge class as a whole"),
        ("something_else", "something_else"),
    ],
)
def test_fields_are_named_by_their_labels(path: str, label: str) -> None:
    assert field_labels.label(path) == label


def test_every_text_field_has_a_label() -> None:
    """Every field a translation can be missing from is named by a label, not its key."""
    bc = parse_badge_class(
        simple_badge(
            "all",
            assessment_description={"fi": "a"},
            quality_assurance={"fi": "a"},
            prerequisites={"fi": "a"},
            stackability={"fi": "a"},
            further_information={"fi": "a"},
            field_of_study={"fi": "a"},
            learning_outcomes=[{"fi": "a"}],
            creator={"name": {"fi": "a"}, "url": "https://a.example"},
        )
    )
    missing = issue_input.missing_fields(bc)["sv"]
    assert len(missing) == 8
    for path in missing:
        assert field_labels.label(path) != path


# --- issuing ----------------------------------------------------------------------------------


def test_an_untranslated_language_is_refused_naming_the_fields() -> None:
    bc = parse_badge_class(half_swedish("half"))
    with pytest.raises(issue_input.FieldErrors) as refused:
        issue_input.validate(
            IssueInput(email="a@b.fi", name="A", lang="sv"),
            now=NOW,
            languages=issue_input.complete_languages(bc),
            badge_class="half",
            missing=issue_input.missing_fields(bc),
        )
    [error] = refused.value.errors
    assert error.code == "not_translated"
    assert error.message == (
        "badge class 'half' is not fully translated into Swedish; "
        "missing: Description, Learning outcome 2"
    )


def test_issue_input_refusals_are_in_the_readers_language(finnish_reader: None) -> None:
    with pytest.raises(issue_input.FieldErrors) as refused:
        issue_input.validate(
            IssueInput(email="a@b.fi", name=" ", lang="de", grade="5" * 256), now=NOW
        )
    assert refused.value.fields == {
        "recipient.name": "vastaanottajan nimi on pakollinen",
        "lang": "kielen on oltava jokin seuraavista: fi, sv, en, ei 'de'",
        "grade": "enintään 255 merkkiä",
    }


def test_cohort_file_refusals_are_in_the_readers_language(finnish_reader: None) -> None:
    bc = parse_badge_class(half_swedish("half"))
    data = b"email;name;lang\na@b.fi;A;sv\na@b.fi;B;fi\nc@b.fi;C;fi;x\n"
    with pytest.raises(bulk_csv.CsvError) as refused:
        bulk_csv.parse_csv(
            data,
            languages=issue_input.complete_languages(bc),
            missing=issue_input.missing_fields(bc),
        )
    assert [(e.line, e.message) for e in refused.value.errors] == [
        (
            2,
            "merkkiluokkaa ei ole käännetty kokonaan kielelle ruotsi; "
            "puuttuu: Kuvaus, Osaamistavoite 2",
        ),
        (4, "rivillä on 4 kenttää, otsikkorivillä 3"),
    ]
    assert refused.value.message.startswith("CSV-tiedostossa on 2 ongelmaa: rivi 2: ")
    with pytest.raises(bulk_csv.CsvError) as empty:
        bulk_csv.parse_csv(b"email;name\n")
    assert [e.message for e in empty.value.errors] == [
        "tiedostossa on otsikkorivi mutta ei yhtään riviä"
    ]
