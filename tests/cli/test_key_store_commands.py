"""merkki key migrate --to database and merkki key rewrap: file keys move into the database and
keep their credentials verifying; the passphrase changes without a key being lost."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from issuer.cli import main
from issuer.config import SETTINGS_EXTENSION, get_settings
from issuer.core import webhook_signature
from issuer.core.key_envelope import DatabaseKeyStore, forget_cached_keys
from issuer.core.keys import KeyStore
from issuer.db import Base, get_session, unit_of_work
from issuer.models import SigningKey
from issuer.models.integrations import AuthKind
from issuer.services import badge_classes, institutions, integrations, keys
from issuer.services.actors import CLI_ACTOR
from issuer.services.errors import SigningUnavailableError
from issuer.services.institutions import InstitutionDetails
from tests.conftest import PASSPHRASE
from tests.web.verify.helpers import MICRO, issue, templates_dir

__all__ = ["templates_dir"]  # a fixture used below

NEW_PASSPHRASE = "a new passphrase for the keys, from a vault"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    forget_cached_keys()
    yield
    forget_cached_keys()


def run(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def _verify(runner: FlaskCliRunner, tmp_path: Path, text: str) -> int:
    path = tmp_path / "credential.json"
    path.write_text(text, "utf-8")
    return run(runner, "verify", str(path)).exit_code


def _issue(app: Flask, name: str) -> str:
    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, "hamk")
        return issue(session, hamk, MICRO, name).signed_json


def _sealed(app: Flask) -> dict[str, str | None]:
    with app.app_context():
        rows = get_session().scalars(select(SigningKey))
        return {row.key_id: row.sealed_private_key for row in rows}


def test_migrate_moves_the_file_keys_and_credentials_keep_verifying(
    app: Flask, runner: FlaskCliRunner, keystore: KeyStore, keys_dir: Path, tmp_path: Path
) -> None:
    # A deployment that ran the files store: its keys are files in ISSUER_KEYS_DIR.
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
        hamk = institutions.create_institution(
            session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
        )
        keys.rotate_key(session, hamk, keystore)
    before = _issue(app, "Aino Virtanen")
    assert set(_sealed(app).values()) == {None}

    result = run(runner, "key", "migrate", "--to", "database")

    assert result.exit_code == 0, (result.output, result.exception)
    moved: list[Any] = json.loads(result.stdout)
    assert sorted(moved) == sorted(_sealed(app))
    assert None not in _sealed(app).values()
    assert PASSPHRASE not in result.output
    for path in keys_dir.iterdir():
        path.unlink()  # the files are no longer needed
    assert _verify(runner, tmp_path, before) == 0
    assert _verify(runner, tmp_path, _issue(app, "Bertil Holm")) == 0
    again = run(runner, "key", "migrate", "--to", "database")
    assert again.exit_code == 0
    assert json.loads(again.stdout) == []


def test_migrate_names_only_the_database(runner: FlaskCliRunner) -> None:
    result = run(runner, "key", "migrate", "--to", "files")
    assert result.exit_code != 0
    assert "database" in result.output


def test_rewrap_changes_the_passphrase(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
        institutions.create_institution(
            session,
            InstitutionDetails(slug="hamk", name_fi="HAMK"),
            keys.keystore_for(get_settings(app)),
        )
    before = _issue(app, "Aino Virtanen")
    old_sealed = _sealed(app)
    monkeypatch.setenv("MERKKI_NEW_PASSPHRASE", NEW_PASSPHRASE)

    result = run(runner, "key", "rewrap", "--new-passphrase-env", "MERKKI_NEW_PASSPHRASE")

    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout) == {"rewrapped": 1}
    assert NEW_PASSPHRASE not in result.output
    assert PASSPHRASE not in result.output
    [(key_id, sealed)] = _sealed(app).items()
    assert sealed is not None
    assert sealed != old_sealed[key_id]
    with app.app_context():
        row = get_session().scalars(select(SigningKey)).one()
        with pytest.raises(SigningUnavailableError):
            keys.load_private_key(DatabaseKeyStore(PASSPHRASE), row)
        assert keys.load_private_key(DatabaseKeyStore(NEW_PASSPHRASE), row)
    assert _verify(runner, tmp_path, before) == 0


def test_rewrap_reseals_the_integration_secrets_with_the_keys(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
        hamk = institutions.create_institution(
            session,
            InstitutionDetails(slug="hamk", name_fi="HAMK"),
            keys.keystore_for(get_settings(app)),
        )
        hook = integrations.create_integration(
            session, hamk, name="Moodle", actor=CLI_ACTOR, passphrase=PASSPHRASE
        )
        hook_id, secret = integrations.key_id(hook.integration), hook.secret
        integrations.create_integration(
            session, hamk, name="LMS", auth_kind=AuthKind.BEARER, actor=CLI_ACTOR, passphrase=""
        )
    before = _issue(app, "Aino Virtanen")
    monkeypatch.setenv("MERKKI_NEW_PASSPHRASE", NEW_PASSPHRASE)

    result = run(runner, "key", "rewrap", "--new-passphrase-env", "MERKKI_NEW_PASSPHRASE")

    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout) == {"rewrapped": 1}
    assert (
        "1 key(s), 1 integration secret(s) and 0 sign-in provider secret(s) re-wrapped"
        in result.stderr
    )
    # The old passphrase is gone from the configuration (and from this process's caches).
    settings = get_settings(app)
    app.extensions[SETTINGS_EXTENSION] = dataclasses.replace(
        settings, key_passphrase=NEW_PASSPHRASE, key_passphrase_previous=()
    )
    forget_cached_keys()
    body = b'{"event_id": "after the rewrap"}'
    header = webhook_signature.header_value(secret, int(time.time()), body)
    with app.app_context():
        found = integrations.authenticate_signature(
            get_session(), hook_id, header, body, passphrase=NEW_PASSPHRASE, now=time.time()
        )
        assert integrations.key_id(found) == hook_id
        with pytest.raises(integrations.IntegrationAuthError):
            integrations.authenticate_signature(
                get_session(), hook_id, header, body, passphrase=PASSPHRASE, now=time.time()
            )
    after = _issue(app, "Bertil Holm")  # signed with the key opened under the new passphrase
    assert _verify(runner, tmp_path, before) == 0
    assert _verify(runner, tmp_path, after) == 0


def test_rewrap_covers_every_sealed_column() -> None:
    # `merkki key rewrap` reseals these (keys.rewrap, integrations.reseal_secrets,
    # oidc.reseal_secrets, lti.reseal_tool_keys); a new column sealed under the passphrase must
    # join them, or a passphrase change would strand it.
    sealed = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if "sealed" in column.name
    }
    assert sealed == {
        ("signing_key", "sealed_private_key"),
        ("integration", "secret_sealed"),
        ("oidc_provider", "client_secret_sealed"),
        ("lti_tool_key", "sealed_private_pem"),
    }


def test_rewrap_needs_a_passphrase_in_the_variable(
    runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MERKKI_NEW_PASSPHRASE", raising=False)
    result = run(runner, "key", "rewrap", "--new-passphrase-env", "MERKKI_NEW_PASSPHRASE")
    assert result.exit_code == 1
    assert "MERKKI_NEW_PASSPHRASE holds no passphrase" in result.output


def test_institution_create_and_key_rotate_seal_into_the_database(
    app: Flask, runner: FlaskCliRunner, keys_dir: Path
) -> None:
    assert run(runner, "init").exit_code == 0
    result = run(runner, "institution", "create", "hamk", "--name", "HAMK")
    assert result.exit_code == 0, (result.output, result.exception)
    printed = json.loads(result.stdout)
    rotated = run(runner, "key", "rotate", "--institution", "hamk")
    assert rotated.exit_code == 0, (rotated.output, rotated.exception)

    sealed = _sealed(app)
    assert printed["key_id"] in sealed
    assert len(rotated_rows := json.loads(rotated.stdout)) == 2
    assert {row["key_id"] for row in rotated_rows} <= set(sealed)
    assert None not in sealed.values()
    assert not keys_dir.exists() or not any(keys_dir.iterdir())
    assert _issue(app, "Aino Virtanen")
