"""merkki revoke / suspend / unsuspend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from issuer.cli import main
from issuer.db import get_session
from issuer.models.audit import AuditEvent
from tests.web.verify.helpers import Scenario, scenario, served_status, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below


def run(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def fails(runner: FlaskCliRunner, *args: str) -> str:
    result = run(runner, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def _verify_cli(runner: FlaskCliRunner, tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "c.json"
    path.write_text(text, "utf-8")
    result = run(runner, "verify", str(path))
    return result.exit_code, json.loads(result.stdout)["verdict"]


def test_revoke_sets_the_served_list_bit_and_every_verdict_follows(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    credential = scenario.credentials["valid"]
    client = app.test_client()
    assert served_status(client, app, credential)[0] is False

    result = run(runner, "revoke", credential.url, "--reason", "Näyttö oli toisen tekemä")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["state"] == "revoked"
    assert body["revocation_reason"] == "Näyttö oli toisen tekemä"
    # The list at the credential's statusListCredential URL is validly signed, bit set.
    assert served_status(client, app, credential)[0] is True
    # The CLI, the API and the page agree, at once.
    assert _verify_cli(runner, tmp_path, credential.text) == (1, "revoked")
    api = client.post("/api/v1/verify", data=credential.text, content_type="application/json")
    assert api.get_json()["verdict"] == "revoked"
    page = client.get(f"/verify/{credential.id}").get_data(as_text=True)
    assert 'data-verdict="revoked"' in page
    assert "Näyttö oli toisen tekemä" in page
    with app.app_context():
        events = list(
            get_session().scalars(
                select(AuditEvent).where(
                    AuditEvent.target == credential.id, AuditEvent.action == "revoke"
                )
            )
        )
    assert [(e.actor_kind, e.actor_label) for e in events] == [("cli", "cli")]


def test_suspend_and_unsuspend(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    credential = scenario.credentials["valid"]
    suspended = run(runner, "suspend", credential.id, "--reason", "tarkistetaan")
    assert suspended.exit_code == 0, suspended.output
    assert json.loads(suspended.stdout)["state"] == "suspended"
    assert _verify_cli(runner, tmp_path, credential.text) == (1, "suspended")

    lifted = run(runner, "unsuspend", credential.id)
    assert lifted.exit_code == 0, lifted.output
    assert json.loads(lifted.stdout)["state"] == "active"
    assert _verify_cli(runner, tmp_path, credential.text) == (0, "valid")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("revoke", "0" * 32, "--reason", "x"), "no credential"),
        (("suspend", "not-a-credential"), "is not a credential id"),
        (("unsuspend", "https://elsewhere.example/credentials/" + "0" * 32), "not a credential"),
    ],
)
def test_unknown_credentials(
    runner: FlaskCliRunner, scenario: Scenario, args: tuple[str, ...], message: str
) -> None:
    assert message in fails(runner, *args)


def test_rules_are_enforced(runner: FlaskCliRunner, scenario: Scenario) -> None:
    revoked = scenario.credentials["revoked"].id
    assert "already revoked" in fails(runner, "revoke", revoked, "--reason", "x")
    assert "cannot be suspended" in fails(runner, "suspend", revoked)
    assert "cannot be unsuspended" in fails(runner, "unsuspend", revoked)
    assert "not suspended" in fails(runner, "unsuspend", scenario.credentials["valid"].id)
    assert "reason is required" in fails(
        runner, "revoke", scenario.credentials["valid"].id, "--reason", "  "
    )
    missing = run(runner, "revoke", scenario.credentials["valid"].id)
    assert missing.exit_code == 2  # click: --reason is required
    assert "--reason" in missing.output
