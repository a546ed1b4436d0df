"""How learners and their manage links are recognised without storing what identifies them.

Learners are recognised by ``recipient_key``, an HMAC-SHA256 of the normalized e-mail address
keyed with the service secret: stable across credentials (for re-run CSV files and packages),
useless without the secret, and the address itself is not stored with the credential. A
credential's private manage link is found by ``token_hash`` of its token.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from issuer.core.credential import normalize_email

if TYPE_CHECKING:
    # Only the type: the settings are handed in, never looked up in an application here.
    from issuer.config import Settings


def token_hash(token: str) -> str:
    """SHA-256 of a manage-link token (256 random bits: a fast hash is enough)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def recipient_key(secret: str, email: str) -> str:
    """HMAC-SHA256 of the normalized e-mail address under ``secret`` (module docstring)."""
    message = normalize_email(email).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def recipient_secret(settings: Settings) -> str:
    """The HMAC key of ``recipient_key``: the service secret key. Without a configured one (a
    development set-up with a random key per process) the key passphrase stands in, so that
    learners are still recognised after a restart."""
    secret = settings.key_passphrase if settings.secret_key_is_random else settings.secret_key
    return f"merkki-recipient:{secret}"
