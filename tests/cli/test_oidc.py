"""``merkki oidc set/show/disable`` (staff sign-in through the institution's provider)."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from issuer.cli import main
from issuer.db import get_session
from issuer.models.audit import AuditEvent
from issuer.models.oidc import OidcProvider
from tests.cli.test_cli import fails, ok

SECRET = "the client secret of the CLI test"


def test_set_show_and_disable(app: Flask, runner: FlaskCliRunner) -> None:
    ok(runner, "institution", "create", "hamk", "--name", "Hämeen ammattikorkeakoulu")
    # The first set needs the issuer and the rest; a bad value is named.
    assert "issuer" in fails(runner, "oidc", "set", "--institution", "hamk")
    assert "allowed_domains" in fails(
        runner, "oidc", "set", "--institution", "hamk", "--display-name", "Haka",
        "--issuer", "https://login.example.fi", "--client-id", "merkki",
        "--allowed-domains", "not a domain!",
    )  # fmt: skip
    saved = runner.invoke(
        main,
        [
            "oidc",
            "set",
            "--institution",
            "hamk",
            "--display-name",
            "Haka",
            "--issuer",
            "https://login.example.fi",
            "--client-id",
            "merkki",
            "--allowed-domains",
            "hamk.fi @edu.hamk.fi",
            "--client-secret-stdin",
            "--role-claim",
            "groups",
            "--map",
            "merkki-admins=institution_admin",
        ],
        input=SECRET + "\n",
    )
    assert saved.exit_code == 0, saved.output
    assert SECRET not in saved.output
    shown = json.loads(ok(runner, "oidc", "show", "--institution", "hamk").stdout)
    assert shown["allowed_domains"] == ["hamk.fi", "edu.hamk.fi"]
    assert shown["client_secret"] == "set"
    assert shown["role_map"] == {"merkki-admins": "institution_admin"}
    assert shown["enabled"] is True
    # A later set changes only what it is given.
    ok(runner, "oidc", "set", "--institution", "hamk", "--display-name", "HAMK Haka")
    again = json.loads(ok(runner, "oidc", "show", "--institution", "hamk").stdout)
    assert {**shown, "display_name": "HAMK Haka", "updated_at": again["updated_at"]} == again
    ok(runner, "oidc", "disable", "--institution", "hamk")
    assert (
        json.loads(ok(runner, "oidc", "show", "--institution", "hamk").stdout)["enabled"] is False
    )
    with app.app_context():
        stored = get_session().scalar(select(OidcProvider))
        assert stored is not None
        assert SECRET not in (stored.client_secret_sealed or "")
        actions = get_session().scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("oidc.%"))
        )
        assert list(actions) == ["oidc.configure", "oidc.configure", "oidc.disable"]
