"""Verifying credentials: ours and anyone's, from JSON, a baked PNG or SVG, or the database.

One function decides every verdict the service gives: ``verify`` (called by ``verify_submission``
for what people upload or post, and by ``verify_stored`` for the QR target ``/verify/<id>``). The
page, the JSON API and ``merkki verify`` all go through it, so they cannot disagree.

Key resolution:

* ``did:key`` and ``https://...#z6Mk...`` from the identifier itself;
* ``did:web`` DIDs under our own ``ISSUER_BASE_URL`` from the database, without any HTTP
  request (the answer ``/issuers/<slug>/did.json`` would serve). A key the institution has
  withdrawn as compromised is reported as such (DESIGN.md "Issuer identity");
* any other ``did:web`` through the guarded fetcher (``issuer.core.safe_fetch``: https only,
  public addresses only, short timeouts, size cap, cache), switched off by
  ``ISSUER_REMOTE_FETCH=off``. What could not be fetched is reported as "could not be checked".

Status (W3C Bitstring Status List): each of our credentials carries one ``credentialStatus``
entry (purpose ``revocation``; OB 3.0 allows one) and also has a ``suspension`` index in the
database. For OUR credentials the revocation list is answered from the database (so a change is
seen at once, not after the list's ttl), and revocation and suspension are also read from the
credential's own row; a credential from anyone else is checked only through what it carries,
its lists fetched like DID documents.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from flask import Flask, current_app
from sqlalchemy import Executable, Result, Text, bindparam, cast, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.core.badgeclass import BadgeClassData, parse_badge_class
from issuer.core.baking import BakingError, unbake
from issuer.core.dataintegrity import SourceKey
from issuer.core.did import did_web_document, did_web_for, did_web_to_url
from issuer.core.lru import BoundedCache
from issuer.core.resolver import (
    ChainResolver,
    DidDocumentFetcher,
    DidKeyResolver,
    DidWebResolver,
    FragmentMultikeyResolver,
    ResolutionError,
    ResolvedKey,
    SchemeResolver,
)
from issuer.core.safe_fetch import FetchBudget, FetchRefused, SafeFetcher
from issuer.core.signed_view import SignedView
from issuer.core.status_list import Bitstring
from issuer.core.verifier import (
    MAX_CREDENTIAL_BYTES,
    Check,
    VerificationReport,
    read_signed_view,
    verify_credential,
)
from issuer.db import get_session
from issuer.models import BadgeClassVersion, Credential, Institution, KeyStatus, SigningKey
from issuer.models.issuing import StatusAllocation, StatusList
from issuer.services import institutions, status
from issuer.services.errors import InvalidInputError, NotFoundError, ServiceError

_PLACEHOLDER_SLUG = "slug"
_DID_DOCUMENT = "/did.json"
REMOTE_FETCHER_EXTENSION = "issuer.remote_fetcher"

#: Largest upload or posted body verified: a baked badge image is typically well under 1 MiB.
MAX_SUBMISSION_BYTES = 5 * 1024 * 1024

#: ``fetch(url) -> parsed JSON``: the guarded fetcher, or a stand-in in tests.
RemoteFetcher = Callable[[str], Any]
Source = Literal["json", "png", "svg", "stored"]


class ForeignDidError(ServiceError):
    """A did:web DID outside this service (asked of the database fetcher)."""

    code = "foreign_did"


class UnreadableSubmissionError(InvalidInputError):
    """What was submitted is neither a credential (JSON) nor a badge image carrying one."""

    code = "unreadable_credential"


class SubmissionTooLargeError(InvalidInputError):
    code = "too_large"


# --------------------------------------------------------------------------- remote fetching


def remote_fetcher(app: Flask | None = None) -> RemoteFetcher:
    """The app's guarded fetcher for other issuers' DID documents and status lists (one per
    app, so its cache is shared); refuses everything when ``ISSUER_REMOTE_FETCH=off``.

    Tests replace it with ``app.extensions[REMOTE_FETCHER_EXTENSION] = ...``.
    """
    target = app if app is not None else current_app
    fetcher = target.extensions.get(REMOTE_FETCHER_EXTENSION)
    if fetcher is None:
        fetcher = SafeFetcher(enabled=get_settings(target).remote_fetch)
        target.extensions[REMOTE_FETCHER_EXTENSION] = fetcher
    assert callable(fetcher)
    return fetcher


def _refuse_all(url: str) -> Any:
    raise FetchRefused("fetching remote documents is switched off")


# ---------------------------------------------------------------------------- own issuers


def own_issuer_prefix(base_url: str) -> str:
    """The start of the did:web document URL of every issuer of this service.

    Derived through the engine's own mapping (``did_web_to_url`` always answers https), so the
    comparison below cannot disagree with how the resolver turned the DID into a URL.
    """
    url = did_web_to_url(did_web_for(base_url, _PLACEHOLDER_SLUG))
    return url.removesuffix(_PLACEHOLDER_SLUG + _DID_DOCUMENT)


def own_did_prefix(base_url: str) -> str:
    """``did:web:HOST:issuers:`` — the start of every issuer DID of this service."""
    return did_web_for(base_url, _PLACEHOLDER_SLUG).removesuffix(_PLACEHOLDER_SLUG)


def database_did_fetcher(session: Session, base_url: str) -> DidDocumentFetcher:
    """``fetch(url) -> DID document`` answered from the database for our own issuers."""
    prefix = own_issuer_prefix(base_url)

    def fetch(url: str) -> dict[str, Any]:
        slug = url.removeprefix(prefix).removesuffix(_DID_DOCUMENT)
        if not url.startswith(prefix) or not url.endswith(_DID_DOCUMENT) or "/" in slug:
            raise ForeignDidError(f"{url} is not an issuer of this service")
        institution = institutions.find_institution(session, slug)
        if institution is None:
            raise NotFoundError(f"this service has no issuer {slug!r}")
        return institutions.did_document(institution, base_url)

    return fetch


# The queries of every verification of one of our credentials, built once (building a
# statement costs about as much as running it on SQLite); values are bound per call. They are
# Core statements over the tables, read into plain rows: verification only reads, and loading
# ORM objects (identity map, attribute instrumentation, the badge class's JSON parsed on every
# load) was about a quarter of the processor time of a GET /verify/<id>. ``_read`` flushes the
# session first, so what the caller changed in its transaction is what is verified.
_CREDENTIAL = Credential.__table__
_INSTITUTION = Institution.__table__
_KEY = SigningKey.__table__
_LIST = StatusList.__table__
_ALLOCATION = StatusAllocation.__table__
_VERSION = BadgeClassVersion.__table__

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
        # The JSON text as stored, not parsed: it is parsed once per version (BADGE_CLASSES).
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


def _read(session: Session, statement: Executable, values: dict[str, Any]) -> Result[Any]:
    """Run one of the Core statements above in the session's transaction, after flushing what
    the caller changed (Core statements do not autoflush)."""
    session.flush()
    return session.execute(statement, values)


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


#: One of our own issuers' key state: (publicKeyMultibase, status) of each of its keys.
KeyState = tuple[tuple[str, str], ...]

#: Our own issuers' resolved keys by (base URL, method id, the institution's key state). The
#: state is read from the database on every verification, so a rotation or a withdrawal makes a
#: new entry and an old one is never used again; only the DID-document work is saved.
OWN_KEYS: BoundedCache[tuple[str, str, KeyState], ResolvedKey] = BoundedCache(1024)

#: Parsed badge-class versions (for the page's EU facts) by version id and SHA-256 of its data.
BADGE_CLASSES: BoundedCache[tuple[int, bytes], BadgeClassData] = BoundedCache(256)


class OwnIssuerResolver:
    """Our own issuers' did:web keys, from the database.

    Differs from resolving the published DID document in one way only: a key that is not in the
    document because the institution withdrew it as compromised is named as such, so that the
    verification page can say why the credential is no longer trusted.
    """

    def __init__(self, session: Session, base_url: str) -> None:
        self._session = session
        self._base_url = base_url
        self._prefix = own_did_prefix(base_url)
        #: Keys asked for that the institution withdrew as compromised: (publicKeyMultibase,
        #: when).
        self.withdrawn: list[tuple[str, datetime | None]] = []
        #: What each method id resolved to in this verification (a credential and its status
        #: list are signed by the same key: one look-up). One resolver serves one verification,
        #: so a key withdrawn afterwards is seen by the next one.
        self._resolved: dict[str, ResolvedKey | ResolutionError] = {}

    def supports(self, method_id: str) -> bool:
        return isinstance(method_id, str) and method_id.startswith(self._prefix)

    def has_key(self, slug: str, public_key_multibase: str) -> bool:
        """Is ``public_key_multibase`` one of institution ``slug``'s keys in force (active or
        retired)? A compromised one is recorded as withdrawn and is not."""
        rows = _read(self._session, _KEY_STATE, {"slug": slug}).all()
        for row in rows:
            if row.public_key_multibase != public_key_multibase:
                continue
            if row.status is KeyStatus.COMPROMISED:
                self.withdrawn.append((public_key_multibase, row.retired_at))
                return False
            return True
        return False

    def resolve(self, method_id: str) -> ResolvedKey:
        known = self._resolved.get(method_id)
        if known is None:
            try:
                known = self._resolve(method_id)
            except ResolutionError as error:
                known = error
            self._resolved[method_id] = known
        if isinstance(known, ResolutionError):
            raise ResolutionError(known.message, unavailable=known.unavailable)
        return known

    def _resolve(self, method_id: str) -> ResolvedKey:
        did, _, fragment = method_id.partition("#")
        slug = did.removeprefix(self._prefix)
        # One query: the institution and the state of each of its keys.
        rows = _read(self._session, _KEY_STATE, {"slug": slug}).all()
        if not rows or did_web_for(self._base_url, rows[0].slug) != did:
            # What /issuers/<slug>/did.json answers: not found. Definite, not "unavailable".
            raise ResolutionError(f"this service has no issuer {slug!r} ({did})")
        keys = [row for row in rows if row.public_key_multibase is not None]
        for row in keys:
            if row.public_key_multibase == fragment and row.status is KeyStatus.COMPROMISED:
                self.withdrawn.append((fragment, row.retired_at))
                withdrawn = row.retired_at.date().isoformat() if row.retired_at else "?"
                raise ResolutionError(
                    f"the key {fragment} was withdrawn by {row.name_fi} as compromised on "
                    f"{withdrawn}; what it signed is no longer trusted"
                )
        state: KeyState = tuple((row.public_key_multibase, row.status.value) for row in keys)
        cache_key = (self._base_url, method_id, state)
        known = OWN_KEYS.get(cache_key)
        if known is not None:
            return known
        # The DID document /issuers/<slug>/did.json serves (``institutions.did_document``):
        # active and retired keys, never compromised ones.
        document = did_web_document(
            did,
            [row.public_key_multibase for row in keys if row.status is KeyStatus.ACTIVE],
            [row.public_key_multibase for row in keys if row.status is KeyStatus.RETIRED],
        )
        resolved = DidWebResolver(lambda _url: document).resolve(method_id)
        OWN_KEYS.put(cache_key, resolved)
        return resolved


class RemoteDidWebResolver(DidWebResolver):
    """Other services' did:web DIDs, fetched through the guarded fetcher."""

    def __init__(self, fetch: DidDocumentFetcher, own_prefix: str) -> None:
        super().__init__(fetch)
        self._own_prefix = own_prefix

    def supports(self, method_id: str) -> bool:
        return super().supports(method_id) and not method_id.startswith(self._own_prefix)


class ProfileKeyResolver:
    """``https://host/path#z6Mk...``: the key is read from the fragment, and it confirms its
    controller (the URL before ``#``) only when that controller vouches for it (DESIGN.md
    "Verification: what a verdict rests on"):

    * under this service's own ``<base>/issuers/<slug>``: the key must be one of that
      institution's keys in the database (a compromised one is refused as such);
    * anywhere else: the profile at the URL, fetched under the remote-fetch rules, must list
      the method (``verificationMethod``/``assertionMethod``, or be the key document itself).

    Otherwise the key still verifies the signature, but it confirms nobody
    (``ResolvedKey.confirmed`` is False): the issuer is reported as not confirmed."""

    PURPOSES = FragmentMultikeyResolver.PURPOSES

    def __init__(self, own: OwnIssuerResolver, base_url: str, fetch: RemoteFetcher | None) -> None:
        self._own = own
        self._issuers = urls.issuers_prefix(base_url)
        self._fetch = fetch or _refuse_all
        self._syntax = FragmentMultikeyResolver()

    def supports(self, method_id: str) -> bool:
        return self._syntax.supports(method_id)

    def resolve(self, method_id: str) -> ResolvedKey:
        unconfirmed = self._syntax.resolve(method_id)  # the key, read from the fragment
        controller, _, fragment = method_id.partition("#")
        if controller.startswith(self._issuers):
            slug = controller.removeprefix(self._issuers)
            confirmed = "/" not in slug and self._own.has_key(slug, fragment)
        else:
            confirmed = self._profile_lists(controller, method_id, fragment)
        return dataclasses.replace(unconfirmed, confirmed=confirmed)

    def _profile_lists(self, controller: str, method_id: str, fragment: str) -> bool:
        try:
            profile = self._fetch(controller)
        except Exception:  # unreachable, refused, not JSON: nothing confirms the key
            return False
        if not isinstance(profile, dict):
            return False
        if profile.get("id") == method_id:  # the URL served the key document itself
            return (
                profile.get("publicKeyMultibase") == fragment
                and profile.get("controller", controller) == controller
            )
        if profile.get("id") != controller:
            return False
        for relationship in ("verificationMethod", "assertionMethod"):
            entries = profile.get(relationship)
            for entry in entries if isinstance(entries, list) else [entries]:
                if isinstance(entry, str) and entry in (method_id, f"#{fragment}"):
                    return relationship == "assertionMethod"
                if (
                    isinstance(entry, dict)
                    and entry.get("id") in (method_id, f"#{fragment}")
                    and entry.get("publicKeyMultibase") == fragment
                    and entry.get("controller", controller) == controller
                ):
                    return True
        return False


def resolver_for(
    session: Session,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    *,
    own: OwnIssuerResolver | None = None,
) -> ChainResolver:
    """did:key, https fragment keys (``ProfileKeyResolver``), our own did:web (database) and
    others' did:web (``fetch``; without it, other services' DIDs cannot be resolved and are
    reported so)."""
    own = own or OwnIssuerResolver(session, base_url)
    resolvers: list[SchemeResolver] = [
        DidKeyResolver(),
        ProfileKeyResolver(own, base_url, fetch),
        own,
        RemoteDidWebResolver(fetch or _refuse_all, own_did_prefix(base_url)),
    ]
    return ChainResolver(resolvers)


def own_status_list(session: Session, base_url: str, url: str) -> StatusList | None:
    """The status list we publish at ``url`` (``<base>/status/<slug>/<purpose>/<number>``)."""
    prefix = urls.status_prefix(base_url)
    if not url.startswith(prefix):
        return None
    parts = url.removeprefix(prefix).split("/")
    if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) > 9:
        return None
    slug, purpose, number = parts
    # ``status.get_list`` with a prepared statement (see _STATUS_LIST).
    found: StatusList | None = session.scalar(
        _STATUS_LIST, {"slug": slug, "purpose": purpose, "number": int(number)}
    )
    return found


#: Our own credential's positions, read once per verification: purpose -> position.
Allocations = dict[str, OwnPosition]


def allocations_of(session: Session, credential_id: str) -> Allocations:
    """The lists (with their bits, as they are now) and positions of one of our credentials."""
    stored = own_credential(session, credential_id)
    return stored.positions if stored is not None else {}


def own_list_credential(
    session: Session, base_url: str, url: str, known: Allocations | None = None
) -> dict[str, Any] | None:
    """Our own status list credential at ``url`` as stored when its bits last changed (the
    same document the public route serves), or None when ``url`` is not one of ours. ``known``
    lists already read in this verification (``OwnCredential.positions``). Only reads: a list
    whose signature does not cover its bits raises ``status.UnsignedListError``, which the
    verifier reports as a status that could not be checked (nothing is signed here)."""
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
        text = status.signed_text(position.signed_json, position.signed_version, position.version)
    else:
        found = own_status_list(session, base_url, url)
        if found is None:
            return None
        text = status.signed_text(found.signed_json, found.signed_version, found.version)
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


def status_fetcher_for(
    session: Session,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    known: Allocations | None = None,
) -> Callable[[str], dict[str, Any]]:
    """``fetch(url) -> status list credential``: our own lists signed fresh from the database
    (a change is visible at once), anyone else's through the guarded fetcher."""
    remote = fetch or _refuse_all

    def fetch_list(url: str) -> dict[str, Any]:
        own = own_list_credential(session, base_url, url, known)
        if own is not None:
            return own
        document = remote(url)
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not return a JSON object")
        return document

    return fetch_list


# ------------------------------------------------------------------------------ the verdict


@dataclass
class VerificationResult:
    """A report, and what the service knows about the credential beyond it."""

    report: VerificationReport
    source: Source
    #: Our own stored credential, when the verified one is one of ours (same id and issuer).
    stored: OwnCredential | None = None
    revocation_reason: str | None = None
    revoked_at: datetime | None = None
    suspended_at: datetime | None = None
    #: When the credential was signed with one of our keys that has since been withdrawn as
    #: compromised: when it was withdrawn (the verification page says so in plain words).
    key_withdrawn_at: datetime | None = None
    key_withdrawn: bool = False

    @property
    def verified(self) -> bool:
        return self.report.verified

    @property
    def verdict(self) -> str:
        return self.report.verdict

    @property
    def credential(self) -> dict[str, Any] | None:
        return self.report.credential

    @property
    def checks(self) -> list[Check]:
        return self.report.checks

    def check(self, name: str) -> Check | None:
        return self.report.check(name)

    def summary(self) -> dict[str, Any]:
        return self.report.summary()

    def badge_class(self) -> BadgeClassData | None:
        """The badge class an own credential was issued from (for the EU facts)."""
        if self.stored is None:
            return None
        text = self.stored.badge_class_json
        key = (
            self.stored.badge_class_version_id,
            hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(),
        )
        known = BADGE_CLASSES.get(key)
        if known is None:
            known = parse_badge_class(json.loads(text))
            BADGE_CLASSES.put(key, known)
        return known

    def to_dict(self) -> dict[str, Any]:
        """The API answer: ``verified``, ``verdict``, ``checks``, ``credential`` (summary)."""
        data = self.report.to_dict()
        data["checks"] = [
            {"name": c.name, "ok": c.ok, "message": c.message, "code": c.code}
            for c in self.report.checks
        ]
        data["source"] = self.source
        if self.revocation_reason is not None:
            data["revocationReason"] = self.revocation_reason
        if self.key_withdrawn:
            data["keyWithdrawn"] = True
        return data


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
    if credential_id is None or not credential_id.startswith(prefix):
        return None
    stored = own_credential(session, credential_id.removeprefix(prefix))
    if stored is None or did_web_for(base_url, stored.institution_slug) != view.issuer_id:
        return None
    try:
        if _stored_view(stored).digest != view.digest:
            return None
    except Exception:  # our own stored text is always readable; never trust it if not
        return None
    return stored


def _date(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _apply_own_status(
    report: VerificationReport, stored: OwnCredential, known: Allocations
) -> None:
    """Revocation and suspension of our own credential, from the database.

    The list check already ran against the list signed from the same database; the row is
    consulted as well so that the verdict carries the reason, and so that a credential issued
    without a status entry is still covered.
    """
    revoked_at = stored.revoked_at
    reason = stored.revocation_reason
    # Suspension is not in the credential (one status entry only, for revocation): the
    # database allocation on the suspension list and the row decide.
    if stored.suspended_at is not None:
        suspended = True
    else:
        position = known.get(status.SUSPENSION)
        suspended = position is not None and position.is_set()
    revocation = [c for c in report.checks if c.name == "status:revocation"]
    others = [c for c in report.checks if c.name not in ("status:revocation", "status:suspension")]
    if revoked_at is not None:
        message = f"revoked by the issuer on {_date(revoked_at)}"
        if reason:
            message += f": {reason}"
        others.append(Check("status:revocation", False, message, "revoked"))
    elif revocation:
        others.extend(revocation)
    else:
        others.append(Check("status:revocation", True, "not revoked (issuer's records)"))
    suspended_at = stored.suspended_at
    if suspended and revoked_at is None:
        since = f" since {_date(suspended_at)}" if suspended_at else ""
        others.append(
            Check("status:suspension", False, f"suspended by the issuer{since}", "suspended")
        )
    elif revoked_at is None:
        others.append(Check("status:suspension", True, "not suspended (issuer's records)"))
    report.checks[:] = others


def _parsed(document: Any) -> dict[str, Any] | None:
    """The credential as a JSON object, when it is one (else ``verify_credential`` says why)."""
    if isinstance(document, dict):
        return document
    if not isinstance(document, bytes | str) or len(document) > MAX_CREDENTIAL_BYTES:
        return None
    try:
        value = json.loads(document)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def verify(
    session: Session,
    document: Any,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
    source: Source = "json",
    stored: OwnCredential | None = None,
) -> VerificationResult:
    """Verify ``document`` (a parsed JSON object, or JSON text/bytes) — THE verification of the
    service. Never raises for bad input: problems are failed or unchecked checks.

    ``stored`` is our own row the document was read from (``verify_stored``); otherwise the
    row is looked up by the credential's id and issuer.
    """
    fetch = FetchBudget.wrap(fetch)  # a cap on remote fetches per verification (issue 13)
    own = OwnIssuerResolver(session, base_url)
    parsed = _parsed(document)
    text = document if parsed is not None and isinstance(document, str | bytes) else None
    presented = stored is not None
    if stored is None and parsed is not None:
        try:
            # The same view verify_credential reads (remembered under the same text).
            view = read_signed_view(parsed, None, SourceKey(text) if text is not None else None)
        except Exception:  # unreadable signed data: judged (and reported) below
            view = None
        if view is not None and view.problem is None:
            stored = own_record(session, view, base_url)
    # Our own stored credential: its lists and positions in one query, for both status checks.
    known = stored.positions if stored is not None else None
    report = verify_credential(
        parsed if parsed is not None else document,
        resolver=resolver_for(session, base_url, fetch, own=own),
        now=now,
        status_fetcher=status_fetcher_for(session, base_url, fetch, known),
        # The text ``parsed`` was read from, so the caches are asked without re-serializing.
        source=text,
    )
    result = VerificationResult(report=report, source=source)
    proof = report.check("proof")
    if own.withdrawn and proof is not None and proof.ok is not True:
        result.key_withdrawn = True
        result.key_withdrawn_at = own.withdrawn[0][1]
    if stored is not None and not presented and not report.issuer_confirmed:
        # Same id, issuer and signed data, but not signed by the institution's key in force:
        # our record says nothing about this document.
        stored = None
    if stored is not None and report.credential is not None:
        result.stored = stored
        result.revoked_at = stored.revoked_at
        result.revocation_reason = stored.revocation_reason
        result.suspended_at = stored.suspended_at
        _apply_own_status(report, stored, stored.positions)
    return result


def verify_stored(
    session: Session,
    credential_id: str,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify the credential we issued under ``credential_id`` (the QR target), live: the same
    checks as for an upload, on the exact text that was issued."""
    # With its institution and badge-class version, which the page shows: one query.
    stored = own_credential(session, credential_id)
    if stored is None:
        raise NotFoundError(f"no credential {credential_id!r}")
    return verify(
        session,
        stored.signed_json,
        base_url=base_url,
        fetch=fetch,
        now=now,
        source="stored",
        stored=stored,
    )


# ------------------------------------------------------------------------ what people submit


def _unsupported_format(message: str) -> VerificationReport:
    """A report for a credential format this service does not verify: not checked, not valid."""
    return VerificationReport(checks=[Check("format", None, message, "unsupported_format")])


def _jwt_payload(token: str) -> dict[str, Any] | None:
    """The JSON payload of a compact JWS, for showing what it claims (unverified)."""
    try:
        body = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("vc"), dict):
        payload = payload["vc"]  # VC-JWT of VC 1.1
    return payload if isinstance(payload, dict) else None


def _image_kind(data: bytes) -> Source:
    return "png" if data.startswith(b"\x89PNG") else "svg"


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[", b'"')


def read_submission(data: bytes) -> tuple[Source, str | None, VerificationReport | None]:
    """Sort out what was submitted: (source, credential JSON text) or (source, None, a report
    saying why it cannot be verified). ``UnreadableSubmissionError`` for anything else."""
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionTooLargeError(
            f"the file is larger than {MAX_SUBMISSION_BYTES // (1024 * 1024)} MiB"
        )
    if not data.strip():
        raise UnreadableSubmissionError("nothing was submitted")
    if _looks_like_json(data):
        try:
            text = data.decode("utf-8-sig")
            parsed = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UnreadableSubmissionError("the text is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise UnreadableSubmissionError("the JSON is not an object (a credential)")
        return "json", text, None
    try:
        unbaked = unbake(data)
    except BakingError as error:
        raise UnreadableSubmissionError(
            f"not a credential: neither JSON nor a readable badge image ({error.message})"
        ) from None
    kind = _image_kind(data)
    if unbaked is None:
        raise UnreadableSubmissionError("the image carries no credential (it is not baked)")
    if unbaked.format == "ob3-jwt":
        report = _unsupported_format(
            "the credential is a VC-JWT (compact JWS); this service verifies credentials with "
            "an embedded proof only, so it was not checked"
        )
        report.credential = _jwt_payload(unbaked.text)
        return kind, None, report
    if unbaked.format == "ob2":
        return (
            kind,
            None,
            _unsupported_format(
                "the image carries an Open Badges 2.0 assertion, which this service does not verify"
            ),
        )
    return kind, unbaked.text, None


def verify_submission(
    session: Session,
    data: bytes | str,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify what someone uploaded or posted: credential JSON, or a baked PNG or SVG.

    ``UnreadableSubmissionError`` (and ``SubmissionTooLargeError``) when it is not a credential
    at all; every problem with a credential is a check in the result.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    source, text, report = read_submission(raw)
    if report is not None or text is None:
        return VerificationResult(
            report=report or _unsupported_format("not checked"), source=source
        )
    return verify(session, text, base_url=base_url, fetch=fetch, now=now, source=source)


# ------------------------------------------------------------------------- in a web request


def verify_stored_for_request(credential_id: str) -> VerificationResult:
    """``verify_stored`` in the current request: its session, base URL and guarded fetcher.

    Writes nothing and commits nothing (status lists are signed when they change, not when
    read); the request's session is rolled back when closed (``issuer.db.close_session``)."""
    return verify_stored(
        get_session(), credential_id, base_url=get_settings().base_url, fetch=remote_fetcher()
    )


def verify_submission_for_request(data: bytes | str) -> VerificationResult:
    """``verify_submission`` in the current request (see ``verify_stored_for_request``)."""
    return verify_submission(
        get_session(), data, base_url=get_settings().base_url, fetch=remote_fetcher()
    )
