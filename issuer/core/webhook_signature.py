"""Signed webhook calls: ``Merkki-Signature: t=<unix time>,v1=<hex HMAC-SHA256>``.

The scheme is Stripe's (and Svix's, in spirit): the sender signs ``"<t>.<signed text>"`` with
the shared secret, where the signed text is the exact request body as sent (for a GET, which
has no body, the path with its query string), and sends the Unix time ``t`` with it. The
receiver recomputes the HMAC over the bytes it received (never over re-serialised JSON, which
could differ), compares in constant time (``hmac.compare_digest``: no timing oracle on how many
leading bytes matched), and refuses a ``t`` more than ``TOLERANCE`` away from its own clock, so
a captured call cannot be replayed later. Within the window a replay is harmless: a completion
is idempotent per source event. Several ``v1=`` values may be given (a sender that rotates its
secret signs with both); one match suffices.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

HEADER = "Merkki-Signature"
#: How far the signed time may be from the receiver's clock, either way (seconds).
TOLERANCE = 300
SCHEME = "v1"
#: A header longer than this is not parsed (a few signatures fit easily).
MAX_HEADER = 1024
_HEX = frozenset("0123456789abcdef")


class SignatureError(ValueError):
    """The call is not signed as required; ``code`` says how (for the JSON answer)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def compute(secret: str, timestamp: int, signed: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<signed>"`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + signed
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, signed: bytes) -> str:
    """What a sender puts in ``Merkki-Signature`` (used by tests and the documentation)."""
    return f"t={timestamp},{SCHEME}={compute(secret, timestamp, signed)}"


def parse(value: str | None) -> ParsedSignature:
    """The time and ``v1`` signatures of a header; ``SignatureError`` when it has no usable
    shape (other schemes' entries are ignored, as Stripe's receivers do)."""
    if not value or not value.strip():
        raise SignatureError("signature_missing", f"the {HEADER} header is required")
    if len(value) > MAX_HEADER:
        raise SignatureError("invalid_signature", f"the {HEADER} header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        name, _, given = item.strip().partition("=")
        if name == "t" and given.isascii() and given.isdigit() and len(given) <= 12:
            timestamp = int(given)
        elif name == SCHEME and len(given) == 64 and set(given) <= _HEX:
            signatures.append(given)
    if timestamp is None or not signatures:
        raise SignatureError(
            "invalid_signature", f"the {HEADER} header must be t=<unix time>,{SCHEME}=<hex>"
        )
    return ParsedSignature(timestamp, tuple(signatures))


def matches(secret: str, parsed: ParsedSignature, signed: bytes) -> bool:
    """Whether one of the signatures is the HMAC of ``signed`` (constant-time comparisons,
    every one of them made)."""
    expected = compute(secret, parsed.timestamp, signed).encode("ascii")
    found = False
    for given in parsed.signatures:
        found |= hmac.compare_digest(expected, given.encode("ascii"))
    return found


def check_time(parsed: ParsedSignature, now: float, tolerance: int = TOLERANCE) -> None:
    """``SignatureError`` when the signed time is outside ``tolerance`` of ``now``."""
    if abs(now - parsed.timestamp) > tolerance:
        raise SignatureError(
            "stale_signature",
            f"the signature's time t is more than {tolerance // 60} minutes from the "
            "service's clock (a replay, or a clock that is off)",
        )
