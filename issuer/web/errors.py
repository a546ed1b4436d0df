"""Errors as HTTP responses, in one place.

Every 4xx/5xx answer of the JSON API and of the public JSON routes is a JSON body
``{"error": <code>, "message": <text>}``. Service and engine errors carry their own ``code``;
HTTP errors use the snake-cased status name (``not_found``, ``method_not_allowed``).

Everywhere else a person reads the answer: an error page in the site's layout and the reader's
language (``error_page``), also for a URL no route serves, never Werkzeug's English page. A
client that prefers JSON to HTML still gets JSON. The page shows our own text for the status;
a message given with the error is shown only when it was written for the reader
(``abort_for_reader``), since most carry a developer's English detail.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    abort,
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
from issuer.services.translation import N_
from issuer.web.health import forget_key_check, note_storage_problem
from issuer.web.observability import loggable_path

#: Blueprints whose every error is JSON.
JSON_BLUEPRINTS = frozenset({"api", "public", "vcapi", "oid4vci"})
#: ``/status/...`` serves status list credentials (JSON) to verifiers, ``/vc-api/`` the VC-API
#: verifier, ``/oid4vci/`` the OpenID4VCI endpoints: their errors are JSON too.
JSON_PATH_PREFIXES = ("/api/", "/status/", "/vc-api/", "/oid4vci/")

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


def _prefers_html() -> bool:
    """Does the client rank HTML above JSON (a browser)? No Accept header at all does not."""
    accept = request.accept_mimetypes
    return bool(accept) and accept["text/html"] > accept["application/json"]


#: Status -> (title, explanation) of the error page. Statuses not listed get the generic pair.
ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: (
        N_("Bad request"),
        N_("The request could not be understood. Check the address or the form and try again."),
    ),
    403: (N_("No access"), N_("You do not have permission to open this page.")),
    404: (
        N_("Page not found"),
        N_("There is no page at this address. Check the link, or start again from the front page."),
    ),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Too large"), N_("What you sent is too large for the service to accept.")),
    415: (N_("Unsupported format"), N_("This address does not accept data in that format.")),
    422: (
        N_("Cannot be processed"),
        N_("What you sent contains something the service cannot use."),
    ),
    429: (
        N_("Too many requests"),
        N_("Too many requests came from your address. Wait a moment and try again."),
    ),
    500: (
        N_("Something went wrong"),
        N_("An unexpected error occurred. It has been logged. Please try again later."),
    ),
    503: (
        N_("Service unavailable"),
        N_("The service cannot answer right now. Please try again in a moment."),
    ),
}
GENERIC_ERROR_TEXT = (N_("Error"), N_("Something went wrong."))
#: What the staff pages (under ``/staff``) say instead for some statuses: there a 404 may also
#: be another institution's object, and a 403 is about the staff member's role.
STAFF_ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    403: (N_("Not allowed"), N_("Your role does not allow this.")),
    404: (N_("Not found"), N_("There is nothing here, or you have no access to it.")),
    413: (N_("Too large"), N_("The upload is too large.")),
    429: (N_("Too many attempts"), N_("Too many attempts. Wait a while and try again.")),
}

#: Attribute set on an HTTP error whose description was written (and translated) for the reader.
_FOR_READER = "merkki_for_reader"


def abort_for_reader(status: int, message: str) -> NoReturn:
    """``abort(status, message)`` where ``message`` is meant for the person reading the page
    (already translated): the HTML error page shows it instead of the status's own text."""
    try:
        abort(status, message)
    except HTTPException as error:
        setattr(error, _FOR_READER, True)
        raise


def _is_staff_page() -> bool:
    return request.path == "/staff" or request.path.startswith("/staff/")


def _forget_unreadable_staff_user() -> None:
    """After ``close_session`` (a 500 or 503) the signed-in staff member's row is detached with
    its attributes expired, and reading them would fail: that page is shown without the staff
    menu rather than not at all. (A session still open loads them as usual.)"""
    user = g.get("staff_user")
    if user is None:
        return
    state = inspect(user, raiseerr=False)
    if state is not None and state.detached and state.expired_attributes:
        g.pop("staff_user")


def error_page(
    status: int,
    message: str | None = None,
    *,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """The HTML error page for ``status`` in the reader's language: in the staff layout (its
    menu when signed in) with ``STAFF_ERROR_TEXTS`` under ``/staff``, in the public layout
    elsewhere. ``message`` replaces the status's explanation."""
    staff = _is_staff_page()
    if staff:
        _forget_unreadable_staff_user()
    texts = STAFF_ERROR_TEXTS if staff else {}
    title, default = texts.get(status) or ERROR_TEXTS.get(status, GENERIC_ERROR_TEXT)
    try:
        body = render_template(
            "errors/error.html",
            layout="staff/layout.html" if staff else "base.html",
            staff=staff,
            status=status,
            title=_(title),
            message=message or _(default),
        )
    except Exception:
        # An error page must always answer: if the layout itself fails (the cause may be the
        # very error being reported), the cause is logged and a bare page is served.
        current_app.logger.exception("the error page for %s could not be rendered", status)
        body = str(InternalServerError().get_body())
    response = Response(body, status=status, mimetype="text/html")
    for name, value in headers or ():
        # Keep headers such as Allow (405) and Retry-After (429, 503); the body is ours.
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def reader_message(error: HTTPException) -> str | None:
    """The error's message when it was written for the reader (``abort_for_reader``)."""
    return error.description if getattr(error, _FOR_READER, False) else None


def _http_error(error: HTTPException) -> Response | HTTPException:
    if error.code is None or error.code < 400:
        return error  # not an error (a redirect raised as an exception): Flask's own answer
    status = error.code
    if not wants_json():
        return error_page(status, reader_message(error), headers=error.get_headers())
    response = error_response(status, error.description)
    # Keep headers such as Allow (405) and Retry-After (429, 503); the body is ours.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _service_error(error: ServiceError) -> Response:
    status = next((code for kind, code in _STATUS_BY_ERROR.items() if isinstance(error, kind)), 400)
    if not wants_json() and _prefers_html():
        # A browser on a page: the status's page (the message is a developer's English).
        return error_page(status)
    return error_response(status, error.message, code=error.code)


def _engine_error(error: EngineError) -> Response:
    # Engine errors reaching a view are bad input that got past the view's own checks.
    if not wants_json() and _prefers_html():
        return error_page(422)
    return error_response(422, error.message, code=error.code)


#: Seconds a client is asked to wait when signing is unavailable (an operator must act).
RETRY_AFTER_SIGNING_S = 60


def _signing_unavailable(error: SigningUnavailableError | KeyError_) -> Response:
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
        return error_page(503, message, headers=[("Retry-After", str(RETRY_AFTER_SIGNING_S))])
    response = error_response(503, message, code=SigningUnavailableError.code)
    response.headers["Retry-After"] = str(RETRY_AFTER_SIGNING_S)
    return response


def _unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, loggable_path())
    # Nothing half-done may be committed by anyone later in this context.
    close_session()
    if not wants_json():
        return error_page(500)
    return error_response(500, "internal error; it has been logged")


#: Seconds a client is asked to wait after a transient database conflict.
RETRY_AFTER_CONFLICT_S = 1


#: Seconds a client is asked to wait when the database cannot write (read-only, disk full).
RETRY_AFTER_STORAGE_S = 30


def _database_error(error: DBAPIError) -> Response:
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
        return error_page(503, message, headers=[("Retry-After", str(retry_after))])
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
