"""What verification reads from our own database: our stored credentials with their positions on
our status lists, our institutions' keys, and the signed status lists we publish.

For OUR credentials the status lists are answered from the database (so a change is seen at
once, not after the list's ttl) and revocation and suspension are also read from the
credential's own row (``issuer.services.verification``). Everything here only reads: a status
list is signed when its bits change, never when it is read (``issuer.services.status_publishing``).

The queries of every verification of one of our credentials are built once (building a statement
costs about as much as running it on SQLite); values are bound per call. They are Core
statements over the tables, read into plain rows: verification only reads, and loading ORM
objects (identity map, attribute instrumentation, the badge class's JSON parsed on every load)
was about a quarter of the processor time of a GET /verify/<id>. ``read`` flushes the session
first, so what the caller changed in its transaction is what is verified.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Result, Row, Text, bindparam, cast, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.dataintegrity.caches import SourceKey
from issuer.core.did import did_web_for
from issuer.core.signed_view import SignedView
from issuer.core.status_list import Bitstring
from issuer.core.verifier import read_signed_view
from issuer.models import BadgeClassVersion, Credential, Institution, SigningKey
from issuer.models.issuing import StatusAllocation, StatusList
from issuer.models.wallet import WalletCopy
from issuer.services import status, status_publishing

_CREDENTIAL = Credential.__table__
_INSTITUTION = Institution.__table__
_KEY = SigningKey.__table__
_LIST = StatusList.__table__
_ALLOCATION = StatusAllocation.__table__
_VERSION = BadgeClassVersion.__table__
_COPY = WalletCopy.__table__
_WALLET_COPY = select(_COPY.c.credential_id, _COPY.c.signed_json).where(
    _COPY.c.id == bindparam("id")
)
#: ``urn:uuid:<uuid>``, the id of a holder-bound copy (``urls.holder_bound_copy_id``).
_COPY_ID_PREFIX = "urn:uuid:"

_KEY_STATE = (
    select(
        _INSTITUTION.c.slug,
        _INSTITUTION.c.name_fi,
        _KEY.c.public_key_multibase,
        _KEY.c.status,
        _KEY.c.retired_at,
    )
    .select_from(_INSTITUTION)
    .outerjoin(_KEY, _KEY.c.institution_id == _INSTITUTION.c.id)
    .where(_INSTITUTION.c.slug == bindparam("slug"))
    .order_by(_KEY.c.id)
)
_STATUS_LIST = (
    select(StatusList)
    .join(Institution, Institution.id == StatusList.institution_id)
    .where(
        Institution.slug == bindparam("slug"),
        StatusList.purpose == bindparam("purpose"),
        StatusList.number == bindparam("number"),
    )
)
_LIST_INSTITUTION = _INSTITUTION.alias("list_institution")
#: Our stored credential with its institution, its badge class version and its positions on
#: our status lists (as the lists are now): one row per position (none: one row of NULLs).
_OWN_CREDENTIAL = (
    select(
        _CREDENTIAL.c.id,
        _CREDENTIAL.c.signed_json,
        _CREDENTIAL.c.revoked_at,
        _CREDENTIAL.c.revocation_reason,
        _CREDENTIAL.c.suspended_at,
        _INSTITUTION.c.slug.label("institution_slug"),
        _INSTITUTION.c.name_fi.label("institution_name_fi"),
        _INSTITUTION.c.name_sv.label("institution_name_sv"),
        _INSTITUTION.c.name_en.label("institution_name_en"),
        _CREDENTIAL.c.badge_class_version_id,
        # The JSON text as stored, not parsed: parsed once per version (verification.BADGE_CLASSES).
        cast(_VERSION.c.data, Text).label("badge_class_json"),
        _LIST.c.id.label("list_id"),
        _LIST.c.purpose,
        _LIST.c.number,
        _LIST.c.bits,
        _LIST.c.version,
        _LIST.c.signed_json.label("list_signed_json"),
        _LIST.c.signed_version,
        _ALLOCATION.c.index.label("list_index"),
        _LIST_INSTITUTION.c.slug.label("list_institution_slug"),
    )
    .select_from(_CREDENTIAL)
    .join(_INSTITUTION, _INSTITUTION.c.id == _CREDENTIAL.c.institution_id)
    .join(_VERSION, _VERSION.c.id == _CREDENTIAL.c.badge_class_version_id)
    .outerjoin(_ALLOCATION, _ALLOCATION.c.credential_id == _CREDENTIAL.c.id)
    .outerjoin(_LIST, _LIST.c.id == _ALLOCATION.c.status_list_id)
    .outerjoin(_LIST_INSTITUTION, _LIST_INSTITUTION.c.id == _LIST.c.institution_id)
    .where(_CREDENTIAL.c.id == bindparam("id"))
)


#: What an institution's profile says about it, for the verification page's trust signals
#: (the logo's bytes are not read: only whether there is one).
_INSTITUTION_FACTS = select(
    _INSTITUTION.c.slug,
    _INSTITUTION.c.name_fi,
    _INSTITUTION.c.name_sv,
    _INSTITUTION.c.name_en,
    _INSTITUTION.c.url,
    _INSTITUTION.c.business_id,
    _INSTITUTION.c.oid,
    _INSTITUTION.c.address_country_code,
    _INSTITUTION.c.logo.is_not(None).label("has_logo"),
).where(_INSTITUTION.c.slug == bindparam("slug"))


def _read(session: Session, statement: Executable, values: dict[str, Any]) -> Result[Any]:
    """Run one of the Core statements above in the session's transaction, after flushing what
    the caller changed (Core statements do not autoflush)."""
    session.flush()
    return session.execute(statement, values)


def key_state(session: Session, slug: str) -> Sequence[Row[Any]]:
    """Institution ``slug`` and each of its keys, oldest first, in one query: rows of
    (slug, name_fi, public_key_multibase, status, retired_at); the key columns are NULL for an
    institution without keys, and there are no rows when there is no such institution."""
    return _read(session, _KEY_STATE, {"slug": slug}).all()


@dataclass(frozen=True, slots=True)
class InstitutionFacts:
    """One of our institutions as its profile describes it: its names, website, Y-tunnus
    (business id), Opintopolku OID, country and whether it has a logo. Shown to a verifier
    only as ``VerificationResult.confirmed_issuer``, i.e. once a signature has been verified
    against this institution's own key."""

    slug: str
    name_fi: str
    name_sv: str | None
    name_en: str | None
    url: str | None
    business_id: str | None
    oid: str | None
    country_code: str
    has_logo: bool

    def name(self, lang: str) -> str:
        """``Institution.name``: the name in ``lang``, falling back to the Finnish name."""
        localized = {"fi": self.name_fi, "sv": self.name_sv, "en": self.name_en}.get(lang)
        return localized or self.name_fi


def institution_facts(session: Session, slug: str) -> InstitutionFacts | None:
    """The profile of our institution ``slug``, or None when there is none."""
    row = _read(session, _INSTITUTION_FACTS, {"slug": slug}).first()
    if row is None:
        return None
    return InstitutionFacts(
        slug=row.slug,
        name_fi=row.name_fi,
        name_sv=row.name_sv,
        name_en=row.name_en,
        url=row.url,
        business_id=row.business_id,
        oid=row.oid,
        country_code=row.address_country_code or "FI",
        has_logo=bool(row.has_logo),
    )


@dataclass(frozen=True, slots=True)
class OwnCredential:
    """One of our stored credentials, as verification and its page need it (``_OWN_CREDENTIAL``):
    the exact issued text, its revocation and suspension, its institution and badge class."""

    id: str
    signed_json: str
    revoked_at: datetime | None
    revocation_reason: str | None
    suspended_at: datetime | None
    institution_slug: str
    institution_name_fi: str
    institution_name_sv: str | None
    institution_name_en: str | None
    badge_class_version_id: int
    badge_class_json: str
    #: Its positions on our status lists by purpose, the lists' bits as they are now.
    positions: Allocations

    def institution_name(self, lang: str) -> str:
        """``Institution.name``: the name in ``lang``, falling back to the Finnish name."""
        localized = {
            "fi": self.institution_name_fi,
            "sv": self.institution_name_sv,
            "en": self.institution_name_en,
        }.get(lang)
        return localized or self.institution_name_fi


def own_credential(session: Session, credential_id: str) -> OwnCredential | None:
    """Our stored credential ``credential_id`` with its status positions (one query), or None."""
    rows = _read(session, _OWN_CREDENTIAL, {"id": credential_id}).all()
    if not rows:
        return None
    first = rows[0]
    positions = {
        row.purpose: OwnPosition(
            list_id=row.list_id,
            purpose=row.purpose,
            number=row.number,
            bits=row.bits,
            version=row.version,
            signed_json=row.list_signed_json,
            signed_version=row.signed_version,
            index=row.list_index,
            institution_slug=row.list_institution_slug,
        )
        for row in rows
        if row.list_id is not None
    }
    return OwnCredential(
        id=first.id,
        signed_json=first.signed_json,
        revoked_at=first.revoked_at,
        revocation_reason=first.revocation_reason,
        suspended_at=first.suspended_at,
        institution_slug=first.institution_slug,
        institution_name_fi=first.institution_name_fi,
        institution_name_sv=first.institution_name_sv,
        institution_name_en=first.institution_name_en,
        badge_class_version_id=first.badge_class_version_id,
        badge_class_json=first.badge_class_json,
        positions=positions,
    )


@dataclass(frozen=True, slots=True)
class OwnPosition:
    """Where one of our credentials stands on one of our status lists (``_OWN_CREDENTIAL``):
    the list as it is now (bits, version, the cached signed list credential) and the index."""

    list_id: int
    purpose: str
    number: int
    bits: bytes
    version: int
    signed_json: str | None
    signed_version: int | None
    index: int
    institution_slug: str

    def is_set(self) -> bool:
        return Bitstring.from_bytes(self.bits).get(self.index)


#: Our own credential's positions, read once per verification: purpose -> position.
Allocations = dict[str, OwnPosition]


def allocations_of(session: Session, credential_id: str) -> Allocations:
    """The lists (with their bits, as they are now) and positions of one of our credentials."""
    stored = own_credential(session, credential_id)
    return stored.positions if stored is not None else {}


def _stored_view(stored: OwnCredential) -> SignedView:
    """The signed view of the text we stored (remembered per text: the text is parsed only
    when its view is not known yet)."""

    def parse() -> dict[str, Any]:
        document = json.loads(stored.signed_json)
        assert isinstance(document, dict)
        return document

    return read_signed_view(parse, None, SourceKey(stored.signed_json))


def own_record(session: Session, view: SignedView, base_url: str) -> OwnCredential | None:
    """Our stored credential, when the presented signed data IS it: its id (as JSON-LD reads
    it) names one of our credentials, its issuer is that credential's institution, and its
    signed graph is the one we stored (equal canonical digests, however the JSON is written).

    Anyone can copy one of our ids into a credential of their own, or re-sign our data with
    another key: such a document is judged on its own signature alone, never given our
    record's status. (The proof must also be by the institution's key: ``verify`` checks
    that the issuer was confirmed before it uses the record.)"""
    credential_id = view.id
    prefix = urls.credentials_prefix(base_url)
    if credential_id is not None and credential_id.startswith(_COPY_ID_PREFIX):
        stored = _own_copy(session, credential_id.removeprefix(_COPY_ID_PREFIX))
    elif credential_id is None or not credential_id.startswith(prefix):
        return None
    else:
        stored = own_credential(session, credential_id.removeprefix(prefix))
    if stored is None or did_web_for(base_url, stored.institution_slug) != view.issuer_id:
        return None
    try:
        if _stored_view(stored).digest != view.digest:
            return None
    except Exception:  # our own stored text is always readable; never trust it if not
        return None
    return stored


def _own_copy(session: Session, uuid: str) -> OwnCredential | None:
    """A holder-bound copy we delivered to a wallet (``issuer.services.wallet``), as the record
    of its original with the copy's own text: the copy shares the original's status positions,
    and its revocation and suspension are the original's (a suspension is in no status entry
    the credential carries, only in our records). ``own_record`` still checks that the
    presented document is that text."""
    copy_id = uuid.replace("-", "").lower()
    if len(copy_id) != 32:
        return None
    row = _read(session, _WALLET_COPY, {"id": copy_id}).first()
    if row is None:
        return None
    original = own_credential(session, row.credential_id)
    return None if original is None else replace(original, signed_json=row.signed_json)


def own_status_list(session: Session, base_url: str, url: str) -> StatusList | None:
    """The status list we publish at ``url`` (``<base>/status/<slug>/<purpose>/<number>``)."""
    prefix = urls.status_prefix(base_url)
    if not url.startswith(prefix):
        return None
    parts = url.removeprefix(prefix).split("/")
    if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) > 9:
        return None
    slug, purpose, number = parts
    # ``status_publishing.get_list`` with a prepared statement (see _STATUS_LIST).
    found: StatusList | None = session.scalar(
        _STATUS_LIST, {"slug": slug, "purpose": purpose, "number": int(number)}
    )
    return found


def own_list_credential(
    session: Session, base_url: str, url: str, known: Allocations | None = None
) -> dict[str, Any] | None:
    """Our own status list credential at ``url`` as stored when its bits last changed (the
    same document the public route serves), or None when ``url`` is not one of ours. ``known``
    lists already read in this verification (``OwnCredential.positions``). Only reads: a list
    whose signature does not cover its bits raises ``status_publishing.UnsignedListError``,
    which the verifier reports as a status that could not be checked (nothing is signed
    here)."""
    position = next(
        (
            position
            for position in (known or {}).values()
            if status.list_url(
                base_url, position.institution_slug, position.purpose, position.number
            )
            == url
        ),
        None,
    )
    if position is not None:
        text = status_publishing.signed_text(
            position.signed_json, position.signed_version, position.version
        )
    else:
        found = own_status_list(session, base_url, url)
        if found is None:
            return None
        text = status_publishing.signed_text(found.signed_json, found.signed_version, found.version)
    document = json.loads(text)
    assert isinstance(document, dict)
    return document
