"""``merkki integration create/list/revoke`` (the completion webhook's integrations)."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer.core import webhook_signature
from tests.cli.test_cli import fails, ok


@pytest.fixture
def initialised(runner: FlaskCliRunner) -> FlaskCliRunner:
    ok(runner, "init")
    ok(runner, "institution", "create", "hamk", "--name", "Hämeen ammattikorkeakoulu")
    return runner


BODY = json.dumps(
    {
        "event_id": "1",
        "badge_class": "no-such-badge",
        "learner": {"email": "liisa@example.fi", "name": "Liisa"},
    }
).encode()


def _call(app: Flask, key_id: str, secret: str) -> int:
    headers = {
        "Content-Type": "application/json",
        "Merkki-Integration": key_id,
        "Merkki-Signature": webhook_signature.header_value(secret, int(time.time()), BODY),
    }
    return app.test_client().post("/api/v1/completions", data=BODY, headers=headers).status_code


def test_create_prints_the_secret_alone_list_never_shows_it_revoke_refuses_calls(
    app: Flask, initialised: FlaskCliRunner
) -> None:
    created = ok(initialised, "integration", "create", "--institution", "hamk", "--name", "Moodle")
    secret = created.stdout.strip()
    assert secret.startswith("whsec_")
    assert "\n" not in secret
    key_id = created.stderr.strip().rsplit(" ", 1)[-1]
    assert key_id.startswith("mki_")
    # Signed with the printed secret, the call passes authentication (and names the unknown
    # badge class: 422).
    assert _call(app, key_id, secret) == 422

    bearer = ok(
        initialised, "integration", "create", "--institution", "hamk", "--name", "SIS",
        "--auth", "bearer",
    ).stdout.strip()  # fmt: skip
    assert bearer.startswith("mki_")

    listed = json.loads(ok(initialised, "integration", "list", "--institution", "hamk").stdout)
    assert [(entry["name"], entry["auth"], entry["revoked"]) for entry in listed] == [
        ("SIS", "bearer", False),
        ("Moodle", "hmac", False),
    ]
    text = json.dumps(listed)
    assert secret not in text
    assert bearer not in text
    assert bearer.split("_", 2)[2] not in text

    moodle = next(entry for entry in listed if entry["name"] == "Moodle")
    assert moodle["key_id"] == key_id
    ok(initialised, "integration", "revoke", "--institution", "hamk", str(moodle["id"]))
    assert _call(app, key_id, secret) == 401
    listed = json.loads(ok(initialised, "integration", "list", "--institution", "hamk").stdout)
    assert [entry["revoked"] for entry in listed] == [False, True]


def test_bad_input_is_one_line(initialised: FlaskCliRunner) -> None:
    assert "integration needs a name" in fails(
        initialised, "integration", "create", "--institution", "hamk", "--name", " "
    )
    assert "nope" in fails(
        initialised, "integration", "create", "--institution", "nope", "--name", "M"
    )
    assert "no integration 99" in fails(
        initialised, "integration", "revoke", "--institution", "hamk", "99"
    )
