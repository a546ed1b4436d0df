"""Verifying credentials with the service's own knowledge of its issuers.

Key resolution: ``did:key`` and ``https://...#z6Mk...`` from the identifier itself; ``did:web``
DIDs under our own ``ISSUER_BASE_URL`` from the database, without any HTTP request (the answer
is the DID document ``/issuers/<slug>/did.json`` would serve). A foreign ``did:web`` is
reported unresolvable for now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.core.did import did_web_for, did_web_to_url
from issuer.core.resolver import ChainResolver, DidDocumentFetcher, standard_resolver
from issuer.core.verifier import VerificationReport, verify_credential
from issuer.services import institutions
from issuer.services.errors import NotFoundError, ServiceError

_PLACEHOLDER_SLUG = "slug"
_DID_DOCUMENT = "/did.json"


class ForeignDidError(ServiceError):
    """A did:web DID outside this service; fetching those is not supported yet."""

    code = "foreign_did"


def own_issuer_prefix(base_url: str) -> str:
    """The start of the did:web document URL of every issuer of this service.

    Derived through the engine's own mapping (``did_web_to_url`` always answers https), so the
    comparison below cannot disagree with how the resolver turned the DID into a URL.
    """
    url = did_web_to_url(did_web_for(base_url, _PLACEHOLDER_SLUG))
    return url.removesuffix(_PLACEHOLDER_SLUG + _DID_DOCUMENT)


def database_did_fetcher(session: Session, base_url: str) -> DidDocumentFetcher:
    """``fetch(url) -> DID document`` answered from the database for our own issuers."""
    prefix = own_issuer_prefix(base_url)

    def fetch(url: str) -> dict[str, Any]:
        slug = url.removeprefix(prefix).removesuffix(_DID_DOCUMENT)
        if not url.startswith(prefix) or not url.endswith(_DID_DOCUMENT) or "/" in slug:
            raise ForeignDidError(
                f"{url} is not an issuer of this service; resolving other services' did:web "
                "DIDs is not supported yet"
            )
        institution = institutions.find_institution(session, slug)
        if institution is None:
            raise NotFoundError(f"this service has no issuer {slug!r}")
        return institutions.did_document(institution, base_url)

    return fetch


def resolver_for(session: Session, base_url: str) -> ChainResolver:
    """did:key, fragment Multikey and (own) did:web resolution."""
    return standard_resolver(did_web_fetch=database_did_fetcher(session, base_url))


def verify(
    session: Session,
    document: dict[str, Any],
    *,
    base_url: str,
    now: datetime | None = None,
) -> VerificationReport:
    """Verify ``document`` (never raises for bad input; problems are failed checks)."""
    return verify_credential(document, resolver=resolver_for(session, base_url), now=now)
