"""Resolving the key a proof names, for verification: ours from the database, anyone else's under
the remote-fetch rules.

* ``did:key`` and ``https://...#z6Mk...`` from the identifier itself; an https key confirms its
  controller only when that controller vouches for it (``ProfileKeyResolver``);
* ``did:web`` DIDs under our own ``ISSUER_BASE_URL`` from the database, without any HTTP
  request (the answer ``/issuers/<slug>/did.json`` would serve). A key the institution has
  withdrawn as compromised is reported as such (DESIGN.md "Issuer identity");
* any other ``did:web`` through the guarded fetcher the caller hands in (``issuer.core.safe_fetch``:
  https only, public addresses only, short timeouts, size cap, cache), switched off by
  ``ISSUER_REMOTE_FETCH=off``. What could not be fetched is reported as "could not be checked".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer import urls
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
from issuer.core.safe_fetch import FetchRefused
from issuer.models import KeyStatus
from issuer.services import institutions, own_records
from issuer.services.errors import NotFoundError, ServiceError

_PLACEHOLDER_SLUG = "slug"
_DID_DOCUMENT = "/did.json"

#: ``fetch(url) -> parsed JSON``: the guarded fetcher, or a stand-in in tests.
RemoteFetcher = Callable[[str], Any]


def refuse_all(url: str) -> Any:
    """The fetcher when the caller gave none: nothing remote is fetched."""
    raise FetchRefused("fetching remote documents is switched off")


class ForeignDidError(ServiceError):
    """A did:web DID outside this service (asked of the database fetcher)."""

    code = "foreign_did"


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


#: One of our own issuers' key state: (publicKeyMultibase, status) of each of its keys.
KeyState = tuple[tuple[str, str], ...]

#: Our own issuers' resolved keys by (base URL, method id, the institution's key state). The
#: state is read from the database on every verification, so a rotation or a withdrawal makes a
#: new entry and an old one is never used again; only the DID-document work is saved. Listed in
#: ``issuer.core.lru.caches()`` like every bounded cache, so tests can forget it.
OWN_KEYS: BoundedCache[tuple[str, str, KeyState], ResolvedKey] = BoundedCache(1024)


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
        for row in own_records.key_state(self._session, slug):
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
        rows = own_records.key_state(self._session, slug)
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


# ---------------------------------------------------------------------------- anyone else


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
        self._fetch = fetch or refuse_all
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
        RemoteDidWebResolver(fetch or refuse_all, own_did_prefix(base_url)),
    ]
    return ChainResolver(resolvers)
