"""The OpenID4VCI routes (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from flask_babel import gettext as _

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work, utc_now
from issuer.services import oid4vci, wallet
from issuer.web import ratelimit
from issuer.web.errors import error_response
from issuer.web.issuing_context import for_request
from issuer.web.oid4vci import bp

#: A credential request is one key proof and a few names; a token request a few fields.
MAX_REQUEST_BYTES = 16 * 1024


def _json(body: dict[str, Any], status: int = 200, *, no_store: bool = True) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


def _refused(error: oid4vci.Oid4vciError) -> Response:
    response = _json({"error": error.error, "error_description": error.description}, error.status)
    if error.status == 401:
        # RFC 6750 §3: the challenge names the error; the description is ASCII without quotes.
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{error.error}", error_description="{error.description}"'
        )
    return response


def _any_origin(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- metadata --------------------------------------------------------------------------------


@bp.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata() -> Response:
    body = oid4vci.credential_issuer_metadata(get_settings().base_url)
    return _any_origin(_json(body, no_store=False))


@bp.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata() -> Response:
    body = oid4vci.authorization_server_metadata(get_settings().base_url)
    return _any_origin(_json(body, no_store=False))


# --- the offer -------------------------------------------------------------------------------


@bp.get("/oid4vci/offers/<code>")
@ratelimit.limit_verify
def credential_offer(code: str) -> Response:
    try:
        body = oid4vci.credential_offer(
            get_session(),
            get_settings().base_url,
            code,
            # §4.1.1: the description has no language of its own; the issuer may follow the
            # wallet's Accept-Language on this GET, as every page does (issuer.web.i18n).
            tx_code_description=_(
                "Enter the six-digit transaction code shown with the QR code on the badge's"
                " private manage page."
            ),
            now=utc_now(),
        )
    except wallet.OfferUnavailableError as error:
        # No protocol message (§4.1.3 defines none): the app's JSON error, as the interaction
        # URL answers it: 404 for an unknown code, 410 for a used or expired offer.
        response = error_response(
            404 if error.reason == "unknown" else 410, error.message, code=f"offer_{error.reason}"
        )
        response.headers["Cache-Control"] = "no-store"
        return _any_origin(response)
    return _any_origin(_json(body))


# --- token, nonce, credential ----------------------------------------------------------------


@bp.post("/oid4vci/token")
@ratelimit.limit_verify
def token() -> Response:
    # RFC 6749 §4.1.3 / §3.2: form-encoded parameters.
    if request.mimetype != "application/x-www-form-urlencoded":
        return _refused(
            oid4vci.Oid4vciError(
                "invalid_request", "send the token request as application/x-www-form-urlencoded"
            )
        )
    request.max_content_length = MAX_REQUEST_BYTES
    form = {name: values[0] for name, values in request.form.lists()}
    repeated = [name for name, values in request.form.lists() if len(values) > 1]
    if repeated:
        # RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
        return _refused(oid4vci.Oid4vciError("invalid_request", f"{repeated[0]} is repeated"))
    refusal: oid4vci.Oid4vciError | None = None
    # Committed also when refused: a wrong transaction code counts against the offer.
    with unit_of_work() as session:
        try:
            body = oid4vci.exchange_pre_authorized_code(session, form, now=utc_now())
        except oid4vci.Oid4vciError as error:
            refusal = error
    if refusal is not None:
        return _refused(refusal)
    response = _json(body)
    response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/oid4vci/nonce")
@ratelimit.limit_verify
def nonce() -> Response:
    return _json({"c_nonce": oid4vci.new_nonce(get_settings().secret_key, utc_now())})


@bp.post("/oid4vci/credential")
@ratelimit.limit_verify
def credential() -> Response:
    authorization = request.headers.get("Authorization")
    request.max_content_length = MAX_REQUEST_BYTES
    raw = request.get_data(cache=True)
    if len(raw) > MAX_REQUEST_BYTES:
        return _refused(
            oid4vci.Oid4vciError("invalid_credential_request", "the request is too large")
        )
    body: object = None
    # §8.2: application/json. Another media type, or a body that is not JSON, reaches the
    # service as no request at all: after the access token is checked, it is refused as an
    # invalid credential request.
    if request.mimetype == "application/json":
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
    try:
        # A refusal leaves the unit of work by the exception: nothing of it is kept.
        with unit_of_work() as session:
            answer = oid4vci.issue_credential(
                session,
                for_request(),
                authorization=authorization,
                body=body,
                secret_key=get_settings().secret_key,
                now=utc_now(),
            )
    except oid4vci.Oid4vciError as error:
        return _refused(error)
    return _json(answer)
