"""Publishing the Bitstring Status Lists: signing a list when its bits change, and serving the
signed list credential ([BSL §BitstringStatusListCredential]; ``issuer.core.status_list``).

Allocating positions and flipping bits is ``issuer.services.status``; it marks what it changed
here (``mark_changed``).

Decision (DESIGN.md "Status"): **signed when a bit changes, never on a read.** A list is signed
in the transaction that changes it: when it is opened (a credential is issued into a new list),
when ``status.set_status`` flips a bit (revoke, suspend, unsuspend) and when the key that signed
it is withdrawn. The changes mark the list (``mark_changed``); the service signs every marked
list once before it returns (``sign_changed_lists``), so a bulk batch or a transaction of many
flips costs one signature per list, not one per change. A ``before_commit`` hook signs whatever
a caller left marked (e.g. a direct ``set_status``), so no commit can publish bits without their
signature. Serving a list (``signed_list_credential``) and verifying our own credentials only
read the stored signature: no private key is decrypted and nothing is written on a GET, which
keeps both working on a read-only database. A list left unsigned by an older version of Merkki
(which signed lazily) is signed by ``merkki init`` (``sign_unsigned_lists``); until then it is
answered as unavailable (503), never signed on the spot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from issuer import urls
from issuer.core.credential import xsd_datetime
from issuer.core.dataintegrity.signing import sign
from issuer.core.did import verification_method_id
from issuer.core.keys import SigningKeyStore
from issuer.core.status_list import DEFAULT_TTL_MS, Bitstring, status_list_credential
from issuer.models import Institution
from issuer.models.issuing import StatusList
from issuer.services import institutions, keys
from issuer.services.errors import NotFoundError, ServiceError

#: ``ttl`` of the list credentials (BSL default, 5 minutes); HTTP ``max-age`` follows it.
TTL_MS = DEFAULT_TTL_MS


def get_list(session: Session, institution_slug: str, purpose: str, number: int) -> StatusList:
    row = session.scalar(
        select(StatusList)
        .join(Institution, Institution.id == StatusList.institution_id)
        .where(
            Institution.slug == institution_slug,
            StatusList.purpose == purpose,
            StatusList.number == number,
        )
    )
    if row is None:
        raise NotFoundError(f"no {purpose} status list {number} of {institution_slug!r}")
    return row


def _etag(text: str) -> str:
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


class UnsignedListError(ServiceError):
    """The list's bits have no signature yet (a list left by a version of Merkki that signed
    lazily, until ``merkki init`` signs it). Served as 503: it is never signed on a read."""

    code = "status_list_unavailable"


def signed_list_credential(row: StatusList) -> tuple[str, str, datetime]:
    """``(json_text, etag, last_modified)`` of the signed ``BitstringStatusListCredential``, as
    stored when its bits last changed (``last_modified``). Reads only: ``UnsignedListError``
    when the stored signature is missing or older than the bits."""
    text = signed_text(row.signed_json, row.signed_version, row.version)
    return text, _etag(text), row.updated_at


def signed_text(signed_json: str | None, signed_version: int | None, version: int) -> str:
    """The stored signed list text when it covers the list's current ``version``."""
    if signed_json is None or signed_version != version:
        raise UnsignedListError("the status list has not been signed yet; try again later")
    return signed_json


#: ``Session.info`` key: ids of the status lists changed in this transaction, to be signed.
_CHANGED = "merkki.status.changed_lists"

#: ``(verification method, private key)`` that signs for an institution.
Signer = Callable[[Institution], tuple[str, Ed25519PrivateKey]]


def mark_changed(session: Session, list_id: int) -> None:
    """Note that list ``list_id`` must be signed before this transaction commits."""
    session.info.setdefault(_CHANGED, set()).add(list_id)


def sign_changed_lists(
    session: Session,
    *,
    base_url: str | None = None,
    keystore: SigningKeyStore | None = None,
    signer: Signer | None = None,
    now: datetime | None = None,
) -> int:
    """Sign every list changed in this transaction (``mark_changed``) once, with its
    institution's active key; return how many were signed. ``signer`` gives an already
    decrypted key (an issuing context's); otherwise the key is loaded from ``keystore``."""
    changed: set[int] = session.info.pop(_CHANGED, set())
    if not changed:
        return 0
    rows = session.scalars(
        select(StatusList).where(StatusList.id.in_(sorted(changed))).order_by(StatusList.id)
    )
    return _sign_rows(session, list(rows), base_url, keystore, signer, now)


def sign_unsigned_lists(
    session: Session,
    *,
    base_url: str | None = None,
    keystore: SigningKeyStore | None = None,
    now: datetime | None = None,
) -> int:
    """Sign every list whose stored signature does not cover its bits (``merkki init``: lists
    left by a version of Merkki that signed lazily); return how many were signed."""
    rows = session.scalars(
        select(StatusList)
        .where(
            or_(
                StatusList.signed_json.is_(None),
                StatusList.signed_version.is_(None),
                StatusList.signed_version != StatusList.version,
            )
        )
        .order_by(StatusList.id)
    )
    return _sign_rows(session, list(rows), base_url, keystore, None, now)


def _sign_rows(
    session: Session,
    rows: list[StatusList],
    base_url: str | None,
    keystore: SigningKeyStore | None,
    signer: Signer | None,
    now: datetime | None,
) -> int:
    if not rows:
        return 0
    if base_url is None or (keystore is None and signer is None):
        publisher = _publisher(session)
        base_url = base_url or publisher[0]
        keystore = keystore or publisher[1]
    loaded: dict[int, tuple[str, Ed25519PrivateKey]] = {}

    def key_of(institution: Institution) -> tuple[str, Ed25519PrivateKey]:
        if signer is not None:
            return signer(institution)
        if institution.id not in loaded:
            assert keystore is not None
            signing_key = keys.active_key(session, institution)
            did = institutions.institution_did(institution, base_url)
            loaded[institution.id] = (
                verification_method_id(did, signing_key.public_key_multibase),
                keys.load_private_key(keystore, signing_key),
            )
        return loaded[institution.id]

    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    for row in rows:
        method, private_key = key_of(row.institution)
        _sign(row, base_url, method, private_key, moment)
    session.flush()
    return len(rows)


def _sign(
    row: StatusList, base_url: str, method: str, private_key: Ed25519PrivateKey, moment: datetime
) -> None:
    institution = row.institution
    did = institutions.institution_did(institution, base_url)
    url = urls.status_list_url(base_url, institution.slug, row.purpose, row.number)
    unsigned = status_list_credential(
        url, did, row.purpose, Bitstring.from_bytes(row.bits), moment, ttl_ms=TTL_MS
    )
    signed: dict[str, Any] = sign(unsigned, private_key, method, created=xsd_datetime(moment))
    row.signed_json = json.dumps(signed, ensure_ascii=False, indent=2)
    row.signed_version = row.version
    row.signed_at = moment


#: ``Session.info`` key of where the session's status lists are published: a function giving
#: (base URL, key store), put into every session of an app by ``issuer.wiring.publishing``. The
#: before-commit hook signs with it, so that no service reaches for the app's settings.
PUBLISHER = "merkki.status_publisher"

Publisher = Callable[[], tuple[str, SigningKeyStore]]


def _publisher(session: Session) -> tuple[str, SigningKeyStore]:
    found = session.info.get(PUBLISHER)
    if found is None:
        raise RuntimeError(
            "status lists changed in a session that does not know where they are published: "
            "pass base_url and keystore, or make the session with the app's sessionmaker"
        )
    return found()  # type: ignore[no-any-return]


def published_base_url(session: Session) -> str | None:
    """The base URL of the app that made ``session`` (its publisher), or None for a session
    made without one."""
    found = session.info.get(PUBLISHER)
    return None if found is None else str(found()[0])


@event.listens_for(Session, "before_commit")
def _sign_before_commit(session: Session) -> None:
    """Sign what a caller changed but left unsigned, so that committed bits always carry their
    signature. Savepoints are skipped: the outer transaction signs once."""
    if session.info.get(_CHANGED) and not session.in_nested_transaction():
        sign_changed_lists(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_changes(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back transaction changed no list. (A rolled-back savepoint may leave ids of lists
    whose change was undone: signing them again is harmless, and a list that no longer exists
    is not found.)"""
    if previous_transaction.parent is None:
        session.info.pop(_CHANGED, None)
