"""The 1EdTech validator's signed samples get the verdicts their names promise.

Valid proofs verify; broken proofs and methods fail with a reason that names the problem; what
cannot be checked offline (a DID on a host we cannot reach, a suite we do not implement, a
status list we were not given) is reported as unverifiable, never as valid.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from issuer.core.resolver import standard_resolver
from issuer.core.verifier import VerificationReport, verify_credential
from tests.spec_files import load_json, require_spec_dir

SAMPLES = "samples/1edtech-validator-ob30/"

# sample -> (verdict, the check that decides it, words its message must contain)
EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "simple.json": ("valid", None, ""),
    "simple_v1.json": ("valid", None, ""),
    "simple-context-alias.json": ("valid", None, ""),
    "simple-context-version.json": ("valid", None, ""),
    "simple-did-web-method.json": ("valid", None, ""),
    "simple-eddsa-2022.json": ("valid", None, ""),
    "simple-multiple-proofs.json": ("valid", None, ""),
    "endorsement-valid.json": ("valid", None, ""),
    # Valid signature by a did:key that is not the issuer's identifier.
    "simple-did-key-method.json": ("unverifiable", "issuer", "not confirmed"),
    "simple-err-expired.json": ("expired", "validity", "expired on 2010-01-01"),
    # Well-signed (or not checkable) but breaking a format rule: malformed, not forged.
    "simple-err-issued.json": ("malformed", "schema", "achievement"),
    "simple-err-context.json": ("malformed", "format", "@context"),
    # Its type was changed after signing: the signature no longer matches.
    "simple-err-type.json": ("not_genuine", "format", "type must contain"),
    "simple-err-issuer.json": ("malformed", "schema", "issuer"),
    "simple-err-issuer-type.json": ("not_genuine", "terms", "InvalidProfile"),
    "simple-err-issuer-parentorg-type.json": ("not_genuine", "terms", "InvalidProfile"),
    "simple-err-issuer-otheridentifier-type.json": (
        "not_genuine",
        "terms",
        "InvalidIdentifierEntry",
    ),
    "simple-err-credential-subject-type.json": (
        "not_genuine",
        "terms",
        "InvalidAchievementSubject",
    ),
    "simple-err-credential-subject-profile-type.json": ("not_genuine", "terms", "InvalidProfile"),
    "simple-err-credential-subject-identifier-type.json": (
        "not_genuine",
        "terms",
        "InvalidIdentityObject",
    ),
    "simple-err-credential-subject-result-type.json": ("not_genuine", "terms", "InvalidResult"),
    "simple-err-credential-subject-achievement-result-description-type.json": (
        "not_genuine",
        "terms",
        "InvalidResultDescription",
    ),
    "simple-err-evidence-type.json": ("not_genuine", "terms", "InvalidEvidence"),
    "simple-err-proof-value.json": ("not_genuine", "proof", "signature does not match"),
    "simple-err-proof-method.json": (
        "not_genuine",
        "proof",
        "z6MkjZRsdasZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
    ),
    "simple-err-proof-method-no-scheme.json": (
        "not_genuine",
        "proof",
        "z6MkrvfzkMnvCroEUP2DVc9SHPE48CRsvHiVSusHioxTYu1x",
    ),
    "simple-err-proof-method-unknown-did-method.json": ("unverifiable", "proof", "did:example"),
    "simple-err-proof-method-unknown-scheme.json": ("unverifiable", "proof", "xxx:"),
    "simple-noproof.json": ("not_genuine", "proof", "no proof"),
    "endorsement-err-schema-status-refresh.json": (
        "not_genuine",
        "proof",
        "signature does not match",
    ),
    "complete_v1.json": ("malformed", "terms", "1EdTechRevocationList"),
    # A proof in a suite we do not implement (selective disclosure, ECDSA).
    "sd/derivedcredential.json": ("unverifiable", "proof", "ecdsa-sd-2023"),
    # Signed by a did:web whose DID document is not available offline.
    "credential-status-revoked.json": ("unverifiable", "proof", "did:web:dc.1edtech.org"),
    # 1EdTechRevocationList needs the list from the issuer's server.
    "complete.json": ("unverifiable", "status:status", "1EdTechRevocationList"),
}


def _verify(name: str, **kwargs: Any) -> VerificationReport:
    return verify_credential(
        load_json(SAMPLES + name), resolver=standard_resolver(trust_fragment_keys=True), **kwargs
    )


def test_every_json_sample_is_covered() -> None:
    base = require_spec_dir() / SAMPLES
    names = {str(p.relative_to(base)) for p in base.rglob("*.json")}
    names -= {
        "bit-string-list/credential-status-revoked.json",
        "bit-string-list/credential-status-revoked-blank-nodes.json",
    }
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_verdict(name: str) -> None:
    verdict, check_name, words = EXPECTED[name]
    report = _verify(name)
    assert report.verdict == verdict, report.to_dict()
    if check_name is None:
        assert report.verified
        assert report.check("proof") is not None
        return
    check = report.check(check_name)
    assert check is not None
    assert check.ok is not True
    assert words in check.message


def test_valid_did_key_sample_has_a_valid_signature() -> None:
    report = _verify("simple-did-key-method.json")
    proof = report.check("proof")
    assert proof is not None
    assert proof.ok is True


BITSTRING_SAMPLES = [
    "bit-string-list/credential-status-revoked.json",
    "bit-string-list/credential-status-revoked-blank-nodes.json",
]


@pytest.mark.parametrize("name", BITSTRING_SAMPLES)
def test_bitstring_status_samples_without_the_list_are_unverifiable(name: str) -> None:
    report = _verify(name)
    assert report.verdict == "unverifiable"
    statuses = [c for c in report.checks if c.name.startswith("status")]
    assert statuses
    assert all(c.ok is None for c in statuses)


@pytest.mark.parametrize("name", BITSTRING_SAMPLES)
def test_bitstring_status_samples_with_the_signed_list_are_revoked(name: str) -> None:
    # The list credential the samples point at ships beside them (index 23 is set); it is
    # handed in as the fetch result, as the service's status fetcher would return it.
    list_credential = load_json(SAMPLES + "bit-string-list/testlist")
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return dict(list_credential)

    report = _verify(name, status_fetcher=fetch)
    assert report.verdict == "revoked", report.to_dict()
    assert fetched == [
        "https://raw.githubusercontent.com/1EdTech/digital-credentials-public-validator/refs/"
        "heads/main/inspector-vc/src/test/resources/ob30/bit-string-list/testlist"
    ]


def test_status_list_with_a_broken_signature_is_not_trusted() -> None:
    list_credential = load_json(SAMPLES + "bit-string-list/testlist")
    # An attacker "un-revokes" index 23 by swapping in a list with no bit set.
    from issuer.core.status_list import Bitstring, encode_list

    list_credential["credentialSubject"]["encodedList"] = encode_list(Bitstring())
    report = _verify(BITSTRING_SAMPLES[0], status_fetcher=lambda url: list_credential)
    status = next(c for c in report.checks if c.name.startswith("status"))
    # The credential is genuine; its status cannot be established: never "valid", and not
    # "not genuine" either (that verdict is for a credential whose own signature fails).
    assert status.ok is None
    assert "not validly signed" in status.message
    assert report.verdict == "unverifiable"


def test_report_is_json_serializable() -> None:
    report = _verify("simple.json")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verified"] is True
    assert {c["name"] for c in data["checks"]} >= {"format", "schema", "terms", "proof", "issuer"}
    assert data["credential"]["issuer"]["id"] == "https://example.com/issuers/876543"
