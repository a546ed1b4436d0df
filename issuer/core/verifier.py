"""Verification of Open Badges 3.0 credentials into a report of named checks.

Follows OB 3.0 §"OpenBadgeCredential Verification" (conformance, proof, status, validity) and
what the 1EdTech validator runs in addition (undefined JSON-LD terms, key controller = issuer).
``verify_credential`` never raises for bad input: every problem becomes a failed check whose
message names it. A check that could not be carried out (an unknown status method, an
unreachable status list) has ``ok=None`` and keeps the credential from being reported valid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from issuer.core.contexts import (
    VC_V1,
    VC_V2,
    VOCAB_CONTEXTS,
    DocumentLoader,
)
from issuer.core.dataintegrity.caches import SourceKey, json_text_or_none
from issuer.core.dataintegrity.verifying import ProofResult, verify_proofs
from issuer.core.did import DID_KEY_PREFIX
from issuer.core.errors import DocumentLoaderError, EngineError
from issuer.core.lru import BoundedCache
from issuer.core.resolver import KeyResolver
from issuer.core.schema import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA,
    ENDORSEMENT_CREDENTIAL_SCHEMA,
    credential_schema_errors,
    url_contexts,
)
from issuer.core.signed_view import (
    OB_CREDENTIAL_TYPES,
    VERIFIABLE_CREDENTIAL,
    SignedView,
    StatusEntryView,
    signed_view,
)
from issuer.core.status_list import check_status

OB_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/context"
MAX_CREDENTIAL_BYTES = 2 * 1024 * 1024

StatusFetcher = Callable[[str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Check:
    """One named check. ``ok`` is True (passed), False (failed) or None (could not be checked).
    ``code`` is a stable machine-readable outcome, e.g. ``revoked`` or ``expired``."""

    name: str
    ok: bool | None
    message: str
    code: str = "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message, "code": self.code}


#: Checks whose failure means the credential breaks a format rule of OB 3.0 / VC 2.0 (its
#: schema, its vocabulary, its shape), which is ``malformed``, not forged.
FORMAT_CHECKS = frozenset({"format", "schema", "terms"})
#: Verdicts for a definite status or validity outcome, in the order they are reported.
STATE_CODES = ("revoked", "suspended", "expired", "not_yet_valid")


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)
    #: The JSON object as submitted: for downloads and the proof check only. Every fact
    #: shown or judged comes from ``view``.
    credential: dict[str, Any] | None = None
    #: What the signature covers, as JSON-LD interprets it (``signed_view``); None when the
    #: signed data could not be read at all.
    view: SignedView | None = None
    #: One result per proof, in order (empty when the signed data could not be read): the
    #: ``proof`` check passes when one of them verifies; the VC-API verifier requires all.
    proof_results: list[ProofResult] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok is True for check in self.checks)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def signature_intact(self) -> bool:
        """Did at least one proof verify (whatever else is wrong)?"""
        proof = self.check("proof")
        return proof is not None and proof.ok is True

    @property
    def issuer_confirmed(self) -> bool:
        """Is the issuer's identity confirmed by proof (a did:web DID document, a profile
        that lists the key), not just the issuer's own did:key?"""
        issuer = self.check("issuer")
        return issuer is not None and issuer.ok is True and issuer.code == "ok"

    @property
    def issuer_self_asserted(self) -> bool:
        """Signed by the issuer's own did:key: the signature is the issuer's, but nobody
        vouches for who that is, nor for the name it gives itself."""
        issuer = self.check("issuer")
        return issuer is not None and issuer.ok is True and issuer.code == "self_asserted"

    @property
    def verdict(self) -> str:
        """One word for the employer's page (README "Verdicts"): ``valid``, ``revoked``,
        ``suspended``, ``expired``, ``not_yet_valid``, ``not_genuine`` (a signature does not
        match, and only then), ``malformed`` (breaks a format rule; the signature may well be
        intact) or ``unverifiable`` (something could not be checked)."""
        if self.verified:
            return "valid"
        failed = [c for c in self.checks if c.ok is False]
        if any(c.name == "proof" for c in failed):
            return "not_genuine"
        if any(c.name in FORMAT_CHECKS or c.code == "format" for c in failed):
            return "malformed"
        for code in STATE_CODES:
            if any(c.code == code for c in failed):
                return code
        return "unverifiable"

    def summary(self) -> dict[str, Any]:
        if self.view is None or self.view.problem is not None:
            return {}
        summary = self.view.summary()
        summary["issuer"]["confirmed"] = self.issuer_confirmed
        summary["issuer"]["selfAsserted"] = self.issuer_self_asserted
        return summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "verdict": self.verdict,
            "signatureIntact": self.signature_intact,
            "checks": [c.to_dict() for c in self.checks],
            "credential": self.summary(),
        }


def parse_datetime(value: str) -> datetime:
    """Parse an ``xsd:dateTime``; a value without a zone is taken as UTC (VC 2.0 §4.6 advises
    a zone; VC 1.1 credentials in the wild sometimes omit it)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_open_badge(credential: dict[str, Any]) -> bool:
    """Does the JSON name an Open Badges 3.0 context (so the OB 3.0 rules apply to it)?"""
    context = credential.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return any(isinstance(c, str) and c.startswith(OB_CONTEXT_PREFIX) for c in contexts)


def _check_vc_format(credential: dict[str, Any], view: SignedView) -> Check:
    """VC Data Model 2.0 §4.3/§4.4 (and 1.1 §4.1/§4.3) for a credential of any kind (the
    VC-API verifier): the base context first, then the shape of the signed graph."""
    context = credential.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] not in (VC_V2, VC_V1):
        return Check(
            "format", False, "first @context must be the VC 2.0 (or 1.1) context", "format"
        )
    if view.problem is not None:
        return Check("format", False, view.problem, "format")
    if VERIFIABLE_CREDENTIAL not in view.types:
        return Check("format", False, "type must contain VerifiableCredential", "format")
    if view.ambiguities:
        return Check("format", False, "; ".join(view.ambiguities), "format")
    if not view.subjects:
        return Check("format", False, "the credential needs a credentialSubject", "format")
    version = "2.0" if contexts[0] == VC_V2 else "1.1"
    return Check("format", True, f"verifiable credential (VC {version})")


def _vocab_covers_terms(credential: dict[str, Any]) -> bool:
    """Are terms that no context defines still signed? Only under a context that sets a
    ``@vocab`` (``contexts.VOCAB_CONTEXTS``, e.g. the W3C examples context): every such term
    then expands against it, so canonicalization keeps it. Neither VC context has one (VC 2.0
    as published dropped its issuer-dependent ``@vocab``), and an embedded context could set or
    unset one, so only context URLs count."""
    context = credential.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return url_contexts(context) and any(c in VOCAB_CONTEXTS for c in contexts)


def _check_format(credential: dict[str, Any], view: SignedView) -> Check:
    """OB 3.0 §"Serialization" and VC 2.0 §4.3/§4.4: the contexts (a JSON rule: they are what
    the JSON is read with), then the shape of the signed graph."""
    context = credential.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] not in (VC_V2, VC_V1):
        return Check(
            "format", False, "first @context must be the VC 2.0 (or 1.1) context", "format"
        )
    if not any(isinstance(c, str) and c.startswith(OB_CONTEXT_PREFIX) for c in contexts[1:]):
        return Check("format", False, "the Open Badges 3.0 @context is missing", "format")
    if view.problem is not None:
        return Check("format", False, view.problem, "format")
    if VERIFIABLE_CREDENTIAL not in view.types or not OB_CREDENTIAL_TYPES & view.types:
        return Check(
            "format",
            False,
            "type must contain VerifiableCredential and OpenBadgeCredential",
            "format",
        )
    if view.ambiguities:
        return Check("format", False, "; ".join(view.ambiguities), "format")
    if len(view.subjects) != 1:
        return Check(
            "format", False, "the credential needs exactly one credentialSubject", "format"
        )
    subject = view.subjects[0]
    if not (subject.id or subject.has_identifier):
        return Check("format", False, "credentialSubject needs an id or an identifier", "format")
    if view.is_endorsement:
        return Check("format", True, "Open Badges 3.0 endorsement credential")
    version = "2.0" if contexts[0] == VC_V2 else "1.1"
    return Check("format", True, f"Open Badges 3.0 credential (VC {version})")


def _check_schema(
    credential: dict[str, Any],
    view: SignedView | None,
    source: SourceKey | None = None,
    loader: DocumentLoader | None = None,
) -> Check:
    if credential.get("@context", [None])[0] == VC_V1:
        # The OB 3.0 schema describes VC 2.0 credentials (validFrom); VC 1.1 ones are accepted
        # by verifiers (OB 3.0 §"Verification", note on VC 1.1) and checked by the other checks.
        return Check("schema", True, "VC 1.1 credential: OB 3.0 JSON Schema not applicable")
    if view is not None:
        endorsement = view.is_endorsement
    else:  # unreadable signed data: the JSON's own word, for the choice of schema only
        types = credential.get("type")
        endorsement = isinstance(types, list) and "EndorsementCredential" in types
    schema = ENDORSEMENT_CREDENTIAL_SCHEMA if endorsement else ACHIEVEMENT_CREDENTIAL_SCHEMA
    errors = credential_schema_errors(credential, schema, source, loader)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Check("schema", False, f"OB 3.0 JSON Schema: {errors[0]}{more}", "schema")
    return Check("schema", True, "valid against the OB 3.0 JSON Schema")


def _check_terms(view: SignedView, vocab_covers: bool = False) -> Check:
    if view.undefined and vocab_covers:
        return Check(
            "terms",
            True,
            "terms defined only by a context's @vocab (still signed): " + ", ".join(view.undefined),
            "issuer_dependent_terms",
        )
    if view.undefined:
        return Check(
            "terms",
            False,
            "terms not defined by any @context (so not covered by the signature): "
            + ", ".join(view.undefined),
            "undefined_terms",
        )
    return Check("terms", True, "every property and type is defined by the contexts")


def _check_proof(results: list[ProofResult]) -> Check:
    if not results:
        return Check("proof", False, "the credential has no proof", "no_proof")
    good = [r for r in results if r.ok]
    if good:
        suites = ", ".join(sorted({r.cryptosuite or r.proof_type for r in good}))
        return Check("proof", True, f"signature valid ({suites})")
    message = "; ".join(r.message for r in results)
    if all(r.unchecked for r in results):
        # OB 3.0 §"Verification": what could not be checked is reported as such.
        return Check(
            "proof", None, f"the signature could not be checked: {message}", "proof_unchecked"
        )
    return Check("proof", False, message, "invalid_proof")


def _check_issuer(view: SignedView, results: list[ProofResult]) -> Check:
    """DESIGN.md "Verification": an issuer is confirmed only by proof. The key must be
    controlled by the issuer the signed data names, and that control must be proven: by the
    DID document (did:web), the profile listing the key (https), or, for a did:key issuer,
    by the key being the issuer itself, which confirms nobody's name (self-asserted)."""
    issuer_id = view.issuer_id
    good = [r for r in results if r.ok]
    if not good:
        return Check(
            "issuer",
            None,
            "no valid proof, so the issuer's key is unconfirmed",
            "issuer_unconfirmed",
        )
    if issuer_id is None:
        return Check("issuer", None, "the credential names no issuer", "issuer_unconfirmed")
    own = [r for r in good if r.controller == issuer_id]
    if any(r.confirmed for r in own):
        if issuer_id.startswith(DID_KEY_PREFIX):
            return Check(
                "issuer",
                True,
                f"signed with the issuer's own key {issuer_id}; nobody else confirms who that "
                "issuer is",
                "self_asserted",
            )
        return Check("issuer", True, f"signed with a key of the issuer {issuer_id}")
    if own:
        return Check(
            "issuer",
            None,
            f"the key is named under {issuer_id}, but the issuer's profile was not found to "
            "list it: the issuer's identity is not confirmed",
            "issuer_unconfirmed",
        )
    controllers = ", ".join(sorted({str(r.controller) for r in good}))
    return Check(
        "issuer",
        None,
        f"signed with a key of {controllers}, which is not the issuer {issuer_id}: the "
        "issuer's identity is not confirmed",
        "issuer_unconfirmed",
    )


def _check_validity(view: SignedView, now: datetime) -> Check:
    start = view.start
    end = view.end
    try:
        if start is not None and parse_datetime(start) > now:
            return Check("validity", False, f"not valid before {start}", "not_yet_valid")
        if end is not None and parse_datetime(end) < now:
            return Check("validity", False, f"expired on {end}", "expired")
    except ValueError:
        return Check("validity", False, "validFrom/validUntil is not a valid date-time", "format")
    if end is not None:
        return Check("validity", True, f"valid until {end}")
    return Check("validity", True, "valid, with no expiry date")


def _check_status_entry(
    entry: StatusEntryView,
    resolver: KeyResolver,
    fetch: StatusFetcher | None,
    loader: DocumentLoader | None,
) -> Check:
    purpose = entry.purpose or "status"
    name = f"status:{purpose}"
    if not entry.is_bitstring:
        return Check(
            name,
            None,
            f"status method {entry.type_name!r} is not supported, so not checked",
            "status_unsupported",
        )
    url = entry.list_url
    if url is None or fetch is None:
        return Check(name, None, "the status list could not be retrieved", "status_unavailable")
    try:
        list_credential = fetch(url)
    except Exception as error:  # any retrieval problem means "could not check", never "valid"
        return Check(
            name, None, f"status list {url} could not be retrieved: {error}", "status_unavailable"
        )
    # BSL §3.2 "Validate Algorithm" step: the status list credential must itself verify.
    proof_results = verify_proofs(list_credential, resolver, loader=loader)
    if not any(r.ok for r in proof_results):
        reason = "; ".join(r.message for r in proof_results) or "no proof"
        return Check(name, None, f"status list is not validly signed: {reason}", "status_invalid")
    result = check_status(entry.as_entry(), list_credential)
    if result.status is None:
        return Check(name, None, result.message, "status_unavailable")
    if result.status:
        code = (
            "revoked"
            if purpose == "revocation"
            else "suspended"
            if purpose == "suspension"
            else purpose
        )
        return Check(name, False, result.message, code)
    return Check(name, True, result.message)


#: Signed views of documents that arrived as JSON text, by ``SourceKey.derive("view")``.
VIEWS: BoundedCache[bytes, SignedView] = BoundedCache(4096)


def read_signed_view(
    document: dict[str, Any] | Callable[[], dict[str, Any]],
    loader: DocumentLoader | None,
    source: SourceKey | None,
) -> SignedView:
    """``signed_view`` of the document without its proofs, remembered per source text.
    ``document`` may be a function that parses it, called only when the view is not known."""
    key = source.derive("view") if source is not None else None
    known = VIEWS.get(key) if key is not None else None
    if known is None:
        parsed = document() if callable(document) else document
        known = signed_view({k: v for k, v in parsed.items() if k != "proof"}, loader)
        if key is not None:
            VIEWS.put(key, known)
    return known


def verify_credential(
    document: Any,
    *,
    resolver: KeyResolver,
    now: datetime | None = None,
    status_fetcher: StatusFetcher | None = None,
    loader: DocumentLoader | None = None,
    source: str | bytes | None = None,
    any_vc: bool = False,
) -> VerificationReport:
    """Verify a credential (a parsed JSON object, or JSON text/bytes) into a report.

    ``any_vc``: a credential that names no Open Badges context is judged as a plain verifiable
    credential (the VC-API verifier): the VC format rules instead of OB 3.0's, no OB schema,
    and terms under the VC 2.0 vocabulary accepted. Proof, issuer, validity and status are
    checked alike; an Open Badge is judged as always.

    Every fact judged comes from the signed view (``signed_view``): the graph the proofs sign,
    as JSON-LD reads it under the carried contexts. Every check runs, the signature included,
    whatever else is wrong.

    ``source``: the exact JSON text a parsed ``document`` was read from (and not changed
    since). What is a pure function of the document (view, schema, signatures) is then
    remembered under that text, so a credential verified again is not re-serialized to find
    it in the caches (``dataintegrity.caches.SourceKey``).
    """
    report = VerificationReport()
    if isinstance(document, bytes | str):
        source = document
        if len(document) > MAX_CREDENTIAL_BYTES:
            report.checks.append(Check("format", False, "credential larger than 2 MiB", "format"))
            return report
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            report.checks.append(Check("format", False, f"not valid JSON: {error}", "format"))
            return report
    if not isinstance(document, dict):
        report.checks.append(Check("format", False, "a credential must be a JSON object", "format"))
        return report
    report.credential = document
    moment = now or datetime.now(UTC)
    plain_vc = any_vc and not is_open_badge(document)
    key = None
    if loader is None:
        if source is None:
            # A parsed document: keyed on its JSON text (sorted keys), so a document seen
            # before is found in the caches (view, schema, proofs) like a text is.
            text = json_text_or_none(document)
            source = None if text is None else "sorted\x00" + text
        key = SourceKey(source) if source is not None else None

    try:
        view = read_signed_view(document, loader, key)
    except Exception as error:
        _report_unreadable(report, document, error, key, loader, plain_vc)
        return report
    report.view = view

    try:
        # Terms are judged from the view (``terms`` below), so the proofs are checked on the
        # signed data alone: a credential with unsigned extra terms is malformed, and its
        # report still says whether its signature is intact.
        results = verify_proofs(
            document,
            resolver,
            loader=loader,
            source=key,
            check_terms=False,
            known=(view.canonical, view.undefined),
        )
    except Exception as error:  # verify_proofs promises not to raise; belt and braces
        results = [
            ProofResult(
                ok=False,
                proof_type="unknown",
                cryptosuite=None,
                verification_method=None,
                controller=None,
                message=f"proof check failed: {error}",
            )
        ]
    if plain_vc:
        report.checks.append(_check_vc_format(document, view))
        report.checks.append(_check_terms(view, _vocab_covers_terms(document)))
    else:
        report.checks.append(_check_format(document, view))
        report.checks.append(_check_schema(document, view, key, loader))
        report.checks.append(_check_terms(view))
    report.proof_results = results
    report.checks.append(_check_proof(results))
    report.checks.append(_check_issuer(view, results))
    if view.problem is None:
        report.checks.append(_check_validity(view, moment))
        for entry in view.status:
            report.checks.append(_check_status_entry(entry, resolver, status_fetcher, loader))
    return report


def _report_unreadable(
    report: VerificationReport,
    document: dict[str, Any],
    error: Exception,
    key: SourceKey | None,
    loader: DocumentLoader | None,
    plain_vc: bool = False,
) -> None:
    """The checks of a credential whose signed data cannot be read: every check is still
    reported, and none that needs the signed data passes."""
    if isinstance(error, DocumentLoaderError):
        # No context is ever fetched: one we do not carry makes the credential uncheckable.
        reason = "its @context cannot be read"
        report.checks.append(
            Check(
                "format",
                None,
                "the credential uses a context this service does not carry, so it cannot be "
                f"read: {error.message}",
                "unknown_context",
            )
        )
        if not plain_vc:
            report.checks.append(_check_schema(document, None, key, loader))
        report.checks.append(
            Check("terms", None, f"not checked: {error.message}", "unknown_context")
        )
    else:
        reason = "the credential is not valid JSON-LD"
        message = error.message if isinstance(error, EngineError) else f"not valid JSON-LD: {error}"
        report.checks.append(Check("format", False, message, "jsonld"))
        if not plain_vc:
            report.checks.append(_check_schema(document, None, key, loader))
        report.checks.append(Check("terms", False, message, "jsonld"))
    report.checks.append(_unchecked_proof(document, reason))
    report.checks.append(
        Check("issuer", None, "the signed data could not be read", "issuer_unconfirmed")
    )


def _unchecked_proof(document: dict[str, Any], reason: str) -> Check:
    """The proof check of a credential whose signed data cannot be read: no proof is no proof
    (``not_genuine``, as always); a proof that exists could not be checked."""
    if not document.get("proof"):
        return Check("proof", False, "the credential has no proof", "no_proof")
    return Check("proof", None, f"the signature could not be checked: {reason}", "proof_unchecked")
