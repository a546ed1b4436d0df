"""The learner's side: the credential page (HTML), the stable download routes, the private
manage link, and the published status lists.

Routes (all public; the manage link is protected by its secret token):

* ``/credentials/<id>`` is served by ``issuer.web.public``; when the client prefers HTML it calls
  ``credential_page`` here. JSON clients get the signed bytes as before.
* ``/credentials/<id>/badge.png`` and ``badge.svg``: the badge artwork baked with the exact
  signed JSON (``issuer.web.learner.artwork``).
* ``/credentials/<id>/credential.json``: the signed JSON as a download, byte for byte.
* ``/credentials/<id>/qr.png`` and ``qr.svg``: a QR code of ``/verify/<id>``.
* ``/credentials/<id>/certificate.pdf``: a printable A4 certificate in the credential's language
  (``issuer.web.learner.certificate``); none for a revoked (410) or suspended (409) credential.
* ``/credentials/<id>/manage/<token>/wallet``: put the badge into a digital wallet
  (``issuer.web.learner.wallet_page``).
* ``/credentials/<id>/manage/<token>``: hide the page, or let search engines index it; its
  ``badge.png``, ``badge.svg``, ``credential.json`` and ``certificate.pdf`` are the holder's
  own downloads, served
  whether or not the page is hidden.
* ``/status/<institution>/<purpose>/<number>``: a signed ``BitstringStatusListCredential``.

**A hidden credential** (the holder's choice on the manage page) names nobody in public: the
page says only that the badge exists, and every public document that carries the signed
credential (the JSON of ``/credentials/<id>``, ``credential.json``, both baked images, the
certificate) answers
``403`` with ``{"error": "hidden", "message", "id", "status", "hidden": true}`` instead (a page
in the reader's language for browsers). 403 rather than 404 or 410: the credential exists (its
status is part of the answer and ``/verify/<id>`` still gives the verdict), it is not gone for
good (the holder can show it again), and a program must not take the answer for a credential.
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField

from issuer import urls
from issuer.config import get_settings
from issuer.core.qr import qr_png, qr_svg
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.services import status, status_publishing, wallet
from issuer.services.certificate import certificate_pdf
from issuer.services.errors import NotFoundError
from issuer.services.learner_keys import token_hash
from issuer.web.errors import error_response
from issuer.web.i18n import current_language
from issuer.web.learner import artwork, certificate
from issuer.web.learner.page import credential_status, page_facts, page_links

bp = Blueprint("learner", __name__)

CREDENTIAL_ID = re.compile(r"[0-9a-f]{32}")
#: Credentials never change once issued; their images can be cached for a day (not "immutable":
#: the artwork rendering may improve).
DOWNLOAD_CACHE = "public, max-age=86400"
#: Downloads that carry the holder's name: a shared cache may keep them only briefly, so that
#: hiding the page takes effect within minutes everywhere (the QR codes name nobody).
NAMED_DOWNLOAD_CACHE = "public, max-age=300"
#: The holder's own downloads through the manage link: its URL holds the secret token.
PRIVATE_DOWNLOAD_CACHE = "no-store"
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CREDENTIAL_MEDIA_TYPE = "application/vc+ld+json"
PDF_MEDIA_TYPE = "application/pdf"
STATUS_LIST_MEDIA_TYPE = "application/vc+ld+json"
#: Seconds a verifier is asked to wait for a list not signed yet (until ``merkki init`` runs).
RETRY_AFTER_UNSIGNED_S = 60


def _credential(credential_id: str) -> Credential:
    if not CREDENTIAL_ID.fullmatch(credential_id):
        abort(404)
    credential = get_session().get(Credential, credential_id)
    if credential is None:
        abort(404)
    return credential


def _download(
    body: bytes,
    content_type: str,
    filename: str,
    *,
    attachment: bool = False,
    cache: str = DOWNLOAD_CACHE,
) -> Response:
    response = Response(body, content_type=content_type)
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = cache
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if content_type.startswith("image/svg+xml"):
        # An SVG opened directly is a document that could run script; ours are artwork only.
        response.headers["Content-Security-Policy"] = SVG_CSP
    return response


def _wants_download() -> bool:
    return request.args.get("download") == "1"


# --- the page --------------------------------------------------------------------------------


def credential_page(credential_id: str) -> ResponseReturnValue:
    """The HTML page of a credential (``issuer.web.public`` calls this when HTML is preferred)."""
    credential = (
        get_session().get(Credential, credential_id)
        if CREDENTIAL_ID.fullmatch(credential_id)
        else None
    )
    if credential is None:
        return render_template("learner/not_found.html"), 404
    lang = current_language()
    base_url = get_settings().base_url
    facts = page_facts(get_session(), credential, lang)
    links = page_links(base_url, credential, facts)
    response = Response(
        render_template(
            "learner/credential.html",
            credential=credential,
            facts=facts,
            links=links,
            hidden=credential.hidden,
            indexable=credential.indexable and not credential.hidden,
        )
    )
    response.headers["Vary"] = "Accept, Accept-Language, Cookie"
    if not (credential.indexable and not credential.hidden):
        # The meta tag covers HTML readers; the header covers everything else.
        response.headers["X-Robots-Tag"] = "noindex"
    return response


# --- downloads -------------------------------------------------------------------------------


def _prefers_html() -> bool:
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(("application/json", "text/html")) == "text/html"


def private_answer(credential: Credential) -> Response:
    """What a public route that would carry the signed credential answers while the holder
    hides it: that it exists and its status, nothing that names the holder (403, see the
    module docstring). Not cached: showing the page again must take effect at once."""
    status_now = credential_status(get_session(), credential)
    if _prefers_html():
        response = Response(
            render_template(
                "learner/private.html",
                verify_url=urls.verify_url(get_settings().base_url, credential.id),
                status=status_now,
            ),
            status=403,
        )
    else:
        response = jsonify(
            {
                "error": "hidden",
                "message": "the holder has made this credential private; "
                "its status is given, its content is not",
                "id": urls.credential_url(get_settings().base_url, credential.id),
                "status": status_now,
                "hidden": True,
            }
        )
        response.status_code = 403
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept, Accept-Language, Cookie"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _badge_png(credential: Credential, *, cache: str) -> Response:
    try:
        body = artwork.baked_png(credential.badge_class_version, credential.signed_json)
    except artwork.RenderUnavailableError:
        abort(503)
    except artwork.ArtworkError:
        abort(404)
    return _download(
        body, "image/png", f"badge-{credential.id}.png", attachment=_wants_download(), cache=cache
    )


def _badge_svg(credential: Credential, *, cache: str) -> Response:
    try:
        body = artwork.baked_svg(credential.badge_class_version, credential.signed_json)
    except artwork.RenderUnavailableError:
        abort(503)
    except artwork.ArtworkError:
        abort(404)
    return _download(
        body,
        "image/svg+xml",
        f"badge-{credential.id}.svg",
        attachment=_wants_download(),
        cache=cache,
    )


def _credential_json(credential: Credential, *, cache: str) -> Response:
    return _download(
        credential.signed_json.encode("utf-8"),
        CREDENTIAL_MEDIA_TYPE,
        f"credential-{credential.id}.json",
        attachment=True,
        cache=cache,
    )


def _certificate(credential: Credential, *, cache: str) -> Response:
    """The certificate PDF, or why there is none (``issuer.web.learner.certificate``)."""
    now = credential_status(get_session(), credential)
    if now in certificate.UNAVAILABLE:
        return _no_certificate(credential, now)
    content = certificate.certificate_content(get_session(), credential, get_settings().base_url)
    response = _download(
        certificate_pdf(content),
        PDF_MEDIA_TYPE,
        f"certificate-{credential.id}.pdf",
        attachment=_wants_download(),
        cache=cache,
    )
    if not (credential.indexable and not credential.hidden):
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def _no_certificate(credential: Credential, status_now: str) -> Response:
    """No certificate for a revoked (410, for good) or suspended (409, until lifted) credential:
    a page in the reader's language, or JSON for programs. Not cached: a lifted suspension
    takes effect at once."""
    code = certificate.UNAVAILABLE[status_now]
    if _prefers_html():
        response = Response(
            render_template(
                "learner/no_certificate.html",
                status=status_now,
                page_url=urls.credential_url(get_settings().base_url, credential.id),
                verify_url=urls.verify_url(get_settings().base_url, credential.id),
            ),
            status=code,
        )
    else:
        message = (
            "the credential has been revoked: it has no certificate"
            if status_now == "revoked"
            else "the credential is suspended: it has no certificate while the suspension lasts"
        )
        response = error_response(code, message, code=status_now)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/credentials/<credential_id>/badge.png")
def badge_png(credential_id: str) -> Response:
    credential = _credential(credential_id)
    if credential.hidden:
        return private_answer(credential)
    return _badge_png(credential, cache=NAMED_DOWNLOAD_CACHE)


@bp.get("/credentials/<credential_id>/badge.svg")
def badge_svg(credential_id: str) -> Response:
    credential = _credential(credential_id)
    if credential.hidden:
        return private_answer(credential)
    return _badge_svg(credential, cache=NAMED_DOWNLOAD_CACHE)


@bp.get("/credentials/<credential_id>/credential.json")
def credential_json(credential_id: str) -> Response:
    credential = _credential(credential_id)
    if credential.hidden:
        return private_answer(credential)
    return _credential_json(credential, cache=NAMED_DOWNLOAD_CACHE)


@bp.get("/credentials/<credential_id>/certificate.pdf")
def certificate_download(credential_id: str) -> Response:
    credential = _credential(credential_id)
    if credential.hidden:
        return private_answer(credential)
    return _certificate(credential, cache=NAMED_DOWNLOAD_CACHE)


@bp.get("/credentials/<credential_id>/qr.png")
def qr_code_png(credential_id: str) -> Response:
    credential = _credential(credential_id)
    url = urls.verify_url(get_settings().base_url, credential.id)
    return _download(
        qr_png(url), "image/png", f"qr-{credential.id}.png", attachment=_wants_download()
    )


@bp.get("/credentials/<credential_id>/qr.svg")
def qr_code_svg(credential_id: str) -> Response:
    credential = _credential(credential_id)
    url = urls.verify_url(get_settings().base_url, credential.id)
    return _download(
        qr_svg(url), "image/svg+xml", f"qr-{credential.id}.svg", attachment=_wants_download()
    )


# --- the manage link -------------------------------------------------------------------------


class ManageForm(FlaskForm):  # type: ignore[misc]
    # Labels are in the template (gettext there is what the catalogs extract).
    hidden = BooleanField()
    indexable = BooleanField()


def managed_credential(credential_id: str, token: str) -> Credential:
    """The credential of a manage link (404 unless the token is its own)."""
    credential = _credential(credential_id)
    expected = credential.manage_token_hash
    # Constant-time comparison of the hashes: the token is the only secret here.
    if expected is None or not hmac.compare_digest(expected, token_hash(token)):
        abort(404)
    return credential


@bp.route("/credentials/<credential_id>/manage/<token>", methods=["GET", "POST"])
def manage(credential_id: str, token: str) -> ResponseReturnValue:
    with unit_of_work():
        credential = managed_credential(credential_id, token)
        form = ManageForm(obj=credential)
        if form.validate_on_submit():
            credential.hidden = bool(form.hidden.data)
            credential.indexable = bool(form.indexable.data)
            flash(_("Your choices were saved."), "success")
            saved = True
        else:
            saved = False
        facts = page_facts(get_session(), credential, current_language())
        page = urls.credential_url(get_settings().base_url, credential.id)
        copies = wallet.copies_of(get_session(), credential.id)
    if saved:
        return redirect(url_for("learner.manage", credential_id=credential_id, token=token))
    # Nothing to download while the badge is revoked or suspended, as on the public page
    # (issue 15); the certificate routes themselves also refuse (``certificate.UNAVAILABLE``).
    names = [] if facts.withdrawn else ["badge_png", "badge_svg", "credential_json"]
    if facts.status not in certificate.UNAVAILABLE:
        names.append("certificate")
    downloads = {
        name: url_for(f"learner.manage_{name}", credential_id=credential_id, token=token)
        for name in names
    }
    response = Response(
        render_template(
            "learner/manage.html",
            form=form,
            facts=facts,
            page_url=page,
            hidden=credential.hidden,
            downloads=downloads,
            copies=copies,
            wallet_url=url_for("learner.manage_wallet", credential_id=credential_id, token=token),
        ),
        status=422 if request.method == "POST" else 200,
    )
    return keep_private(response)


def keep_private(response: Response) -> Response:
    # The URL holds a secret: keep it out of caches, referrers and search engines (and other
    # origins' scripts, which the public downloads allow).
    response.headers.pop("Access-Control-Allow-Origin", None)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# The holder's own downloads, with their name, whether or not the page is hidden.


@bp.get("/credentials/<credential_id>/manage/<token>/badge.png")
def manage_badge_png(credential_id: str, token: str) -> Response:
    credential = managed_credential(credential_id, token)
    return keep_private(_badge_png(credential, cache=PRIVATE_DOWNLOAD_CACHE))


@bp.get("/credentials/<credential_id>/manage/<token>/badge.svg")
def manage_badge_svg(credential_id: str, token: str) -> Response:
    credential = managed_credential(credential_id, token)
    return keep_private(_badge_svg(credential, cache=PRIVATE_DOWNLOAD_CACHE))


@bp.get("/credentials/<credential_id>/manage/<token>/credential.json")
def manage_credential_json(credential_id: str, token: str) -> Response:
    credential = managed_credential(credential_id, token)
    return keep_private(_credential_json(credential, cache=PRIVATE_DOWNLOAD_CACHE))


@bp.get("/credentials/<credential_id>/manage/<token>/certificate.pdf")
def manage_certificate(credential_id: str, token: str) -> Response:
    credential = managed_credential(credential_id, token)
    return keep_private(_certificate(credential, cache=PRIVATE_DOWNLOAD_CACHE))


# --- status lists ----------------------------------------------------------------------------


@bp.get("/status/<institution_slug>/<purpose>/<int:number>")
def status_list(institution_slug: str, purpose: str, number: int) -> ResponseReturnValue:
    """A signed ``BitstringStatusListCredential`` ([BSL] §"Bitstring Status List Credential"):
    cacheable for its ``ttl`` (``Cache-Control: max-age``), with an ``ETag`` for conditional
    requests, and readable from any origin (browser-based verifiers). Only reads: the list was
    signed when its bits last changed (``issuer.services.status_publishing``), so this works on a
    read-only database and never touches a private key."""
    if purpose not in status.PURPOSES:
        return _status_error(404, f"no status purpose {purpose!r}")
    try:
        row = status_publishing.get_list(get_session(), institution_slug, purpose, number)
        text, etag, last_modified = status_publishing.signed_list_credential(row)
    except NotFoundError as error:
        return _status_error(404, error.message)
    except status_publishing.UnsignedListError as error:
        response = _status_error(503, error.message, code=error.code)
        response.headers["Retry-After"] = str(RETRY_AFTER_UNSIGNED_S)
        return response
    response = Response(text.encode("utf-8"), content_type=STATUS_LIST_MEDIA_TYPE)
    response.headers["Cache-Control"] = f"public, max-age={status_publishing.TTL_MS // 1000}"
    response.headers["ETag"] = etag
    response.last_modified = last_modified.astimezone(UTC)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified"
    response.make_conditional(request)
    return response


def _status_error(status_code: int, message: str, *, code: str | None = None) -> Response:
    response = error_response(status_code, message, code=code)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


from issuer.web.learner import wallet_page  # noqa: E402,F401 - its routes, on this blueprint


def init_app(app: Any) -> None:
    app.register_blueprint(bp)
    artwork.init_app(app)
