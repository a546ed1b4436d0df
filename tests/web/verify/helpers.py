"""Shared set-up for the verification, status and audit tests: an institution with credentials
in every state, their baked images, and signed-in staff.

Fixtures defined here are imported by the test modules that use them (``from
tests.web.verify.helpers import scenario``), so tests outside ``tests/web/verify`` share them
without a conftest of their own.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from issuer import paths
from issuer.config import get_settings
from issuer.core.baking import bake_png, bake_svg
from issuer.db import get_session, unit_of_work
from issuer.models import Credential, Institution
from issuer.models.accounts import Role
from issuer.services import (
    accounts,
    badge_classes,
    institutions,
    issuing,
    keys,
    learner_keys,
    revocation,
)
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL, SVG, badge_template, write_template
from tests.snapshots import restore_or_build

MICRO = "pokot-ennakointiosaaminen"
REASON = "Näyttö hyväksyttiin virheellisesti <b>väärälle</b> henkilölle"
PASSWORD = "a long enough password 123"
VERDICTS = ("valid", "revoked", "suspended", "expired", "tampered")
EXPECTED_VERDICT = {
    "valid": "valid",
    "revoked": "revoked",
    "suspended": "suspended",
    "expired": "expired",
    "tampered": "not_genuine",
}
ACTOR = SystemActor(kind="cli", label="test")


@dataclass
class Issued:
    """One credential: its stored id and the exact JSON text a holder has."""

    id: str
    text: str

    @property
    def url(self) -> str:
        return f"{BASE_URL}/credentials/{self.id}"

    @property
    def document(self) -> dict[str, Any]:
        value = json.loads(self.text)
        assert isinstance(value, dict)
        return value


@dataclass
class Scenario:
    slug: str
    other_slug: str
    credentials: dict[str, Issued] = field(default_factory=dict)


def png_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (11, 92, 138)).save(out, format="PNG")
    return out.getvalue()


def baked(kind: str, text: str) -> bytes:
    """``text`` baked into a PNG or SVG badge image (or the JSON bytes themselves)."""
    if kind == "png":
        return bake_png(png_image(), text)
    if kind == "svg":
        return bake_svg(SVG, text)
    return text.encode("utf-8")


def tampered_text(text: str) -> str:
    document = json.loads(text)
    document["credentialSubject"]["name"] = "Someone Else"
    return json.dumps(document, ensure_ascii=False, indent=2)


def with_micro_credential(root: Path) -> Path:
    """The test templates plus one shipped, EU-complete micro-credential."""
    write_template(root, badge_template("test-badge", validity_months=24))
    shutil.copytree(paths.BADGE_TEMPLATES_DIR / MICRO, root / MICRO)
    return root


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    return with_micro_credential(tmp_path / "badge_templates")


def issue(
    session: Any,
    institution: Institution,
    badge: str,
    name: str,
    *,
    lang: str = "fi",
    now: datetime | None = None,
) -> Credential:
    settings = get_settings()
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, badge),
        f"{name.split()[0].lower()}@example.fi",
        name,
        lang,
        base_url=settings.base_url,
        keystore=keys.keystore_for(settings),
        secret=learner_keys.recipient_secret(settings),
        now=now,
    )


def create_institution(session: Any, slug: str, name: str) -> Institution:
    settings = get_settings()
    return institutions.create_institution(
        session,
        InstitutionDetails(slug=slug, name_fi=name, name_sv=f"{name} (sv)", name_en=f"{name} (en)"),
        keys.keystore_for(settings),
    )


def build_scenario(app: Flask) -> Scenario:
    """HAMK with a valid, a revoked, a suspended and an expired micro-credential, plus a
    tampered copy of the valid one (not stored); OAMK, another institution, with one."""
    scenario = Scenario(slug="hamk", other_slug="oamk")
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, get_settings().badge_templates_dir)
        hamk = create_institution(session, "hamk", "Hämeen ammattikorkeakoulu")
        oamk = create_institution(session, "oamk", "Oulun ammattikorkeakoulu")
        valid = issue(session, hamk, MICRO, "Aino Virtanen")
        revoked = issue(session, hamk, MICRO, "Bertil Holm", lang="sv")
        suspended = issue(session, hamk, MICRO, "Carla Niemi", lang="en")
        # test-badge is valid for 24 months: issued in 2020, it expired in 2022.
        expired = issue(
            session, hamk, "test-badge", "Daniel Koski", now=datetime(2020, 1, 1, tzinfo=UTC)
        )
        other = issue(session, oamk, MICRO, "Eeva Oulu")
        revocation.revoke(session, revoked, actor=ACTOR, reason=REASON)
        revocation.suspend(session, suspended, actor=ACTOR)
        for key, credential in (
            ("valid", valid),
            ("revoked", revoked),
            ("suspended", suspended),
            ("expired", expired),
            ("other", other),
        ):
            scenario.credentials[key] = Issued(credential.id, credential.signed_json)
    valid_issued = scenario.credentials["valid"]
    scenario.credentials["tampered"] = Issued(valid_issued.id, tampered_text(valid_issued.text))
    return scenario


@pytest.fixture
def scenario(request: pytest.FixtureRequest, app: Flask) -> Scenario:
    """``build_scenario``'s world, built once per session and backend (tests/snapshots.py)."""
    return restore_or_build(request, app, "verify scenario", lambda: build_scenario(app))


def store_tampered(app: Flask, scenario: Scenario) -> str:
    """Replace the stored text of a fresh valid credential with a tampered one (as if the
    database had been altered); returns its id."""
    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, scenario.slug)
        credential = issue(session, hamk, MICRO, "Frida Forged")
        credential.signed_json = tampered_text(credential.signed_json)
        return credential.id


# --- staff -------------------------------------------------------------------------------------


def create_staff(app: Flask, slug: str | None, email: str, role: Role) -> int:
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, slug) if slug else None
        created = accounts.create_user(
            session, institution=institution, email=email, role=role, password=PASSWORD
        )
        return created.user.id


def sign_in(client: FlaskClient, app: Flask, user_id: int) -> None:
    """Sign ``client`` in as the staff member (the session the sign-in page would create)."""
    from issuer.web.auth import SESSION_STAMP, SESSION_USER

    with app.app_context():
        user = accounts.get_active_user(get_session(), user_id)
        assert user is not None
        stamp = accounts.session_stamp(user)
    with client.session_transaction() as session:
        session[SESSION_USER] = user_id
        session[SESSION_STAMP] = stamp


def create_token(app: Flask, slug: str, role: Role = Role.ISSUER) -> str:
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, slug)
        return accounts.create_token(
            session, institution, name=f"{slug} {role.value}", role=role, created_by="test"
        ).secret


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str) -> str:
    response = client.get(page)
    assert response.status_code == 200, response.status_code
    match = _CSRF.search(response.get_data(as_text=True))
    assert match is not None, "no CSRF token on " + page
    return match.group(1)


# --- status lists --------------------------------------------------------------------------------


def served_status(client: FlaskClient, app: Flask, credential: Issued) -> tuple[bool, Any]:
    """Fetch the status list credential at the credential's ``statusListCredential`` URL, as
    any verifier would, check that it is validly signed by the issuer, and return (the bit,
    the HTTP response)."""
    from issuer.core.dataintegrity.verifying import verify_proofs
    from issuer.core.status_list import check_status
    from issuer.services import key_resolution

    entry = credential.document["credentialStatus"]
    url = entry["statusListCredential"]
    assert url.startswith(BASE_URL + "/status/")
    response = client.get(url.removeprefix(BASE_URL))
    assert response.status_code == 200, response.status_code
    document = json.loads(response.get_data(as_text=True))
    with app.app_context():
        resolver = key_resolution.resolver_for(get_session(), BASE_URL)
        results = verify_proofs(document, resolver)
    assert results
    assert all(result.ok for result in results), [r.message for r in results]
    assert document["issuer"] == credential.document["issuer"]["id"]
    result = check_status(entry, document)
    assert result.status is not None, result.message
    return result.status, response
