"""Verification in the shape of the W3C CCG VC-API (``POST /credentials/verify`` and
``POST /presentations/verify``), so wallets, other services and the W3C interoperability test
suites can use Merkki as a verifier.

Every credential goes through THE verification of the service (``verification.verify``), so the
trust rules are those of the verification page: facts only from signed data, the issuer only by
proof (a did:key issuer is its own issuer, reported as a warning), no context fetched. The only
differences: a credential that is not an Open Badge is judged as a plain verifiable credential
(``verifier.verify_credential(any_vc=True)``), and the W3C examples context is carried
(``contexts.vc_api_document_loader``).

A presentation (VC Data Integrity §4.3 "Verify Proof", VC-API "Verify Presentation"): its proofs
must have the purpose ``authentication`` and have signed the verifier's challenge (and domain,
when one is given); the key must be the holder's; every credential in it must verify.

Nothing here knows HTTP: a request that is not one (no object, a credential sent as a JSON
string) raises ``InvalidInputError``; the web layer maps ``verified`` to the status code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.core.contexts import EXAMPLES_V2, VC_V1, VC_V2, DocumentLoader, vc_api_document_loader
from issuer.core.dataintegrity.cryptosuite import transform
from issuer.core.dataintegrity.verifying import ProofResult, verify_proofs
from issuer.core.errors import EngineError
from issuer.core.safe_fetch import FetchBudget
from issuer.core.signed_view import CRED, RDF_TYPE, Graph, split_line
from issuer.core.verifier import Check
from issuer.services.errors import InvalidInputError
from issuer.services.key_resolution import (
    OwnIssuerResolver,
    RemoteFetcher,
    refuse_all,
    resolver_for,
)
from issuer.services.verification import VerificationResult, verify

#: How many credentials one presentation may carry (each is verified in full).
MAX_PRESENTED_CREDENTIALS = 20
AUTHENTICATION = "authentication"
VERIFIABLE_PRESENTATION = CRED + "VerifiablePresentation"

#: Checks that pass but that a verifier should hear about (VC-API ``warnings``), by code.
WARNING_CODES = {
    "self_asserted": "the issuer signed with its own did:key: nobody else confirms who it is",
    "issuer_dependent_terms": "terms defined only by a vocabulary mapping (@vocab)",
    "no_holder": "the presentation names no holder: it proves only who signed it",
}


@dataclass
class VcApiResult:
    """A VC-API verification result: ``verified``, the names of the checks that passed, and
    ``warnings`` and ``errors`` as problem details."""

    verified: bool
    checks: list[Check] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        warnings = [
            _problem(c, WARNING_CODES[c.code])
            for c in self.checks
            if c.ok and c.code in WARNING_CODES
        ]
        errors = [
            _problem(c, f"{c.name}: " + ("failed" if c.ok is False else "could not be checked"))
            for c in self.checks
            if c.ok is not True
        ]
        body: dict[str, Any] = {
            "verified": self.verified,
            "checks": [c.name for c in self.checks if c.ok is True],
            "warnings": warnings,
            "errors": errors,
        }
        body.update(self.extra)
        body["results"] = [c.to_dict() for c in self.checks]
        return body


def _problem(check: Check, title: str) -> dict[str, Any]:
    # VC-API "ProblemDetails": a machine-readable code, a title and the detail.
    return {"check": check.name, "code": check.code, "title": title, "detail": check.message}


def _object(body: Any, name: str, *, required: bool = True) -> dict[str, Any]:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None and not required:
        return {}
    if isinstance(value, str):
        raise InvalidInputError(
            f"{name} must be a JSON object, not a JSON string (send the object itself)"
        )
    if not isinstance(value, dict):
        raise InvalidInputError(f"the body needs {name} as a JSON object")
    return value


def _loader_for(document: dict[str, Any]) -> DocumentLoader | None:
    """The VC-API loader when the document names the W3C examples context anywhere; else the
    default one (whose caches make repeated verifications fast), so Open Badges are judged
    exactly as on the verification page."""
    try:
        text = json.dumps(document)
    except (TypeError, ValueError, RecursionError):
        return None
    return vc_api_document_loader() if EXAMPLES_V2 in text else None


def _every_proof(results: list[ProofResult]) -> Check | None:
    """VC Data Integrity §4.5 "Verify Proof Sets and Chains": every proof of a set or chain must
    verify (the verification page's ``proof`` check is satisfied by one, and says which)."""
    if len(results) < 2:
        return None
    failed = [r for r in results if not r.ok]
    if not failed:
        return Check("proofs", True, f"all {len(results)} proofs of the set or chain verify")
    return Check(
        "proofs",
        False,
        f"{len(failed)} of {len(results)} proofs do not verify: "
        + "; ".join(r.message for r in failed),
        "invalid_proof",
    )


def _credential_result(result: VerificationResult) -> VcApiResult:
    checks = list(result.checks)
    every = _every_proof(result.report.proof_results)
    if every is not None:
        checks.append(every)
    verified = result.verified and all(c.ok is True for c in checks)
    # A proof of a set that does not match is a forgery of that proof (README "Verdicts").
    verdict = result.verdict if verified or result.verdict != "valid" else "not_genuine"
    extra: dict[str, Any] = {"verdict": verdict}
    return VcApiResult(verified=verified, checks=checks, extra=extra)


def _verify_one(
    session: Session,
    credential: dict[str, Any],
    base_url: str,
    fetch: RemoteFetcher | None,
    now: datetime | None,
) -> VerificationResult:
    return verify(
        session,
        credential,
        base_url=base_url,
        fetch=fetch,
        now=now,
        any_vc=True,
        loader=_loader_for(credential),
    )


def verify_credential_request(
    session: Session,
    body: Any,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VcApiResult:
    """``{"verifiableCredential": {...}, "options": {...}}`` verified. ``InvalidInputError``
    when the body is not such a request."""
    if not isinstance(body, dict):
        raise InvalidInputError("the body must be a JSON object")
    credential = _object(body, "verifiableCredential")
    _object(body, "options", required=False)
    return _credential_result(_verify_one(session, credential, base_url, fetch, now))


def _presentation_format(presentation: dict[str, Any]) -> Check:
    """VC Data Model 2.0 §4.13 (1.1 §4.10): the base context comes first (a JSON rule: it is
    what the JSON is read with); the type is judged from the signed graph (``_signed_holder``)."""
    context = presentation.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] not in (VC_V2, VC_V1):
        return Check(
            "format", False, "first @context must be the VC 2.0 (or 1.1) context", "format"
        )
    return Check("format", True, "verifiable presentation")


def _signed_holder(
    presentation: dict[str, Any], loader: DocumentLoader | None
) -> tuple[Check | None, str | None]:
    """The holder as the signed graph states it (never the raw JSON key), or a failed check."""
    unsecured = {k: v for k, v in presentation.items() if k != "proof"}
    try:
        canonical = transform(unsecured, loader)
    except EngineError as error:
        return Check(
            "format", None, f"the presentation cannot be read: {error.message}", "jsonld"
        ), None
    except Exception as error:  # odd JSON-LD: reported, never raised
        return Check(
            "format", False, f"the presentation is not valid JSON-LD: {error}", "jsonld"
        ), None
    triples = []
    for line in canonical.splitlines(keepends=True):
        subject, predicate, obj, graph = split_line(line)
        if not graph:  # the embedded credentials live in named graphs
            triples.append((subject, predicate, obj))
    signed = Graph(triples)
    nodes = sorted(
        {s for s, p, o in triples if p == f"<{RDF_TYPE}>" and o == f"<{VERIFIABLE_PRESENTATION}>"}
    )
    if len(nodes) != 1:
        return Check(
            "format", False, "type must contain VerifiablePresentation (once)", "format"
        ), None
    holders = [t.value for t in signed.objects(nodes[0], CRED + "holder") if t.kind == "iri"]
    if len(holders) > 1:
        return Check("format", False, "the presentation names more than one holder", "format"), None
    return None, holders[0] if holders else None


def _proof_check(results: list[ProofResult]) -> Check:
    if not results or not all(r.ok for r in results):
        message = "; ".join(r.message for r in results) or "the presentation has no proof"
        if results and all(r.unchecked for r in results):
            return Check(
                "proof", None, f"the signature could not be checked: {message}", "proof_unchecked"
            )
        return Check("proof", False, message, "invalid_proof")
    suites = ", ".join(sorted({r.cryptosuite or r.proof_type for r in results}))
    return Check("proof", True, f"presentation signature valid ({suites}), challenge matched")


def _holder_check(holder: str | None, results: list[ProofResult]) -> Check:
    """The key that signed must be the holder's: a presentation proves control of the holder's
    identifier (VC Data Model 2.0 §4.13 "holder"), and only its signed value counts."""
    good = [r for r in results if r.ok]
    if not good:
        return Check(
            "holder", None, "no valid proof, so the holder is unconfirmed", "holder_unconfirmed"
        )
    controllers = sorted({str(r.controller) for r in good})
    if holder is None:
        return Check(
            "holder", True, f"no holder named; signed by {', '.join(controllers)}", "no_holder"
        )
    if controllers != [holder]:
        return Check(
            "holder",
            False,
            f"signed with a key of {', '.join(controllers)}, which is not the holder {holder}",
            "holder_mismatch",
        )
    return Check("holder", True, f"signed with a key of the holder {holder}")


def _embedded(presentation: dict[str, Any]) -> list[Any]:
    value = presentation.get("verifiableCredential")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_PRESENTED_CREDENTIALS:
        raise InvalidInputError(
            f"a presentation may carry at most {MAX_PRESENTED_CREDENTIALS} credentials"
        )
    return items


def verify_presentation_request(
    session: Session,
    body: Any,
    *,
    base_url: str,
    fetch: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VcApiResult:
    """``{"verifiablePresentation": {...}, "options": {"challenge", "domain"}}`` verified.
    ``InvalidInputError`` when the body is not such a request (the challenge is required: an
    ``authentication`` proof without one could be replayed)."""
    if not isinstance(body, dict):
        raise InvalidInputError("the body must be a JSON object")
    presentation = _object(body, "verifiablePresentation")
    options = _object(body, "options", required=False)
    challenge = options.get("challenge")
    domain = options.get("domain")
    if not isinstance(challenge, str) or not challenge:
        raise InvalidInputError("options.challenge (a string) is required")
    if domain is not None and not isinstance(domain, str):
        raise InvalidInputError("options.domain must be a string")
    items = _embedded(presentation)
    fetch = FetchBudget.wrap(fetch)
    checks, _ = _presentation_checks(session, presentation, base_url, fetch, challenge, domain)
    credential_results: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            answer = _credential_result(_verify_one(session, item, base_url, fetch, now))
        else:
            answer = VcApiResult(
                verified=False,
                checks=[
                    Check(
                        "format",
                        False,
                        "an embedded credential must be a JSON object (enveloped credentials "
                        "are not supported)",
                        "format",
                    )
                ],
            )
        credential_results.append(answer.to_dict())
    bad = sum(1 for r in credential_results if not r["verified"])
    if bad:
        checks.append(
            Check(
                "credentials",
                False,
                f"{bad} of {len(items)} credentials do not verify",
                "credential_invalid",
            )
        )
    else:
        checks.append(Check("credentials", True, f"{len(items)} credentials verified"))
    verified = all(c.ok is True for c in checks)
    return VcApiResult(
        verified=verified, checks=checks, extra={"credentialResults": credential_results}
    )


def _presentation_checks(
    session: Session,
    presentation: dict[str, Any],
    base_url: str,
    fetch: RemoteFetcher | None,
    challenge: str,
    domain: str | None,
) -> tuple[list[Check], list[ProofResult]]:
    """The checks of the presentation itself, not of what it carries: its format, its
    ``authentication`` proofs for ``challenge`` and ``domain``, and that the holder signed it;
    with the proof results."""
    loader = _loader_for(presentation)
    checks = [_presentation_format(presentation)]
    problem, holder = _signed_holder(presentation, loader)
    if problem is not None:
        checks = [problem]
    resolver = resolver_for(session, base_url, fetch, own=OwnIssuerResolver(session, base_url))
    results = verify_proofs(
        presentation,
        resolver,
        loader=loader,
        expected_purpose=AUTHENTICATION,
        check_terms=False,
        challenge=challenge,
        domain=domain,
    )
    checks += [_proof_check(results), _holder_check(holder, results)]
    return checks, results


class DidAuthenticationError(InvalidInputError):
    """A DID Authentication presentation was refused; ``message`` says why."""

    code = "did_authentication_failed"


def authenticate_holder(
    session: Session,
    presentation: Any,
    *,
    challenge: str,
    domain: str,
    base_url: str,
) -> str:
    """The ``did:key`` that signed ``presentation`` for ``challenge`` and ``domain`` (DID
    Authentication, as a VC-API exchange asks for it: VC-API "DIDAuthentication" query; VC Data
    Integrity §4.3 with proof purpose ``authentication``), or ``DidAuthenticationError``.

    The same checks as ``verify_presentation_request`` (format, signature, challenge, domain,
    holder = signer), on the presentation alone: what it carries is not looked at. Only
    ``did:key`` holders are accepted (the request names it in ``acceptedMethods``): their key
    is in the DID itself, so nothing is fetched to authenticate someone."""
    if not isinstance(presentation, dict):
        raise DidAuthenticationError("verifiablePresentation must be a JSON object")
    checks, results = _presentation_checks(
        session, presentation, base_url, refuse_all, challenge, domain
    )
    failed = [check.message for check in checks if check.ok is not True]
    if failed:
        raise DidAuthenticationError("; ".join(failed))
    signers = sorted({str(result.controller) for result in results if result.ok})
    if len(signers) != 1 or not signers[0].startswith("did:key:"):
        raise DidAuthenticationError(
            f"the presentation must be signed by one did:key, not {', '.join(signers)}"
        )
    return signers[0]
