"""Public, unauthenticated documents: DID documents, issuer profiles, issued credentials,
badge artwork, and a health check. Every error here is JSON (``issuer.web.errors``).

Everything is served with ``Access-Control-Allow-Origin: *``: these documents are public by
design, and browser-based verifiers (DCC VerifierPlus, wallets) fetch them from other origins.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from issuer.config import get_settings
from issuer.db import get_session
from issuer.services import badge_class_admin, badge_classes, institutions, issuing, static_copy
from issuer.services.errors import NotFoundError
from issuer.web import health
from issuer.web.learner import credential_page, private_answer
from issuer.web.ratelimit import limiter

bp = Blueprint("public", __name__)

# Media types a DID document may be served as. did:web resolvers GET the URL and parse the
# body as JSON; the ones we checked either ignore Content-Type (fetch().json(), axios) or
# accept anything containing "json" (Digital Bazaar's http-client, used by DCC's verifier,
# which sends "Accept: application/ld+json, application/json"). Plain application/json is
# what static did:web hosting (GitHub Pages and the like) serves and thus what every resolver
# is known to work with, so it is the default; a client that asks for the DID Core media
# types (DID Core §6.2 application/did+json, §6.3 application/did+ld+json) gets them.
DID_DOCUMENT_MEDIA_TYPES = (
    "application/json",
    "application/did+json",
    "application/did+ld+json",
    "application/ld+json",
)
# OB 3.0 §"Document formats": a credential is served as application/vc+ld+json, also
# application/ld+json or application/json (VC 2.0 later registered application/vc, accepted
# too). The first is the answer to "*/*" and to no Accept header at all.
CREDENTIAL_MEDIA_TYPES = (
    "application/vc+ld+json",
    "application/vc",
    "application/ld+json",
    "application/json",
)
JSON_LD = "application/ld+json"
CREDENTIAL_ID = re.compile(r"[0-9a-f]{32}")
IMAGE_MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# Versions never change once stored, so their artwork can be cached for good.
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.after_request
def _allow_any_origin(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _json(body: str | bytes, media_type: str, *, vary: str | None = None) -> Response:
    # No charset parameter: JSON is UTF-8 by definition (RFC 8259 §8.1).
    response = Response(body, mimetype=media_type)
    if vary:
        response.headers["Vary"] = vary
    return response


def _to_json(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def _negotiate(offered: tuple[str, ...]) -> str:
    """The offered media type the client prefers; no Accept header means anything goes
    (RFC 9110 §12.5.1), so the first one. 406 when none is acceptable."""
    accept = request.accept_mimetypes
    if not accept:
        return offered[0]
    media_type = accept.best_match(offered)
    if media_type is None:
        abort(406, "available as " + ", ".join(offered))
    return media_type


def _prefers_html() -> bool:
    """Does the client rank HTML above every JSON type we serve? Browsers do (``text/html``
    first, ``*/*;q=0.8``); ``*/*`` alone and no Accept header mean JSON, as before, because the
    JSON types are offered first and win ties."""
    accept = request.accept_mimetypes
    if not accept:
        return False
    return accept.best_match((*CREDENTIAL_MEDIA_TYPES, "text/html")) == "text/html"


def _language() -> str:
    return request.accept_languages.best_match(institutions.LANGUAGES) or "fi"


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    """200 ``{"status": "ok", "checks": {...}}`` when the database and the signing keys work,
    503 with the failed checks' codes otherwise (``issuer.web.health``). Not rate-limited: load
    balancers probe it often, and it stays cheap (the key check is cached)."""
    healthy, body = health.run_checks()
    response = _json(_to_json(body), "application/json")
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/issuers/<slug>/did.json")
def did_document(slug: str) -> Response:
    institution = institutions.get_institution(get_session(), slug)
    # The same text ``merkki publish`` writes for static hosting (issuer.services.static_copy).
    text = static_copy.did_document_text(institution, get_settings().base_url)
    media_type = _negotiate(DID_DOCUMENT_MEDIA_TYPES)
    return _json(text, media_type, vary="Accept")


@bp.get("/issuers/<slug>")
def issuer_profile(slug: str) -> Response:
    institution = institutions.get_institution(get_session(), slug)
    document = institutions.profile_document(institution, get_settings().base_url, _language())
    return _json(_to_json(document), JSON_LD, vary="Accept-Language")


@bp.get("/credentials/<credential_id>")
def credential(credential_id: str) -> ResponseReturnValue:
    if _prefers_html():
        # A person's browser: the learner page (issuer.web.learner), in the reader's language.
        return credential_page(credential_id)
    if not CREDENTIAL_ID.fullmatch(credential_id):
        abort(404, f"no credential {credential_id!r}")
    stored = issuing.get_credential(get_session(), credential_id)
    media_type = _negotiate(CREDENTIAL_MEDIA_TYPES)
    if stored.hidden:
        # The signed credential names the holder, who has hidden it: its existence and status
        # only (issuer.web.learner explains the 403).
        return private_answer(stored)
    # The exact signed bytes that were issued: never re-serialized (the proof covers the
    # JSON-LD graph, but holders compare and bake the bytes they were given).
    return _json(stored.signed_json.encode("utf-8"), media_type, vary="Accept")


@bp.get("/badges/<slug>/v<int:version>/image.<extension>")
def badge_image(slug: str, version: int, extension: str) -> Response:
    session = get_session()
    media_type = IMAGE_MEDIA_TYPES.get(extension)
    stored = badge_classes.get_version(session, slug, version)
    if not badge_class_admin.is_public(session, stored.badge_class, stored):
        # A draft's artwork is not public, and its answer is word for word that of a slug
        # that does not exist (badge_classes.get_version): its existence is not revealed.
        raise NotFoundError(f"no badge class {slug!r} version {version}")
    if media_type is None or stored.image_media_type != media_type:
        abort(404, f"badge {slug!r} version {version} has no .{extension} image")
    # content_type, not mimetype: no charset is added to image/svg+xml (XML declares its own).
    response = Response(stored.image, content_type=media_type)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    if extension == "svg":
        # An SVG opened directly is a document that could run script; ours are artwork only.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        )
    return response
