"""``merkki lti register|list|remove|invite`` (issue 17, LTI), on the LTI tests' module app."""

from __future__ import annotations

import json

from flask import Flask

from tests.cli.test_cli import fails, ok
from tests.web.lti.support import lti_app  # noqa: F401 - fixture

ARGS = (
    "--issuer",
    "https://moodle.cli.example",
    "--client-id",
    "cli-client",
    "--deployment-id",
    "1",
    "--deployment-id",
    "2",
    "--auth-login-url",
    "https://moodle.cli.example/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.cli.example/mod/lti/token.php",
    "--key-set-url",
    "https://moodle.cli.example/mod/lti/certs.php",
)


def test_register_list_remove_and_invite(lti_app: Flask) -> None:  # noqa: F811
    runner = lti_app.test_cli_runner()
    registered = json.loads(ok(runner, "lti", "register", "--institution", "a", *ARGS).stdout)
    assert registered["deployment_ids"] == ["1", "2"]
    assert "already" in fails(runner, "lti", "register", "--institution", "b", *ARGS)
    listed = json.loads(ok(runner, "lti", "list", "--institution", "a").stdout)
    assert [found["client_id"] for found in listed] == ["cli-client"]
    # Another institution's registrations are not listed, nor removable.
    assert json.loads(ok(runner, "lti", "list", "--institution", "b").stdout) == []
    assert "no LTI registration" in fails(
        runner, "lti", "remove", "--institution", "b", str(registered["id"])
    )
    ok(runner, "lti", "remove", "--institution", "a", str(registered["id"]))
    assert json.loads(ok(runner, "lti", "list", "--institution", "a").stdout) == []
    link = ok(runner, "lti", "invite", "--institution", "a").stdout.strip()
    assert link.startswith("http://127.0.0.1:5000/lti/register?invite=")
    bad = fails(
        runner, "lti", "register", "--institution", "a", *ARGS[:1], "http://x.example", *ARGS[2:]
    )
    assert "https" in bad
