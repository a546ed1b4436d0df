"""Bitstring Status Lists: allocating a credential's positions and flipping its bits (signing and
serving the lists: ``issuer.services.status_publishing``).

Decisions (DESIGN.md "Status"; ob3-facts §1.3, §6):

* **One ``credentialStatus`` per credential, purpose ``revocation``.** VC 2.0 allows several
  entries, but OB 3.0 gives ``credentialStatus`` a multiplicity of 0..1 and its JSON Schema's
  ``CredentialStatus`` is a single object: an array fails the 1EdTech validator. Revocation is
  the entry every OB verifier checks (the validator checks no other purpose).
* **Every credential also holds a position on the institution's ``suspension`` list**, allocated
  and published the same way. The credential does not point to it; Merkki's own verification
  checks suspension through this allocation in the database.
* **Random, never reused indexes** ([BSL] privacy considerations): ``random_free_index`` draws
  uniformly over the list. ``StatusAllocation`` has UNIQUE (status_list_id, index). Positions
  are written with ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (a whole batch in one
  statement per purpose): a row the database refuses because a concurrent transaction holds
  the index (PostgreSQL first waits for that transaction) is simply not returned, and its
  credential draws again. Allocation rows are never deleted, so an index is never handed out
  twice.
* **Lists of ``MIN_LIST_LENGTH`` (131,072) entries**; a new list (number + 1) is opened when the
  newest one is 75 % allocated, which keeps random draws cheap (at 75 % a draw hits a free
  index with probability 1/4 at worst) and leaves room for what concurrent issuers allocate
  meanwhile.
* **Signed when a bit changes, never on a read**: every change marks its list
  (``status_publishing.mark_changed``), which is signed before the transaction commits and
  served as stored (``issuer.services.status_publishing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.status_list import (
    MIN_LIST_LENGTH,
    Bitstring,
    StatusListFullError,
    random_free_index,
    status_entry,
)
from issuer.models import Institution
from issuer.models.issuing import StatusAllocation, StatusList
from issuer.services import status_publishing
from issuer.services.errors import InvalidInputError, NotFoundError

__all__ = [
    "PURPOSES",
    "REVOCATION",
    "SUSPENSION",
    "Allocator",
    "KnownList",
    "StatusAllocation",
    "StatusList",
    "allocate",
    "is_set",
    "list_url",
    "set_status",
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
#: ``INSERT ... ON CONFLICT DO NOTHING`` constructs of the databases that have it (SQLite 3.24+,
#: PostgreSQL 9.5+); elsewhere positions are inserted one by one in savepoints.
_UPSERT_INSERTS: dict[str, Callable[[Any], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def list_url(base_url: str, institution_slug: str, purpose: str, number: int) -> str:
    """Where a list credential is published (and its ``id``)."""
    return urls.status_list_url(base_url, institution_slug, purpose, number)


@dataclass
class KnownList:
    """What allocators know about an institution's newest list of one purpose: its row and the
    indexes known to be taken. Kept across transactions (``IssuingContext`` holds it for a
    job), so a batch reads only the allocations added since the previous one (``seen_up_to``:
    the highest allocation id read). It may know too much (indexes of a transaction that was
    rolled back) or too little (another writer's allocations committed meanwhile): the first only
    makes a draw skip a free index, the second is caught by the UNIQUE constraint, after which
    the allocator reads the list again in full."""

    id: int
    number: int
    length: int
    taken: set[int] = field(default_factory=set)
    seen_up_to: int = 0

    def full(self) -> bool:
        return len(self.taken) >= FILL_LIMIT * self.length


@dataclass
class Allocator:
    """Allocates status list positions within one transaction, for one credential or a batch.

    ``allocate_many`` draws every position of a batch in memory, against the indexes known to be
    taken, and writes them with one ``INSERT ... ON CONFLICT DO NOTHING`` per purpose (and list):
    the rows the database did not take (an index a concurrent transaction holds; on PostgreSQL
    the insert first waits for that transaction) are drawn again, after re-reading the list.
    ``known`` is what an earlier transaction of the same caller learnt about the lists
    (``KnownList``); it is updated in place.
    """

    session: Session
    institution: Institution
    base_url: str
    known: dict[str, KnownList] = field(default_factory=dict)
    #: Purposes whose list this transaction has read (``known`` comes from earlier ones).
    _read: set[str] = field(default_factory=set)
    _locked: bool = False

    def allocate(self, credential_id: str) -> dict[str, str]:
        """Give ``credential_id`` a position on a list of every purpose; return the revocation
        entry for its ``credentialStatus``."""
        return self.allocate_many([credential_id])[credential_id]

    def allocate_many(self, credential_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """``allocate`` for several credentials at once: credential id -> revocation entry."""
        if not credential_ids:
            return {}
        if len(set(credential_ids)) != len(credential_ids):
            raise InvalidInputError("a credential can get only one position per list")
        entries = {purpose: self._allocate_purpose(credential_ids, purpose) for purpose in PURPOSES}
        return entries[REVOCATION]

    def _allocate_purpose(
        self, credential_ids: Sequence[str], purpose: str
    ) -> dict[str, dict[str, str]]:
        entries: dict[str, dict[str, str]] = {}
        pending = list(credential_ids)
        for _ in range(MAX_COLLISIONS):
            planned: list[tuple[str, KnownList, int]] = []
            for credential_id in pending:
                current = self._current(purpose)
                index = random_free_index(current.taken.__contains__, current.length)
                # Taken from now on, whatever the insert says: by this batch or by another.
                current.taken.add(index)
                planned.append((credential_id, current, index))
            inserted = self._insert(planned, purpose)
            missed = []
            for credential_id, current, index in planned:
                if credential_id in inserted:
                    url = list_url(self.base_url, self.institution.slug, purpose, current.number)
                    entries[credential_id] = status_entry(url, index, purpose)
                else:
                    missed.append(credential_id)
            if not missed:
                return entries
            holder = self._already_placed(missed, purpose)
            if holder is not None:
                raise InvalidInputError(f"credential {holder} already has a {purpose} status")
            # Concurrent transactions hold some of the drawn indexes: learn which are taken.
            self._read.discard(purpose)
            self.known.pop(purpose, None)
            pending = missed
        raise StatusListFullError(
            f"could not allocate a {purpose} index for {len(pending)} credential(s) after "
            f"{MAX_COLLISIONS} collisions with concurrent issuers"
        )

    def _insert(self, planned: list[tuple[str, KnownList, int]], purpose: str) -> set[str]:
        """Insert the planned positions; the credential ids whose row went in (the others hit a
        UNIQUE constraint: another transaction holds the index, or the credential already has
        a position for this purpose)."""
        now = datetime.now(UTC)
        rows = [
            {
                "status_list_id": current.id,
                "index": index,
                "credential_id": credential_id,
                "purpose": purpose,
                "created_at": now,
            }
            # In index order: concurrent batches then take the UNIQUE index entries in the same
            # order, so two of them drawing the same indexes wait for each other instead of
            # deadlocking (PostgreSQL inserts, and locks, a statement's rows in order).
            for credential_id, current, index in sorted(planned, key=lambda p: (p[1].id, p[2]))
        ]
        dialect = self.session.get_bind().dialect.name
        if dialect not in _UPSERT_INSERTS:
            return self._insert_each(rows)
        statement = (
            _UPSERT_INSERTS[dialect](StatusAllocation)
            .on_conflict_do_nothing()
            .returning(StatusAllocation.credential_id)
        )
        return set(self.session.scalars(statement, rows))

    def _insert_each(self, rows: list[dict[str, Any]]) -> set[str]:
        """One row at a time, each in a savepoint (databases without ``ON CONFLICT``)."""
        inserted = set()
        for row in rows:
            try:
                with self.session.begin_nested():
                    self.session.execute(insert(StatusAllocation), [row])
            except IntegrityError:
                continue
            inserted.add(row["credential_id"])
        return inserted

    def _already_placed(self, credential_ids: list[str], purpose: str) -> str | None:
        return self.session.scalar(
            select(StatusAllocation.credential_id)
            .where(
                StatusAllocation.credential_id.in_(credential_ids),
                StatusAllocation.purpose == purpose,
            )
            .limit(1)
        )

    def _hold_write_lock(self) -> None:
        """On SQLite, make this transaction the writer before reading which indexes are taken.

        SQLite has one writer at a time; the first write statement takes the lock. Taking it
        before the reads means no other transaction can allocate between our read and our
        insert. It also makes sure a savepoint below (a new list) is nested in a real
        transaction: the pysqlite driver only opens one before its first write, and an
        outermost savepoint's RELEASE would commit. (PostgreSQL needs none of this; the UNIQUE
        constraint handles concurrent issuers there.)
        """
        if self._locked or self.session.get_bind().dialect.name != "sqlite":
            return
        self.session.execute(text("UPDATE status_list SET version = version WHERE 0 = 1"))
        self._locked = True

    def _current(self, purpose: str) -> KnownList:
        """The list to draw from: the newest one, or a new one once it is ``FILL_LIMIT`` full
        (counting what this batch has drawn)."""
        if purpose not in self._read:
            self._hold_write_lock()
            self.known[purpose] = self._read_newest(purpose)
            self._read.add(purpose)
        current = self.known[purpose]
        while current.full():
            current = self._open(purpose, current.number + 1)
            self.known[purpose] = current
        return current

    def _read_newest(self, purpose: str) -> KnownList:
        """The newest list and its taken indexes: only those added since ``known`` was read,
        when ``known`` describes the same list."""
        newest = self.session.execute(
            select(StatusList.id, StatusList.number, StatusList.length)
            .where(
                StatusList.institution_id == self.institution.id,
                StatusList.purpose == purpose,
            )
            .order_by(StatusList.number.desc())
            .limit(1)
        ).first()
        if newest is None:
            return self._open(purpose, 1)
        list_id, number, length = newest
        known = self.known.get(purpose)
        if known is None or (known.id, known.number, known.length) != (list_id, number, length):
            known = KnownList(list_id, number, length)
        return self._read_taken(known)

    def _read_taken(self, known: KnownList) -> KnownList:
        """Add the list's allocations ``known`` has not seen yet."""
        rows = self.session.execute(
            select(StatusAllocation.id, StatusAllocation.index).where(
                StatusAllocation.status_list_id == known.id,
                StatusAllocation.id > known.seen_up_to,
            )
        )
        for allocation_id, index in rows:
            known.taken.add(index)
            known.seen_up_to = max(known.seen_up_to, allocation_id)
        return known

    def _open(self, purpose: str, number: int) -> KnownList:
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
            return self._read_taken(KnownList(existing.id, existing.number, existing.length))
        # A new list is published at once: signed in this transaction (module docstring).
        status_publishing.mark_changed(self.session, row.id)
        return KnownList(row.id, row.number, row.length)


def allocate(
    session: Session, institution: Institution, credential_id: str, *, base_url: str
) -> dict[str, str]:
    """Allocate ``credential_id`` a random position on the institution's revocation and
    suspension lists (in the caller's transaction) and return the revocation
    ``BitstringStatusListEntry`` for its ``credentialStatus``."""
    return Allocator(session, institution, base_url).allocate(credential_id)


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
    list is marked for signing before the transaction commits (module docstring)."""
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
    status_publishing.mark_changed(session, row.id)
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
