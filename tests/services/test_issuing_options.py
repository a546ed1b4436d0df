"""What ``issuing.issue`` adds: evidence, results, dates, the learner's key, the audit event,
the outbox mail; and what it refuses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import get_session
from issuer.models import Credential
from issuer.models.audit import AuditEvent
from issuer.models.issuing import OutboxMail
from issuer.services import issue_input, issue_many, learner_keys, verification
from issuer.services.issuing_context import IssuingContext
from tests.web.learner.support import (
    BASE_URL,
    World,
    credential_json,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


def test_evidence_grade_dates_and_validity(app: Flask, world: World) -> None:
    options = issue_input.IssueOptions(
        lang="en",
        evidence=(issue_input.Evidence(narrative="Planned and ran a workshop."),),
        grade="hyvä",
        activity_start_date=date(2026, 1, 5),
        activity_end_date=date(2026, 2, 5),
        valid_until=datetime(2031, 5, 31, 12, 0, tzinfo=UTC),
    )
    issued = issue(app, options=options)
    document = credential_json(app, issued.id)
    assert document["evidence"] == [
        {"type": ["Evidence"], "narrative": "Planned and ran a workshop."}
    ]
    subject = document["credentialSubject"]
    assert subject["result"] == [{"type": ["Result"], "value": "hyvä"}]
    assert (subject["activityStartDate"], subject["activityEndDate"]) == (
        "2026-01-05",
        "2026-02-05",
    )
    # The request's validity wins over the badge class's 24 months.
    assert document["validUntil"] == "2031-05-31T12:00:00Z"


def test_a_result_links_the_achievements_result_description() -> None:
    achievement = {
        "resultDescription": [
            {"id": "urn:uuid:grade", "type": ["ResultDescription"], "name": "Grade"}
        ]
    }
    assert issue_many._results(achievement, "4") == [
        {"type": ["Result"], "value": "4", "resultDescription": "urn:uuid:grade"}
    ]
    assert issue_many._results({}, "4") == [{"type": ["Result"], "value": "4"}]
    assert issue_many._results(achievement, None) is None


def test_the_address_is_kept_only_as_hashes_and_the_audit_names_the_issue(
    app: Flask, world: World
) -> None:
    issued = issue(app, email="Liisa.Virtanen@Example.FI")
    with app.app_context():
        session = get_session()
        stored = session.get(Credential, issued.id)
        assert stored is not None
        assert "@example.fi" not in stored.signed_json.lower()
        secret = IssuingContext.from_settings(get_settings()).secret
        assert stored.recipient_key == learner_keys.recipient_key(
            secret, "liisa.virtanen@example.fi"
        )
        assert stored.manage_token_hash == learner_keys.token_hash(issued.manage_token)
        assert not stored.hidden
        assert not stored.indexable
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "issue"))
        assert event.target == issued.id
        assert event.institution_id == stored.institution_id
        assert event.details is not None
        assert event.details["badge_class"] == "test-badge"
        [mail] = session.scalars(select(OutboxMail))
        assert mail.credential_id == issued.id
        assert mail.to_address == "liisa.virtanen@example.fi"


@pytest.mark.parametrize(
    ("email", "name", "options", "field"),
    [
        ("x", "Liisa", issue_input.IssueOptions(), "recipient.email"),
        ("a@b.fi", "", issue_input.IssueOptions(), "recipient.name"),
        ("a@b.fi", "A\x07B", issue_input.IssueOptions(), "recipient.name"),
        ("a@b.fi", "A", issue_input.IssueOptions(lang="de"), "lang"),
        ("a@b.fi", "A", issue_input.IssueOptions(grade="x" * 300), "grade"),
        (
            "a@b.fi",
            "A",
            issue_input.IssueOptions(evidence=(issue_input.Evidence(url="ftp://x.example/a"),)),
            "evidence.0.url",
        ),
        (
            "a@b.fi",
            "A",
            issue_input.IssueOptions(valid_until=datetime(2000, 1, 1, tzinfo=UTC)),
            "valid_until",
        ),
    ],
)
def test_bad_input_names_the_field_and_issues_nothing(
    app: Flask,
    world: World,
    email: str,
    name: str,
    options: issue_input.IssueOptions,
    field: str,
) -> None:
    with pytest.raises(issue_input.FieldErrors) as caught:
        issue(app, email=email, name=name, options=options)
    assert field in caught.value.fields
    with app.app_context():
        assert list(get_session().scalars(select(Credential))) == []


def test_the_signed_json_is_what_the_credential_holds(app: Flask, world: World) -> None:
    issued = issue(app)
    with app.app_context():
        stored = get_session().get(Credential, issued.id)
        assert stored is not None
        assert json.loads(stored.signed_json)["proof"][0]["type"] == "DataIntegrityProof"


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_tabs_and_crlf_are_normalised_in_the_signed_credential(app: Flask, world: World) -> None:
    options = issue_input.IssueOptions(
        lang="en",
        evidence=(issue_input.Evidence(narrative="Näyttö\t12.1.\r\n– arvioija\rMatti"),),
        grade="hyvä\t(4)",
    )
    issued = issue(app, name="Liisa\tVirtanen\r\n", options=options)
    document = credential_json(app, issued.id)
    assert document["evidence"][0]["narrative"] == "Näyttö 12.1.\n– arvioija\nMatti"
    assert document["credentialSubject"]["result"][0]["value"] == "hyvä (4)"
    assert document["credentialSubject"]["name"] == "Liisa Virtanen"
    with app.app_context():
        stored = get_session().get(Credential, issued.id)
        assert stored is not None
        assert "\\t" not in stored.signed_json
        assert "\\r" not in stored.signed_json
        report = verification.verify(
            get_session(), json.loads(stored.signed_json), base_url=BASE_URL
        )
        assert report.verified, report.to_dict()


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("recipient.name", lambda c: {"name": f"Liisa{c}"}),
        (
            "evidence.0.narrative",
            lambda c: {
                "options": issue_input.IssueOptions(
                    evidence=(issue_input.Evidence(narrative=f"a{c}b"),)
                )
            },
        ),
        ("grade", lambda c: {"options": issue_input.IssueOptions(grade=f"4{c}")}),
    ],
)
def test_control_characters_are_refused_naming_the_field(
    app: Flask, world: World, character: str, field: str, make: Any
) -> None:
    with pytest.raises(issue_input.FieldErrors) as caught:
        issue(app, **make(character))
    assert field in caught.value.fields[field]
    assert f"U+{ord(character):04X}" in caught.value.fields[field]
    with app.app_context():
        assert list(get_session().scalars(select(Credential))) == []
