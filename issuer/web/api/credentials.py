"""Issuing through the JSON API.

* ``POST /api/v1/credentials`` issues one credential -> 201 ``{"id", "url", "credential"}``.
  With an ``Idempotency-Key`` header a retried request returns the first answer (same status
  and body) and never issues twice; the same key with a different body is refused (422). Keys
  are per caller (API token) and institution; concurrent duplicates are settled by a UNIQUE
  constraint (``IdempotencyRecord``).
* ``POST /api/v1/credentials/bulk`` takes a cohort CSV (``multipart/form-data`` with ``file``,
  or the CSV itself as ``text/csv``) and the badge class (form field or query ``badge_class``)
  -> 202 with the job; ``GET /api/v1/jobs/<id>`` shows its progress.

Every route needs a bearer token with the issuer role; a token acts for its own institution.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, Institution
from issuer.models.issuing import IdempotencyRecord
from issuer.services import badge_classes, bulk, bulk_csv, issue_input, issuing
from issuer.services.errors import InvalidInputError, NotFoundError
from issuer.services.issue_input import Evidence, FieldError, FieldErrors, IssueInput
from issuer.web import issuing_context
from issuer.web.api import bp
from issuer.web.auth import Role, api_auth, current_actor, institution_for_actor
from issuer.web.errors import error_response
from issuer.web.ratelimit import limit_api
from issuer.wiring import jobs

MAX_IDEMPOTENCY_KEY = 255
ISSUE_FIELDS = frozenset(
    {
        "badge_class",
        "recipient",
        "lang",
        "evidence",
        "result",
        "grade",
        "activity_start_date",
        "activity_end_date",
        "valid_until",
    }
)


def _json_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(error: FieldErrors) -> Response:
    response = error_response(422, error.message, code="invalid_input")
    body = json.loads(response.get_data(as_text=True))
    body["fields"] = error.fields
    return _json_response(body, 422)


def _string(body: dict[str, Any], name: str, errors: list[FieldError]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, "type", "must be a string"))
        return None
    return value


def _parse_issue_body(body: object) -> tuple[str, IssueInput]:
    """(badge class reference, the issuance as sent), or ``FieldErrors`` naming what does not
    have the API's shape (JSON types, unknown members). What the values must be is
    ``issue_input.validate``'s to say."""
    if not isinstance(body, dict):
        raise FieldErrors([FieldError("body", "type", "must be a JSON object")])
    errors: list[FieldError] = []
    for unknown in sorted(set(body) - ISSUE_FIELDS):
        errors.append(FieldError(unknown, "unknown_field", "unknown field"))
    badge = body.get("badge_class")
    if isinstance(badge, int) and not isinstance(badge, bool):
        badge = str(badge)
    if not isinstance(badge, str) or not badge.strip():
        errors.append(FieldError("badge_class", "required", "required: a badge class slug or id"))
        badge = ""
    recipient = body.get("recipient")
    email = name = None
    if not isinstance(recipient, dict):
        errors.append(
            FieldError("recipient", "required", "required: an object with email and name")
        )
    else:
        for extra in sorted(set(recipient) - {"email", "name"}):
            errors.append(FieldError(f"recipient.{extra}", "unknown_field", "unknown field"))
        email, name = recipient.get("email"), recipient.get("name")
        for member, value in (("email", email), ("name", name)):
            if not isinstance(value, str):
                errors.append(FieldError(f"recipient.{member}", "required", "required"))
    lang = _string(body, "lang", errors) or "fi"
    evidence: list[Evidence] = []
    raw_evidence = body.get("evidence")
    if raw_evidence is not None:
        if not isinstance(raw_evidence, list):
            errors.append(
                FieldError(
                    "evidence", "type", "must be a list of objects with url and/or narrative"
                )
            )
        else:
            for position, item in enumerate(raw_evidence):
                where = f"evidence.{position}"
                if not isinstance(item, dict) or set(item) - {"url", "narrative"}:
                    message = "must be an object with url and/or narrative"
                    errors.append(FieldError(where, "type", message))
                    continue
                url, narrative = item.get("url"), item.get("narrative")
                if not isinstance(url, str | None) or not isinstance(narrative, str | None):
                    errors.append(FieldError(where, "type", "url and narrative must be strings"))
                    continue
                evidence.append(Evidence(url=url, narrative=narrative))
    grade = _string(body, "grade", errors)
    result = _string(body, "result", errors)
    if grade is not None and result is not None:
        errors.append(FieldError("result", "conflict", "give result or grade, not both"))
    raw = IssueInput(
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        lang=lang,
        evidence=tuple(evidence),
        grade=grade if grade is not None else result,
        activity_start_date=_string(body, "activity_start_date", errors),
        activity_end_date=_string(body, "activity_end_date", errors),
        valid_until=_string(body, "valid_until", errors),
    )
    if errors:
        raise FieldErrors(errors)
    return badge.strip(), raw


def _badge_class(reference: str, institution: Institution) -> BadgeClass:
    """The badge class ``reference`` names (slug or id). Another institution's unpublished one
    answers word for word as one that does not exist: its existence is not revealed."""
    try:
        badge_class = badge_classes.get_badge_class(get_session(), reference)
    except NotFoundError:
        badge_class = None
    if badge_class is None or (
        badge_class.institution_id not in (None, institution.id) and not badge_class.published
    ):
        raise FieldErrors([FieldError("badge_class", "not_found", f"no badge class {reference!r}")])
    return badge_class


def _request_hash(body: bytes) -> str:
    """What a retry must repeat: method, path and the JSON body (canonical, so that key order
    and whitespace do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python allows
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> Response:
    if record.request_hash != request_hash:
        return error_response(
            422,
            "this Idempotency-Key was used with a different request",
            code="idempotency_key_reused",
        )
    if record.status_code is None or record.response_body is None:  # pragma: no cover
        return error_response(409, "the first request with this key is still running")
    response = Response(
        record.response_body, status=record.status_code, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _find_record(institution_id: int, scope: str, key: str) -> IdempotencyRecord | None:
    return get_session().scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.institution_id == institution_id,
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
        )
    )


@bp.post("/credentials")
@limit_api
@api_auth(Role.ISSUER)
def issue_credential() -> ResponseReturnValue:
    actor = current_actor()
    institution = institution_for_actor(get_session())
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        key = key.strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
            return error_response(
                400, f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters"
            )
    raw = request.get_data(cache=True)
    scope = f"{actor.kind}:{actor.id}"
    request_hash = _request_hash(raw)
    if key is not None:
        existing = _find_record(institution.id, scope, key)
        if existing is not None:
            return _replay(existing, request_hash)
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return error_response(400, "the body is not JSON", code="invalid_json")
    try:
        reference, raw_input = _parse_issue_body(body)
    except FieldErrors as error:
        return _field_errors(error)
    problems: list[FieldError] = []
    try:
        badge_class = _badge_class(reference, institution)
    except FieldErrors as error:
        problems.extend(error.errors)
    try:
        recipient = issue_input.validate(raw_input, now=datetime.now(UTC))
    except FieldErrors as error:
        problems.extend(error.errors)
    if problems:
        return _field_errors(FieldErrors(problems))
    session = get_session()
    record: IdempotencyRecord | None = None
    try:
        with unit_of_work():
            if key is not None:
                # Inserted first: a concurrent duplicate waits here for this transaction, then
                # fails on the UNIQUE constraint and answers with what this one stores.
                record = IdempotencyRecord(
                    institution_id=institution.id,
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                )
                session.add(record)
                session.flush()
            issued = issuing.issue(
                session,
                issuing_context.for_request(),
                institution,
                badge_class,
                recipient.email,
                recipient.name,
                recipient.options,
                actor=actor,
                via="api",
            )
            credential = issued.credential
            url = urls.credential_url(get_settings().base_url, credential.id)
            response_body = {
                "id": credential.id,
                "url": url,
                "credential": json.loads(credential.signed_json),
            }
            text = json.dumps(response_body, ensure_ascii=False)
            if record is not None:
                record.status_code = 201
                record.response_body = text
    except IntegrityError:
        if key is None:
            raise
        existing = _find_record(institution.id, scope, key)
        if existing is None:
            raise
        return _replay(existing, request_hash)
    except FieldErrors as error:
        return _field_errors(error)
    response = Response(text, status=201, mimetype="application/json")
    response.headers["Location"] = url
    return response


def _csv_upload() -> tuple[bytes, str | None]:
    if (
        request.content_length is not None
        and request.content_length > bulk_csv.MAX_CSV_BYTES + 65536
    ):
        raise InvalidInputError(
            f"the upload is larger than {bulk_csv.MAX_CSV_BYTES // (1024 * 1024)} MB"
        )
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInputError("send the CSV file in the form field 'file'")
        data = upload.stream.read(bulk_csv.MAX_CSV_BYTES + 1)
        return data, upload.filename
    if request.mimetype in ("text/csv", "application/csv", "text/plain"):
        return request.get_data(cache=False)[: bulk_csv.MAX_CSV_BYTES + 1], None
    raise InvalidInputError("send the CSV as text/csv or as multipart/form-data field 'file'")


@bp.post("/credentials/bulk")
@limit_api
@api_auth(Role.ISSUER)
def issue_bulk() -> ResponseReturnValue:
    actor = current_actor()
    session = get_session()
    institution = institution_for_actor(session)
    data, file_name = _csv_upload()
    reference = (request.form.get("badge_class") or request.args.get("badge_class") or "").strip()
    lang = (request.form.get("lang") or request.args.get("lang") or "fi").strip()
    errors: list[FieldError] = []
    if not reference:
        errors.append(FieldError("badge_class", "required", "required: a badge class slug or id"))
    if lang not in issue_input.LANGUAGES:
        errors.append(FieldError("lang", "unknown_language", "must be fi, sv or en"))
    if errors:
        return _field_errors(FieldErrors(errors))
    try:
        badge_class = _badge_class(reference, institution)
    except FieldErrors as error:
        return _field_errors(error)
    if not badge_classes.usable_by(badge_class, institution):
        return _field_errors(
            FieldErrors([FieldError("badge_class", "not_found", f"no badge class {reference!r}")])
        )
    parsed_class = badge_classes.parsed(badge_classes.current_version(session, badge_class))
    try:
        parsed = bulk_csv.parse_csv(
            data,
            default_lang=lang,
            languages=issue_input.complete_languages(parsed_class),
            missing=issue_input.missing_fields(parsed_class),
        )
    except bulk_csv.CsvError as error:
        return _json_response(
            {
                "error": error.code,
                "message": error.message,
                "total_errors": error.total_errors,
                "errors": [row.to_dict() for row in error.errors],
            },
            422,
        )
    with unit_of_work() as write:
        job = bulk.create_job(
            write, institution, badge_class, parsed, actor=actor, file_name=file_name
        )
        job_id = job.id
        body = bulk.job_json(job)
    location = url_for("api.job_status", job_id=job_id)
    jobs.runner(current_app._get_current_object()).submit(job_id)  # type: ignore[attr-defined]
    body["url"] = location
    return _json_response(body, 202, {"Location": location})


@bp.get("/jobs/<int:job_id>")
@limit_api
@api_auth(Role.ISSUER)
def job_status(job_id: int) -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    job = bulk.get_job(session, job_id, institution)
    return _json_response(bulk.job_json(job, bulk.job_errors(session, job)), 200)
