"""The public verification pages: ``/verify/<id>`` (the QR code's target) and ``/verify``
(upload a baked PNG or SVG, a JSON file, or paste JSON).

Both show the verdict of ``issuer.services.verification`` — the same function the JSON API and
``merkki verify`` use — in plain words, in the reader's language (``issuer.web.i18n``: ``?lang=``,
cookie, ``Accept-Language``), with the checks behind it in an expandable list. Nothing here
writes to the database; nothing a visitor submits is stored.
"""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from issuer.db import get_session
from issuer.models import Credential
from issuer.services import submissions
from issuer.services.errors import NotFoundError
from issuer.web import ratelimit, verifying
from issuer.web.auth import csrf
from issuer.web.i18n import current_language
from issuer.web.verify.presentation import build_view, private_view

bp = Blueprint("verify", __name__)

CREDENTIAL_ID = re.compile(r"[0-9a-f]{32}")
#: The whole request may hold the file plus the form's other fields.
MAX_REQUEST_BYTES = submissions.MAX_SUBMISSION_BYTES + 64 * 1024
MAX_PASTE_BYTES = 2 * 1024 * 1024


def _not_found() -> ResponseReturnValue:
    return render_template("verify/not_found.html"), 404


@bp.get("/verify/<credential_id>")
@ratelimit.limit_verify
def credential(credential_id: str) -> ResponseReturnValue:
    """Verify one of our credentials live, from the exact text that was issued."""
    if not CREDENTIAL_ID.fullmatch(credential_id):
        return _not_found()
    try:
        result = verifying.verify_stored_for_request(credential_id)
    except NotFoundError:
        return _not_found()
    view = build_view(result, current_language())
    if _hidden(credential_id):
        view = private_view(view)
    return render_template("verify/result.html", view=view)


def _hidden(credential_id: str) -> bool:
    """Has the holder hidden the credential (``issuer.web.learner``)? Then the page gives the
    verdict without the holder's name or what was signed about them."""
    hidden = get_session().scalar(select(Credential.hidden).where(Credential.id == credential_id))
    return bool(hidden)


@bp.get("/verify")
@ratelimit.limit_verify
def form() -> ResponseReturnValue:
    return render_template("verify/form.html")


def _form_error(message: str, status: int) -> ResponseReturnValue:
    return render_template("verify/form.html", error=message), status


def _submitted() -> bytes | None:
    """The uploaded file's bytes, else the pasted text's; None when neither was given."""
    upload = request.files.get("file")
    if isinstance(upload, FileStorage) and upload.filename:
        data = upload.stream.read(submissions.MAX_SUBMISSION_BYTES + 1)
        if data:
            return data
    pasted = request.form.get("json", "")
    if pasted.strip():
        return pasted.encode("utf-8")
    return None


# Nothing is changed or stored by a submission, and the page must work for a visitor who has no
# session cookie yet (an employer opening the form from a link): no CSRF token is required.
@bp.post("/verify")
@csrf.exempt  # type: ignore[untyped-decorator]  # Flask-WTF has no type hints
@ratelimit.limit_verify
def submit() -> ResponseReturnValue:
    request.max_content_length = MAX_REQUEST_BYTES
    request.max_form_memory_size = MAX_PASTE_BYTES
    try:
        data = _submitted()
    except RequestEntityTooLarge:
        return _too_large()
    if data is None:
        return _form_error(gettext("Choose a file or paste the credential's JSON."), 400)
    try:
        result = verifying.verify_submission_for_request(data)
    except submissions.SubmissionTooLargeError:
        return _too_large()
    except submissions.UnreadableSubmissionError:
        return _form_error(
            gettext(
                "This is not a credential Merkki can read. Upload a badge image (PNG or SVG) "
                "that has the credential baked in, a credential JSON file, or paste the JSON."
            ),
            400,
        )
    return render_template("verify/result.html", view=build_view(result, current_language()))


def _too_large() -> ResponseReturnValue:
    limit = submissions.MAX_SUBMISSION_BYTES // (1024 * 1024)
    return _form_error(gettext("The file is too large (at most %(limit)s MiB).", limit=limit), 413)


@bp.errorhandler(NotFound)
def _not_found_error(error: NotFound) -> ResponseReturnValue:
    # Also for a 404 decided before the view (a NUL byte in the id, issuer.web.security): the same
    # readable page as for an unknown credential.
    return _not_found()


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    return _too_large()
