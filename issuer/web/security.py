"""Web hardening shared by every blueprint: security headers, request size limits, cookies,
and the reverse-proxy set-up.

* Content-Security-Policy without inline scripts or styles (all JS/CSS are static files),
  ``frame-ancestors 'none'``, ``nosniff``, a strict referrer policy, and HSTS when the service
  is reached over https (``ISSUER_BASE_URL`` is https, or the request itself is secure).
* SVG responses get their own CSP with ``sandbox``: uploaded artwork is sanitised on upload,
  and this keeps a missed script inert even when the image is opened directly.
* ``ISSUER_MAX_REQUEST_BYTES`` caps every request body (413 before the body is read);
  multipart parts and in-memory form fields are capped as well.
* JSON bodies nested too deeply for the parser are bad requests, not server errors.
* Values no column can hold never reach the database (issue 13): ``<int:...>`` in a route
  stops at ``MAX_DB_INT`` (a larger number is a 404, as PostgreSQL's INTEGER would overflow);
  a NUL byte (which PostgreSQL refuses in text) in the path is a 404, in a header a 400, and in
  a query parameter, form field or JSON body a 422. A JSON body on a route that takes only
  forms is a 415 (Flask-WTF would read it as form data of any JSON type).
* Session cookies are HttpOnly, SameSite=Lax, and Secure under https.
* ``ISSUER_PROXY_FIX=N`` trusts N reverse proxies' X-Forwarded-* headers (client address for
  rate limits and logs, scheme for HSTS and cookies); 0 (default) trusts none.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, NoReturn

from flask import Flask, Response, abort, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from issuer.web.errors import abort_for_reader
from issuer.web.observability import path_holds_secret

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024

PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SVG_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
HSTS = "max-age=31536000; includeSubDomains"


def _int_setting(app: Flask, key: str, default: int) -> int:
    value = app.config.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"ISSUER_{key} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"ISSUER_{key} must not be negative")
    return number


def _is_https(app: Flask) -> bool:
    return str(app.config.get("BASE_URL", "")).startswith("https://")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if path_holds_secret(request.path):
        # The URL holds a secret (a manage-link token): every answer to it, errors and
        # redirects included, keeps it out of referrers (and so out of other sites' and the
        # proxy's logs) and out of caches.
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cache-Control"] = "no-store"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if not g.get("framable_by_platform"):
        # An LTI page (``issuer.web.lti``) names the platform that may frame it in its CSP's
        # frame-ancestors instead; X-Frame-Options cannot name an origin.
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_CSP
    else:
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
    # Browsers ignore HSTS received over plain http, so sending it whenever the service is
    # meant to be https (its base URL) is safe; X-Forwarded-Proto counts only through ProxyFix.
    if request.is_secure or _is_https(current_app):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _refuse_oversized_body() -> None:
    # Werkzeug enforces MAX_CONTENT_LENGTH only when a view reads the body; refusing on the
    # declared length up front answers 413 at once for every URL (no 404/405 first, nothing
    # read), while MAX_CONTENT_LENGTH still caps chunked bodies without a declared length.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413, f"request body larger than {limit} bytes")


#: The largest integer a column of this service holds: ids and numbers are INTEGER, which
#: PostgreSQL keeps in 32 bits (SQLite in 64). A larger one names nothing.
MAX_DB_INT = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that matches only what the database can hold: ``/jobs/99999999999`` is a
    404 from routing, never an overflow in the database driver (a 500)."""

    def __init__(
        self,
        map: Map,  # werkzeug's parameter names
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        bound = MAX_DB_INT if max is None else builtins.min(max, MAX_DB_INT)
        super().__init__(map, fixed_digits, min, bound, signed)


NUL = "\x00"


def _holds_nul(value: Any) -> bool:
    """Does a parsed JSON value hold a NUL character in any string, key or value? (Iterative:
    the depth is only bounded by the parser.)"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse_nul() -> NoReturn:
    abort_for_reader(422, _("The request contains a NUL character, which no field may hold."))


def _has_nul(pairs: Iterable[tuple[str, list[str]]]) -> bool:
    return any(NUL in name or any(NUL in value for value in values) for name, values in pairs)


def _refuse_unstorable_input() -> None:
    """NUL bytes and JSON bodies where only forms are read, refused before any view. (Runs on
    every request: messages are translated only when one is refused.)"""
    if NUL in request.path:
        abort(404)
    if any(NUL in name or NUL in value for name, value in request.headers.items()):
        abort_for_reader(400, _("A request header contains a NUL character."))
    if _has_nul(request.args.lists()):
        _refuse_nul()
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.is_json:
        # The JSON APIs: ours, the VC-API verifier, the wallet exchange (``/wallet/<token>/
        # exchange``; the interaction URL itself takes no body) and the OpenID4VCI credential
        # endpoint.
        if not request.path.startswith(("/api/", "/vc-api/", "/wallet/", "/oid4vci/")):
            abort_for_reader(415, _("This address takes a form, not JSON."))
        # JSON text cannot carry a raw NUL (control characters must be escaped), so a NUL in
        # a parsed string comes from a \u0000 escape: without one in the body (nearly every
        # request) nothing is parsed here; with one, the parsed body decides (the six
        # characters may be escaped text, "\\u0000").
        if b"\\u0000" in request.get_data(cache=True) and _holds_nul(request.get_json(silent=True)):
            _refuse_nul()
        return
    if request.mimetype == "application/x-www-form-urlencoded":
        # Kept, so that a view reading the raw body (an API route refusing forms with 415)
        # still finds it after the form was parsed here.
        request.get_data(cache=True, parse_form_data=False)
    elif request.mimetype != "multipart/form-data":
        return  # no form fields (a CSV or image body is checked by its own reader)
    if _has_nul(request.form.lists()):
        _refuse_nul()


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested deeper than Python's recursion limit (``[[[[...``, a few
    kilobytes) is invalid JSON: ``request.get_json()`` answers 400 (``None`` when silent) like
    for any other unreadable body, instead of a ``RecursionError`` and a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: routes bind their converters as they are
    added."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntegerConverter
    max_bytes = _int_setting(app, "MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.before_request(_refuse_oversized_body)
    app.before_request(_refuse_unstorable_input)
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 2 * 1024 * 1024)
    app.config.setdefault("MAX_FORM_PARTS", 1000)

    https = _is_https(app)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        PREFERRED_URL_SCHEME="https" if https else "http",
    )

    proxies = _int_setting(app, "PROXY_FIX", 0)
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    app.after_request(add_security_headers)
