"""Signing keys: creation, lookup, rotation and retirement.

The private key is a file in the ``KeyStore`` (encrypted PKCS#8, mode 0600, named by
``SigningKey.key_id``); the database holds its public half and status. Retired keys stay in the
DID document so that what they signed keeps verifying; compromised keys leave it, so what they
signed fails (DESIGN.md "Issuer identity").
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.config import Settings
from issuer.core.errors import KeyError_
from issuer.core.keys import KeyStore, generate_private_key
from issuer.core.multikey import encode_public_key
from issuer.models import Institution, KeyStatus, SigningKey
from issuer.services.errors import ConflictError, NotFoundError, SigningUnavailableError

log = logging.getLogger("issuer.keys")


def keystore_for(settings: Settings) -> KeyStore:
    """The key store configured by ``ISSUER_KEYS_DIR`` and ``ISSUER_KEY_PASSPHRASE``."""
    return KeyStore(settings.keys_dir, settings.key_passphrase)


def new_key_id(institution: Institution) -> str:
    """A fresh KeyStore file name: the institution's slug (for operators) and 64 random bits."""
    return f"{institution.slug}-{secrets.token_hex(8)}"


def find_active_key(session: Session, institution: Institution) -> SigningKey | None:
    return session.scalar(
        select(SigningKey).where(
            SigningKey.institution_id == institution.id,
            SigningKey.status == KeyStatus.ACTIVE,
        )
    )


def active_key(session: Session, institution: Institution) -> SigningKey:
    """The key that signs for ``institution`` now."""
    key = find_active_key(session, institution)
    if key is None:
        raise NotFoundError(f"institution {institution.slug!r} has no active signing key")
    return key


def create_signing_key(
    session: Session,
    institution: Institution,
    keystore: KeyStore,
    *,
    now: datetime | None = None,
) -> SigningKey:
    """Generate an Ed25519 key, save it encrypted, and record it as the active key."""
    if find_active_key(session, institution) is not None:
        raise ConflictError(
            f"institution {institution.slug!r} already has an active key; rotate it instead"
        )
    private_key = generate_private_key()
    key = SigningKey(
        institution=institution,
        key_id=new_key_id(institution),
        public_key_multibase=encode_public_key(private_key.public_key()),
        status=KeyStatus.ACTIVE,
        created_at=now or datetime.now(UTC),
    )
    # The file is written before the transaction commits; if it then rolls back, an unused
    # key file is left behind, which is harmless (nothing refers to it or trusts it).
    keystore.save(key.key_id, private_key)
    session.add(key)
    session.flush()
    return key


def load_private_key(keystore: KeyStore, key: SigningKey) -> Ed25519PrivateKey:
    """The private half of ``key``, checked to match the public key the DID document shows.

    Any problem is ``SigningUnavailableError``: a generic message for answers, the cause (which
    names the key file, its folder or the passphrase) in ``detail`` and in the log."""
    try:
        private_key = keystore.load(key.key_id)
    except (KeyError_, UnsupportedAlgorithm) as error:
        detail = error.message if isinstance(error, KeyError_) else f"{key.key_id}: {error}"
        reason = "key_unusable" if keystore.exists(key.key_id) else "key_missing"
        log.error("signing key %s cannot be used (%s): %s", key.key_id, reason, detail)
        raise SigningUnavailableError(detail, reason) from None
    if encode_public_key(private_key.public_key()) != key.public_key_multibase:
        detail = f"key file {key.key_id!r} does not hold the key recorded for it; refusing to sign"
        log.error("signing key %s cannot be used (key_mismatch): %s", key.key_id, detail)
        raise SigningUnavailableError(detail, "key_mismatch")
    return private_key


def retire_key(key: SigningKey, *, now: datetime | None = None) -> None:
    """Stop signing with ``key``; it stays published so its credentials keep verifying."""
    if key.status is not KeyStatus.ACTIVE:
        raise ConflictError(f"key {key.key_id!r} is {key.status.value}, not active")
    key.status = KeyStatus.RETIRED
    key.retired_at = now or datetime.now(UTC)


def mark_compromised(key: SigningKey, *, now: datetime | None = None) -> None:
    """Withdraw ``key`` from the DID document: every credential it signed stops verifying."""
    if key.status is KeyStatus.COMPROMISED:
        return
    key.status = KeyStatus.COMPROMISED
    key.retired_at = key.retired_at or now or datetime.now(UTC)


def rotate_key(
    session: Session,
    institution: Institution,
    keystore: KeyStore,
    *,
    now: datetime | None = None,
) -> SigningKey:
    """Retire the active key (if any) and create a new active one."""
    moment = now or datetime.now(UTC)
    current = find_active_key(session, institution)
    if current is not None:
        retire_key(current, now=moment)
        # Flush the retirement first: at most one active key per institution is a constraint.
        session.flush()
    return create_signing_key(session, institution, keystore, now=moment)
