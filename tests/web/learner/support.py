"""Shared set-up for the issuing tests (services, API, learner page, staff UI, CLI).

Import what a module needs. ``issuing_app_config`` (fixture ``app_config``) overrides the
suite's fixture so that bulk jobs run inline and mails are delivered before ``commit()``
returns (no background threads to wait for); ``issuing_templates_dir`` (fixture
``templates_dir``) adds two modules and a package requiring both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_session, unit_of_work
from issuer.models import Credential, Institution
from issuer.models.accounts import Role
from issuer.services import accounts, badge_classes, institutions, issue_input, issuing, keys
from issuer.services.institutions import InstitutionDetails
from issuer.services.issuing_context import IssuingContext
from tests.conftest import BASE_URL, PASSPHRASE, badge_template, write_template
from tests.snapshots import restore_or_build

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(name="app_config")
def issuing_app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "JOB_RUNNER": "inline", "MAIL_DELIVERY": "sync"}


@pytest.fixture(name="templates_dir")
def issuing_templates_dir(templates_dir: Path) -> Path:
    """The suite's templates plus ``module-a``, ``module-b`` and ``package-ab`` (requires
    both); ``module-a`` has a result description-free achievement, like every template."""
    write_template(templates_dir, badge_template("module-a"))
    write_template(templates_dir, badge_template("module-b"))
    write_template(templates_dir, badge_template("package-ab", requires=["module-a", "module-b"]))
    return templates_dir


@dataclass
class World:
    """Two institutions with API tokens; ``hamk`` issues, ``tamk`` is the other one."""

    hamk: str
    tamk: str
    hamk_token: str
    tamk_token: str


def _institution(session: Any, keystore: KeyStore, slug: str, name: str) -> Institution:
    return institutions.create_institution(
        session,
        InstitutionDetails(slug=slug, name_fi=f"{name} fi", name_sv=f"{name} sv", name_en=name),
        keystore,
    )


def _build_world(app: Flask, keystore: KeyStore, templates_dir: Path) -> World:
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, templates_dir)
        hamk = _institution(session, keystore, "hamk", "HAMK")
        tamk = _institution(session, keystore, "tamk", "TAMK")
        hamk_token = accounts.create_token(session, hamk, name="lms", created_by="test")
        tamk_token = accounts.create_token(session, tamk, name="lms", created_by="test")
        created = World("hamk", "tamk", hamk_token.secret, tamk_token.secret)
    return created


@pytest.fixture(name="world")
def world_fixture(
    request: pytest.FixtureRequest, app: Flask, keystore: KeyStore, templates_dir: Path
) -> World:
    return restore_or_build(
        request, app, "learner world", lambda: _build_world(app, keystore, templates_dir)
    )


@dataclass(frozen=True)
class IssuedIds:
    id: str
    manage_token: str
    packages: tuple[str, ...]


def issue(
    app: Flask,
    *,
    badge: str = "test-badge",
    email: str = "liisa@example.fi",
    name: str = "Liisa Virtanen",
    institution: str = "hamk",
    options: issue_input.IssueOptions | None = None,
) -> IssuedIds:
    """Issue and commit, as a request would."""
    with app.app_context(), unit_of_work() as session:
        issued = issuing.issue(
            session,
            IssuingContext.from_settings(get_settings()),
            institutions.get_institution(session, institution),
            badge_classes.get_badge_class(session, badge),
            email,
            name,
            options or issue_input.IssueOptions(lang="fi"),
        )
        ids = IssuedIds(
            issued.credential.id,
            issued.manage_token,
            tuple(package.id for package in issued.packages),
        )
    return ids


def credential_json(app: Flask, credential_id: str) -> dict[str, Any]:
    with app.app_context():
        stored = get_session().get(Credential, credential_id)
        assert stored is not None
        document: dict[str, Any] = json.loads(stored.signed_json)
        return document


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = [
    "BASE_URL",
    "CSRF",
    "IssuedIds",
    "World",
    "auth",
    "credential_json",
    "issue",
    "issuing_app_config",
    "issuing_templates_dir",
    "world_fixture",
]

_ROLE = Role.ISSUER  # the tokens above have the issuer role (accounts.create_token's default)


def break_key(app: Flask, keys_dir: Path, breakage: str) -> str:
    """Break hamk's active key file as an operator might; returns its key id."""
    with app.app_context():
        session = get_session()
        key = keys.active_key(session, institutions.get_institution(session, "hamk"))
        key_id = key.key_id
    path = keys_dir / f"{key_id}.pem"
    if breakage == "missing":
        path.unlink()
    elif breakage == "passphrase":  # encrypted with another passphrase than the service's
        private_key = KeyStore(keys_dir, PASSPHRASE).load(key_id)
        KeyStore(keys_dir, "another passphrase").save(key_id, private_key, overwrite=True)
    else:
        path.write_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nnot a key\n")
    return key_id


def assert_nothing_of_the_server(text: str, keys_dir: Path, key_id: str) -> None:
    for secret in (str(keys_dir), key_id, ".pem", "ISSUER_", PASSPHRASE):
        assert secret not in text
    assert "passphrase" not in text.lower()
