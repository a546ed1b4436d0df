"""``POST /api/v1/verify``: verify a credential for anyone, no token needed.

Body: the credential as JSON (``application/json``, ``application/ld+json``,
``application/vc+ld+json`` or ``application/vc``), or ``multipart/form-data`` with a ``file``
(a baked PNG or SVG, or a JSON file). Answer (200): ``{"verified", "verdict", "checks": [{"name",
"ok", "message", "code"}], "credential": {summary}, "source"}`` — the same service function as
the verification page and ``merkki verify``. Not a credential at all: 400; too large: 413;
another body type: 415. Never 500 for anything a client sends.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.datastructures import FileStorage

from issuer.services import submissions
from issuer.web import ratelimit, verifying
from issuer.web.api import bp
from issuer.web.errors import error_response

JSON_MEDIA_TYPES = frozenset(
    {"application/json", "application/ld+json", "application/vc+ld+json", "application/vc"}
)
MAX_REQUEST_BYTES = submissions.MAX_SUBMISSION_BYTES + 64 * 1024


def _body() -> bytes | Response:
    """The submitted credential bytes, or an error response."""
    media_type = request.mimetype
    if media_type in JSON_MEDIA_TYPES:
        return request.get_data(cache=False)
    if media_type == "multipart/form-data":
        upload = request.files.get("file")
        if not isinstance(upload, FileStorage):
            return error_response(400, "multipart body without a 'file' part", code="bad_request")
        return upload.stream.read(submissions.MAX_SUBMISSION_BYTES + 1)
    return error_response(
        415,
        "send the credential as application/json (or application/ld+json, "
        "application/vc+ld+json), or a file as multipart/form-data field 'file'",
        code="unsupported_media_type",
    )


@bp.post("/verify")
@ratelimit.limit_verify
def verify_credential() -> Response:
    request.max_content_length = MAX_REQUEST_BYTES
    body = _body()
    if isinstance(body, Response):
        return body
    try:
        result = verifying.verify_submission_for_request(body)
    except submissions.SubmissionTooLargeError as error:
        return error_response(413, error.message, code="too_large")
    except submissions.UnreadableSubmissionError as error:
        return error_response(400, error.message, code=error.code)
    return jsonify(result.to_dict())
