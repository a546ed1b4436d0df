"""The wallet routes: the interaction URL and the VC-API exchange (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.contexts import VC_V2
from issuer.db import get_session, unit_of_work
from issuer.services import vc_api, wallet
from issuer.services.errors import ConflictError, InvalidInputError
from issuer.web import ratelimit
from issuer.web.auth import csrf
from issuer.web.errors import error_response
from issuer.web.issuing_context import for_request
from issuer.web.learner import keep_private
from issuer.web.wallet import bp, offer_links

JSON_MEDIA_TYPES = frozenset({"application/json", "application/ld+json"})
#: A DID Authentication presentation carries no credential: a few kilobytes.
MAX_EXCHANGE_BYTES = 64 * 1024
#: The DID methods a holder may authenticate with (VC-API ``acceptedMethods``).
ACCEPTED_METHODS = [{"method": "key"}]


def _prefers_json() -> bool:
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(("text/html", "application/json")) == (
        "application/json"
    )


def _unavailable_status(error: wallet.OfferUnavailableError) -> int:
    return 404 if error.reason == "unknown" else 410


def _json_error(status: int, message: str, code: str) -> Response:
    return keep_private(error_response(status, message, code=code))


@bp.get("/wallet/<token>")
@ratelimit.limit_verify
def interaction(token: str) -> ResponseReturnValue:
    base_url = get_settings().base_url
    try:
        offer = wallet.offer_for_token(get_session(), token)
    except wallet.OfferUnavailableError as error:
        status = _unavailable_status(error)
        if _prefers_json():
            return _json_error(status, error.message, f"offer_{error.reason}")
        page = render_template("wallet/gone.html", reason=error.reason)
        return keep_private(Response(page, status=status))
    links = offer_links(base_url, token)
    if _prefers_json():
        answer = jsonify({"protocols": {"vcapi": links["vcapi"], "OID4VCI": links["oid4vci"]}})
    else:
        answer = Response(
            render_template(
                "wallet/interaction.html",
                links=links,
                expires_at=offer.expires_at,
                with_tx_code=offer.tx_code_hash is not None,
            )
        )
    answer.headers["Vary"] = "Accept, Accept-Language, Cookie"
    return keep_private(answer)


def _body() -> dict[str, Any] | Response:
    request.max_content_length = MAX_EXCHANGE_BYTES
    raw = request.get_data(cache=False)
    if not raw.strip():
        # An empty POST starts the exchange as ``{}`` does, whatever its media type.
        return {}
    if request.mimetype not in JSON_MEDIA_TYPES:
        return _json_error(415, "send the request as application/json", "unsupported_media_type")
    if len(raw) > MAX_EXCHANGE_BYTES:
        return _json_error(413, f"request body larger than {MAX_EXCHANGE_BYTES} bytes", "too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _json_error(400, "the body is not valid JSON", "bad_request")
    if not isinstance(body, dict):
        return _json_error(400, "the body must be a JSON object", "bad_request")
    return body


@bp.post("/wallet/<token>/exchange")
@csrf.exempt  # type: ignore[untyped-decorator]  # see the module docstring
@ratelimit.limit_verify
def exchange(token: str) -> ResponseReturnValue:
    body = _body()
    if isinstance(body, Response):
        return body
    settings = get_settings()
    session: Session = get_session()
    try:
        wallet.offer_for_token(session, token)
    except wallet.OfferUnavailableError as error:
        return _json_error(_unavailable_status(error), error.message, f"offer_{error.reason}")
    challenge = wallet.vcapi_challenge(token)
    presentation = body.get("verifiablePresentation")
    if presentation is None:
        # VC-API exchanges: the first step asks the holder to prove control of a DID.
        request_ = {
            "query": [{"type": "DIDAuthentication", "acceptedMethods": ACCEPTED_METHODS}],
            "challenge": challenge,
            "domain": settings.base_url,
        }
        return keep_private(jsonify({"verifiablePresentationRequest": request_}))
    try:
        holder = vc_api.authenticate_holder(
            session,
            presentation,
            challenge=challenge,
            domain=settings.base_url,
            base_url=settings.base_url,
        )
    except InvalidInputError as error:
        return _json_error(400, error.message, error.code)
    # Nothing was written above: the offer is redeemed and the copy signed in one transaction.
    try:
        with unit_of_work() as session:
            offer = wallet.redeem_interaction(session, token)
            copy = wallet.issue_holder_bound_copy(
                session, for_request(), offer.credential, holder, via="vcapi", offer=offer
            )
    except wallet.OfferUnavailableError as error:
        return _json_error(_unavailable_status(error), error.message, f"offer_{error.reason}")
    except ConflictError as error:
        return _json_error(409, error.message, error.code)
    answer = {
        "verifiablePresentation": {
            "@context": [VC_V2],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [copy],
        }
    }
    return keep_private(jsonify(answer))
