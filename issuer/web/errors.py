"""Errors as HTTP responses, in one place.

Every 4xx/5xx answer of the JSON API and of the public JSON routes is a JSON body
``{"error": <code>, "message": <text>}``. Service and engine errors carry their own ``code``;
HTTP errors use the snake-cased status name (``not_found``, ``method_not_allowed``). Other
routes (HTML pages) keep Flask's default error pages unless the client asks for JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    ServiceUnavailable,
)
from werkzeug.http import HTTP_STATUS_CODES

from issuer.core.errors import EngineError, KeyError_
from issuer.db import close_session, is_transient_conflict, storage_problem
from issuer.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ServiceError,
    SigningUnavailableError,
    TemplateError,
)
from issuer.web.health import forget_key_check, note_storage_problem
from issuer.web.observability import loggable_path

#: Blueprints whose every error is JSON.
JSON_BLUEPRINTS = frozenset({"api", "public"})
#: ``/status/...`` serves status list credentials (JSON) to verifiers: its errors are JSON too.
JSON_PATH_PREFIXES = ("/api/", "/status/")

_STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    TemplateError: 500,
}


def status_code_name(status: int) -> str:
    """``404`` -> ``not_found``."""
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_")


def error_response(status: int, message: str | None = None, *, code: str | None = None) -> Response:
    """A JSON error body with ``status``."""
    body: dict[str, Any] = {
        "error": code or status_code_name(status),
        "message": message or HTTP_STATUS_CODES.get(status, "Error"),
    }
    response = jsonify(body)
    response.status_code = status
    return response


def _blueprint() -> str | None:
    """The blueprint that serves this URL, also when the method was wrong (405): routing then
    failed, so ``request.blueprint`` is unset and the URL is matched again with a method the
    rule allows."""
    if request.blueprint is not None:
        return request.blueprint
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            endpoint, _ = adapter.match(method=next(iter(error.valid_methods)))
        except HTTPException:
            return None
        return str(endpoint).rpartition(".")[0] or None
    return None


def wants_json() -> bool:
    """Should this request's error be JSON? Always on the JSON blueprints and under ``/api/``;
    elsewhere (e.g. an unknown URL) when the client prefers JSON to HTML."""
    if _blueprint() in JSON_BLUEPRINTS or request.path.startswith(JSON_PATH_PREFIXES):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def _http_error(error: HTTPException) -> Response | HTTPException:
    if not wants_json():
        return error
    status = error.code or 500
    response = error_response(status, error.description)
    # Keep headers such as Allow (405) and Retry-After (429, 503); the body is ours.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _service_error(error: ServiceError) -> Response:
    status = next((code for kind, code in _STATUS_BY_ERROR.items() if isinstance(error, kind)), 400)
    return error_response(status, error.message, code=error.code)


def _engine_error(error: EngineError) -> Response:
    # Engine errors reaching a view are bad input that got past the view's own checks.
    return error_response(422, error.message, code=error.code)


#: Seconds a client is asked to wait when signing is unavailable (an operator must act).
RETRY_AFTER_SIGNING_S = 60


def _signing_unavailable(error: SigningUnavailableError | KeyError_) -> Response | HTTPException:
    """A signing key that cannot be used (missing file, wrong passphrase, corrupt, another
    key): 503 with a message that names no file, key or passphrase, in the reader's language.
    The cause goes to the log, and ``/healthz`` checks the keys again at once (its code)."""
    detail = error.detail if isinstance(error, SigningUnavailableError) else error.message
    current_app.logger.error(
        "signing unavailable on %s %s: %s", request.method, loggable_path(), detail
    )
    forget_key_check(current_app)
    close_session()
    message = _(
        "Credentials cannot be signed right now. The service's administrators can find the "
        "cause in its log; please try again later."
    )
    if not wants_json():
        return ServiceUnavailable(message, retry_after=RETRY_AFTER_SIGNING_S)
    response = error_response(503, message, code=SigningUnavailableError.code)
    response.headers["Retry-After"] = str(RETRY_AFTER_SIGNING_S)
    return response


def _unexpected_error(error: Exception) -> Response | HTTPException:
    current_app.logger.exception("unhandled error on %s %s", request.method, loggable_path())
    # Nothing half-done may be committed by anyone later in this context.
    close_session()
    if not wants_json():
        return InternalServerError()
    return error_response(500, "internal error; it has been logged")


#: Seconds a client is asked to wait after a transient database conflict.
RETRY_AFTER_CONFLICT_S = 1


#: Seconds a client is asked to wait when the database cannot write (read-only, disk full).
RETRY_AFTER_STORAGE_S = 30


def _database_error(error: DBAPIError) -> Response | HTTPException:
    """A transaction the database gave up because of a concurrent one (a deadlock between two
    issuers, SQLite's write lock held too long), or a write it cannot take now (a read-only
    database, a full disk: ``storage_problem``): nothing was committed, so the answer is 503
    ``busy`` with Retry-After, not a 500; an API client repeats the request with the same
    Idempotency-Key and gets one credential. ``/healthz`` reports a storage problem by its code
    (``issuer.web.health.note_storage_problem``). Any other database error is unexpected."""
    problem = storage_problem(error)
    if problem is not None:
        current_app.logger.error(
            "database cannot write (%s) on %s %s: %s",
            problem,
            request.method,
            loggable_path(),
            error.orig,
        )
        note_storage_problem(current_app, problem)
        retry_after = RETRY_AFTER_STORAGE_S
    elif is_transient_conflict(error):
        current_app.logger.warning(
            "transient database conflict on %s %s: %s", request.method, loggable_path(), error.orig
        )
        retry_after = RETRY_AFTER_CONFLICT_S
    else:
        return _unexpected_error(error)
    close_session()
    message = _("The service is busy. Please try again in a moment.")
    if not wants_json():
        return ServiceUnavailable(message, retry_after=retry_after)
    response = error_response(503, message, code="busy")
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(EngineError, _engine_error)
    # More specific than the two above: Flask picks the handler of the nearest class.
    app.register_error_handler(SigningUnavailableError, _signing_unavailable)
    app.register_error_handler(KeyError_, _signing_unavailable)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected_error)
