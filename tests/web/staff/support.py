"""Shared set-up for the accounts, staff UI, API, catalogue and isolation tests.

``world`` builds two institutions, A and B, each with an admin, an issuer, an API token and a
published badge class of its own, on top of the national templates of ``templates_dir``; B's
badge class has an issued credential. ``make_world`` builds it; test folders wrap it in a
``world`` fixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_session
from issuer.models.accounts import Role
from issuer.services import (
    accounts,
    badge_class_admin,
    badge_classes,
    institutions,
    issuing,
    learner_keys,
)
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL, FAST_HASHER

PASSWORD = "a long enough test password"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def complete_micro_credential(slug: str, **changes: Any) -> dict[str, Any]:
    """An EU-complete MicroCredential, fully in fi, sv and en."""
    data: dict[str, Any] = {
        "slug": slug,
        "version": "1.0",
        "achievement_type": "MicroCredential",
        "name": {
            "fi": "Työturvallisuuden perusteet",
            "sv": "Grunderna i arbetarskydd",
            "en": "Basics of occupational safety",
        },
        "description": {
            "fi": "Työturvallisuuden perusteet rakennusalalla.",
            "sv": "Grunderna i arbetarskydd inom byggbranschen.",
            "en": "Basics of occupational safety in construction.",
        },
        "criteria_narrative": {
            "fi": "Hyväksytysti suoritettu käytännön näyttö.",
            "sv": "Godkänd praktisk yrkesprov.",
            "en": "A passed practical demonstration.",
        },
        "learning_outcomes": [
            {
                "fi": "Osallistuja osaa tunnistaa vaaratilanteet.",
                "sv": "Deltagaren kan identifiera risksituationer.",
                "en": "The participant can identify hazards.",
            },
            {
                "fi": "Osallistuja osaa käyttää suojaimia.",
                "sv": "Deltagaren kan använda skyddsutrustning.",
                "en": "The participant can use protective equipment.",
            },
        ],
        "workload": {"hours": 27, "ects": 1, "competence_points": 1},
        "eqf_level": 4,
        "nqf_level": 4,
        "assessment_type": "practical-assessment",
        "participation_form": "work-based",
        "supervision": "supervised-onsite-id",
        "quality_assurance": {
            "fi": "Koulutuksen järjestäjän laatujärjestelmä.",
            "sv": "Utbildningsanordnarens kvalitetssystem.",
            "en": "The provider's quality system.",
        },
        "competence_areas": ["foresight"],
        "tags": ["turvallisuus"],
    }
    data.update(changes)
    return data


def simple_badge(slug: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": slug,
        "version": "1.0",
        "achievement_type": "Badge",
        "name": {"fi": f"Merkki {slug}", "sv": f"Märke {slug}", "en": f"Badge {slug}"},
        "description": {"fi": "Kuvaus.", "sv": "Beskrivning.", "en": "Description."},
        "criteria_narrative": {"fi": "Kriteerit.", "sv": "Kriterier.", "en": "Criteria."},
    }
    data.update(changes)
    return data


@dataclass
class Party:
    """One institution's people and things."""

    slug: str
    institution_id: int
    admin_email: str
    issuer_email: str
    admin_id: int
    issuer_id: int
    token: str
    token_id: int
    badge_slug: str
    credential_id: str | None


@dataclass
class World:
    a: Party
    b: Party
    service_admin_email: str


def _party(session: Any, keystore: KeyStore, slug: str, *, issue: bool, token_role: Role) -> Party:
    institution = institutions.create_institution(
        session,
        InstitutionDetails(
            slug=slug,
            name_fi=f"Oppilaitos {slug.upper()}",
            name_sv=f"Läroanstalt {slug.upper()}",
            name_en=f"Institution {slug.upper()}",
        ),
        keystore,
    )
    admin = accounts.create_user(
        session,
        institution=institution,
        email=f"admin@{slug}.test",
        role=Role.INSTITUTION_ADMIN,
        password=PASSWORD,
    ).user
    issuer = accounts.create_user(
        session,
        institution=institution,
        email=f"issuer@{slug}.test",
        role=Role.ISSUER,
        password=PASSWORD,
    ).user
    token = accounts.create_token(
        session, institution, name=f"{slug} lms", role=token_role, created_by="test"
    )
    saved = badge_class_admin.create_badge_class(
        session,
        institution,
        complete_micro_credential(f"{slug}-badge"),
        published=True,
        auto_issue=False,
    )
    credential_id = None
    if issue:
        credential = issuing.issue_credential(
            session,
            institution,
            saved.badge_class,
            "learner@example.fi",
            "Liisa Oppija",
            "fi",
            base_url=BASE_URL,
            keystore=keystore,
            secret=learner_keys.recipient_secret(get_settings()),
        )
        credential_id = credential.id
    return Party(
        slug=slug,
        institution_id=institution.id,
        admin_email=admin.email,
        issuer_email=issuer.email,
        admin_id=admin.id,
        issuer_id=issuer.id,
        token=token.secret,
        token_id=token.token.id,
        badge_slug=saved.badge_class.slug,
        credential_id=credential_id,
    )


def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", FAST_HASHER)


def make_world(app: Flask, keystore: KeyStore) -> World:
    """Institutions ``a`` and ``b`` (see the module docstring), the national templates, and a
    service admin. Test folders wrap it in a ``world`` fixture."""
    with app.app_context():
        session = get_session()
        badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
        a = _party(session, keystore, "a", issue=False, token_role=Role.INSTITUTION_ADMIN)
        b = _party(session, keystore, "b", issue=True, token_role=Role.INSTITUTION_ADMIN)
        accounts.create_user(
            session,
            institution=None,
            email="root@merkki.test",
            role=Role.SERVICE_ADMIN,
            password=PASSWORD,
        )
        session.commit()
    return World(a=a, b=b, service_admin_email="root@merkki.test")


def csrf_token(client: FlaskClient, url: str = "/staff/login") -> str:
    page = client.get(url)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match is not None, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    token = csrf_token(client)
    return client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": token}
    )


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
