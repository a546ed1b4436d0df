"""The ``merkki`` command contract, end to end through the app (CliRunner)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer.cli import main
from issuer.db import get_session
from issuer.models import BadgeClass, BadgeClassVersion, Institution
from issuer.services import issuing, migrate
from tests.conftest import BASE_URL


def run(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def ok(runner: FlaskCliRunner, *args: str) -> Result:
    result = run(runner, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def fails(runner: FlaskCliRunner, *args: str) -> str:
    """The one-line error of a failing command (no traceback)."""
    result = run(runner, *args)
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def key_store() -> str:
    """These commands are checked against the files store (the key file is looked for);
    tests/cli/test_key_store_commands.py runs them on the database store."""
    return "files"


@pytest.fixture
def initialised(runner: FlaskCliRunner) -> FlaskCliRunner:
    ok(runner, "init")
    ok(runner, "institution", "create", "hamk", "--name", "Hämeen ammattikorkeakoulu")
    return runner


def _count(app: Flask, model: type[Any]) -> int:
    with app.app_context():
        return len(get_session().query(model).all())


def test_init_twice_creates_no_duplicates(app: Flask, runner: FlaskCliRunner) -> None:
    first = ok(runner, "init")
    second = ok(runner, "init")

    assert "2 created, 0 updated, 0 unchanged" in first.stdout
    assert "0 created, 0 updated, 2 unchanged" in second.stdout
    assert (_count(app, BadgeClass), _count(app, BadgeClassVersion)) == (2, 2)


def test_institution_create_prints_slug_and_did(app: Flask, runner: FlaskCliRunner) -> None:
    ok(runner, "init")
    result = ok(
        runner, "institution", "create", "hamk", "--name", "HAMK", "--business-id", "1629284-5"
    )

    printed = json.loads(result.stdout)
    assert printed["slug"] == "hamk"
    assert printed["did"] == "did:web:127.0.0.1%3A5000:issuers:hamk"
    assert printed["did_document"] == f"{BASE_URL}/issuers/hamk/did.json"
    assert printed["public_key_multibase"].startswith("z6Mk")
    assert (Path(app.config["KEYS_DIR"]) / f"{printed['key_id']}.pem").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("institution", "create", "hamk", "--name", "Again"), "already exists"),
        (("institution", "create", "Bad Slug", "--name", "X"), "invalid slug"),
        (("institution", "create", "ok-slug", "--name", "X", "--business-id", "1"), "Y-tunnus"),
        (
            (
                "issue",
                "--institution",
                "nobody",
                "--badge",
                "test-badge",
                "--email",
                "a@b.fi",
                "--name",
                "A",
            ),
            "no institution 'nobody'",
        ),
        (
            (
                "issue",
                "--institution",
                "hamk",
                "--badge",
                "no-such-badge",
                "--email",
                "a@b.fi",
                "--name",
                "A",
            ),
            "no badge class 'no-such-badge'",
        ),
        (
            (
                "issue",
                "--institution",
                "hamk",
                "--badge",
                "test-badge",
                "--email",
                "nope",
                "--name",
                "A",
            ),
            "not an e-mail address",
        ),
        (
            (
                "issue",
                "--institution",
                "hamk",
                "--badge",
                "finnish-only",
                "--email",
                "a@b.fi",
                "--name",
                "A",
                "--lang",
                "en",
            ),
            "not fully translated into English",
        ),
    ],
)
def test_bad_input_is_one_line(
    initialised: FlaskCliRunner, args: tuple[str, ...], message: str
) -> None:
    line = fails(initialised, *args)
    assert line.startswith("Error: ")
    assert message in line


def test_commands_before_init_say_so(runner: FlaskCliRunner, app: Flask) -> None:
    # The app fixture migrated the database; drop it back to nothing to simulate a fresh clone.
    migrate.downgrade(app.config["DATABASE_URL"], "base")
    line = fails(runner, "badge", "list", "--json")
    assert "merkki init" in line


def test_badge_list_json(initialised: FlaskCliRunner) -> None:
    listed = json.loads(ok(initialised, "badge", "list", "--json").stdout)

    assert [b["slug"] for b in listed] == ["finnish-only", "test-badge"]
    assert all(isinstance(b["id"], int) for b in listed)
    assert listed[1]["name"]["sv"] == "Märke test-badge"
    assert listed[1]["institution"] is None
    text = ok(initialised, "badge", "list").stdout
    assert "test-badge" in text
    assert "v1" in text


def test_issue_prints_the_stored_credential_which_verifies(
    app: Flask, initialised: FlaskCliRunner, tmp_path: Path
) -> None:
    badge_id = next(
        b["id"]
        for b in json.loads(ok(initialised, "badge", "list", "--json").stdout)
        if b["slug"] == "test-badge"
    )
    result = ok(
        initialised,
        "issue",
        "--institution",
        "hamk",
        "--badge",
        str(badge_id),
        "--email",
        "liisa@example.fi",
        "--name",
        "Liisa Virtanen",
        "--lang",
        "sv",
    )

    credential = json.loads(result.stdout)
    match = re.fullmatch(
        re.escape(f"{BASE_URL}/credentials/") + r"([0-9a-f]{32})", credential["id"]
    )
    assert match is not None
    with app.app_context():
        stored = issuing.get_credential(get_session(), match.group(1))
        assert result.stdout == stored.signed_json + "\n"
    assert credential["credentialSubject"]["achievement"]["inLanguage"] == "sv"

    path = tmp_path / "credential.json"
    path.write_text(result.stdout, "utf-8")
    report = json.loads(ok(initialised, "verify", str(path)).stdout)
    assert report["verified"] is True
    assert {c["name"] for c in report["checks"]} >= {"proof", "issuer", "validity"}

    credential["credentialSubject"]["name"] = "Someone Else"
    path.write_text(json.dumps(credential), "utf-8")
    tampered = run(initialised, "verify", str(path))
    assert tampered.exit_code == 1
    report = json.loads(tampered.stdout)
    assert report["verified"] is False
    assert next(c for c in report["checks"] if c["name"] == "proof")["ok"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "does not hold a JSON object"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_verify_refuses_unreadable_files(
    initialised: FlaskCliRunner, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_bytes(content)
    line = fails(initialised, "verify", str(path))
    assert message in line


def test_ensure_demo_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    ok(runner, "init")
    first = ok(runner, "institution", "ensure-demo")
    second = ok(runner, "institution", "ensure-demo")

    assert first.stdout == second.stdout == "did:web:127.0.0.1%3A5000:issuers:demo\n"
    assert _count(app, Institution) == 1


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_issue_and_institution_create_normalise_tabs(
    app: Flask, initialised: FlaskCliRunner
) -> None:
    ok(initialised, "institution", "create", "tamk", "--name", "Tampereen\tammattikorkeakoulu")
    result = ok(
        initialised,
        "issue",
        "--institution",
        "tamk",
        "--badge",
        "test-badge",
        "--email",
        "liisa@example.fi",
        "--name",
        "Liisa\tVirtanen\r\n",
    )
    credential = json.loads(result.stdout)
    assert credential["credentialSubject"]["name"] == "Liisa Virtanen"
    assert credential["issuer"]["name"] == "Tampereen ammattikorkeakoulu"


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
def test_cli_control_characters_are_refused_naming_the_field(
    app: Flask, initialised: FlaskCliRunner, character: str
) -> None:
    line = fails(
        initialised,
        "issue",
        "--institution",
        "hamk",
        "--badge",
        "test-badge",
        "--email",
        "liisa@example.fi",
        "--name",
        f"Liisa{character}",
    )
    assert "recipient.name" in line
    assert f"U+{ord(character):04X}" in line
    line = fails(initialised, "institution", "create", "tamk", "--name", f"TAMK{character}")
    assert "name_fi" in line
    assert f"U+{ord(character):04X}" in line
    assert _count(app, Institution) == 1


# --- e-mail addresses validated once (issuer.services.emails; issue 13) -----------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("Liisa <liisa@example.fi>", "without a name"),
        ("liisa@example.fi, matti@example.fi", "one e-mail address only"),
        ("lii\u200bsa@example.fi", "U+200B"),
        ("liisa@example.fi\u202e", "U+202E"),
    ],
)
def test_issue_email_must_be_one_plain_address(
    app: Flask, initialised: FlaskCliRunner, address: str, reason: str
) -> None:
    line = fails(
        initialised,
        "issue",
        "--institution",
        "hamk",
        "--badge",
        "test-badge",
        "--email",
        address,
        "--name",
        "Liisa",
    )
    assert reason in line
    line = fails(initialised, "institution", "create", "tamk", "--name", "TAMK", "--email", address)
    assert reason in line
    assert _count(app, Institution) == 1


def test_issue_records_the_cli_as_the_audit_actor(app: Flask, initialised: FlaskCliRunner) -> None:
    """``merkki issue`` names its operator (``cli``) in the audit log, as ``merkki revoke`` does;
    the service is told who acts and never asks the web layer."""
    from sqlalchemy import select

    from issuer.models.audit import AuditEvent

    result = ok(
        initialised,
        "issue",
        "--institution",
        "hamk",
        "--badge",
        "test-badge",
        "--email",
        "aku@example.fi",
        "--name",
        "Aku Aaltonen",
    )
    credential_id = json.loads(result.stdout)["id"].rsplit("/", 1)[1]
    with app.app_context():
        events = get_session().scalars(select(AuditEvent).where(AuditEvent.action == "issue")).all()
    issued = [e for e in events if credential_id in e.target]
    assert issued, [(e.action, e.target) for e in events]
    assert {e.actor_kind for e in issued} == {"cli"}
