"""Signing keys: creation, lookup, rotation and retirement; moving and re-wrapping them.

The private key lives in the configured key store (``keystore_for``; DESIGN.md "Private keys
live where every app server reaches them"): sealed into its ``SigningKey`` row (``database``,
the default), an encrypted file named by ``SigningKey.key_id`` (``files``) or a PKCS#11 token
(``pkcs11``). The row holds its public half and status. Retired keys stay in the DID document so
that what they signed keeps verifying; compromised keys leave it, so what they signed fails
(DESIGN.md "Issuer identity").
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
from issuer.core.key_envelope import DatabaseKeyStore
from issuer.core.keys import KeyStore, SigningKeyStore
from issuer.core.multikey import encode_public_key
from issuer.models import Institution, KeyStatus, SigningKey
from issuer.services.errors import ConflictError, NotFoundError, SigningUnavailableError

log = logging.getLogger("issuer.keys")


def keystore_for(settings: Settings) -> SigningKeyStore:
    """The key store ``ISSUER_KEY_STORE`` names: ``database`` (sealed under
    ``ISSUER_KEY_PASSPHRASE``, also reading keys the files store made in ``ISSUER_KEYS_DIR``),
    ``files`` or ``pkcs11`` (``ISSUER_HSM_*``)."""
    if settings.key_store == "files":
        return file_keystore(settings)
    if settings.key_store == "pkcs11":
        from issuer.core.pkcs11_keys import Pkcs11KeyStore

        return Pkcs11KeyStore(
            settings.hsm_library or "", settings.hsm_token or "", settings.hsm_pin or ""
        )
    return database_keystore(settings)


def file_keystore(settings: Settings) -> KeyStore:
    """The files in ``ISSUER_KEYS_DIR``, encrypted with ``ISSUER_KEY_PASSPHRASE``."""
    return KeyStore(settings.keys_dir, settings.key_passphrase)


def database_keystore(settings: Settings) -> DatabaseKeyStore:
    """The database store of ``settings``: it seals under ``ISSUER_KEY_PASSPHRASE`` and opens
    with it or ``ISSUER_KEY_PASSPHRASE_PREVIOUS``; it reads keys not yet sealed from the files."""
    return DatabaseKeyStore(
        settings.key_passphrase,
        previous=settings.key_passphrase_previous,
        files=file_keystore(settings),
    )


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
    keystore: SigningKeyStore,
    *,
    now: datetime | None = None,
) -> SigningKey:
    """Generate an Ed25519 key in ``keystore`` and record it as the active key."""
    if find_active_key(session, institution) is not None:
        raise ConflictError(
            f"institution {institution.slug!r} already has an active key; rotate it instead"
        )
    key_id = new_key_id(institution)
    # The database store seals the private key into the row, so it commits or rolls back with
    # it. The files and pkcs11 stores write it now: if the transaction then rolls back, an
    # unused key is left behind, which is harmless (nothing refers to it or trusts it).
    public_key, sealed = keystore.new_key(key_id)
    key = SigningKey(
        institution=institution,
        key_id=key_id,
        public_key_multibase=encode_public_key(public_key),
        status=KeyStatus.ACTIVE,
        created_at=now or datetime.now(UTC),
        sealed_private_key=sealed,
    )
    session.add(key)
    session.flush()
    return key


def load_private_key(keystore: SigningKeyStore, key: SigningKey) -> Ed25519PrivateKey:
    """The private half of ``key``, checked to match the public key the DID document shows.

    Any problem is ``SigningUnavailableError``: a generic message for answers, the cause (which
    names the key file, its folder or the passphrase) in ``detail`` and in the log."""
    try:
        private_key = keystore.private_key(key.key_id, key.sealed_private_key)
    except (KeyError_, UnsupportedAlgorithm) as error:
        detail = error.message if isinstance(error, KeyError_) else f"{key.key_id}: {error}"
        try:
            held = keystore.has_private_key(key.key_id, key.sealed_private_key)
        except KeyError_:
            held = False  # a token that cannot be reached holds nothing usable
        reason = "key_unusable" if held else "key_missing"
        log.error("signing key %s cannot be used (%s): %s", key.key_id, reason, detail)
        raise SigningUnavailableError(detail, reason) from None
    if encode_public_key(private_key.public_key()) != key.public_key_multibase:
        detail = f"key {key.key_id!r} does not hold the key recorded for it; refusing to sign"
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
    keystore: SigningKeyStore,
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


def migrate_to_database(
    session: Session, files: KeyStore, database: DatabaseKeyStore
) -> list[SigningKey]:
    """Seal every key that the files store holds (and the database does not yet) into its row;
    return the keys sealed. Each is checked to be the key its row publishes before it is
    sealed, so a wrong file stops the move instead of being trusted, as does an active key
    without its file. The files are left in place (the operator removes them once the move is
    committed and checked): the database store reads a sealed key first, so they are no longer
    used."""
    moved = []
    for key in session.scalars(
        select(SigningKey).where(SigningKey.sealed_private_key.is_(None)).order_by(SigningKey.id)
    ):
        if key.status is not KeyStatus.ACTIVE and not files.exists(key.key_id):
            # A retired or withdrawn key never signs again: its file may be gone, and its
            # credentials verify from the public key in the database.
            continue
        private_key = load_private_key(files, key)
        key.sealed_private_key = database.seal(key.key_id, private_key)
        moved.append(key)
    session.flush()
    return moved


def rewrap(session: Session, database: DatabaseKeyStore, new_passphrase: str) -> int:
    """Re-wrap every sealed key under ``new_passphrase`` (in the caller's one transaction);
    return how many. Every key must open with the store's passphrases first: one that does not
    stops the change, so no key is left under a passphrase nobody knows."""
    rows = list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.sealed_private_key.is_not(None))
            .order_by(SigningKey.id)
        )
    )
    for key in rows:
        assert key.sealed_private_key is not None
        try:
            key.sealed_private_key = database.reseal(
                key.key_id, key.sealed_private_key, new_passphrase
            )
        except KeyError_ as error:
            log.error("cannot re-wrap signing key %s: %s", key.key_id, error.message)
            raise SigningUnavailableError(error.message, "key_unusable") from None
    session.flush()
    return len(rows)
