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

from issuer.core.contexts import VC_V1, VC_V2, DocumentLoader
from issuer.core.dataintegrity import ProofResult, SourceKey, undefined_terms, verify_proofs
from issuer.core.errors import EngineError
from issuer.core.lru import BoundedCache
from issuer.core.resolver import KeyResolver
from issuer.core.schema import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA,
    ENDORSEMENT_CREDENTIAL_SCHEMA,
    schema_errors,
)
from issuer.core.status_list import check_status

OB_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/context"
CREDENTIAL_TYPES = {"OpenBadgeCredential", "AchievementCredential", "EndorsementCredential"}
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


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok is True for check in self.checks)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def verdict(self) -> str:
        """One word for the employer's page: ``valid``, ``revoked``, ``suspended``, ``expired``,
        ``not_yet_valid``, ``not_genuine`` (proof, format or issuer problems) or
        ``unverifiable`` (something could not be checked)."""
        if self.verified:
            return "valid"
        failed = [c for c in self.checks if c.ok is False]
        genuine_checks = {"format", "schema", "terms", "proof", "issuer"}
        if any(c.name in genuine_checks for c in failed):
            return "not_genuine"
        for code in ("revoked", "suspended", "expired", "not_yet_valid"):
            if any(c.code == code for c in failed):
                return code
        if failed:
            return "not_genuine"
        return "unverifiable"

    def summary(self) -> dict[str, Any]:
        return credential_summary(self.credential) if self.credential is not None else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
            "credential": self.summary(),
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def credential_summary(credential: dict[str, Any]) -> dict[str, Any]:
    """What a person needs to see: who issued what to whom, and when."""
    issuer = credential.get("issuer")
    subject = _first(credential.get("credentialSubject"))
    subject = subject if isinstance(subject, dict) else {}
    found = subject.get("achievement")
    achievement: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "id": _text(credential.get("id")),
        "name": _text(credential.get("name")) or _text(achievement.get("name")),
        "issuer": {
            "id": _text(issuer.get("id")) if isinstance(issuer, dict) else _text(issuer),
            "name": _text(issuer.get("name")) if isinstance(issuer, dict) else None,
        },
        "recipient": {"name": _text(subject.get("name"))},
        "achievement": {
            "id": _text(achievement.get("id")),
            "name": _text(achievement.get("name")),
            "description": _text(achievement.get("description")),
            "achievementType": _text(achievement.get("achievementType")),
        },
        "validFrom": _text(credential.get("validFrom") or credential.get("issuanceDate")),
        "validUntil": _text(credential.get("validUntil") or credential.get("expirationDate")),
    }


def _issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        return _text(issuer.get("id"))
    return _text(issuer)


def parse_datetime(value: str) -> datetime:
    """Parse an ``xsd:dateTime``; a value without a zone is taken as UTC (VC 2.0 §4.6 advises
    a zone; VC 1.1 credentials in the wild sometimes omit it)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_format(credential: dict[str, Any]) -> Check:
    context = credential.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] not in (VC_V2, VC_V1):
        return Check(
            "format", False, "first @context must be the VC 2.0 (or 1.1) context", "format"
        )
    if not any(isinstance(c, str) and c.startswith(OB_CONTEXT_PREFIX) for c in contexts[1:]):
        return Check("format", False, "the Open Badges 3.0 @context is missing", "format")
    types = credential.get("type")
    types = types if isinstance(types, list) else [types]
    hashable = [t for t in types if isinstance(t, str)]
    if "VerifiableCredential" not in hashable or not CREDENTIAL_TYPES & set(hashable):
        return Check(
            "format",
            False,
            "type must contain VerifiableCredential and OpenBadgeCredential",
            "format",
        )
    subject = _first(credential.get("credentialSubject"))
    if not isinstance(subject, dict) or not (subject.get("id") or subject.get("identifier")):
        return Check("format", False, "credentialSubject needs an id or an identifier", "format")
    if _is_endorsement(credential):
        return Check("format", True, "Open Badges 3.0 endorsement credential")
    version = "2.0" if contexts[0] == VC_V2 else "1.1"
    return Check("format", True, f"Open Badges 3.0 credential (VC {version})")


def _is_endorsement(credential: dict[str, Any]) -> bool:
    types = credential.get("type")
    return isinstance(types, list) and "EndorsementCredential" in types


#: Schema messages of documents that arrived as JSON text, by (``SourceKey.derive``, schema):
#: the verdict is a pure function of the text and the (built-in) schema.
SCHEMA_VERDICTS: BoundedCache[tuple[bytes, str], tuple[str, ...]] = BoundedCache(4096)


def _schema_errors(
    credential: dict[str, Any], schema: str, source: SourceKey | None
) -> tuple[str, ...]:
    if source is None:
        return tuple(schema_errors(credential, schema))
    key = (source.derive("schema"), schema)
    known = SCHEMA_VERDICTS.get(key)
    if known is None:
        known = tuple(schema_errors(credential, schema))
        SCHEMA_VERDICTS.put(key, known)
    return known


def _check_schema(credential: dict[str, Any], source: SourceKey | None = None) -> Check:
    if credential.get("@context", [None])[0] == VC_V1:
        # The OB 3.0 schema describes VC 2.0 credentials (validFrom); VC 1.1 ones are accepted
        # by verifiers (OB 3.0 §"Verification", note on VC 1.1) and checked by the other checks.
        return Check("schema", True, "VC 1.1 credential: OB 3.0 JSON Schema not applicable")
    schema = (
        ENDORSEMENT_CREDENTIAL_SCHEMA
        if _is_endorsement(credential)
        else ACHIEVEMENT_CREDENTIAL_SCHEMA
    )
    errors = _schema_errors(credential, schema, source)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Check("schema", False, f"OB 3.0 JSON Schema: {errors[0]}{more}", "schema")
    return Check("schema", True, "valid against the OB 3.0 JSON Schema")


def _check_terms(
    credential: dict[str, Any], loader: DocumentLoader | None, source: SourceKey | None = None
) -> Check:
    # The proofs are checked one by one by the proof check (an unknown second proof must not
    # spoil a valid first one), so the terms of the credential are checked without them.
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    try:
        undefined = undefined_terms(unsecured, loader, source=source)
    except EngineError as error:
        return Check("terms", False, error.message, "jsonld")
    if undefined:
        return Check(
            "terms",
            False,
            "terms not defined by any @context: " + ", ".join(undefined),
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


def _check_issuer(credential: dict[str, Any], results: list[ProofResult]) -> Check:
    issuer_id = _issuer_id(credential)
    good = [r for r in results if r.ok]
    if not good:
        return Check(
            "issuer",
            None,
            "no valid proof, so the issuer's key is unconfirmed",
            "issuer_unconfirmed",
        )
    if any(r.controller == issuer_id for r in good):
        return Check("issuer", True, f"signed with a key of the issuer {issuer_id}")
    controllers = ", ".join(sorted({str(r.controller) for r in good}))
    if all(str(r.controller).startswith("did:key:") for r in good):
        # A did:key names nothing but itself: the signature is valid, but nothing links the key
        # to the issuer the credential names (the 1EdTech validator skips this check for
        # did:key). We do not claim the issuer's identity we cannot confirm.
        return Check(
            "issuer",
            None,
            f"signed with {controllers}, which is not the issuer's identifier {issuer_id}: "
            "the issuer's identity is not confirmed",
            "issuer_unconfirmed",
        )
    return Check(
        "issuer",
        False,
        f"key controller {controllers} does not match issuer {issuer_id}",
        "controller_mismatch",
    )


def _check_validity(credential: dict[str, Any], now: datetime) -> Check:
    start = credential.get("validFrom") or credential.get("issuanceDate")
    end = credential.get("validUntil") or credential.get("expirationDate")
    try:
        if isinstance(start, str) and parse_datetime(start) > now:
            return Check("validity", False, f"not valid before {start}", "not_yet_valid")
        if isinstance(end, str) and parse_datetime(end) < now:
            return Check("validity", False, f"expired on {end}", "expired")
    except ValueError:
        return Check("validity", False, "validFrom/validUntil is not a valid date-time", "format")
    if isinstance(end, str):
        return Check("validity", True, f"valid until {end}")
    return Check("validity", True, "valid, with no expiry date")


def _status_entries(credential: dict[str, Any]) -> list[Any]:
    status = credential.get("credentialStatus")
    if status is None:
        return []
    return status if isinstance(status, list) else [status]


def _check_status_entry(
    entry: Any,
    resolver: KeyResolver,
    fetch: StatusFetcher | None,
    loader: DocumentLoader | None,
) -> Check:
    if not isinstance(entry, dict):
        return Check("status", False, "credentialStatus entry is not an object", "format")
    kind = entry.get("type")
    purpose = str(entry.get("statusPurpose", "status"))
    name = f"status:{purpose}"
    if kind != "BitstringStatusListEntry":
        return Check(
            name,
            None,
            f"status method {kind!r} is not supported, so not checked",
            "status_unsupported",
        )
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or fetch is None:
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
        return Check(name, False, f"status list is not validly signed: {reason}", "status_invalid")
    result = check_status(entry, list_credential)
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


def verify_credential(
    document: Any,
    *,
    resolver: KeyResolver,
    now: datetime | None = None,
    status_fetcher: StatusFetcher | None = None,
    loader: DocumentLoader | None = None,
    source: str | bytes | None = None,
) -> VerificationReport:
    """Verify a credential (a parsed JSON object, or JSON text/bytes) into a report.

    ``source``: the exact JSON text a parsed ``document`` was read from (and not changed
    since). What is a pure function of the document (schema, terms, signatures) is then
    remembered under that text, so a credential verified again is not re-serialized to find
    it in the caches (``dataintegrity.SourceKey``).
    """
    report = VerificationReport()
    if isinstance(document, bytes | str):
        source = document
        if len(document) > MAX_CREDENTIAL_BYTES:
            report.checks.append(Check("format", False, "credential larger than 2 MiB", "format"))
            return report
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError) as error:
            report.checks.append(Check("format", False, f"not valid JSON: {error}", "format"))
            return report
    if not isinstance(document, dict):
        report.checks.append(Check("format", False, "a credential must be a JSON object", "format"))
        return report
    report.credential = document
    moment = now or datetime.now(UTC)

    fmt = _check_format(document)
    report.checks.append(fmt)
    if not fmt.ok:
        return report
    key = SourceKey(source) if source is not None and loader is None else None
    schema = _check_schema(document, key)
    try:
        # Before the term check, which then finds the terms remembered by the proof check's
        # one-pass canonicalization (the report keeps the order below).
        results = verify_proofs(document, resolver, loader=loader, source=key)
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
    report.checks.append(schema)
    report.checks.append(_check_terms(document, loader, key))
    report.checks.append(_check_proof(results))
    report.checks.append(_check_issuer(document, results))
    report.checks.append(_check_validity(document, moment))
    for entry in _status_entries(document):
        report.checks.append(_check_status_entry(entry, resolver, status_fetcher, loader))
    return report
