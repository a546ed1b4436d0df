"""``merkki issue-bulk`` and ``merkki jobs run``."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from issuer.cli import main
from issuer.db import get_session
from issuer.models import Credential
from issuer.models.issuing import BulkJob, JobState
from issuer.services.audit import SystemActor
from tests.web.learner.support import (
    World,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


def _count(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(Credential)) or 0


def test_issue_bulk_reports_progress_and_a_summary(
    app: Flask, world: World, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    csv_file = tmp_path / "kohortti.csv"
    csv_file.write_bytes(
        "\ufeffemail;name;lang\na@example.fi;Äijä Ö;sv\nb@example.fi;B;\n".encode()
    )
    args = ["issue-bulk", "--institution", "hamk", "--badge", "test-badge", str(csv_file)]

    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["total"], summary["issued"], summary["skipped"]) == (2, 2, 0)
    assert summary["state"] == "done"
    assert "Issuing" in result.stderr
    assert "Issued 2, skipped 0" in result.stderr
    assert _count(app) == 2

    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == 2
    assert _count(app) == 2


def test_a_file_with_bad_lines_issues_nothing_and_names_them(
    app: Flask, world: World, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("email,name\nok@example.fi,OK\nbroken,X\nfine@example.fi,\n", "utf-8")
    result = runner.invoke(
        main, ["issue-bulk", "--institution", "hamk", "--badge", "test-badge", str(csv_file)]
    )
    assert result.exit_code == 1
    assert "line 3:" in result.stderr
    assert "line 4:" in result.stderr
    assert "Nothing was issued." in result.stderr
    assert _count(app) == 0


def test_bad_arguments_end_with_a_message(
    app: Flask, world: World, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("email,name\na@example.fi,A\n", "utf-8")
    for args, message in (
        (["--institution", "nobody", "--badge", "test-badge", str(csv_file)], "nobody"),
        (["--institution", "hamk", "--badge", "no-such", str(csv_file)], "no-such"),
        (["--institution", "hamk", "--badge", "test-badge", str(tmp_path / "x.csv")], "x.csv"),
    ):
        result = runner.invoke(main, ["issue-bulk", *args])
        assert result.exit_code != 0
        assert message in result.output
        assert "Traceback" not in result.output


def test_jobs_run_finishes_pending_jobs(app: Flask, world: World, runner: FlaskCliRunner) -> None:
    from issuer.db import unit_of_work
    from issuer.services import badge_classes, bulk, bulk_csv, institutions

    with app.app_context(), unit_of_work() as session:
        bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            bulk_csv.parse_csv(b"email,name\na@example.fi,A\n"),
            actor=SystemActor(),
        )
    result = runner.invoke(main, ["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert _count(app) == 1
    with app.app_context():
        assert get_session().scalar(select(BulkJob.state)) is JobState.DONE
    assert "no jobs to run" in runner.invoke(main, ["jobs", "run"]).stderr
