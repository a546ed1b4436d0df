"""Cohort CSV: the upfront check, jobs in batches, re-runs, resuming, and 10,000 rows."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from issuer.config import get_settings
from issuer.db import get_database, get_session, unit_of_work
from issuer.models import Credential
from issuer.models.issuing import BulkJob, BulkJobRow, JobState, RowState, StatusAllocation
from issuer.services import badge_classes, bulk, bulk_csv, institutions, jobs
from issuer.services.audit import SystemActor
from issuer.services.issuing_context import IssuingContext
from issuer.wiring.jobs import job_host
from tests.web.learner.support import (
    World,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _errors(data: bytes, **options: object) -> list[tuple[int, str]]:
    with pytest.raises(bulk_csv.CsvError) as caught:
        bulk_csv.parse_csv(data, now=NOW, **options)  # type: ignore[arg-type]
    return [(error.line, error.message) for error in caught.value.errors]


def test_comma_semicolon_bom_and_header_case_are_all_fine() -> None:
    for text in (
        "email,name\nliisa@example.fi,Liisa\n",
        "\ufeffEMAIL;Name\r\nliisa@example.fi;Liisa\r\n",
        "Email ; NAME ; Lang\nliisa@example.fi ; Liisa ; sv\n",
    ):
        parsed = bulk_csv.parse_csv(text.encode("utf-8"), now=NOW)
        assert [(row.line, row.email, row.name) for row in parsed.rows] == [
            (2, "liisa@example.fi", "Liisa")
        ]
    assert bulk_csv.parse_csv(b"email;name\na@example.fi;A\n", now=NOW).delimiter == ";"


def test_all_optional_columns() -> None:
    text = (
        "email,name,lang,evidence_url,evidence_narrative,grade,valid_until\n"
        'a@example.fi,"Virtanen, Liisa",en,https://x.example/p,"Built a ""thing""",5,2027-01-31\n'
    )
    [row] = bulk_csv.parse_csv(text.encode(), now=NOW).rows
    assert row.name == "Virtanen, Liisa"
    assert row.lang == "en"
    assert row.evidence_url == "https://x.example/p"
    assert row.evidence_narrative == 'Built a "thing"'
    assert row.grade == "5"
    assert row.valid_until == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)


def test_every_bad_line_is_named_with_its_reason() -> None:
    text = (
        "email,name,lang,valid_until\n"
        "ok@example.fi,OK,,\n"
        "not-an-address,Name,,\n"
        "\n"
        "x@example.fi,,,\n"
        "y@example.fi,Y,de,\n"
        "z@example.fi,Z,,2020-01-01\n"
        "OK@example.fi,Again,,\n"
        "w@example.fi,W\n"
    )
    errors = _errors(text.encode())
    assert [line for line, _ in errors] == [3, 5, 6, 7, 8, 9]
    messages = dict(errors)
    assert "not an e-mail address" in messages[3]
    assert "name is required" in messages[5]
    assert "lang" in messages[6]
    assert "future" in messages[7]
    assert "same e-mail address as line 2" in messages[8]
    assert "2 fields" in messages[9]


def test_the_file_itself_can_be_wrong() -> None:
    assert "UTF-8" in _errors("email,name\nä@example.fi,Äijä\n".encode("cp1252"))[0][1]
    assert "UTF-16" in _errors("email,name\n".encode("utf-16"))[0][1]
    assert _errors(b"")[0][0] in (0, 1)
    assert "unknown column 'phone'" in _errors(b"email,name,phone\na@b.fi,A,1\n")[0][1]
    assert "missing column(s) name" in _errors(b"email,grade\na@b.fi,1\n")[0][1]
    assert "no rows" in _errors(b"email,name\n")[0][1]
    assert "larger than" in _errors(b"email,name\n" + b"a" * (bulk_csv.MAX_CSV_BYTES + 1))[0][1]
    assert "translated" in _errors(b"email,name,lang\na@b.fi,A,sv\n", languages=["fi"])[0][1]


def _job(app: Flask, text: str, badge: str = "test-badge") -> int:
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, "hamk")
        badge_class = badge_classes.get_badge_class(session, badge)
        parsed = bulk_csv.parse_csv(text.encode("utf-8"))
        job = bulk.create_job(
            session, institution, badge_class, parsed, actor=SystemActor(), file_name="c.csv"
        )
        return job.id


def _state(app: Flask, job_id: int) -> tuple[str, int, int, int]:
    with app.app_context():
        job = get_session().get(BulkJob, job_id)
        assert job is not None
        return job.state.value, job.issued, job.skipped, job.failed


def _cohort(size: int, offset: int = 0) -> str:
    rows = "".join(f"l{n}@example.fi,Learner {n}\n" for n in range(offset, offset + size))
    return "email,name\n" + rows


def test_a_job_issues_in_batches_and_the_same_file_again_issues_nothing(
    app: Flask, world: World
) -> None:
    first = _job(app, _cohort(7))
    assert jobs.run_job(job_host(app), first, batch_size=3)
    assert _state(app, first) == ("done", 7, 0, 0)

    again = _job(app, _cohort(9))  # the same seven learners and two new ones
    assert jobs.run_job(job_host(app), again, batch_size=3)
    assert _state(app, again) == ("done", 2, 7, 0)
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Credential)) == 9
        # Processed rows keep no e-mail address.
        assert session.scalar(select(func.count()).where(BulkJobRow.email.is_not(None))) == 0


def test_an_interrupted_job_resumes_after_its_last_batch(app: Flask, world: World) -> None:
    job_id = _job(app, _cohort(5))
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            assert jobs.claim(session, job_id, "worker-that-dies")
            job = session.get(BulkJob, job_id)
            assert job is not None
            ctx = IssuingContext.from_settings(get_settings())
            bulk.process_batch(session, ctx, job, batch_size=2)
            session.commit()  # one batch committed, then the process "dies"
        finally:
            session.close()
    assert _state(app, job_id) == ("running", 2, 0, 0)

    # A live runner does not take a job whose heartbeat is fresh ...
    assert not jobs.run_job(job_host(app), job_id, worker="other")
    # ... but takes it over once the heartbeat is stale.
    with app.app_context(), unit_of_work() as session:
        stale = session.get(BulkJob, job_id)
        assert stale is not None
        stale.heartbeat_at = datetime.now(UTC) - jobs.STALE_AFTER - timedelta(seconds=1)
    with app.app_context():
        assert jobs.runnable_jobs(get_session()) == [job_id]
    assert jobs.run_job(job_host(app), job_id, worker="other")
    assert _state(app, job_id) == ("done", 5, 0, 0)
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Credential)) == 5


def test_a_row_that_fails_while_issuing_is_recorded_and_the_rest_go_on(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.services import issue_many
    from issuer.services.errors import InvalidInputError

    real = issue_many.issue_many

    def flaky(session, ctx, institution, badge_class, recipients, **kwargs):  # type: ignore[no-untyped-def]
        if any(recipient.email == "l1@example.fi" for recipient in recipients):
            # Fails after writing status positions: the savepoint must undo them.
            ctx.allocator(session, institution).allocate("f" * 32)
            raise InvalidInputError("simulated failure")
        return real(session, ctx, institution, badge_class, recipients, **kwargs)

    monkeypatch.setattr(issue_many, "issue_many", flaky)
    job_id = _job(app, _cohort(3))
    assert jobs.run_job(job_host(app), job_id)
    assert _state(app, job_id) == ("done", 2, 0, 1)
    with app.app_context():
        # The failed row's (and the failed batch's) positions were rolled back with it.
        allocated = get_session().scalars(select(StatusAllocation.credential_id)).all()
        issued = get_session().scalars(select(Credential.id)).all()
        assert sorted(allocated) == sorted(2 * issued)
    with app.app_context():
        job = get_session().get(BulkJob, job_id)
        assert job is not None
        assert [(e.line, e.message) for e in bulk.job_errors(get_session(), job)] == [
            (3, "simulated failure")
        ]
        assert {state for (state,) in get_session().execute(select(BulkJobRow.state))} == {
            RowState.ISSUED,
            RowState.FAILED,
        }


def test_the_thread_runner_works_jobs_off_in_the_background(app: Flask, world: World) -> None:
    job_id = _job(app, _cohort(3))
    runner = jobs.ThreadRunner(job_host(app))
    runner.submit(job_id)
    runner.wait(60)
    assert _state(app, job_id) == ("done", 3, 0, 0)


@pytest.mark.slow
def test_ten_thousand_rows_issue_ten_thousand_distinct_credentials(
    app: Flask, world: World, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the 10,000-row run is measured on the embedded default (SQLite)")
    text = _cohort(10_000)
    started = time.monotonic()
    job_id = _job(app, text)
    assert jobs.run_job(job_host(app), job_id)
    seconds = time.monotonic() - started
    assert _state(app, job_id) == ("done", 10_000, 0, 0)
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count(func.distinct(Credential.id)))) == 10_000
        for purpose in ("revocation", "suspension"):
            indexes = session.scalar(
                select(func.count(func.distinct(StatusAllocation.index))).where(
                    StatusAllocation.purpose == purpose
                )
            )
            assert indexes == 10_000
        assert session.scalar(select(func.count()).where(BulkJob.state == JobState.DONE)) == 1
    print(f"\n10,000 rows issued in {seconds:.1f} s ({seconds / 10:.1f} ms per credential)")


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_csv_rows_normalise_tabs_and_crlf_in_the_signed_credential(
    app: Flask, world: World
) -> None:
    text = (
        "email,name,evidence_narrative,grade\r\n"
        'tab@example.fi,Liisa\tVirtanen,"Näyttö\t1\r\nrivi 2",hyvä\t4\r\n'
    )
    [row] = bulk_csv.parse_csv(text.encode(), now=NOW).rows
    assert (row.name, row.evidence_narrative, row.grade) == (
        "Liisa Virtanen",
        "Näyttö 1\nrivi 2",
        "hyvä 4",
    )
    job_id = _job(app, text)
    assert jobs.run_job(job_host(app), job_id)
    assert _state(app, job_id) == ("done", 1, 0, 0)
    with app.app_context():
        [stored] = get_session().scalars(select(Credential))
        document = json.loads(stored.signed_json)
    assert document["evidence"][0]["narrative"] == "Näyttö 1\nrivi 2"
    assert document["credentialSubject"]["result"][0]["value"] == "hyvä 4"
    assert document["credentialSubject"]["name"] == "Liisa Virtanen"


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize("column", ["name", "evidence_narrative", "grade"])
def test_csv_rows_with_control_characters_are_refused_naming_the_column(
    character: str, column: str
) -> None:
    values = {"name": "Liisa", "evidence_narrative": "n", "grade": "4"}
    values[column] += character
    text = "email,name,evidence_narrative,grade\n" + (
        f"a@example.fi,{values['name']},{values['evidence_narrative']},{values['grade']}\n"
    )
    [(line, message)] = _errors(text.encode())
    assert line == 2
    assert column in message
    assert f"U+{ord(character):04X}" in message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("Liisa <liisa@example.fi>", "without a name"),
        ("liisa@example.fi, matti@example.fi", "one e-mail address only"),
        ("lii\u200bsa@example.fi", "U+200B"),
        ("liisa@example.fi\u202e", "U+202E"),
    ],
)
def test_csv_rows_need_one_plain_address(address: str, reason: str) -> None:
    text = f'email;name\n"{address}";Liisa\nok@example.fi;OK\n'
    [(line, message)] = _errors(text.encode())
    assert line == 2
    assert reason in message
