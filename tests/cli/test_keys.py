"""merkki key list / rotate / compromised: old credentials keep verifying after a rotation and
stop after the key is withdrawn, with a reason that says so — in the CLI, the API and the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from issuer.cli import main
from issuer.db import get_session, unit_of_work
from issuer.models.audit import AuditEvent
from issuer.models.issuing import StatusList
from issuer.services import institutions, status_publishing
from tests.web.verify.helpers import MICRO, Scenario, issue, scenario, served_status, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below


def run(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def ok_json(runner: FlaskCliRunner, *args: str) -> Any:
    result = run(runner, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _issue(app: Flask, name: str) -> str:
    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, "hamk")
        return issue(session, hamk, MICRO, name).signed_json


def _cli_verify(runner: FlaskCliRunner, tmp_path: Path, text: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "credential.json"
    path.write_text(text, "utf-8")
    result = run(runner, "verify", str(path))
    return result.exit_code, json.loads(result.stdout)


def _proof_message(report: dict[str, Any]) -> str:
    return str(next(c for c in report["checks"] if c["name"] == "proof")["message"])


def test_key_list(runner: FlaskCliRunner, scenario: Scenario) -> None:
    rows = ok_json(runner, "key", "list", "--institution", "hamk", "--json")
    assert [row["status"] for row in rows] == ["active"]
    assert rows[0]["verification_method"].startswith("did:web:127.0.0.1%3A5000:issuers:hamk#z6Mk")
    assert rows[0]["in_did_document"] is True
    text = run(runner, "key", "list", "--institution", "hamk")
    assert text.exit_code == 0
    assert rows[0]["key_id"] in text.stdout


def test_rotate_then_compromise(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    old_text = scenario.credentials["valid"].text
    [old_key] = ok_json(runner, "key", "list", "--institution", "hamk", "--json")

    rows = ok_json(runner, "key", "rotate", "--institution", "hamk")

    statuses = {row["key_id"]: row["status"] for row in rows}
    assert statuses[old_key["key_id"]] == "retired"
    assert sorted(statuses.values()) == ["active", "retired"]
    new_text = _issue(app, "Uusi Avain")
    assert (
        json.loads(new_text)["proof"][0]["verificationMethod"]
        != json.loads(old_text)["proof"][0]["verificationMethod"]
    )
    # After the rotation both the old and the new credential verify.
    assert _cli_verify(runner, tmp_path, old_text)[0] == 0
    assert _cli_verify(runner, tmp_path, new_text)[0] == 0
    did = app.test_client().get("/issuers/hamk/did.json").get_json()
    assert len(did["verificationMethod"]) == 2

    rows = ok_json(runner, "key", "compromised", "--institution", "hamk", old_key["key_id"])

    statuses = {row["key_id"]: row["status"] for row in rows}
    assert statuses[old_key["key_id"]] == "compromised"
    exit_code, report = _cli_verify(runner, tmp_path, old_text)
    assert exit_code == 1
    assert report["verdict"] == "not_genuine"
    assert "withdrawn by" in _proof_message(report)
    assert "compromised" in _proof_message(report)
    assert _cli_verify(runner, tmp_path, new_text)[0] == 0
    # The page and the API say the same.
    client = app.test_client()
    api = client.post("/api/v1/verify", data=old_text, content_type="application/json")
    assert "compromised" in _proof_message(api.get_json())
    page = client.get(f"/verify/{scenario.credentials['valid'].id}").get_data(as_text=True)
    assert 'data-verdict="not_genuine"' in page
    assert "compromised" in page
    assert api.get_json()["keyWithdrawn"] is True
    fi_page = client.get(f"/verify/{scenario.credentials['valid'].id}?lang=fi").get_data(
        as_text=True
    )
    assert '<p class="key-withdrawn">Myöntäjä poisti käytöstä avaimen' in fi_page
    did = client.get("/issuers/hamk/did.json").get_json()
    assert old_key["public_key_multibase"] not in json.dumps(did)
    with app.app_context():
        actions = [
            (e.action, e.actor_kind)
            for e in get_session().scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith("key."))
                .order_by(AuditEvent.id)
            )
        ]
    assert actions == [("key.rotate", "cli"), ("key.compromised", "cli")]


def test_compromising_the_active_key_replaces_it(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    [active] = ok_json(runner, "key", "list", "--institution", "hamk", "--json")
    result = run(
        runner,
        "key",
        "compromised",
        "--institution",
        "hamk",
        active["public_key_multibase"],
        "--reason",
        "palvelin murrettu",
    )
    assert result.exit_code == 0, result.output
    assert "new active key" in result.stderr
    rows = json.loads(result.stdout)
    assert sorted(row["status"] for row in rows) == ["active", "compromised"]
    # Every credential signed by the old key fails; a new one verifies.
    assert _cli_verify(runner, tmp_path, scenario.credentials["valid"].text)[0] == 1
    assert _cli_verify(runner, tmp_path, _issue(app, "Uusi Nimi"))[0] == 0


def test_key_errors(runner: FlaskCliRunner, scenario: Scenario) -> None:
    for args, message in (
        (("key", "rotate", "--institution", "nobody"), "no institution"),
        (("key", "compromised", "--institution", "hamk", "z6MkNope"), "has no key"),
        (("key", "list", "--institution", "nobody"), "no institution"),
    ):
        result = run(runner, *args)
        assert result.exit_code == 1
        assert message in result.stderr
        assert "Traceback" not in result.output
    # Another institution's key is not found through this one.
    [oamk_key] = json.loads(run(runner, "key", "list", "--institution", "oamk", "--json").stdout)
    other = run(runner, "key", "compromised", "--institution", "hamk", oamk_key["key_id"])
    assert other.exit_code == 1
    assert "has no key" in other.stderr


@pytest.mark.parametrize("withdrawn", ["retired", "active"])
def test_lists_signed_by_a_withdrawn_key_are_re_signed_by_the_same_command(
    app: Flask,
    runner: FlaskCliRunner,
    scenario: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    withdrawn: str,
) -> None:
    """The status lists were signed with the first key; withdrawing it (after a rotation, or
    while active) re-signs them with the active key in the same transaction, so that the lists
    keep verifying without anything being signed when they are served."""
    [first] = ok_json(runner, "key", "list", "--institution", "hamk", "--json")
    if withdrawn == "retired":
        ok_json(runner, "key", "rotate", "--institution", "hamk")
    client = app.test_client()
    before = served_status(client, app, scenario.credentials["revoked"])[1]
    assert first["public_key_multibase"] in before.get_json()["proof"][0]["verificationMethod"]

    ok_json(runner, "key", "compromised", "--institution", "hamk", first["key_id"])

    [active] = [
        row
        for row in ok_json(runner, "key", "list", "--institution", "hamk", "--json")
        if row["status"] == "active"
    ]
    with app.app_context():
        lists = [
            row
            for row in get_session().scalars(select(StatusList))
            if row.institution.slug == "hamk"
        ]
    assert len(lists) == 2  # revocation and suspension
    assert all(row.signed_version == row.version for row in lists)
    assert all(active["public_key_multibase"] in (row.signed_json or "") for row in lists)
    assert not any(first["public_key_multibase"] in (row.signed_json or "") for row in lists)

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("signed while serving a list")

    monkeypatch.setattr(status_publishing, "_sign", refuse)
    revoked, after = served_status(client, app, scenario.credentials["revoked"])
    assert revoked is True
    assert after.headers["ETag"] != before.headers["ETag"]
    assert served_status(client, app, scenario.credentials["valid"])[0] is False
