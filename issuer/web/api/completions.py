"""The completion webhook: learning platforms and student-information systems report that a
learner completed something, and the badge class is issued through the job path.

* ``POST /api/v1/completions`` -> 202 with the job (``Location``: its URL). Authenticated per
  integration (``issuer.services.integrations``): ``Merkki-Integration`` + ``Merkki-Signature``
  (HMAC-SHA256 over the exact body with a time, ``issuer.core.webhook_signature``) or
  ``Authorization: Bearer mki_...``. Idempotent per source event: a repeat answers the first
  report's job (202, ``Idempotent-Replayed: true``) and issues nothing new; the same event id
  with another payload is refused (409).
* ``GET /api/v1/completions/jobs/<id>``: a job of this integration's completions (for HMAC the
  signed text is the path with its query string, a GET having no body).

Documented for LMS administrators in docs/integrations.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models.integrations import CompletionEvent, Integration
from issuer.services import bulk, integrations
from issuer.services.errors import ConflictError, NotFoundError
from issuer.services.issue_input import FieldErrors
from issuer.web.api import bp
from issuer.web.errors import error_response
from issuer.web.ratelimit import limit_api
from issuer.wiring import jobs


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(error: FieldErrors) -> Response:
    codes = {problem.code for problem in error.errors}
    if "invalid_json" in codes:
        return error_response(400, "the body is not JSON", code="invalid_json")
    body = {"error": "invalid_input", "message": error.message, "fields": error.fields}
    return _json(body, 422)


def _signed_text() -> bytes:
    """What a GET's signature covers: the path as requested, with its query string."""
    path = request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return (f"{path}?{query}" if query else path).encode("utf-8")


def _authenticate(signed: bytes) -> Integration | Response:
    """The integration this call comes from, or the 401 answer."""
    session = get_session()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    bearer = scheme.lower() == "bearer"
    try:
        if bearer:
            found = integrations.authenticate_bearer(session, token.strip())
        else:
            found = integrations.authenticate_signature(
                session,
                request.headers.get("Merkki-Integration"),
                request.headers.get("Merkki-Signature"),
                signed,
                passphrase=get_settings().key_passphrase,
                previous=get_settings().key_passphrase_previous,
                now=time.time(),
            )
    except integrations.IntegrationAuthError as error:
        response = error_response(401, error.message, code=error.code)
        # RFC 9110 §11.6.1: a 401 names the scheme it wants.
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="merkki", error="invalid_token"'
            if bearer
            else 'Merkki-Signature realm="merkki"'
        )
        return response
    return found


def _job_answer(
    event: CompletionEvent, status: int = 202, *, replayed: bool = False
) -> ResponseReturnValue:
    if event.job is None:  # pragma: no cover - written in the same transaction as the event
        return error_response(409, "this completion is still being recorded")
    body = bulk.job_json(event.job)
    location = url_for("api.completion_job", job_id=event.job.id)
    body["url"] = location
    body["event_id"] = event.source_event_id
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(body, status, headers)


def _repeat(event: CompletionEvent, completion: integrations.Completion) -> ResponseReturnValue:
    try:
        integrations.repeated(event, completion)
    except ConflictError as error:
        return error_response(409, error.message, code="event_id_reused")
    return _job_answer(event, replayed=True)


@bp.post("/completions")
@limit_api
def report_completion() -> ResponseReturnValue:
    limit = integrations.MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        return error_response(413, f"a completion is at most {limit // 1024} KiB")
    # Cached: the security checks before every request have read the body already.
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        return error_response(413, f"a completion is at most {limit // 1024} KiB")
    found = _authenticate(raw)
    if isinstance(found, Response):
        return found
    integration = found
    session = get_session()
    session.commit()  # ends the read of the integration: the unit of work below starts afresh
    try:
        completion = integrations.parse_completion(raw)
    except FieldErrors as error:
        return _field_errors(error)
    existing = integrations.find_event(session, integration, completion.event_id)
    if existing is not None:
        return _repeat(existing, completion)
    try:
        with unit_of_work() as write:
            event = integrations.record_completion(write, integration, completion)
            job_id = event.job_id
    except IntegrityError:
        # A concurrent report of the same event committed first (the UNIQUE constraint).
        existing = integrations.find_event(session, integration, completion.event_id)
        if existing is None:
            raise
        return _repeat(existing, completion)
    except FieldErrors as error:
        return _field_errors(error)
    answer = _job_answer(event)
    if job_id is not None:
        jobs.runner(current_app._get_current_object()).submit(job_id)  # type: ignore[attr-defined]
    return answer


@bp.get("/completions/jobs/<int:job_id>")
@limit_api
def completion_job(job_id: int) -> ResponseReturnValue:
    found = _authenticate(_signed_text())
    if isinstance(found, Response):
        return found
    session = get_session()
    try:
        job = integrations.job_for(session, found, job_id)
    except NotFoundError:
        return error_response(404, f"no job {job_id}")
    return _json(bulk.job_json(job, bulk.job_errors(session, job)), 200)
