"""The VC-API verification routes (see the package docstring)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.verifier import MAX_CREDENTIAL_BYTES
from issuer.db import get_session
from issuer.services import vc_api
from issuer.services.errors import InvalidInputError
from issuer.services.key_resolution import RemoteFetcher
from issuer.web import ratelimit
from issuer.web.errors import error_response
from issuer.web.vcapi import bp
from issuer.web.verifying import remote_fetcher

JSON_MEDIA_TYPES = frozenset({"application/json", "application/ld+json"})
#: A presentation carries several credentials (``vc_api.MAX_PRESENTED_CREDENTIALS``).
MAX_REQUEST_BYTES = 2 * MAX_CREDENTIAL_BYTES

Verifier = Callable[..., vc_api.VcApiResult]


def _refused(status: int, message: str, code: str) -> Response:
    response = error_response(status, message, code=code)
    body = response.get_json()
    # The VC-API's shape, also for a request that could not be verified at all.
    if isinstance(body, dict):
        body.update(
            {
                "verified": False,
                "checks": [],
                "warnings": [],
                "errors": [{"code": code, "title": message}],
            }
        )
        response.set_data(json.dumps(body))
    return response


def _answer(verifier: Verifier) -> Response:
    if request.mimetype not in JSON_MEDIA_TYPES:
        return _refused(415, "send the request as application/json", "unsupported_media_type")
    request.max_content_length = MAX_REQUEST_BYTES
    raw = request.get_data(cache=False)
    if len(raw) > MAX_REQUEST_BYTES:
        # The body may have been read already (the app's NUL guard reads JSON bodies under
        # the app-wide limit), so the limit of this API is checked on what was read.
        return _refused(413, f"request body larger than {MAX_REQUEST_BYTES} bytes", "too_large")
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _refused(400, "the body is not valid JSON", "bad_request")
    session: Session = get_session()
    fetch: RemoteFetcher = remote_fetcher()
    try:
        result = verifier(session, body, base_url=get_settings().base_url, fetch=fetch)
    except InvalidInputError as error:
        return _refused(400, error.message, "bad_request")
    response = jsonify(result.to_dict())
    response.status_code = 200 if result.verified else 422
    return response


@bp.post("/credentials/verify")
@ratelimit.limit_verify
def verify_credential() -> Response:
    return _answer(vc_api.verify_credential_request)


@bp.post("/presentations/verify")
@ratelimit.limit_verify
def verify_presentation() -> Response:
    return _answer(vc_api.verify_presentation_request)
