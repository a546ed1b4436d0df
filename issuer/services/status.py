"""Bitstring Status Lists: allocating a credential's positions, flipping bits, publishing the
signed lists.

Decisions (DESIGN.md "Status"; ob3-facts §1.3, §6):

* **One ``credentialStatus`` per credential, purpose ``revocation``.** VC 2.0 allows several
  entries, but OB 3.0 gives ``credentialStatus`` a multiplicity of 0..1 and its JSON Schema's
  ``CredentialStatus`` is a single object: an array fails the 1EdTech validator. Revocation is
  the entry every OB verifier checks (the validator checks no other purpose).
* **Every credential also holds a position on the institution's ``suspension`` list**, allocated
  and published the same way. The credential does not point to it; Merkki's own verification
  checks suspension through this allocation in the database.
* **Random, never reused indexes** ([BSL] privacy considerations): ``random_free_index`` draws
  uniformly over the list. ``StatusAllocation`` has UNIQUE (status_list_id, index); every insert
  happens in a SAVEPOINT, and a collision with a concurrent transaction (which on PostgreSQL
  waits for the other transaction and then fails) rolls back only the savepoint and draws again.
  Allocation rows are never deleted, so an index is never handed out twice.
* **Lists of ``MIN_LIST_LENGTH`` (131,072) entries**; a new list (number + 1) is opened when the
  newest one is 75 % allocated, which keeps random draws cheap (at 75 % a draw hits a free
  index with probability 1/4 at worst) and leaves room for what concurrent issuers allocate
  meanwhile.
* **Lazy re-signing.** ``set_status`` flips the bit and bumps the list's ``version`` in the
  caller's transaction; it does not sign. ``signed_list_credential`` signs the list the first
  time it is asked for a version it has not signed yet and caches the result on the row. A
  revocation therefore never fails or slows down because of signing, and a burst of revocations
  costs one signature per published version, not one per revocation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.core.credential import xsd_datetime
from issuer.core.dataintegrity import sign
from issuer.core.did import verification_method_id
from issuer.core.keys import KeyStore
from issuer.core.status_list import (
    DEFAULT_TTL_MS,
    MIN_LIST_LENGTH,
    Bitstring,
    StatusListFullError,
    random_free_index,
    status_entry,
    status_list_credential,
)
from issuer.models import Institution
from issuer.models_issuing import StatusAllocation, StatusList
from issuer.services import institutions, keys
from issuer.services.errors import InvalidInputError, NotFoundError

__all__ = [
    "PURPOSES",
    "REVOCATION",
    "SUSPENSION",
    "Allocator",
    "StatusAllocation",
    "StatusList",
    "allocate",
    "get_list",
    "is_set",
    "list_url",
    "set_status",
    "signed_list_credential",
    "statuses",
]

REVOCATION = "revocation"
SUSPENSION = "suspension"
#: Every credential gets a position on a list of each purpose; the first one is the one the
#: credential's ``credentialStatus`` names.
PURPOSES: tuple[str, ...] = (REVOCATION, SUSPENSION)
#: A new list is opened once this share of the newest list is allocated.
FILL_LIMIT = 0.75
#: Re-draws after a UNIQUE collision with a concurrent transaction before giving up.
MAX_COLLISIONS = 20
#: ``ttl`` of the list credentials (BSL default, 5 minutes); HTTP ``max-age`` follows it.
TTL_MS = DEFAULT_TTL_MS


def list_url(base_url: str, institution_slug: str, purpose: str, number: int) -> str:
    """Where a list credential is published (and its ``id``)."""
    return f"{base_url}/status/{institution_slug}/{purpose}/{number}"


@dataclass
class _OpenList:
    """What an ``Allocator`` knows about the list it is filling."""

    row: StatusList
    taken: set[int]
    count: int


@dataclass
class Allocator:
    """Allocates status list positions within one transaction.

    It remembers, per purpose, the open list, the indexes known to be taken and their count, so
    that a batch of thousands of credentials reads each list's allocations once instead of once
    per credential. Indexes taken by concurrent transactions are discovered by the UNIQUE
    constraint (and then remembered too).
    """

    session: Session
    institution: Institution
    base_url: str
    _open: dict[str, _OpenList] = field(default_factory=dict)
    _locked: bool = False

    def allocate(self, credential_id: str) -> dict[str, str]:
        """Give ``credential_id`` a position on a list of every purpose; return the revocation
        entry for its ``credentialStatus``."""
        entries = {purpose: self._allocate_one(credential_id, purpose) for purpose in PURPOSES}
        return entries[REVOCATION]

    def _allocate_one(self, credential_id: str, purpose: str) -> dict[str, str]:
        for _ in range(MAX_COLLISIONS):
            current = self._current(purpose)
            index = random_free_index(current.taken.__contains__, current.row.length)
            allocation = StatusAllocation(
                status_list_id=current.row.id,
                index=index,
                credential_id=credential_id,
                purpose=purpose,
            )
            try:
                with self.session.begin_nested():
                    self.session.add(allocation)
            except IntegrityError:
                # A concurrent transaction holds this index (or this credential already has a
                # position for this purpose, which a re-read below will show): re-read the list.
                self._open.pop(purpose, None)
                if self._existing(credential_id, purpose) is not None:
                    raise InvalidInputError(
                        f"credential {credential_id} already has a {purpose} status"
                    ) from None
                continue
            current.taken.add(index)
            current.count += 1
            url = list_url(self.base_url, self.institution.slug, purpose, current.row.number)
            return status_entry(url, index, purpose)
        raise StatusListFullError(
            f"could not allocate a {purpose} index for {credential_id} after {MAX_COLLISIONS} "
            "collisions with concurrent issuers"
        )

    def _existing(self, credential_id: str, purpose: str) -> StatusAllocation | None:
        return self.session.scalar(
            select(StatusAllocation).where(
                StatusAllocation.credential_id == credential_id,
                StatusAllocation.purpose == purpose,
            )
        )

    def _hold_write_lock(self) -> None:
        """On SQLite, make this transaction the writer before reading which indexes are taken.

        SQLite has one writer at a time; the first write statement takes the lock. Taking it
        before the reads means no other transaction can allocate between our read and our
        insert. It also makes sure the savepoints below are nested in a real transaction: the
        pysqlite driver only opens one before its first write, and an outermost savepoint's
        RELEASE would commit. (PostgreSQL needs none of this; the UNIQUE constraint and the
        savepoints handle concurrent issuers there.)
        """
        if self._locked or self.session.get_bind().dialect.name != "sqlite":
            return
        self.session.execute(text("UPDATE status_list SET version = version WHERE 0 = 1"))
        self._locked = True

    def _current(self, purpose: str) -> _OpenList:
        self._hold_write_lock()
        current = self._open.get(purpose)
        if current is not None and current.count < FILL_LIMIT * current.row.length:
            return current
        row = self._newest(purpose)
        if row is None:
            row = self._create(purpose, 1)
        while True:
            count = self._count(row)
            if count < FILL_LIMIT * row.length:
                current = _OpenList(row, self._taken(row), count)
                self._open[purpose] = current
                return current
            row = self._create(purpose, row.number + 1)

    def _newest(self, purpose: str) -> StatusList | None:
        return self.session.scalar(
            select(StatusList)
            .where(
                StatusList.institution_id == self.institution.id,
                StatusList.purpose == purpose,
            )
            .order_by(StatusList.number.desc())
            .limit(1)
        )

    def _count(self, row: StatusList) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(StatusAllocation)
                .where(StatusAllocation.status_list_id == row.id)
            )
            or 0
        )

    def _taken(self, row: StatusList) -> set[int]:
        return set(
            self.session.scalars(
                select(StatusAllocation.index).where(StatusAllocation.status_list_id == row.id)
            )
        )

    def _create(self, purpose: str, number: int) -> StatusList:
        """Open list ``number``; when a concurrent transaction opened it first, use theirs."""
        row = StatusList(
            institution_id=self.institution.id,
            purpose=purpose,
            number=number,
            length=MIN_LIST_LENGTH,
            bits=Bitstring(MIN_LIST_LENGTH).to_bytes(),
            version=1,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            existing = self.session.scalar(
                select(StatusList).where(
                    StatusList.institution_id == self.institution.id,
                    StatusList.purpose == purpose,
                    StatusList.number == number,
                )
            )
            assert existing is not None  # the UNIQUE constraint said it exists
            return existing
        return row


def allocate(
    session: Session, institution: Institution, credential_id: str, *, base_url: str | None = None
) -> dict[str, str]:
    """Allocate ``credential_id`` a random position on the institution's revocation and
    suspension lists (in the caller's transaction) and return the revocation
    ``BitstringStatusListEntry`` for its ``credentialStatus``."""
    return Allocator(session, institution, base_url or _base_url()).allocate(credential_id)


def _base_url() -> str:
    from issuer.config import get_settings

    return get_settings().base_url


def _allocation(session: Session, credential_id: str, purpose: str) -> StatusAllocation:
    if purpose not in PURPOSES:
        raise InvalidInputError(f"status purpose must be one of {', '.join(PURPOSES)}")
    allocation = session.scalar(
        select(StatusAllocation).where(
            StatusAllocation.credential_id == credential_id,
            StatusAllocation.purpose == purpose,
        )
    )
    if allocation is None:
        raise NotFoundError(f"credential {credential_id!r} has no {purpose} status")
    return allocation


def set_status(session: Session, credential_id: str, purpose: str, value: bool) -> bool:
    """Set (``True``) or clear the credential's bit on its ``purpose`` list; returns whether
    anything changed. The list row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL) so that
    concurrent flips on the same list serialize instead of overwriting each other's bytes. The
    signed list is re-signed lazily (module docstring)."""
    allocation = _allocation(session, credential_id, purpose)
    row = session.scalar(
        select(StatusList)
        .where(StatusList.id == allocation.status_list_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    bits = Bitstring.from_bytes(row.bits)
    if bits.get(allocation.index) == value:
        return False
    bits.set(allocation.index, value)
    row.bits = bits.to_bytes()
    row.version += 1
    row.updated_at = datetime.now(UTC)
    session.flush()
    return True


def is_set(session: Session, credential_id: str, purpose: str) -> bool:
    """Is the credential's bit set on its ``purpose`` list? False when it has no position
    (credentials issued before status lists existed)."""
    allocation = session.scalar(
        select(StatusAllocation).where(
            StatusAllocation.credential_id == credential_id,
            StatusAllocation.purpose == purpose,
        )
    )
    if allocation is None:
        return False
    row = session.get(StatusList, allocation.status_list_id)
    assert row is not None
    return Bitstring.from_bytes(row.bits).get(allocation.index)


def statuses(session: Session, credential_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each credential id, the purposes whose bit is set (revoked, suspended)."""
    ids = list(credential_ids)
    found: dict[str, set[str]] = {credential_id: set() for credential_id in ids}
    if not ids:
        return found
    rows = session.execute(
        select(
            StatusAllocation.credential_id,
            StatusAllocation.purpose,
            StatusAllocation.index,
            StatusList.bits,
        )
        .join(StatusList, StatusList.id == StatusAllocation.status_list_id)
        .where(StatusAllocation.credential_id.in_(ids))
    )
    for credential_id, purpose, index, raw in rows:
        if raw[index >> 3] & (0x80 >> (index & 7)):
            found[credential_id].add(purpose)
    return found


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


def signed_list_credential(
    session: Session,
    row: StatusList,
    *,
    base_url: str | None = None,
    keystore: KeyStore | None = None,
    now: datetime | None = None,
) -> tuple[str, str, datetime]:
    """``(json_text, etag, last_modified)`` of the signed ``BitstringStatusListCredential``.

    Signed with the institution's active key when the cached one is older than the list's
    current ``version`` (lazy re-signing, module docstring); the cache is written in the
    caller's transaction, which the caller commits. ``last_modified`` is when the bits last
    changed.
    """
    if row.signed_json is not None and row.signed_version == row.version:
        return row.signed_json, _etag(row.signed_json), row.updated_at
    if base_url is None or keystore is None:
        from issuer.config import get_settings

        settings = get_settings()
        base_url = base_url or settings.base_url
        keystore = keystore or keys.keystore_for(settings)
    institution = row.institution
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    did = institutions.institution_did(institution, base_url)
    url = list_url(base_url, institution.slug, row.purpose, row.number)
    unsigned = status_list_credential(
        url, did, row.purpose, Bitstring.from_bytes(row.bits), moment, ttl_ms=TTL_MS
    )
    signing_key = keys.active_key(session, institution)
    private_key = keys.load_private_key(keystore, signing_key)
    method = verification_method_id(did, signing_key.public_key_multibase)
    signed: dict[str, Any] = sign(unsigned, private_key, method, created=xsd_datetime(moment))
    text = json.dumps(signed, ensure_ascii=False, indent=2)
    row.signed_json = text
    row.signed_version = row.version
    row.signed_at = moment
    session.flush()
    return text, _etag(text), row.updated_at
