"""Data Integrity proofs on Open Badges credentials: signing, verifying, tampering, hostile input.

Uses only the contexts Merkki carries (VC 2.0 + OB 3.0.3), so every term is defined and the
undefined-term guard is on throughout.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.canonical import canonize
from issuer.core.dataintegrity.cryptosuite import (
    decode_proof_value,
    hash_data,
    parse_xsd_datetime,
    proof_configuration,
    serialize_proof,
    transform,
    verify_signature,
)
from issuer.core.dataintegrity.signing import create_proof, sign
from issuer.core.dataintegrity.verifying import ProofResult, verify_proofs
from issuer.core.did import (
    did_key_for,
    did_key_verification_method,
    did_web_document,
    did_web_for,
    did_web_to_url,
    verification_method_id,
)
from issuer.core.errors import ProofError, UndefinedTermError
from issuer.core.multikey import encode_public_key
from issuer.core.resolver import ChainResolver, DidKeyResolver, DidWebResolver, standard_resolver

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
ED25519_2020 = "https://w3id.org/security/suites/ed25519-2020/v1"
CREATED = "2026-01-15T08:30:00Z"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
DID = did_key_for(KEY.public_key())
METHOD = did_key_verification_method(DID)
OTHER_METHOD = did_key_verification_method(did_key_for(OTHER_KEY.public_key()))
RESOLVER = standard_resolver()


def credential(issuer_id: str = DID, name: str = "Ennakointiosaaminen") -> dict[str, Any]:
    """A small but complete OB 3.0 OpenBadgeCredential."""
    return {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:7a1e2b7c-1d2f-4c1e-9a43-0c9d7a1b2c3d",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": "Hämeen ammattikorkeakoulu"},
        "validFrom": "2026-01-15T00:00:00Z",
        "name": name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "hashed": False,
                    "identityHash": "liisa@example.fi",
                    "identityType": "emailAddress",
                }
            ],
            "achievement": {
                "id": "https://merkki.example.fi/achievements/ennakointi",
                "type": ["Achievement"],
                "name": name,
                "description": "Osaa ennakoida toimialan muutoksia.",
                "criteria": {"narrative": "Suorittanut moduulin."},
            },
        },
    }


def only(results: list[ProofResult]) -> ProofResult:
    assert len(results) == 1, results
    return results[0]


# --- signing -------------------------------------------------------------------------------


def test_sign_and_verify() -> None:
    unsigned = credential()
    signed = sign(unsigned, KEY, METHOD, created=CREATED)
    assert "proof" not in unsigned  # a new document; the input is not changed
    assert isinstance(signed["proof"], list)
    (proof,) = signed["proof"]
    assert list(proof) == [
        "type",
        "cryptosuite",
        "created",
        "verificationMethod",
        "proofPurpose",
        "proofValue",
    ]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["created"] == CREATED
    result = only(verify_proofs(signed, RESOLVER))
    assert result.ok, result.message
    assert result.controller == DID
    assert result.verification_method == METHOD
    assert result.proof_type == "DataIntegrityProof"
    assert result.cryptosuite == "eddsa-rdfc-2022"


def test_created_defaults_to_now_in_utc_seconds() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    proof = create_proof(credential(), KEY, METHOD)
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", proof["created"])
    assert before <= parse_xsd_datetime(proof["created"]) <= after


def test_signing_is_deterministic_and_matches_the_steps() -> None:
    document = credential()
    proof = create_proof(document, KEY, METHOD, created=CREATED)
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    data = hash_data(proof_configuration(options, document["@context"]), transform(document))
    assert proof["proofValue"] == serialize_proof(data, KEY)
    assert create_proof(document, KEY, METHOD, created=CREATED) == proof
    assert verify_signature(data, proof["proofValue"], KEY.public_key())
    assert not verify_signature(data, proof["proofValue"], OTHER_KEY.public_key())
    assert not verify_signature(data[::-1], proof["proofValue"], KEY.public_key())


def test_hash_data_puts_the_proof_hash_first() -> None:
    import hashlib

    data = hash_data("proof", "document")
    assert data == hashlib.sha256(b"proof").digest() + hashlib.sha256(b"document").digest()


def test_proof_set_each_proof_covers_the_document_without_proofs() -> None:
    once = sign(credential(), KEY, METHOD, created=CREATED)
    twice = sign(once, OTHER_KEY, OTHER_METHOD, created=CREATED)
    assert [proof["verificationMethod"] for proof in twice["proof"]] == [METHOD, OTHER_METHOD]
    assert [result.ok for result in verify_proofs(twice, RESOLVER)] == [True, True]
    # Independent: the second proof stays valid without the first, and equals a lone signature.
    alone = {**twice, "proof": [twice["proof"][1]]}
    assert only(verify_proofs(alone, RESOLVER)).ok
    assert twice["proof"][1] == create_proof(credential(), OTHER_KEY, OTHER_METHOD, created=CREATED)
    assert once["proof"] == [twice["proof"][0]]  # sign did not change its input


def test_proof_chain_covers_the_previous_proof() -> None:
    first = sign(credential(), KEY, METHOD, created=CREATED, proof_id="urn:uuid:first")
    chained = sign(first, OTHER_KEY, OTHER_METHOD, created=CREATED, previous_proof="urn:uuid:first")
    assert chained["proof"][1]["previousProof"] == "urn:uuid:first"
    assert [result.ok for result in verify_proofs(chained, RESOLVER)] == [True, True]
    with pytest.raises(ProofError, match="previousProof 'urn:uuid:none'"):
        sign(first, OTHER_KEY, OTHER_METHOD, previous_proof="urn:uuid:none")


def test_a_single_proof_object_is_accepted_when_verifying() -> None:
    signed = sign(credential(), KEY, METHOD, created=CREATED)
    single = {**signed, "proof": signed["proof"][0]}
    assert only(verify_proofs(single, RESOLVER)).ok
    # and it is kept (as an array) when another proof is added
    again = sign(single, OTHER_KEY, OTHER_METHOD, created=CREATED)
    assert [result.ok for result in verify_proofs(again, RESOLVER)] == [True, True]


def test_signing_with_did_web_and_key_rotation() -> None:
    did = did_web_for("https://merkki.example.fi", "hamk")
    old = encode_public_key(KEY.public_key())
    new = encode_public_key(OTHER_KEY.public_key())
    signed = sign(credential(did), KEY, verification_method_id(did, old), created=CREATED)

    def resolver(document: dict[str, Any]) -> ChainResolver:
        documents = {did_web_to_url(did): document}
        return ChainResolver([DidKeyResolver(), DidWebResolver(documents.__getitem__)])

    active = resolver(did_web_document(did, [old]))
    result = only(verify_proofs(signed, active))
    assert result.ok
    assert result.controller == did
    retired = resolver(did_web_document(did, [new], [old]))
    assert only(verify_proofs(signed, retired)).ok
    compromised = resolver(did_web_document(did, [new]))
    result = only(verify_proofs(signed, compromised))
    assert not result.ok
    assert "is not in the DID document" in result.message


# --- refusing to sign ----------------------------------------------------------------------


def test_undefined_property_is_refused_by_name() -> None:
    document = credential()
    document["favouriteColour"] = "sininen"
    document["credentialSubject"]["achievement"]["hoursSpent"] = 27
    with pytest.raises(UndefinedTermError) as caught:
        sign(document, KEY, METHOD)
    assert sorted(caught.value.terms) == ["favouriteColour", "hoursSpent"]
    assert "favouriteColour" in caught.value.message


def test_undefined_type_is_refused_by_name() -> None:
    document = credential()
    document["type"].append("MicroCredentialBadge")
    with pytest.raises(UndefinedTermError, match="MicroCredentialBadge"):
        create_proof(document, KEY, METHOD)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("@context"), "no @context"),
        (lambda d: d.update(proof="not a proof"), "existing proof"),
    ],
)
def test_malformed_documents_are_refused(change: Callable[[Any], Any], message: str) -> None:
    document = credential()
    change(document)
    with pytest.raises(ProofError, match=message):
        sign(document, KEY, METHOD)


def test_refuses_a_verification_method_naming_another_key() -> None:
    with pytest.raises(ProofError, match="names another key"):
        create_proof(credential(), KEY, OTHER_METHOD)
    fragment_form = "https://merkki.example.fi/issuers/x#" + encode_public_key(
        OTHER_KEY.public_key()
    )
    with pytest.raises(ProofError, match="names another key"):
        create_proof(credential(), KEY, fragment_form)


@pytest.mark.parametrize("method", ["", "key-1", "#z6Mk", "has space:x", None])
def test_refuses_a_relative_verification_method(method: Any) -> None:
    with pytest.raises(ProofError, match="not an absolute IRI"):
        create_proof(credential(), KEY, method)


@pytest.mark.parametrize("created", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-15", ""])
def test_refuses_an_invalid_created(created: str) -> None:
    with pytest.raises(ProofError, match="created"):
        create_proof(credential(), KEY, METHOD, created=created)


def test_refuses_a_non_ed25519_key() -> None:
    with pytest.raises(ProofError, match="Ed25519 private key"):
        create_proof(credential(), "secret", METHOD)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"}, "unsupported crypto"),
        ({"type": "DataIntegrityProof"}, "unsupported cryptosuite None"),
        ({"type": "Ed25519Signature2018"}, "unsupported proof type"),
        ({"type": "Ed25519Signature2020", "cryptosuite": "eddsa-rdfc-2022"}, "no cryptosuite"),
        ({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "x"}, "xsd"),
    ],
)
def test_proof_configuration_validates(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        proof_configuration(options, [VC_V2])


def test_proof_configuration_drops_the_proof_value_and_uses_the_document_context() -> None:
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": CREATED,
        "verificationMethod": METHOD,
        "proofPurpose": "assertionMethod",
    }
    with_value = {**options, "proofValue": "z123"}
    assert proof_configuration(with_value, [VC_V2, OB_V3]) == proof_configuration(
        options, [VC_V2, OB_V3]
    )
    assert "z123" not in proof_configuration(with_value, [VC_V2])
    assert proof_configuration(options, [VC_V2]) == canonize({"@context": [VC_V2], **options})


# --- tampering -----------------------------------------------------------------------------


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "name": (_set(["name"], "Ennakointiosaaminen (ylempi)"), "signature does not match"),
    "achievement name": (
        _set(["credentialSubject", "achievement", "name"], "Toinen"),
        "signature does not match",
    ),
    "validFrom": (_set(["validFrom"], "2025-01-15T00:00:00Z"), "signature does not match"),
    "issuer id": (
        _set(["issuer", "id"], "did:web:evil.example:issuers:x"),
        "signature does not match",
    ),
    "issuer name": (_set(["issuer", "name"], "Huijari Oy"), "signature does not match"),
    "recipient": (
        _set(["credentialSubject", "identifier", 0, "identityHash"], "mallory@example.fi"),
        "signature does not match",
    ),
    "type": (_set(["type"], ["VerifiableCredential"]), "signature does not match"),
    "proof created": (_set(["proof", 0, "created"], "2026-01-15T08:30:01Z"), "does not match"),
    "verificationMethod to another key": (
        _set(["proof", 0, "verificationMethod"], OTHER_METHOD),
        "signature does not match",
    ),
    "verificationMethod to an unknown key": (
        _set(["proof", 0, "verificationMethod"], "did:key:z6MkXXXX"),
        "does not hold an Ed25519 key",
    ),
    "proofValue": (
        _set(["proof", 0, "proofValue"], serialize_proof(b"other data", KEY)),
        "signature does not match",
    ),
    "added property": (_set(["description"], "Lisätty jälkikäteen"), "signature does not match"),
    "added undefined property": (_set(["bonus"], 1), "not defined by any @context: bonus"),
    "proof purpose": (
        _set(["proof", 0, "proofPurpose"], "authentication"),
        "proof purpose 'authentication' does not match the expected 'assertionMethod'",
    ),
    "cryptosuite": (
        _set(["proof", 0, "cryptosuite"], "eddsa-jcs-2022"),
        "unsupported cryptosuite 'eddsa-jcs-2022'",
    ),
}


@pytest.mark.parametrize("field", sorted(TAMPERING))
def test_tampering_is_detected(field: str) -> None:
    change, message = TAMPERING[field]
    signed = sign(credential(), KEY, METHOD, created=CREATED)
    assert only(verify_proofs(signed, RESOLVER)).ok
    tampered = copy.deepcopy(signed)
    change(tampered)
    result = only(verify_proofs(tampered, RESOLVER))
    assert not result.ok
    assert message in result.message, result.message


def test_undefined_term_in_the_proof_is_reported() -> None:
    signed = sign(credential(), KEY, METHOD, created=CREATED)
    signed["proof"][0]["comment"] = "ignored by canonicalization"
    result = only(verify_proofs(signed, RESOLVER))
    assert not result.ok
    assert "proof uses terms not defined by any @context: comment" in result.message


def test_expected_purpose_must_be_authorized() -> None:
    signed = sign(credential(), KEY, METHOD, created=CREATED)
    result = only(verify_proofs(signed, RESOLVER, expected_purpose="authentication"))
    assert not result.ok
    assert "does not match the expected 'authentication'" in result.message


def test_fragment_key_is_not_authorized_for_other_purposes() -> None:
    method = "https://merkki.example.fi/issuers/x#" + encode_public_key(KEY.public_key())
    document = credential("https://merkki.example.fi/issuers/x")
    proof = create_proof(document, KEY, method, created=CREATED, proof_purpose="authentication")
    result = only(
        verify_proofs({**document, "proof": [proof]}, RESOLVER, expected_purpose="authentication")
    )
    assert not result.ok
    assert "not authorized for authentication" in result.message


def test_expired_proof_fails() -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for expires, ok in ((past, False), (future, True)):
        document = credential()
        options = {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": CREATED,
            "expires": expires,
            "verificationMethod": METHOD,
            "proofPurpose": "assertionMethod",
        }
        data = hash_data(proof_configuration(options, document["@context"]), transform(document))
        proof = {**options, "proofValue": serialize_proof(data, KEY)}
        result = only(verify_proofs({**document, "proof": proof}, RESOLVER))
        assert result.ok is ok, result.message
        if not ok:
            assert "proof expired" in result.message


def test_proof_context_must_match_the_document() -> None:
    signed = sign(credential(), KEY, METHOD, created=CREATED)
    same = copy.deepcopy(signed)
    same["proof"][0]["@context"] = [VC_V2, OB_V3]
    assert only(verify_proofs(same, RESOLVER)).ok
    shorter = copy.deepcopy(signed)
    shorter["proof"][0]["@context"] = VC_V2
    result = only(verify_proofs(shorter, RESOLVER))
    assert not result.ok
    assert "@context differs" in result.message


# --- Ed25519Signature2020 (verification only) ----------------------------------------------


def test_legacy_ed25519_signature_2020_verifies() -> None:
    document = credential()
    document["@context"].append(ED25519_2020)
    options = {
        "type": "Ed25519Signature2020",
        "created": CREATED,
        "verificationMethod": METHOD,
        "proofPurpose": "assertionMethod",
    }
    data = hash_data(proof_configuration(options, document["@context"]), transform(document))
    signed = {**document, "proof": {**options, "proofValue": serialize_proof(data, KEY)}}
    result = only(verify_proofs(signed, RESOLVER))
    assert result.ok, result.message
    assert result.proof_type == "Ed25519Signature2020"
    assert result.cryptosuite is None
    signed["name"] = "Muutettu"
    assert "signature does not match" in only(verify_proofs(signed, RESOLVER)).message


# --- characters ----------------------------------------------------------------------------

TRICKY_NAMES = [
    "Ääkköset äöå ÄÖÅ",
    "Emoji 🎓✨👩\u200d🔧 👍🏽",
    "Quotes \"double\" and 'single'",
    "Back\\slash C:\\polku\\",
    "Line\nbreak\r\nand\ttab",
    "Controls \b \f \x00 \x01 \x0b \x0e \x1f \x7f end",
    'Mixed: "ä"\\\n\t😀\x00',
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_tricky_characters_sign_and_verify(name: str) -> None:
    signed = sign(credential(name=name), KEY, METHOD, created=CREATED)
    assert only(verify_proofs(signed, RESOLVER)).ok
    changed = copy.deepcopy(signed)
    changed["name"] = name + " "
    assert not only(verify_proofs(changed, RESOLVER)).ok


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("ä ö å Ä Ö Å", "ä ö å Ä Ö Å"),
        ("🎓", "🎓"),
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\dir", "C:\\\\dir"),
        ("a\nb", "a\\nb"),
        ("a\tb", "a\\tb"),
        ("a\rb", "a\\rb"),
        ("a\bb", "a\\bb"),
        ("a\fb", "a\\fb"),
        ("a\x00b", "a\\u0000b"),
        ("a\x01b", "a\\u0001b"),
        ("a\x0bb", "a\\u000Bb"),
        ("a\x1fb", "a\\u001Fb"),
        ("a\x7fb", "a\\u007Fb"),
        ("a\x80b\u2028c", "a\x80b\u2028c"),
    ],
)
def test_canonical_nquads_escape_as_rdfc_says(value: str, escaped: str) -> None:
    nquads = transform(credential(name=value))
    expected = (
        f'<urn:uuid:7a1e2b7c-1d2f-4c1e-9a43-0c9d7a1b2c3d> <https://schema.org/name> "{escaped}" .\n'
    )
    assert expected in nquads


# --- never raising -------------------------------------------------------------------------


def _signed() -> dict[str, Any]:
    return sign(credential(), KEY, METHOD, created=CREATED)


def _with_proof(**changes: Any) -> dict[str, Any]:
    signed = _signed()
    signed["proof"][0].update(changes)
    return signed


def _deep() -> dict[str, Any]:
    signed = _signed()
    node: dict[str, Any] = {"name": "x"}
    for _ in range(500):
        node = {"description": node}
    signed["credentialSubject"]["achievement"]["criteria"] = node
    return signed


def _without_proof_field(field: str) -> dict[str, Any]:
    signed = _signed()
    del signed["proof"][0][field]
    return signed


GARBAGE: dict[str, tuple[Any, str]] = {
    "None": (None, "not a JSON object"),
    "list": ([1, 2], "not a JSON object"),
    "string": ("{}", "not a JSON object"),
    "no proof": (credential(), "has no proof"),
    "empty proof list": ({**credential(), "proof": []}, "has no proof"),
    "proof is a string": ({**credential(), "proof": "abc"}, "proof is not a JSON object"),
    "proof list of junk": ({**credential(), "proof": [1, None]}, "proof is not a JSON object"),
    "context is a number": ({**_signed(), "@context": 5}, "not valid JSON-LD"),
    "unknown context": (
        {**_signed(), "@context": [VC_V2, "https://evil.example/ctx.jsonld"]},
        "not available offline: https://evil.example/ctx.jsonld",
    ),
    "no context": ({k: v for k, v in _signed().items() if k != "@context"}, "@context"),
    "deep nesting": (_deep(), "nesting deeper"),
    "proofValue number": (_with_proof(proofValue=123), "no proofValue"),
    "proofValue missing": (_without_proof_field("proofValue"), "no proofValue"),
    "proofValue not base58": (_with_proof(proofValue="z0OIl"), "not valid base58btc"),
    "proofValue base64url": (_with_proof(proofValue="uAAAA"), "multibase prefix 'z'"),
    "proofValue short": (_with_proof(proofValue="z2222"), "an Ed25519 signature has 64"),
    "proofValue huge": (_with_proof(proofValue="z" + "2" * 10_000), "too long"),
    "type list": (_with_proof(type=["DataIntegrityProof"]), "unsupported proof type"),
    "type missing": (_without_proof_field("type"), "unsupported proof type None"),
    "cryptosuite object": (_with_proof(cryptosuite={"a": 1}), "unsupported cryptosuite"),
    "purpose missing": (_without_proof_field("proofPurpose"), "proof purpose None"),
    "method missing": (_without_proof_field("verificationMethod"), "no verificationMethod"),
    "method number": (_with_proof(verificationMethod=7), "no verificationMethod"),
    "method unknown scheme": (
        _with_proof(verificationMethod="urn:key:1"),
        "unsupported verification method 'urn:key:1'",
    ),
    "method did:web unknown": (
        _with_proof(verificationMethod="did:web:example.com#k"),
        "unsupported verification method",
    ),
    "created garbage": (_with_proof(created="yesterday"), "created 'yesterday' is not an xsd"),
    "created number": (_with_proof(created=20260115), "is not an xsd:dateTime"),
    "expires garbage": (_with_proof(expires="soon"), "expires 'soon'"),
    "previousProof number": (_with_proof(previousProof=5), "previousProof must be"),
    "previousProof missing": (_with_proof(previousProof="urn:x"), "previousProof 'urn:x'"),
    "proof context garbage": (_with_proof(**{"@context": 5}), "@context differs"),
    "non-JSON value": ({**_signed(), "name": {1, 2}}, "not JSON serializable"),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_verify_never_raises(case: str) -> None:
    document, message = GARBAGE[case]
    results = verify_proofs(document, RESOLVER)
    assert results, "at least one result"
    assert all(isinstance(result, ProofResult) and not result.ok for result in results)
    assert any(message in result.message for result in results), results


def test_verify_survives_a_broken_resolver() -> None:
    class Broken:
        def resolve(self, method_id: str) -> Any:
            raise RuntimeError("database is down")

    result = only(verify_proofs(_signed(), Broken()))
    assert not result.ok
    assert "RuntimeError: database is down" in result.message


def test_decode_proof_value() -> None:
    signature = KEY.sign(b"x")
    assert decode_proof_value(serialize_proof(b"x", KEY)) == signature
    with pytest.raises(ProofError, match="not valid base58btc"):
        verify_signature(b"x", "z0", KEY.public_key())


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-01-15T08:30:00Z", "2026-01-15T08:30:00+00:00"),
        ("2026-01-15T08:30:00.123Z", "2026-01-15T08:30:00+00:00"),
        ("2026-01-15T10:30:00+02:00", "2026-01-15T10:30:00+02:00"),
        ("2026-01-15T08:30:00", "2026-01-15T08:30:00+00:00"),
    ],
)
def test_parse_xsd_datetime(value: str, iso: str) -> None:
    assert parse_xsd_datetime(value).isoformat() == iso


@pytest.mark.parametrize(
    "value", ["2026-02-30T00:00:00Z", "2026-01-15 08:30:00Z", "2026-01-15T25:00:00Z", "x", 5]
)
def test_parse_xsd_datetime_errors(value: Any) -> None:
    with pytest.raises(ProofError):
        parse_xsd_datetime(value)


# --- presentations: challenge and domain (VC Data Integrity §4.3) ------------------------------


def _authentication_proof(challenge: str | None, domain: str | None) -> tuple[Any, str]:
    from issuer.core.contexts import VC_V2
    from issuer.core.dataintegrity.cryptosuite import (
        hash_data,
        proof_configuration,
        serialize_proof,
        transform,
    )
    from issuer.core.did import did_key_for

    key = Ed25519PrivateKey.generate()
    did = did_key_for(key.public_key())
    vp: dict[str, Any] = {
        "@context": [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": did,
    }
    options: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "authentication",
    }
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    config = proof_configuration(options, vp["@context"])
    value = serialize_proof(hash_data(config, transform(vp)), key)
    return {**vp, "proof": {**options, "proofValue": value}}, did


@pytest.mark.parametrize(
    ("challenge", "domain", "ok", "words"),
    [
        ("c-1", "verifier.example", True, ""),
        ("c-2", "verifier.example", False, "challenge"),
        ("c-1", "evil.example", False, "domain"),
        (None, None, True, ""),  # nothing asked: nothing bound
    ],
)
def test_authentication_proof_binds_challenge_and_domain(
    challenge: str | None, domain: str | None, ok: bool, words: str
) -> None:
    vp, did = _authentication_proof("c-1", "verifier.example")
    (result,) = verify_proofs(
        vp,
        standard_resolver(),
        expected_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
    assert result.ok is ok, result
    assert words in result.message
    if ok:
        assert result.controller == did


def test_proof_without_a_challenge_fails_when_one_is_expected() -> None:
    vp, _ = _authentication_proof(None, None)
    (result,) = verify_proofs(
        vp, standard_resolver(), expected_purpose="authentication", challenge="c-1"
    )
    assert not result.ok
    assert "challenge None" in result.message
