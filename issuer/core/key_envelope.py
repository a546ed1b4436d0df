"""The ``database`` key store: each private key sealed into its ``SigningKey`` row.

Envelope encryption (NIST SP 800-57 Part 1 §6.2.2, "key wrapping"): every private key is
encrypted with its own random 256-bit data-encryption key (DEK), and the DEK is wrapped with a
key-encryption key (KEK) derived from ``ISSUER_KEY_PASSPHRASE`` by scrypt (RFC 7914) over a
random salt. Both layers are AES-256-GCM (NIST SP 800-38D) with the key id in the associated
data, so a sealed key opens only under its own key id: copied onto another row it is refused,
not silently used as another institution's key. The sealed text records the KDF and its
parameters and salt, so a database backup plus the passphrase restores every key.

Changing the passphrase re-wraps the DEKs only (``reseal``); the private keys' ciphertexts stay.
A store accepts earlier passphrases for opening (``previous``), so the app servers keep signing
while the passphrase changes (README, "Changing the key passphrase").

Derived KEKs and opened keys are cached in this process for a bounded time: scrypt is slow on
purpose (about 50 ms), and issuing must not pay it per credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from issuer.core.errors import KeyError_
from issuer.core.keys import KeyStore, check_key_id, generate_private_key

FORMAT = "merkki-sealed-key/1"
AEAD = "AES-256-GCM"
#: scrypt cost: N=2^15, r=8, p=1 (RFC 7914 §2 and OWASP's password-storage figures: 32 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SALT_BYTES = 16
_NONCE_BYTES = 12
_KEY_BYTES = 32
#: How long a private key opened from its row stays in memory (then it is opened again).
OPENED_KEY_TTL = 300.0
_MAX_CACHED = 256
# The associated data of both layers: a label for this use, then the key id.
_AAD_LABEL = b"merkki signing key\x00"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    return base64.b64decode(value.encode("ascii"), validate=True)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aad(key_id: str) -> bytes:
    return _AAD_LABEL + key_id.encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Kdf:
    n: int
    r: int
    p: int
    salt: bytes

    def as_json(self) -> dict[str, Any]:
        return {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": _b64(self.salt)}

    @classmethod
    def from_json(cls, value: object) -> _Kdf:
        if not isinstance(value, dict) or value.get("name") != "scrypt":
            raise ValueError("unknown key derivation")
        n, r, p = value.get("n"), value.get("r"), value.get("p")
        if not (_is_int(n) and _is_int(r) and _is_int(p)):
            raise ValueError("bad scrypt parameters")
        assert isinstance(n, int)
        assert isinstance(r, int)
        assert isinstance(p, int)
        # Bounds: a forged row must not make every app server spend gigabytes deriving.
        if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of bounds")
        return cls(n, r, p, _unb64(value.get("salt")))


class _Caches:
    """Derived KEKs and opened private keys of this process, bounded in number and time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: digest(passphrase, KDF) -> KEK
        self.keks: dict[bytes, bytes] = {}
        #: digest(passphrase) -> (KDF, KEK) that new keys are wrapped with
        self.writers: dict[bytes, tuple[_Kdf, bytes]] = {}
        #: digest(passphrases, key id, sealed text) -> (private key, expiry on the monotonic clock)
        self.opened: dict[bytes, tuple[Ed25519PrivateKey, float]] = {}

    def clear(self) -> None:
        with self.lock:
            self.keks.clear()
            self.writers.clear()
            self.opened.clear()


_CACHES = _Caches()


def forget_cached_keys() -> None:
    """Drop every derived KEK and opened key of this process (tests; after a rewrap)."""
    _CACHES.clear()


def _digest(*parts: bytes) -> bytes:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(4, "big"))
        hasher.update(part)
    return hasher.digest()


def _derive(passphrase: bytes, kdf: _Kdf) -> bytes:
    cache_key = _digest(b"kek", passphrase, kdf.salt, str((kdf.n, kdf.r, kdf.p)).encode())
    with _CACHES.lock:
        known = _CACHES.keks.get(cache_key)
    if known is not None:
        return known
    kek = Scrypt(salt=kdf.salt, length=_KEY_BYTES, n=kdf.n, r=kdf.r, p=kdf.p).derive(passphrase)
    with _CACHES.lock:
        if len(_CACHES.keks) >= _MAX_CACHED:
            _CACHES.keks.clear()
        _CACHES.keks[cache_key] = kek
    return kek


def _writer(passphrase: bytes) -> tuple[_Kdf, bytes]:
    """The KDF and KEK this process wraps new keys with: one fresh salt per process and
    passphrase, so that creating keys does not pay scrypt each time."""
    cache_key = _digest(b"writer", passphrase)
    with _CACHES.lock:
        known = _CACHES.writers.get(cache_key)
    if known is not None:
        return known
    kdf = _Kdf(SCRYPT_N, SCRYPT_R, SCRYPT_P, os.urandom(_SALT_BYTES))
    made = (kdf, _derive(passphrase, kdf))
    with _CACHES.lock:
        _CACHES.writers[cache_key] = made
    return made


def _encrypt(key: bytes, plaintext: bytes, key_id: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(key_id)))


def _decrypt(key: bytes, sealed: bytes, key_id: str) -> bytes:
    return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(key_id))


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise KeyError_("a non-empty passphrase is required to store keys")
    return passphrase.encode("utf-8")


def seal(private_key: Ed25519PrivateKey, key_id: str, passphrase: str) -> str:
    """``private_key`` sealed for the row of ``key_id`` under ``passphrase`` (JSON text)."""
    check_key_id(key_id)
    kdf, kek = _writer(_passphrase_bytes(passphrase))
    dek = AESGCM.generate_key(bit_length=256)
    return json.dumps(
        {
            "format": FORMAT,
            "kdf": kdf.as_json(),
            "aead": AEAD,
            "wrapped_key": _encrypt(kek, dek, key_id),
            "private_key": _encrypt(dek, private_key.private_bytes_raw(), key_id),
        },
        sort_keys=True,
    )


def _parse(sealed: str) -> tuple[_Kdf, bytes, bytes]:
    document = json.loads(sealed)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a sealed key")
    if document.get("aead") != AEAD:
        raise ValueError("unknown encryption")
    return (
        _Kdf.from_json(document.get("kdf")),
        _unb64(document.get("wrapped_key")),
        _unb64(document.get("private_key")),
    )


def _unwrap(sealed: str, key_id: str, passphrases: Sequence[bytes]) -> tuple[_Kdf, bytes, bytes]:
    """(KDF, DEK, encrypted private key) of ``sealed``, with the first passphrase that opens it."""
    try:
        kdf, wrapped, encrypted = _parse(sealed)
    except (ValueError, TypeError):
        raise KeyError_(f"the sealed key of {key_id!r} is corrupt") from None
    for passphrase in passphrases:
        try:
            return kdf, _decrypt(_derive(passphrase, kdf), wrapped, key_id), encrypted
        except (InvalidTag, ValueError):
            continue
    raise KeyError_(
        f"cannot decrypt key {key_id!r} sealed in the database (wrong ISSUER_KEY_PASSPHRASE, "
        "or a sealed key copied from another key's row?)"
    )


def open_sealed(sealed: str, key_id: str, passphrases: Sequence[str]) -> Ed25519PrivateKey:
    """The private key ``sealed`` holds, opened with one of ``passphrases`` and only under
    ``key_id`` (the associated data of both layers)."""
    check_key_id(key_id)
    secrets = [_passphrase_bytes(p) for p in passphrases]
    _, dek, encrypted = _unwrap(sealed, key_id, secrets)
    try:
        seed = _decrypt(dek, encrypted, key_id)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except (InvalidTag, ValueError):
        raise KeyError_(f"the sealed key of {key_id!r} is corrupt") from None


def reseal(sealed: str, key_id: str, passphrases: Sequence[str], new_passphrase: str) -> str:
    """``sealed`` with its data-encryption key wrapped under ``new_passphrase`` instead (a new
    salt); the private key's own ciphertext is kept. ``KeyError_`` if no passphrase opens it."""
    check_key_id(key_id)
    secrets = [_passphrase_bytes(p) for p in passphrases]
    _, dek, encrypted = _unwrap(sealed, key_id, secrets)
    kdf, kek = _writer(_passphrase_bytes(new_passphrase))
    return json.dumps(
        {
            "format": FORMAT,
            "kdf": kdf.as_json(),
            "aead": AEAD,
            "wrapped_key": _encrypt(kek, dek, key_id),
            "private_key": _b64(encrypted),
        },
        sort_keys=True,
    )


class DatabaseKeyStore:
    """The ``database`` store: new keys are sealed (``seal``) for their ``SigningKey`` row,
    which the caller writes in its own transaction; keys are opened from the row.

    A row with no sealed key is a key made by the ``files`` store before this one was
    configured: it is read from ``files`` (``merkki key migrate --to database`` seals it)."""

    kind = "database"

    def __init__(
        self, passphrase: str, *, previous: Sequence[str] = (), files: KeyStore | None = None
    ) -> None:
        _passphrase_bytes(passphrase)
        self._passphrases = [passphrase, *(p for p in previous if p and p != passphrase)]
        self.files = files

    def __repr__(self) -> str:  # never show a passphrase
        folder = None if self.files is None else str(self.files.directory)
        return f"DatabaseKeyStore(files={folder!r})"

    @property
    def directory(self) -> Path | None:
        """The folder of not yet sealed key files, if any."""
        return None if self.files is None else self.files.directory

    def seal(self, key_id: str, private_key: Ed25519PrivateKey) -> str:
        return seal(private_key, key_id, self._passphrases[0])

    def reseal(self, key_id: str, sealed: str, new_passphrase: str) -> str:
        return reseal(sealed, key_id, self._passphrases, new_passphrase)

    def new_key(self, key_id: str) -> tuple[Ed25519PublicKey, str | None]:
        private_key = generate_private_key()
        return private_key.public_key(), self.seal(key_id, private_key)

    def private_key(self, key_id: str, sealed: str | None) -> Ed25519PrivateKey:
        if sealed is None:
            if self.files is None:
                raise KeyError_(f"key {key_id!r} is not sealed in the database")
            return self.files.load(key_id)
        cache_key = _digest(
            b"opened",
            *(p.encode("utf-8") for p in self._passphrases),
            b"",
            key_id.encode(),
            sealed.encode("utf-8"),
        )
        now = time.monotonic()
        with _CACHES.lock:
            known = _CACHES.opened.get(cache_key)
        if known is not None and known[1] > now:
            return known[0]
        private_key = open_sealed(sealed, key_id, self._passphrases)
        with _CACHES.lock:
            if len(_CACHES.opened) >= _MAX_CACHED:
                _CACHES.opened.clear()
            _CACHES.opened[cache_key] = (private_key, now + OPENED_KEY_TTL)
        return private_key

    def has_private_key(self, key_id: str, sealed: str | None) -> bool:
        if sealed is not None:
            return True
        return self.files is not None and self.files.exists(key_id)
