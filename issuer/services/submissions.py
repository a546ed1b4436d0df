"""Sorting out what people submit for verification (the upload form, ``POST /api/v1/verify``,
``merkki verify``): credential JSON, or a baked PNG or SVG badge (OB 3.0 "Baked Badge",
``issuer.core.baking``).

A badge carrying a credential this service does not verify (a VC-JWT, an Open Badges 2.0
assertion) gets a report saying so, never a verdict; anything that is not a credential at all
is refused with ``UnreadableSubmissionError``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from issuer.core.baking import BakingError, unbake
from issuer.core.verifier import Check, VerificationReport
from issuer.services.errors import InvalidInputError

#: Largest upload or posted body verified: a baked badge image is typically well under 1 MiB.
MAX_SUBMISSION_BYTES = 5 * 1024 * 1024

#: Where the verified credential came from: posted JSON, a baked image, or our own database.
Source = Literal["json", "png", "svg", "stored"]


class UnreadableSubmissionError(InvalidInputError):
    """What was submitted is neither a credential (JSON) nor a badge image carrying one."""

    code = "unreadable_credential"


class SubmissionTooLargeError(InvalidInputError):
    code = "too_large"


def unsupported_format(message: str) -> VerificationReport:
    """A report for a credential format this service does not verify: not checked, not valid."""
    return VerificationReport(checks=[Check("format", None, message, "unsupported_format")])


def _jwt_payload(token: str) -> dict[str, Any] | None:
    """The JSON payload of a compact JWS, for showing what it claims (unverified)."""
    try:
        body = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("vc"), dict):
        payload = payload["vc"]  # VC-JWT of VC 1.1
    return payload if isinstance(payload, dict) else None


def _image_kind(data: bytes) -> Source:
    return "png" if data.startswith(b"\x89PNG") else "svg"


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[", b'"')


def read_submission(data: bytes) -> tuple[Source, str | None, VerificationReport | None]:
    """Sort out what was submitted: (source, credential JSON text) or (source, None, a report
    saying why it cannot be verified). ``UnreadableSubmissionError`` for anything else."""
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionTooLargeError(
            f"the file is larger than {MAX_SUBMISSION_BYTES // (1024 * 1024)} MiB"
        )
    if not data.strip():
        raise UnreadableSubmissionError("nothing was submitted")
    if _looks_like_json(data):
        try:
            text = data.decode("utf-8-sig")
            parsed = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UnreadableSubmissionError("the text is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise UnreadableSubmissionError("the JSON is not an object (a credential)")
        return "json", text, None
    try:
        unbaked = unbake(data)
    except BakingError as error:
        raise UnreadableSubmissionError(
            f"not a credential: neither JSON nor a readable badge image ({error.message})"
        ) from None
    kind = _image_kind(data)
    if unbaked is None:
        raise UnreadableSubmissionError("the image carries no credential (it is not baked)")
    if unbaked.format == "ob3-jwt":
        report = unsupported_format(
            "the credential is a VC-JWT (compact JWS); this service verifies credentials with "
            "an embedded proof only, so it was not checked"
        )
        report.credential = _jwt_payload(unbaked.text)
        return kind, None, report
    if unbaked.format == "ob2":
        return (
            kind,
            None,
            unsupported_format(
                "the image carries an Open Badges 2.0 assertion, which this service does not verify"
            ),
        )
    return kind, unbaked.text, None
