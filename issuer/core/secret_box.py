"""Sealing a short secret that the service must be able to read back (AES-256-GCM).

A webhook's shared HMAC secret cannot be stored as a hash like a bearer token: verifying a
signature needs the secret itself. It is kept sealed under a key derived from the service's key
passphrase (``ISSUER_KEY_PASSPHRASE``), the secret every app server already shares to open the
signing keys, rather than from ``ISSUER_SECRET_KEY``, which a development set-up makes up anew
in every process. A database copy without the passphrase reveals no secret.

The derivation is scrypt (RFC 7914; a passphrase may be weak, so a slow function) with a fixed,
purpose-bound salt: a sealed box must open on every app server and after a restart. It runs once
per process and passphrase (``_box_key`` is cached). ``associated`` binds a box to its row (the
owner's id), so a box copied onto another row does not open there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from issuer.core.errors import EngineError

#: Format tag of a sealed box: a new derivation or cipher gets a new one.
VERSION = "v1"
_SALT = b"merkki/secret-box/v1"
_NONCE_BYTES = 12  # the 96-bit nonce GCM is specified for (NIST SP 800-38D section 5.2.1.1)


class SecretBoxError(EngineError):
    """A sealed box cannot be opened: another passphrase, another row, or a damaged value."""

    code = "secret_box"


@functools.lru_cache(maxsize=4)
def _box_key(passphrase: str) -> bytes:
    # n=2**15, r=8: ~32 MiB and ~0.1 s once per process (the OWASP Password Storage Cheat
    # Sheet's scrypt minimum is n=2**17 for stored password hashes; this key is never stored).
    kdf = Scrypt(salt=_SALT, length=32, n=2**15, r=8, p=1)
    return kdf.derive(passphrase.encode("utf-8"))


def seal(passphrase: str, secret: str, associated: str) -> str:
    """``v1:<base64 of nonce + ciphertext + tag>`` of ``secret``, bound to ``associated``."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_box_key(passphrase)).encrypt(
        nonce, secret.encode("utf-8"), associated.encode("utf-8")
    )
    return f"{VERSION}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def open_box(passphrase: str, box: str, associated: str) -> str:
    """The secret sealed in ``box`` for ``associated``; ``SecretBoxError`` if it does not
    open (the message names no secret)."""
    version, _, encoded = box.partition(":")
    if version != VERSION:
        raise SecretBoxError("unknown sealed-secret format")
    try:
        raw = base64.b64decode(encoded, validate=True)
        plain = AESGCM(_box_key(passphrase)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated.encode("utf-8")
        )
        return plain.decode("utf-8")
    except (binascii.Error, ValueError, InvalidTag):
        raise SecretBoxError(
            "a sealed secret does not open with the key passphrase (changed passphrase?)"
        ) from None
