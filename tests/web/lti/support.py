"""Shared set-up of the LTI tests (fixtures used through tests/web/lti/conftest.py, and by
tests/cli/test_lti.py).

One app per test module and backend on a copy of the session's migrated database (SQLite, then
PostgreSQL: ``migrated_database``; the LTI tests change no configuration), with institutions
``a`` and ``b`` and an admin of each (``admin@a.test``, ``admin@b.test``), jobs run inline, and
the platform of ``tests.web.lti.platform`` on a loopback port, registered for ``a``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session, unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.models.issuing import BulkJob
from issuer.models.lti import LtiState
from issuer.services import accounts, badge_classes, institutions, lti
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from tests.conftest import (
    BACKENDS,
    BASE_URL,
    PASSPHRASE,
    badge_template,
    migrated_database,
    write_template,
)
from tests.web.lti.platform import Platform, serve
from tests.web.staff.support import PASSWORD, fast_password_hashing


@pytest.fixture(scope="module", params=BACKENDS)
def lti_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    root = tmp_path_factory.mktemp("lti")
    database_url = migrated_database(request, root)
    templates = root / "badge_templates"
    write_template(templates, badge_template("welding-basics"))
    write_template(templates, badge_template("safety-card"))
    app = create_app(
        {
            "TESTING": True,
            "BASE_URL": BASE_URL,
            "DATABASE_URL": database_url,
            "KEYS_DIR": root / "keys",
            "KEY_PASSPHRASE": PASSPHRASE,
            "KEY_STORE": "database",
            "SECRET_KEY": "test secret key",
            "BADGE_TEMPLATES_DIR": templates,
            "JOB_RUNNER": "inline",
            "MAIL_DELIVERY": "sync",
        }
    )
    keystore = KeyStore(root / "keys", PASSPHRASE)
    with pytest.MonkeyPatch.context() as patch, app.app_context(), unit_of_work() as session:
        fast_password_hashing(patch)
        badge_classes.load_templates(session, templates)
        for slug in ("a", "b"):
            institutions.create_institution(
                session,
                InstitutionDetails(
                    slug=slug,
                    name_fi=f"Oppilaitos {slug.upper()}",
                    name_sv=f"Läroanstalt {slug.upper()}",
                    name_en=f"Institution {slug.upper()}",
                ),
                keystore,
            )
            session.flush()
            accounts.create_user(
                session,
                institution=institutions.get_institution(session, slug),
                email=f"admin@{slug}.test",
                role=Role.INSTITUTION_ADMIN,
                password=PASSWORD,
            )
    yield app
    dispose(app)


def register(app: Flask, platform: Platform, slug: str = "a", **changes: Any) -> int:
    details = {
        "name": "Moodle",
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": [platform.deployment_id],
        "auth_login_url": f"{platform.base}/auth",
        "auth_token_url": f"{platform.base}/token",
        "key_set_url": f"{platform.base}/jwks",
        **changes,
    }
    with app.app_context(), unit_of_work() as session:
        found = lti.register_platform(
            session,
            institutions.get_institution(session, slug),
            lti.PlatformDetails(**details),
            actor=SystemActor(),
            development=True,
        )
        return found.id


@pytest.fixture(scope="module")
def platform(lti_app: Flask) -> Iterator[Platform]:
    """The platform, serving on loopback, registered for ``a``; it trusts the tool's key set
    as ``/lti/jwks.json`` publishes it."""
    for running in serve(Platform(tool=BASE_URL)):
        running.tool_jwks = lti_app.test_client().get("/lti/jwks.json").get_json()
        register(lti_app, running)
        yield running


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model)) or 0


def credentials(app: Flask) -> int:
    return count(app, Credential)


def jobs(app: Flask) -> int:
    return count(app, BulkJob)


def launches(app: Flask) -> int:
    with app.app_context():
        return (
            get_session().scalar(
                select(func.count())
                .select_from(LtiState)
                .where(
                    LtiState.key.like("lti1p3-lti1p3-launch-%")
                    | LtiState.key.like("lti1p3-launch-%")
                )
            )
            or 0
        )
