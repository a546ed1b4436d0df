"""Verifying credentials: ours and anyone's, from JSON, a baked PNG or SVG, or the database.

One function decides every verdict the service gives: ``verify`` (called by ``verify_submission``
for what people upload or post, and by ``verify_stored`` for the QR target ``/verify/<id>``). The
page, the JSON API and ``merkki verify`` all go through it, so they cannot disagree. What it
needs from the application (the session, the base URL, the guarded fetcher for other issuers'
documents) is handed in by the caller: the web layer (``issuer.web.verifying``), the CLI or the
warm-up; nothing here reads the Flask app.

The pieces: ``issuer.services.key_resolution`` (which key a proof names, and whether it is the
issuer's), ``issuer.services.own_records`` (what our database says about our own credentials,
keys and status lists), ``issuer.services.submissions`` (what was uploaded or posted).

Status (W3C Bitstring Status List): each of our credentials carries one ``credentialStatus``
entry (purpose ``revocation``; OB 3.0 allows one) and also has a ``suspension`` index in the
database. For OUR credentials the revocation list is answered from the database (so a change is
seen at once, not after the list's ttl), and revocation and suspension are also read from the
credential's own row; a credential from anyone else is checked only through what it carries,
its lists fetched like DID documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.core.badgeclass.fileformat import parse_badge_class
from issuer.core.badgeclass.model import BadgeClassData
from issuer.core.dataintegrity.caches import SourceKey
from issuer.core.did import DidError, did_web_for
from issuer.core.lru import BoundedCache
from issuer.core.safe_fetch import FetchBudget
from issuer.core.verifier import (
    MAX_CREDENTIAL_BYTES,
    Check,
    VerificationReport,
    read_signed_view,
    verify_credential,
)
from issuer.services import status
from issuer.services.errors import NotFoundError
from issuer.services.key_resolution import (
    OwnIssuerResolver,
    RemoteFetcher,
    own_did_prefix,
    refuse_all,
    resolver_for,
)
from issuer.services.own_records import (
    Allocations,
    InstitutionFacts,
    OwnCredential,
    institution_facts,
    own_credential,
    own_list_credential,
    own_record,
)
from issuer.services.submissions import Source, read_submission, unsupported_format

#: Parsed badge-class versions (for the page's EU facts) by version id and SHA-256 of its data.
#: Listed in ``issuer.core.lru.caches()`` like every bounded cache, so tests can forget it.
BADGE_CLASSES: BoundedCache[tuple[int, bytes], BadgeClassData] = BoundedCache(256)


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
    #: The institution whose own key the signature was verified against (``confirmed_issuer``),
    #: with what its profile says about it: the only way its facts reach a verifier.
    confirmed_issuer: InstitutionFacts | None = None

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


def confirmed_issuer(
    session: Session, report: VerificationReport, base_url: str
) -> InstitutionFacts | None:
    """Our institution that issued the credential, when that is confirmed by proof, else None.

    DESIGN.md "Verification": an issuer is confirmed only by proof. The institution's profile
    (names, website, Y-tunnus, OID, country, logo) vouches for a credential only when a
    signature verified against that institution's key in its DID document (``issuer`` check
    ``ok``: the key's controller is the issuer the signed data names, resolved from our
    database). A credential that merely names one of our institutions, copies its DID, or is
    signed with any other key gets nothing from its profile."""
    view = report.view
    if not report.issuer_confirmed or not report.signature_intact:
        return None
    if view is None or view.problem is not None or view.issuer_id is None:
        return None
    issuer_id = view.issuer_id
    prefix = own_did_prefix(base_url)
    if not issuer_id.startswith(prefix):
        return None
    slug = issuer_id.removeprefix(prefix)
    try:
        if did_web_for(base_url, slug) != issuer_id:
            return None
    except DidError:  # not a slug this service could have made
        return None
    return institution_facts(session, slug)


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


def status_fetcher_for(
    session: Session,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    known: Allocations | None = None,
) -> Callable[[str], dict[str, Any]]:
    """``fetch(url) -> status list credential``: our own lists signed fresh from the database
    (a change is visible at once), anyone else's through the guarded fetcher."""
    remote = fetch or refuse_all

    def fetch_list(url: str) -> dict[str, Any]:
        own = own_list_credential(session, base_url, url, known)
        if own is not None:
            return own
        document = remote(url)
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not return a JSON object")
        return document

    return fetch_list


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
    result.confirmed_issuer = confirmed_issuer(session, report, base_url)
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


def verify_submission(
    session: Session,
    data: bytes | str,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify what someone uploaded or posted: credential JSON, or a baked PNG or SVG.

    ``submissions.UnreadableSubmissionError`` (and ``SubmissionTooLargeError``) when it is not
    a credential at all; every problem with a credential is a check in the result.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    source, text, report = read_submission(raw)
    if report is not None or text is None:
        return VerificationResult(report=report or unsupported_format("not checked"), source=source)
    return verify(session, text, base_url=base_url, fetch=fetch, now=now, source=source)
