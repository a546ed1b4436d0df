"""Revoking, suspending and unsuspending credentials through the JSON API.

``POST /api/v1/credentials/<id>/revoke`` with ``{"reason": "..."}`` (required), and
``/suspend`` and ``/unsuspend`` (``{"reason": ...}`` optional). A bearer token of an
institution admin or issuer of the credential's institution; any other institution's
credential is "not found" (404). Answers with the credential's state; an action that does not
apply (revoking twice, suspending a revoked credential) is 409, a missing reason 422.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from issuer import urls
from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.models import Credential
from issuer.services import revocation
from issuer.web import ratelimit
from issuer.web.api import bp
from issuer.web.auth import Role, api_auth, current_actor, ensure_same_institution
from issuer.web.errors import error_response


def credential_state_json(credential: Credential, base_url: str) -> dict[str, Any]:
    def time(value: Any) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": credential.id,
        "url": urls.credential_url(base_url, credential.id),
        "state": revocation.credential_state(credential),
        "revokedAt": time(credential.revoked_at),
        "revocationReason": credential.revocation_reason,
        "suspendedAt": time(credential.suspended_at),
        "verificationPage": urls.verify_url(base_url, credential.id),
    }


def _reason() -> str | Response | None:
    """``reason`` from the JSON body; an empty body means none."""
    if not request.get_data(cache=True):
        return None
    if not request.is_json:
        return error_response(415, "send a JSON object body", code="unsupported_media_type")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "the body must be a JSON object", code="bad_request")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        return error_response(400, "'reason' must be a string", code="bad_request")
    return reason


def _act(credential_id: str, action: str) -> Response:
    reason = _reason()
    if isinstance(reason, Response):
        return reason
    base_url = get_settings().base_url
    with unit_of_work() as session:
        credential = revocation.find_credential(session, credential_id, base_url)
        # Another institution's credential does not exist, as far as this token knows.
        ensure_same_institution(credential.institution_id)
        revocation.change_status(session, credential, action, actor=current_actor(), reason=reason)
        body = credential_state_json(credential, base_url)
    return jsonify(body)


@bp.post("/credentials/<credential_id>/revoke")
@ratelimit.limit_api
@api_auth(Role.ISSUER)
def revoke_credential(credential_id: str) -> Response:
    return _act(credential_id, "revoke")


@bp.post("/credentials/<credential_id>/suspend")
@ratelimit.limit_api
@api_auth(Role.ISSUER)
def suspend_credential(credential_id: str) -> Response:
    return _act(credential_id, "suspend")


@bp.post("/credentials/<credential_id>/unsuspend")
@ratelimit.limit_api
@api_auth(Role.ISSUER)
def unsuspend_credential(credential_id: str) -> Response:
    return _act(credential_id, "unsuspend")
