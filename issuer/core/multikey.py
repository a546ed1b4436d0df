"""Ed25519 keys in the Multikey encoding (VC-DI-EDDSA §2.1.1 "Multikey").

A Multikey value is a multibase string: the prefix ``z`` (base58btc, Bitcoin alphabet) followed by
the base58 encoding of a two-byte multicodec header and the raw key bytes.

* public key: header ``0xed 0x01`` (ed25519-pub) + 32 bytes -> always starts with ``z6Mk``;
* secret key: header ``0x80 0x26`` (ed25519-priv) + the 32-byte seed -> starts with ``z3u2``.

The specification says other encodings MUST NOT be used, so decoding refuses anything else with a
``KeyError_`` that says exactly what was wrong.
"""

from __future__ import annotations

import re

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuer.core.errors import KeyError_

MULTIBASE_BASE58BTC = "z"
ED25519_PUB_HEADER = b"\xed\x01"
ED25519_PRIV_HEADER = b"\x80\x26"
ED25519_KEY_LENGTH = 32
_BASE58BTC = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
# A Multikey value is short; anything much longer is not a key and is refused before base58
# decoding (base58 decoding is quadratic in the input length).
_MAX_MULTIBASE_LENGTH = 128


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (RFC 8032 encoding)."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_seed(key: Ed25519PrivateKey) -> bytes:
    """The 32-byte seed of an Ed25519 private key (RFC 8032 §5.1.5 "private key")."""
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _encode(header: bytes, key_bytes: bytes) -> str:
    return MULTIBASE_BASE58BTC + base58.b58encode(header + key_bytes).decode("ascii")


def _shown(multibase: str, reveal: bool) -> str:
    if not reveal:
        return "(value hidden)"
    return repr(multibase if len(multibase) <= 60 else multibase[:57] + "...")


def _decode(multibase: object, header: bytes, what: str, *, reveal: bool = True) -> bytes:
    """Check the multibase prefix, base58btc, multicodec header and length; return the key bytes.

    ``reveal=False`` keeps the value out of error messages (secret keys must not reach logs).
    """
    if not isinstance(multibase, str) or not multibase:
        raise KeyError_(f"{what} must be a non-empty multibase string")
    shown = _shown(multibase, reveal)
    if len(multibase) > _MAX_MULTIBASE_LENGTH:
        raise KeyError_(f"{what} {shown} is too long to be an Ed25519 Multikey")
    if not multibase.startswith(MULTIBASE_BASE58BTC):
        raise KeyError_(f"{what} {shown} does not start with the multibase prefix 'z' (base58btc)")
    # Checked here rather than left to ``base58``, which quietly strips trailing whitespace.
    if not _BASE58BTC.fullmatch(multibase[1:]):
        raise KeyError_(f"{what} {shown} is not valid base58btc")
    raw = base58.b58decode(multibase[1:].encode("ascii"))
    if raw[:2] != header:
        raise KeyError_(
            f"{what} {shown} has multicodec header 0x{raw[:2].hex()}, "
            f"expected 0x{header.hex()} (Ed25519)"
        )
    key_bytes = raw[2:]
    if len(key_bytes) != ED25519_KEY_LENGTH:
        raise KeyError_(
            f"{what} {shown} holds {len(key_bytes)} key bytes, expected {ED25519_KEY_LENGTH}"
        )
    return key_bytes


def encode_public_key(key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 public key (``z6Mk...``)."""
    return _encode(ED25519_PUB_HEADER, public_key_bytes(key))


def decode_public_key(multibase: str) -> Ed25519PublicKey:
    """Decode a ``publicKeyMultibase``; raise ``KeyError_`` for anything but an Ed25519 Multikey."""
    key_bytes = _decode(multibase, ED25519_PUB_HEADER, "public key")
    try:
        return Ed25519PublicKey.from_public_bytes(key_bytes)
    except ValueError as error:  # pragma: no cover - 32 bytes are always accepted today
        raise KeyError_(f"public key {multibase!r} is not a valid Ed25519 key") from error


def encode_secret_key(key: Ed25519PrivateKey) -> str:
    """``secretKeyMultibase`` of an Ed25519 private key (``z3u2...``, the 32-byte seed)."""
    return _encode(ED25519_PRIV_HEADER, private_key_seed(key))


def decode_secret_key(multibase: str) -> Ed25519PrivateKey:
    """Decode a ``secretKeyMultibase`` (0x8026 + 32-byte seed); raise ``KeyError_`` otherwise.

    The error messages never repeat the secret value.
    """
    seed = _decode(multibase, ED25519_PRIV_HEADER, "secret key", reveal=False)
    return Ed25519PrivateKey.from_private_bytes(seed)
