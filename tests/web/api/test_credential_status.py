"""POST /api/v1/credentials/<id>/revoke|suspend|unsuspend."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.db import get_session
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.models.audit import AuditEvent
from tests.web.verify.helpers import (
    Scenario,
    create_token,
    scenario,
    served_status,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below


def _post(
    client: FlaskClient, token: str | None, credential_id: str, action: str, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/credentials/{credential_id}/{action}", json=body, headers=headers)


def _events(app: Flask, credential_id: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            get_session().scalars(
                select(AuditEvent).where(AuditEvent.target == credential_id).order_by(AuditEvent.id)
            )
        )


def _verdict(client: FlaskClient, credential_id: str) -> str:
    page = client.get(f"/verify/{credential_id}").get_data(as_text=True)
    marker = 'data-verdict="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


def test_revoke_sets_the_bit_in_the_served_signed_list(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    token = create_token(app, "hamk")
    credential = scenario.credentials["valid"]
    before, first = served_status(client, app, credential)
    assert before is False

    response = _post(client, token, credential.id, "revoke", {"reason": "Väärä henkilö"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "revoked"
    assert body["revocationReason"] == "Väärä henkilö"
    assert body["revokedAt"].endswith("Z")
    after, second = served_status(client, app, credential)
    assert after is True
    assert second.headers.get("ETag") != first.headers.get("ETag")
    assert _verdict(client, credential.id) == "revoked"
    events = _events(app, credential.id)
    assert [(e.action, e.actor_kind, e.reason) for e in events if e.action != "issue"] == [
        ("revoke", "token", "Väärä henkilö")
    ]
    assert events[-1].actor_label == "token:hamk issuer"


def test_suspend_and_unsuspend(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    token = create_token(app, "hamk", Role.INSTITUTION_ADMIN)
    credential = scenario.credentials["valid"]

    suspended = _post(client, token, credential.id, "suspend")
    assert suspended.status_code == 200
    assert suspended.get_json()["state"] == "suspended"
    assert _verdict(client, credential.id) == "suspended"
    # The credential carries only its revocation entry: that bit stays clear.
    assert served_status(client, app, credential)[0] is False

    lifted = _post(client, token, credential.id, "unsuspend", {"reason": "selvitetty"})
    assert lifted.status_code == 200
    assert lifted.get_json()["state"] == "active"
    assert _verdict(client, credential.id) == "valid"
    actions = [e.action for e in _events(app, credential.id) if e.action != "issue"]
    assert actions == ["suspend", "unsuspend"]


def test_revocation_needs_a_reason(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    token = create_token(app, "hamk")
    credential_id = scenario.credentials["valid"].id
    for body in (None, {}, {"reason": "   "}):
        response = _post(client, token, credential_id, "revoke", body)
        assert response.status_code == 422, body
        assert "reason" in response.get_json()["message"]
    assert _verdict(client, credential_id) == "valid"


@pytest.mark.parametrize(
    ("credential", "action"),
    [
        ("revoked", "revoke"),
        ("revoked", "suspend"),
        ("revoked", "unsuspend"),
        ("suspended", "suspend"),
        ("valid", "unsuspend"),
    ],
)
def test_actions_that_do_not_apply_are_409(
    app: Flask, client: FlaskClient, scenario: Scenario, credential: str, action: str
) -> None:
    token = create_token(app, "hamk")
    credential_id = scenario.credentials[credential].id
    before = len(_events(app, credential_id))
    response = _post(client, token, credential_id, action, {"reason": "again"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    assert len(_events(app, credential_id)) == before


def test_other_institutions_credentials_are_not_found(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    token = create_token(app, "oamk", Role.INSTITUTION_ADMIN)
    credential_id = scenario.credentials["valid"].id  # HAMK's
    response = _post(client, token, credential_id, "revoke", {"reason": "x"})
    assert response.status_code == 404
    assert _verdict(client, credential_id) == "valid"
    # And the same answer as for a credential that does not exist at all.
    missing = _post(client, token, "0" * 32, "revoke", {"reason": "x"})
    assert missing.status_code == 404
    assert [e.action for e in _events(app, credential_id) if e.action != "issue"] == []


def test_a_token_is_required(client: FlaskClient, scenario: Scenario) -> None:
    response = _post(client, None, scenario.credentials["valid"].id, "revoke", {"reason": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = _post(client, "merkki_nope", scenario.credentials["valid"].id, "suspend")
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"[1]", "application/json", 400),
        (b"{bad", "application/json", 400),
        (b'{"reason": 5}', "application/json", 400),
        (b"reason=x", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bad_bodies(
    app: Flask,
    client: FlaskClient,
    scenario: Scenario,
    data: bytes,
    content_type: str,
    status: int,
) -> None:
    token = create_token(app, "hamk")
    response = client.post(
        f"/api/v1/credentials/{scenario.credentials['valid'].id}/revoke",
        data=data,
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == status
    assert response.get_json()["error"]


def test_the_action_and_its_audit_event_are_one_transaction(
    app: Flask, client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.services import audit

    token = create_token(app, "hamk")
    credential_id = scenario.credentials["valid"].id

    def broken_record(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("audit storage failed")

    monkeypatch.setattr(audit, "record", broken_record)
    response = _post(client, token, credential_id, "revoke", {"reason": "x"})
    assert response.status_code == 500
    with app.app_context():
        stored = get_session().get(Credential, credential_id)
        assert stored is not None
        assert stored.revoked_at is None
    monkeypatch.undo()
    assert _verdict(client, credential_id) == "valid"
