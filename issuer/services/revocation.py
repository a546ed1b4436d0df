"""Withdrawing trust: revoking and suspending credentials, rotating and withdrawing keys.

Each action changes the database row, the status list bit that verifiers read (through
``issuer.services.status``) and writes its audit event, all in the caller's one transaction:
the caller commits once, or nothing happened (services never commit).

The learner is told by mail (``issuer.services.mail.queue_status_mail``, in the same
transaction, sent after it commits), in the credential's language and with the reason when one
was given.

Rules (issue 5): revocation is permanent and needs a reason, which the verification page shows;
a revoked credential cannot be suspended or unsuspended; suspension can be lifted. Keys: a
rotation retires the active key (it stays in the DID document, so what it signed keeps
verifying) and makes a new one active; a key withdrawn as compromised leaves the DID document,
so what it signed no longer verifies (DESIGN.md "Issuer identity").
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.keys import SigningKeyStore
from issuer.models import Credential, Institution, KeyStatus, SigningKey
from issuer.models.audit import AuditEvent
from issuer.models.issuing import StatusList
from issuer.services import audit, keys, mail, status, status_publishing
from issuer.services.audit import AuditActor
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError

MAX_REASON_LENGTH = 1000
REVOCATION = status.REVOCATION
SUSPENSION = status.SUSPENSION
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ------------------------------------------------------------------------------- credentials


def credential_id_from(reference: str, base_url: str) -> str:
    """The stored id named by ``reference``: the 32-hex id, the same uuid with hyphens, or the
    credential's full URL (``<base>/credentials/<id>``)."""
    value = reference.strip()
    prefix = urls.credentials_prefix(base_url)
    if value.startswith(prefix):
        value = value.removeprefix(prefix)
    value = value.lower()
    if _UUID.fullmatch(value):
        value = value.replace("-", "")
    if not _HEX_ID.fullmatch(value):
        raise NotFoundError(
            f"{reference!r} is not a credential id (a uuid, or {prefix}<uuid>) of this service"
        )
    return value


def find_credential(session: Session, reference: str, base_url: str) -> Credential:
    credential = session.get(Credential, credential_id_from(reference, base_url))
    if credential is None:
        raise NotFoundError(f"no credential {reference.strip()!r}")
    return credential


def credential_state(credential: Credential) -> str:
    """``revoked``, ``suspended`` or ``active`` (what the staff list shows)."""
    if credential.revoked_at is not None:
        return "revoked"
    if credential.suspended_at is not None:
        return "suspended"
    return "active"


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    text = " ".join((reason or "").split())
    if not text:
        if required:
            raise InvalidInputError("a reason is required to revoke a credential")
        return None
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInputError(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    return text


def _set_bit(session: Session, credential: Credential, purpose: str, value: bool) -> None:
    """Flip the credential's bit on its published ``purpose`` list and sign the list again in
    this transaction (a new ETag; verifications and the public route never sign). A credential
    issued before status lists existed has no position; its row alone then records the change
    (our own verification reads it)."""
    with contextlib.suppress(NotFoundError):
        status.set_status(session, credential.id, purpose, value)
    status_publishing.sign_changed_lists(session)


def _target(credential: Credential) -> str:
    return credential.id


def _base_url(session: Session, credential: Credential) -> str:
    """The service's base URL: the session's publisher knows it; a session made without one
    reads it off the credential's own id (``<base>/credentials/<id>``, signed when issued)."""
    found = status_publishing.published_base_url(session)
    if found is not None:
        return found
    signed_id = str(json.loads(credential.signed_json).get("id", ""))
    return signed_id.removesuffix(f"{urls.CREDENTIALS}{credential.id}")


def _record_status_change(
    session: Session,
    credential: Credential,
    *,
    actor: AuditActor,
    action: str,
    purpose: str,
    value: bool,
    reason: str | None,
    moment: datetime,
) -> Credential:
    """The part every status action shares: the list bit, the audit event, one flush."""
    _set_bit(session, credential, purpose, value)
    audit.record(
        session,
        actor=actor,
        action=action,
        institution_id=credential.institution_id,
        target=_target(credential),
        reason=reason,
        details={"recipient": credential.recipient_name},
        now=moment,
    )
    mail.queue_status_mail(
        session, credential, action, base_url=_base_url(session, credential), reason=reason
    )
    session.flush()
    return credential


def revoke(
    session: Session,
    credential: Credential,
    *,
    actor: AuditActor,
    reason: str,
    now: datetime | None = None,
) -> Credential:
    """Revoke ``credential`` for good: the row, the revocation list bit and the audit event."""
    cleaned = _clean_reason(reason, required=True)
    if credential.revoked_at is not None:
        raise ConflictError(f"credential {credential.id} is already revoked")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    credential.revoked_at = moment
    credential.revocation_reason = cleaned
    return _record_status_change(
        session,
        credential,
        actor=actor,
        action="revoke",
        purpose=REVOCATION,
        value=True,
        reason=cleaned,
        moment=moment,
    )


def suspend(
    session: Session,
    credential: Credential,
    *,
    actor: AuditActor,
    reason: str | None = None,
    now: datetime | None = None,
) -> Credential:
    """Suspend ``credential`` until it is unsuspended."""
    cleaned = _clean_reason(reason, required=False)
    if credential.revoked_at is not None:
        raise ConflictError(f"credential {credential.id} is revoked; it cannot be suspended")
    if credential.suspended_at is not None:
        raise ConflictError(f"credential {credential.id} is already suspended")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    credential.suspended_at = moment
    return _record_status_change(
        session,
        credential,
        actor=actor,
        action="suspend",
        purpose=SUSPENSION,
        value=True,
        reason=cleaned,
        moment=moment,
    )


def unsuspend(
    session: Session,
    credential: Credential,
    *,
    actor: AuditActor,
    reason: str | None = None,
    now: datetime | None = None,
) -> Credential:
    """Lift the suspension of ``credential``."""
    cleaned = _clean_reason(reason, required=False)
    if credential.revoked_at is not None:
        raise ConflictError(f"credential {credential.id} is revoked; it cannot be unsuspended")
    if credential.suspended_at is None:
        raise ConflictError(f"credential {credential.id} is not suspended")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    credential.suspended_at = None
    return _record_status_change(
        session,
        credential,
        actor=actor,
        action="unsuspend",
        purpose=SUSPENSION,
        value=False,
        reason=cleaned,
        moment=moment,
    )


def suspension_reason(session: Session, credential: Credential) -> str | None:
    """Why ``credential`` is suspended, as staff wrote it (None when not suspended or no reason
    was given). The row keeps only when (suspension can be lifted and given again); the
    reason is in the audit event of the suspension in force, the latest one."""
    if credential.suspended_at is None or credential.revoked_at is not None:
        return None
    reason: str | None = session.scalar(
        select(AuditEvent.reason)
        .where(AuditEvent.action == "suspend", AuditEvent.target == _target(credential))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    return reason


#: The status changes staff, the API and the CLI can ask for, by name.
STATUS_ACTIONS = ("revoke", "suspend", "unsuspend")


def change_status(
    session: Session,
    credential: Credential,
    action: str,
    *,
    actor: AuditActor,
    reason: str | None = None,
    now: datetime | None = None,
) -> Credential:
    """``revoke``, ``suspend`` or ``unsuspend`` by name: the one dispatch the staff pages, the
    API and ``merkki revoke/suspend/unsuspend`` share. A revocation needs a reason."""
    if action == "revoke":
        return revoke(session, credential, actor=actor, reason=reason or "", now=now)
    if action == "suspend":
        return suspend(session, credential, actor=actor, reason=reason, now=now)
    if action == "unsuspend":
        return unsuspend(session, credential, actor=actor, reason=reason, now=now)
    raise ValueError(f"unknown status action {action!r}")


# -------------------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What a key action did: the key acted on and the key now active (if a new one was made)."""

    key: SigningKey
    new_active: SigningKey | None


def list_keys(session: Session, institution: Institution) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.institution_id == institution.id)
            .order_by(SigningKey.created_at, SigningKey.id)
        )
    )


def find_key(session: Session, institution: Institution, reference: str) -> SigningKey:
    """The institution's key by its key id or its ``publicKeyMultibase`` (or the full
    verification method id ``did:...#z6Mk...``)."""
    value = reference.strip().rpartition("#")[2]
    key = session.scalar(
        select(SigningKey).where(
            SigningKey.institution_id == institution.id,
            (SigningKey.key_id == value) | (SigningKey.public_key_multibase == value),
        )
    )
    if key is None:
        raise NotFoundError(f"institution {institution.slug!r} has no key {reference.strip()!r}")
    return key


def _resign_status_lists(
    session: Session, institution: Institution, withdrawn: SigningKey, keystore: SigningKeyStore
) -> None:
    """Sign again, with the active key and in this transaction, every status list of the
    institution that ``withdrawn`` signed (or that has no signature): a list signed with a
    withdrawn key no longer verifies. Bumping the version also changes the list's ETag, so
    caches fetch the new one."""
    session.flush()
    for row in session.scalars(
        select(StatusList).where(StatusList.institution_id == institution.id)
    ):
        if row.signed_json is None or _signed_by(row.signed_json, withdrawn):
            row.version += 1
            status_publishing.mark_changed(session, row.id)
    status_publishing.sign_changed_lists(session, keystore=keystore)


def _signed_by(signed_json: str, key: SigningKey) -> bool:
    """Does a proof of the stored list credential name ``key`` as its verification method?"""
    proofs = json.loads(signed_json).get("proof", [])
    return any(
        isinstance(proof, dict)
        and str(proof.get("verificationMethod", "")).rpartition("#")[2] == key.public_key_multibase
        for proof in (proofs if isinstance(proofs, list) else [proofs])
    )


def rotate_key(
    session: Session,
    institution: Institution,
    keystore: SigningKeyStore,
    *,
    actor: AuditActor,
    now: datetime | None = None,
) -> KeyChange:
    """Retire the active key (it stays in the DID document) and make a new one active."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    old = keys.find_active_key(session, institution)
    new = keys.rotate_key(session, institution, keystore, now=moment)
    audit.record(
        session,
        actor=actor,
        action="key.rotate",
        institution_id=institution.id,
        target=new.key_id,
        details={
            "new_key": new.public_key_multibase,
            "retired_key": old.public_key_multibase if old is not None else None,
            "retired_key_id": old.key_id if old is not None else None,
        },
        now=moment,
    )
    return KeyChange(key=new, new_active=new)


def withdraw_compromised_key(
    session: Session,
    institution: Institution,
    reference: str,
    keystore: SigningKeyStore,
    *,
    actor: AuditActor,
    reason: str | None = None,
    now: datetime | None = None,
) -> KeyChange:
    """Withdraw a key as compromised: it leaves the DID document and everything it signed
    stops verifying. When it was the active key, a new active key is made at once, so that the
    institution can still issue and its status lists are signed with a trusted key."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    key = find_key(session, institution, reference)
    if key.status is KeyStatus.COMPROMISED:
        raise ConflictError(f"key {key.key_id!r} is already withdrawn as compromised")
    was_active = key.status is KeyStatus.ACTIVE
    keys.mark_compromised(key, now=moment)
    session.flush()
    new_active = (
        keys.create_signing_key(session, institution, keystore, now=moment)
        if (was_active)
        else None
    )
    _resign_status_lists(session, institution, key, keystore)
    audit.record(
        session,
        actor=actor,
        action="key.compromised",
        institution_id=institution.id,
        target=key.key_id,
        reason=_clean_reason(reason, required=False),
        details={
            "key": key.public_key_multibase,
            "was_active": was_active,
            "new_key_id": new_active.key_id if new_active is not None else None,
        },
        now=moment,
    )
    session.flush()
    return KeyChange(key=key, new_active=new_active)
