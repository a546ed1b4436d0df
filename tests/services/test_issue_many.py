"""Issuing a batch (``issue_many.issue_many``, what bulk jobs use): the same credentials, proofs,
audit events and mails as one by one, written with one statement per table, and bulk batches
that fail as a whole or hold the same learner twice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.core.dataintegrity.signing import sign
from issuer.core.errors import UndefinedTermError
from issuer.db import get_database, get_session, unit_of_work
from issuer.models import Credential, SigningKey
from issuer.models.audit import AuditEvent
from issuer.models.issuing import BulkJobRow, OutboxMail, RowState, StatusAllocation
from issuer.services import (
    audit,
    badge_classes,
    bulk,
    bulk_csv,
    credential_json,
    institutions,
    issue_input,
    issue_many,
    issuing,
    jobs,
    learner_keys,
    mail,
)
from issuer.services.audit import SystemActor
from issuer.services.issuing_context import IssuingContext
from issuer.wiring.jobs import job_host
from tests.web.learner.support import (
    World,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


@contextmanager
def inserts(app: Flask) -> Iterator[Counter[str]]:
    """Counts INSERT statements per table while the block runs."""
    counts: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split(None, 3)
        if words[:2] == ["INSERT", "INTO"]:
            counts[words[2].strip('"')] += 1

    engine = get_database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _issue_many(
    session: Session, count: int, *, lang: str = "fi", start: int = 0
) -> list[issue_many.IssuedId]:
    return issue_many.issue_many(
        session,
        IssuingContext.from_settings(get_settings()),
        institutions.get_institution(session, "hamk"),
        badge_classes.get_badge_class(session, "test-badge"),
        [
            issue_input.Recipient(
                f"learner{n}@example.fi",
                f"Väinö Öhman {n}",
                issue_input.IssueOptions(lang=lang, grade=str(n % 5)),
            )
            for n in range(start, start + count)
        ],
        actor=SystemActor(),
        via="test",
    )


def test_a_batch_is_written_with_one_statement_per_table(app: Flask, world: World) -> None:
    with app.app_context(), inserts(app) as counts, unit_of_work() as session:
        issued = _issue_many(session, 40)
    assert len({one.credential_id for one in issued}) == 40
    assert counts["credential"] == 1
    assert counts["audit_event"] == 1
    assert counts["outbox_mail"] == 1
    assert counts["status_allocation"] == 2  # revocation and suspension
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Credential)) == 40
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "issue")).all()
        assert sorted(e.target for e in events) == sorted(one.credential_id for one in issued)
        assert {(e.actor_kind, e.actor_label) for e in events} == {("system", "system")}
        assert {e.details["via"] for e in events if e.details} == {"test"}
        positions = session.execute(select(StatusAllocation.purpose, StatusAllocation.index)).all()
        assert len(positions) == len(set(positions)) == 80


def test_batch_proofs_are_the_engines_own(app: Flask, world: World) -> None:
    """Each stored credential's proof is exactly what ``dataintegrity.signing.sign`` gives for the
    same document, key and time (Ed25519 is deterministic): the cached proof configuration
    changes nothing."""
    with app.app_context(), unit_of_work() as session:
        issued = _issue_many(session, 5)
    with app.app_context():
        session = get_session()
        ctx = IssuingContext.from_settings(get_settings())
        method, private_key = ctx.signing_key(
            session, institutions.get_institution(session, "hamk")
        )
        for one in issued:
            text = session.get(Credential, one.credential_id).signed_json  # type: ignore[union-attr]
            stored = json.loads(text)
            unsigned = {key: value for key, value in stored.items() if key != "proof"}
            again = sign(unsigned, private_key, method, created=stored["proof"][0]["created"])
            assert again == stored
            assert credential_json.serialize(again) == text


def test_the_cached_path_still_refuses_undefined_terms(app: Flask, world: World) -> None:
    with app.app_context(), unit_of_work() as session:
        [one] = _issue_many(session, 1)
        stored = json.loads(session.get(Credential, one.credential_id).signed_json)  # type: ignore[union-attr]
        ctx = IssuingContext.from_settings(get_settings())
        method, private_key = ctx.signing_key(
            session, institutions.get_institution(session, "hamk")
        )
        unsigned = {key: value for key, value in stored.items() if key != "proof"}
        created = stored["proof"][0]["created"]
        ctx.sign(unsigned, private_key, method, created)  # the first: through create_proof
        unsigned["credentialSubject"] = {**unsigned["credentialSubject"], "shoeSize": 44}
        with pytest.raises(UndefinedTermError) as caught:
            ctx.sign(unsigned, private_key, method, created)
        assert "shoeSize" in caught.value.message


def test_batch_mails_are_what_queue_credential_mail_writes(app: Flask, world: World) -> None:
    """The mail made once per batch and completed per learner equals the one-by-one mail, for
    names holding what could look like placeholders."""
    names = ["O'Brien %(name)s", "Ääliö \ue000 Örö", "{credential_id} $1 \\1"]
    with app.app_context(), unit_of_work() as session:
        issued = issue_many.issue_many(
            session,
            IssuingContext.from_settings(get_settings()),
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            [
                issue_input.Recipient(f"m{n}@example.fi", name, issue_input.IssueOptions(lang=lang))
                for n, name in enumerate(names)
                for lang in ("sv",)
            ],
            actor=SystemActor(),
        )
        assert session.info.get(mail._SESSION_FLAG) is True  # the sender runs after the commit
        institution = institutions.get_institution(session, "hamk")
        for one, name in zip(issued, names, strict=True):
            stored = session.scalar(
                select(OutboxMail).where(OutboxMail.credential_id == one.credential_id)
            )
            assert stored is not None
            scratch = Session()
            try:
                expected = mail.queue_credential_mail(
                    scratch,
                    credential=Credential(id=one.credential_id, lang="sv", recipient_name=name),
                    email=f"m{names.index(name)}@example.fi",
                    badge_name=stored.subject.split(": ", 1)[1],
                    institution=institution,
                    manage_url=urls.manage_url(
                        IssuingContext.from_settings(get_settings()).base_url,
                        one.credential_id,
                        one.manage_token,
                    ),
                    base_url=IssuingContext.from_settings(get_settings()).base_url,
                )
            finally:
                scratch.close()
            assert (stored.subject, stored.body, stored.to_address, stored.lang) == (
                expected.subject,
                expected.body,
                expected.to_address,
                "sv",
            )
            assert name in stored.body


def test_single_and_batch_issuing_store_the_same_things(app: Flask, world: World) -> None:
    with app.app_context(), unit_of_work() as session:
        single = issuing.issue(
            session,
            IssuingContext.from_settings(get_settings()),
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            "solo@example.fi",
            "Solo",
            actor=SystemActor(),
        )
        assert single.credential.signed_json
        [batch] = _issue_many(session, 1)
        other = session.get(Credential, batch.credential_id)
        assert other is not None
        first = json.loads(single.credential.signed_json)
        second = json.loads(other.signed_json)
        assert set(first) == set(second)
        assert first["issuer"] == second["issuer"]
        assert (
            first["credentialSubject"]["achievement"] == second["credentialSubject"]["achievement"]
        )
        assert single.credential.manage_token_hash == learner_keys.token_hash(single.manage_token)


def test_an_invalid_recipient_stops_the_batch_before_anything_is_written(
    app: Flask, world: World
) -> None:
    with app.app_context(), unit_of_work() as session:
        recipients = [
            issue_input.Recipient("ok@example.fi", "OK"),
            issue_input.Recipient("not an address", "Bad"),
        ]
        with pytest.raises(issue_input.FieldErrors) as caught:
            issue_many.issue_many(
                session,
                IssuingContext.from_settings(get_settings()),
                institutions.get_institution(session, "hamk"),
                badge_classes.get_badge_class(session, "test-badge"),
                recipients,
                actor=SystemActor(),
            )
        assert "recipient.email" in caught.value.fields
        assert session.scalar(select(func.count()).select_from(StatusAllocation)) == 0
        assert session.scalar(select(func.count()).select_from(Credential)) == 0


# --- bulk batches ----------------------------------------------------------------------------


def _job(app: Flask, rows: list[tuple[str, str]]) -> int:
    """A job with exactly these rows (no upfront check: duplicates stay)."""
    with app.app_context(), unit_of_work() as session:
        parsed = bulk_csv.ParsedCsv(
            rows=[
                bulk_csv.CsvRow(line=n + 2, email=email, name=name, lang="fi")
                for n, (email, name) in enumerate(rows)
            ],
            sha256="0" * 64,
        )
        job = bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            parsed,
            actor=audit.SystemActor(),
        )
        return job.id


def _rows(app: Flask, job_id: int) -> list[tuple[int, RowState, str | None, str | None]]:
    with app.app_context():
        return [
            (line, state, credential_id, error)
            for line, state, credential_id, error in get_session().execute(
                select(
                    BulkJobRow.line, BulkJobRow.state, BulkJobRow.credential_id, BulkJobRow.error
                )
                .where(BulkJobRow.job_id == job_id)
                .order_by(BulkJobRow.line)
            )
        ]


def test_a_batch_that_cannot_issue_at_all_marks_every_row_failed(app: Flask, world: World) -> None:
    """The institution lost its signing key: each row is recorded as failed with the reason,
    the job ends, and nothing of the batch stays behind."""
    job_id = _job(app, [(f"k{n}@example.fi", f"K {n}") for n in range(3)])
    with app.app_context(), unit_of_work() as session:
        for key in session.scalars(select(SigningKey)):
            session.delete(key)
    assert jobs.run_job(job_host(app), job_id)
    rows = _rows(app, job_id)
    assert [(state, credential_id) for _line, state, credential_id, _e in rows] == [
        (RowState.FAILED, None)
    ] * 3
    assert all("no active signing key" in (error or "") for *_rest, error in rows)
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Credential)) == 0
        assert session.scalar(select(func.count()).select_from(StatusAllocation)) == 0


def test_the_same_learner_twice_in_one_batch_is_issued_once(app: Flask, world: World) -> None:
    job_id = _job(
        app,
        [("twice@example.fi", "Twice"), ("other@example.fi", "Other"), ("TWICE@example.fi", "T")],
    )
    assert jobs.run_job(job_host(app), job_id)
    rows = _rows(app, job_id)
    assert [state for _line, state, _c, _e in rows] == [
        RowState.ISSUED,
        RowState.ISSUED,
        RowState.SKIPPED,
    ]
    assert rows[2][2] == rows[0][2] is not None
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Credential)) == 2
