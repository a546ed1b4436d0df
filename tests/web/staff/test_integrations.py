"""The staff page of integrations (``/staff/integrations``): institution admins create them,
see each secret once, and revoke them."""

from __future__ import annotations

import json
import re
import time

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.core import webhook_signature
from issuer.db import get_session
from issuer.models import Institution
from issuer.models.audit import AuditEvent
from issuer.services import integrations
from tests.web.staff.support import World, bearer, csrf_token, signed_in

BODY = json.dumps(
    {
        "event_id": "1",
        "badge_class": "a-badge",
        "learner": {"email": "liisa@example.fi", "name": "Liisa"},
    }
).encode()


def _signed_call(app: Flask, key_id: str, secret: str) -> int:
    headers = {
        "Content-Type": "application/json",
        "Merkki-Integration": key_id,
        "Merkki-Signature": webhook_signature.header_value(secret, int(time.time()), BODY),
    }
    return app.test_client().post("/api/v1/completions", data=BODY, headers=headers).status_code


def test_an_integration_is_shown_once_used_and_revoked(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    token = csrf_token(client, "/staff/integrations")
    created = client.post(
        "/staff/integrations", data={"name": "Moodle", "auth": "hmac", "csrf_token": token}
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    key_id = re.search(r'<code id="new-key-id">([^<]+)</code>', page)
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', page)
    assert key_id is not None
    assert secret is not None
    assert "/api/v1/completions" in page
    assert _signed_call(app, key_id.group(1), secret.group(1)) == 202

    listing = client.get("/staff/integrations").get_data(as_text=True)
    assert "Moodle" in listing
    assert key_id.group(1) in listing
    assert secret.group(1) not in listing
    with app.app_context():
        institution = get_session().get(Institution, world.a.institution_id)
        assert institution is not None
        [found] = integrations.list_integrations(get_session(), institution)
        integration_id = found.id
    revoked = client.post(
        f"/staff/integrations/{integration_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 302
    assert _signed_call(app, key_id.group(1), secret.group(1)) == 401
    with app.app_context():
        events = get_session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("integration.%"))
            .order_by(AuditEvent.id)
        )
        assert [(event.action, event.actor_label, event.target) for event in events] == [
            ("integration.create", world.a.admin_email, f"integration:{integration_id}"),
            ("integration.revoke", world.a.admin_email, f"integration:{integration_id}"),
        ]
    audit_page = client.get("/staff/audit?lang=en").get_data(as_text=True)
    assert "Integration created" in audit_page
    assert secret.group(1) not in audit_page


def test_a_bearer_integration_shows_its_token(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.admin_email)
    token = csrf_token(client, "/staff/integrations")
    page = client.post(
        "/staff/integrations", data={"name": "Peppi", "auth": "bearer", "csrf_token": token}
    ).get_data(as_text=True)
    secret = re.search(r'<code id="new-secret">(mki_[^<]+)</code>', page)
    assert secret is not None
    assert 'id="new-key-id"' not in page
    answer = app.test_client().post(
        "/api/v1/completions", data=BODY, headers={**bearer(secret.group(1))}
    )
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_page_is_in_three_languages_and_refuses_a_blank_name(
    app: Flask, world: World, lang: str
) -> None:
    client = signed_in(app, world.a.admin_email)
    token = csrf_token(client, "/staff/integrations")
    page = client.get(f"/staff/integrations?lang={lang}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'lang="{lang}"' in text
    title = {"fi": "Integraatiot", "sv": "Integrationer", "en": "Integrations"}[lang]
    assert f"<h1>{title}</h1>" in text
    refused = client.post(
        f"/staff/integrations?lang={lang}", data={"name": " ", "auth": "hmac", "csrf_token": token}
    )
    assert refused.status_code in (400, 422)
    assert 'id="new-secret"' not in refused.get_data(as_text=True)


def test_issuers_may_not_manage_integrations(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    assert client.get("/staff/integrations").status_code == 403
