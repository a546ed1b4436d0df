"""`merkki token ...`, `merkki user ...` and the demo admin of `merkki institution ensure-demo`."""

from __future__ import annotations

import json
import re

from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer.cli import main
from issuer.db import get_session
from issuer.services import accounts
from tests.web.staff.support import World, bearer, csrf_token, login


def ok(runner: FlaskCliRunner, *args: str, stdin: str | None = None) -> Result:
    result = runner.invoke(main, list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_token_create_prints_the_token_alone_and_it_works(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    result = ok(runner, "token", "create", "--institution", "a", "--name", "Moodle")
    token = result.stdout.strip()
    assert re.fullmatch(r"mk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    assert result.stdout == token + "\n"
    client = app.test_client()
    assert client.get("/api/v1/badge-classes", headers=bearer(token)).status_code == 200
    listed = json.loads(ok(runner, "token", "list", "--institution", "a").stdout)
    moodle = next(item for item in listed if item["name"] == "Moodle")
    assert moodle["created_by"] == "cli"
    assert moodle["role"] == "issuer"
    assert moodle["last_used_at"] is not None  # committed by the API request
    assert token not in json.dumps(listed)
    ok(runner, "token", "revoke", "--institution", "a", str(moodle["id"]))
    assert client.get("/api/v1/badge-classes", headers=bearer(token)).status_code == 401


def test_token_create_with_admin_role_and_bad_input(runner: FlaskCliRunner, world: World) -> None:
    admin = ok(runner, "token", "create", "--institution", "a", "--role", "institution_admin")
    assert admin.stdout.startswith("mk_")
    unknown = runner.invoke(main, ["token", "create", "--institution", "nowhere"])
    assert unknown.exit_code == 1
    assert "no institution 'nowhere'" in unknown.stderr
    bad_role = runner.invoke(main, ["token", "create", "--institution", "a", "--role", "root"])
    assert bad_role.exit_code == 2


def test_user_create_prints_a_one_time_password(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    result = ok(
        runner,
        "user",
        "create",
        "--institution",
        "a",
        "--email",
        "Uusi@A.test",
        "--role",
        "issuer",
    )
    password = result.stdout.strip()
    assert len(password) >= 16
    client = app.test_client()
    assert login(client, "uusi@a.test", password).headers["Location"] == "/staff/"
    assert client.get("/staff/").headers["Location"] == "/staff/password"


def test_user_create_reads_the_password_from_stdin(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    result = ok(
        runner,
        "user",
        "create",
        "--email",
        "root2@merkki.test",
        "--role",
        "service_admin",
        "--password-stdin",
        stdin="a password from a file\n",
    )
    assert result.stdout == ""
    client = app.test_client()
    response = login(client, "root2@merkki.test", "a password from a file")
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200  # no forced change


def test_user_create_refuses_bad_combinations(runner: FlaskCliRunner, world: World) -> None:
    for args in (
        ["--email", "x@a.test", "--role", "issuer"],
        ["--institution", "a", "--email", "x@a.test", "--role", "service_admin"],
        ["--institution", "a", "--email", world.a.admin_email, "--role", "issuer"],
        ["--institution", "a", "--email", "nonsense", "--role", "issuer"],
    ):
        result = runner.invoke(main, ["user", "create", *args])
        assert result.exit_code == 1, args
        assert len(result.stderr.strip().splitlines()) == 1


def test_user_password_resets(app: Flask, runner: FlaskCliRunner, world: World) -> None:
    one_time = ok(runner, "user", "password", "--email", world.a.issuer_email).stdout.strip()
    assert login(app.test_client(), world.a.issuer_email, one_time).status_code == 302
    ok(
        runner,
        "user",
        "password",
        "--email",
        world.a.issuer_email,
        "--password-stdin",
        stdin="chosen by the operator\n",
    )
    assert (
        login(app.test_client(), world.a.issuer_email, "chosen by the operator").status_code == 302
    )
    missing = runner.invoke(main, ["user", "password", "--email", "nobody@x.test"])
    assert missing.exit_code == 1


def test_ensure_demo_creates_a_demo_admin_once(app: Flask, runner: FlaskCliRunner) -> None:
    ok(runner, "init")
    first = ok(runner, "institution", "ensure-demo")
    assert first.stdout == "did:web:127.0.0.1%3A5000:issuers:demo\n"
    match = re.search(r"as demo@merkki\.test with the password (\S+) ", first.stderr)
    assert match is not None, first.stderr
    second = ok(runner, "institution", "ensure-demo")
    assert "demo@merkki.test" not in second.stderr
    client = app.test_client()
    assert login(client, "demo@merkki.test", match.group(1)).status_code == 302
    # The generated password was on the operator's screen: it must be replaced first (issue 15).
    assert client.get("/staff/users").headers["Location"] == "/staff/password"
    changed = client.post(
        "/staff/password",
        data={
            "current": match.group(1),
            "new": "the demo admin's own passphrase",
            "confirm": "the demo admin's own passphrase",
            "csrf_token": csrf_token(client, "/staff/password"),
        },
    )
    assert changed.status_code == 302
    assert client.get("/staff/users").status_code == 200  # an institution admin
    with app.app_context():
        user = accounts.find_user_by_email(get_session(), "demo@merkki.test")
        assert user is not None
        assert user.institution is not None
        assert user.institution.slug == "demo"


# --- e-mail addresses validated once (issuer.services.emails; issue 13) -----------------------


def test_user_create_refuses_anything_but_one_plain_address(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    for address, reason in (
        ("Uusi <uusi@a.test>", "without a name"),
        ("uusi@a.test,toinen@a.test", "one e-mail address only"),
        ("uu\u200bsi@a.test", "U+200B"),
        ("uusi@a.test\u202e", "U+202E"),
    ):
        result = runner.invoke(
            main,
            ["user", "create", "--institution", "a", "--email", address, "--role", "issuer"],
        )
        assert result.exit_code == 1, address
        [line] = result.stderr.strip().splitlines()
        assert reason in line, (address, line)
    with app.app_context():
        assert accounts.find_user_by_email(get_session(), "uusi@a.test") is None
