"""Cross-implementation tests: Merkki against the Digital Bazaar JavaScript VC stack.

The JavaScript side (``js/dbvc.mjs``, packages pinned in ``js/package.json``) signs and verifies
with ``@digitalbazaar/vc`` + ``data-integrity`` + ``eddsa-rdfc-2022-cryptosuite``, JSON-LD safe
mode on, loading only the contexts Merkki carries and the DID documents a test hands it.

Acceptance criteria covered:
1. Merkki-signed OB 3.0 credentials (did:web and did:key issuers) verify in the DB stack.
2. DB-signed OB 3.0 credentials (fresh key, did:key and did:web) pass Merkki's ``verify_proofs``.
3. Tampering after signing is caught in both directions.
4. Control characters (TAB, U+0008, the other C0 controls, DEL) canonicalize identically in both
   implementations: RDFC-1.0 §4 writes them as ECHAR/UCHAR escapes. (rdf-canonize 3.x, which
   jsonld 8.x depends on, escaped only ``" \\ LF CR`` and wrote TAB, U+0008 and the other
   controls raw, so it diverged; the pinned rdf-canonize 5.0.0 under jsonld 9.0.0 does not, and
   ``test_canonical_nquads_agree_on_control_characters`` would catch a regression.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.canonical import canonize
from issuer.core.credential import build_credential, evidence_entry, issuer_profile
from issuer.core.dataintegrity.cryptosuite import (
    hash_data,
    proof_configuration,
    serialize_proof,
    transform,
)
from issuer.core.dataintegrity.signing import sign
from issuer.core.dataintegrity.verifying import verify_proofs
from issuer.core.did import (
    did_key_for,
    did_key_verification_method,
    did_web_document,
    did_web_for,
    did_web_to_url,
    verification_method_id,
)
from issuer.core.keys import generate_private_key
from issuer.core.multikey import decode_secret_key, encode_public_key, encode_secret_key
from issuer.core.resolver import ChainResolver, DidKeyResolver, DidWebResolver
from issuer.core.status_list import (
    MIN_LIST_LENGTH,
    Bitstring,
    status_entry,
    status_list_credential,
)
from issuer.core.verifier import verify_credential
from tests.interop.dbvc import JsError, RunJs, error_text
from tests.spec_files import load_json, require_spec_dir

pytestmark = pytest.mark.interop

BASE_URL = "https://merkki.example.fi"
CREATED = "2026-01-15T08:30:00Z"
# Finnish and Swedish letters, an en dash, emoji (outside the BMP, so UTF-16 surrogate pairs in
# JavaScript), double and single quotes, backslashes and newlines.
TRICKY_NAME = "Lähihoitajan näyttö – \"Åland\" 'quoted' 🎓✨"
TRICKY_TEXT = (
    'Ääkköset ÄÖÅ äöå, "lainausmerkit", C:\\polku\\kansio, \\n ei ole rivinvaihto\n'
    "toinen rivi\r\nkolmas rivi 👩\u200d🔧 👍🏽"
)
# Every C0 control character and DEL: RDFC-1.0 §4 / RDF 1.2 N-Quads canonical form escapes
# \b \t \n \f \r with ECHAR and the rest as uppercase \uXXXX.
CONTROL_CHARACTERS = "".join(chr(code) for code in [*range(0x20), 0x7F])
RECIPIENT_SALTED = "liisa.vaatainen@example.fikQ2f-suola"


# --- credentials and keys -----------------------------------------------------------------


def ob_credential(
    issuer_did: str, *, name: str = TRICKY_NAME, text: str = TRICKY_TEXT
) -> dict[str, Any]:
    """A realistic unsigned OB 3.0 ``OpenBadgeCredential`` (VC 2.0, OB context 3.0.3)."""
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:0b8b4a3e-4a1c-4bd0-9d55-6c1f3f0a2e11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": {
            "id": issuer_did,
            "type": ["Profile"],
            "name": f"Ammattiopisto Äänekoski – {name}",
            "url": "https://www.example.fi/",
        },
        "validFrom": "2026-01-15T08:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": "Liisa Väätäinen",
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$"
                    + hashlib.sha256(RECIPIENT_SALTED.encode()).hexdigest(),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": "kQ2f-suola",  # the salt appended in RECIPIENT_SALTED
                }
            ],
            "achievement": {
                "id": "https://merkki.example.fi/achievements/lahihoitaja-naytto",
                "type": ["Achievement"],
                "name": name,
                "description": text,
                "criteria": {"narrative": text},
            },
        },
    }


def did_key_issuer(private_key: Ed25519PrivateKey) -> tuple[str, str]:
    did = did_key_for(private_key.public_key())
    return did, did_key_verification_method(did)


def did_web_issuer(private_key: Ed25519PrivateKey, slug: str) -> tuple[str, str, dict[str, Any]]:
    did = did_web_for(BASE_URL, slug)
    multibase = encode_public_key(private_key.public_key())
    return did, verification_method_id(did, multibase), did_web_document(did, [multibase])


def merkki_resolver(did_documents: dict[str, dict[str, Any]]) -> ChainResolver:
    """did:key from the key itself, did:web from the given documents (never the network)."""
    by_url = {did_web_to_url(did): document for did, document in did_documents.items()}

    def fetch(url: str) -> dict[str, Any]:
        return copy.deepcopy(by_url[url])

    return ChainResolver([DidKeyResolver(), DidWebResolver(fetch=fetch)])


def merkki_verdicts(
    credential: dict[str, Any], did_documents: dict[str, dict[str, Any]] | None = None
) -> list[tuple[bool, str]]:
    results = verify_proofs(credential, merkki_resolver(did_documents or {}))
    return [(result.ok, result.message) for result in results]


def assert_all_ok(verdicts: list[tuple[bool, str]]) -> None:
    assert verdicts, "no proof was checked"
    assert all(ok for ok, _ in verdicts), verdicts


def assert_none_ok(verdicts: list[tuple[bool, str]]) -> None:
    assert verdicts, "no proof was checked"
    assert not any(ok for ok, _ in verdicts), verdicts


def js_sign(
    dbvc: RunJs,
    credential: dict[str, Any],
    *,
    public_multibase: str,
    secret_multibase: str,
    controller: str,
    method_id: str,
) -> dict[str, Any]:
    return dbvc(
        {
            "op": "sign",
            "credential": credential,
            "created": CREATED,
            "keyPair": {
                "publicKeyMultibase": public_multibase,
                "secretKeyMultibase": secret_multibase,
                "controller": controller,
                "id": method_id,
            },
        }
    )


def js_verify(
    dbvc: RunJs, credential: dict[str, Any], did_documents: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    return dbvc({"op": "verify", "credential": credential, "didDocuments": did_documents or {}})


def only_proof(credential: dict[str, Any]) -> dict[str, Any]:
    proof = credential["proof"]
    proofs = proof if isinstance(proof, list) else [proof]
    assert len(proofs) == 1, proofs
    assert isinstance(proofs[0], dict)
    return proofs[0]


# --- the harness itself, against the W3C vc-di-eddsa test vector ------------------------------


def examples_context() -> dict[str, str]:
    path = require_spec_dir() / "contexts" / "credentials-examples-v2.jsonld"
    return {"https://www.w3.org/ns/credentials/examples/v2": str(path)}


@pytest.mark.shared
def test_js_reproduces_the_w3c_eddsa_rdfc_2022_vector(dbvc: RunJs) -> None:
    # Ed25519 signatures are deterministic, so the same key, document and `created` must give
    # exactly the proofValue in the vc-di-eddsa specification (§A.1 "Representation:
    # eddsa-rdfc-2022"): proof that the JS harness, its loader and its key handling are right.
    key_pair = load_json("vectors/vc-di-eddsa/keyPair.json")
    expected = load_json("vectors/vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json")
    did = "did:key:" + key_pair["publicKeyMultibase"]
    signed = dbvc(
        {
            "op": "sign",
            "credential": load_json("vectors/vc-di-eddsa/unsigned.json"),
            "created": expected["proof"]["created"],
            "contexts": examples_context(),
            "keyPair": {
                "publicKeyMultibase": key_pair["publicKeyMultibase"],
                "secretKeyMultibase": key_pair["privateKeyMultibase"],
                "controller": did,
                "id": expected["proof"]["verificationMethod"],
            },
        }
    )
    assert signed["proof"] == expected["proof"]


@pytest.mark.shared
def test_js_verifies_the_w3c_vector_and_rejects_it_once_altered(dbvc: RunJs) -> None:
    signed = load_json("vectors/vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json")
    request = {"op": "verify", "contexts": examples_context(), "checkIssuer": False}
    answer = dbvc({**request, "credential": signed})
    assert answer == {"verified": True, "error": None}

    altered = copy.deepcopy(signed)
    altered["credentialSubject"]["alumniOf"] = "The School of Counterexamples"
    answer = dbvc({**request, "credential": altered})
    assert answer["verified"] is False
    assert "Invalid signature" in error_text(answer)

    # @digitalbazaar/vc's default proof purpose also requires issuer == key controller; the
    # vector's issuer is an https URL, so the full check says no for that reason alone.
    answer = dbvc({"op": "verify", "contexts": examples_context(), "credential": signed})
    assert answer["verified"] is False
    assert "issuer must match the verification method controller" in error_text(answer)


def test_js_document_loader_never_goes_online(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id = did_key_issuer(private_key)
    credential = ob_credential(did)
    credential["@context"].append("https://example.com/not-carried/v1")
    with pytest.raises(JsError, match=re.escape("offline: https://example.com/not-carried/v1")):
        js_sign(
            dbvc,
            credential,
            public_multibase=encode_public_key(private_key.public_key()),
            secret_multibase=encode_secret_key(private_key),
            controller=did,
            method_id=method_id,
        )
    # A did:web whose document was not handed over cannot be resolved either.
    web_did, web_method, _ = did_web_issuer(private_key, "not-handed-over")
    signed = sign(ob_credential(web_did), private_key, web_method, created=CREATED)
    answer = js_verify(dbvc, signed)
    assert answer["verified"] is False
    assert f"not available offline: {web_method}" in error_text(answer)


def test_js_signs_and_verifies_in_jsonld_safe_mode(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id = did_key_issuer(private_key)
    keys = {
        "public_multibase": encode_public_key(private_key.public_key()),
        "secret_multibase": encode_secret_key(private_key),
        "controller": did,
        "method_id": method_id,
    }
    # An undefined term would silently drop out of the signed N-Quads without safe mode.
    undefined = ob_credential(did)
    undefined["credentialSubject"]["favouriteColour"] = "sininen"
    with pytest.raises(JsError, match="Safe mode validation error"):
        js_sign(dbvc, undefined, **keys)

    signed = js_sign(dbvc, ob_credential(did), **keys)
    signed["credentialSubject"]["favouriteColour"] = "sininen"
    answer = js_verify(dbvc, signed)
    assert answer["verified"] is False
    assert "Safe mode validation error" in error_text(answer)


# --- 1. Merkki signs, the DB stack verifies ---------------------------------------------------


def test_merkki_signed_did_web_credential_verifies_in_js(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id, document = did_web_issuer(private_key, "aanekoski")
    signed = sign(ob_credential(did), private_key, method_id, created=CREATED)
    assert only_proof(signed)["verificationMethod"] == method_id

    answer = js_verify(dbvc, signed, {did: document})
    assert answer == {"verified": True, "error": None}, error_text(answer)


def test_merkki_signed_did_key_credential_verifies_in_js(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id = did_key_issuer(private_key)
    signed = sign(ob_credential(did), private_key, method_id)

    # No DID document is handed over: the JS side derives the did:key document itself.
    answer = js_verify(dbvc, signed)
    assert answer == {"verified": True, "error": None}, error_text(answer)


def test_credential_signed_with_a_retired_did_web_key_still_verifies_in_js(dbvc: RunJs) -> None:
    old_key, new_key = generate_private_key(), generate_private_key()
    did, old_method, _ = did_web_issuer(old_key, "rotated")
    signed = sign(ob_credential(did), old_key, old_method, created=CREATED)
    document = did_web_document(
        did,
        [encode_public_key(new_key.public_key())],
        retired_public_keys=[encode_public_key(old_key.public_key())],
    )
    answer = js_verify(dbvc, signed, {did: document})
    assert answer == {"verified": True, "error": None}, error_text(answer)

    # Without the old key in the document (a compromised key left out) it no longer verifies.
    without_old = did_web_document(did, [encode_public_key(new_key.public_key())])
    answer = js_verify(dbvc, signed, {did: without_old})
    assert answer["verified"] is False


def test_credential_from_the_merkki_builder_verifies_in_js(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id, document = did_web_issuer(private_key, "builder")
    achievement = {
        "id": "https://merkki.example.fi/achievements/ensiapu-1",
        "type": ["Achievement"],
        "name": "Ensiapu 1 – hätäensiapu 🚑",
        "description": TRICKY_TEXT,
        "criteria": {"narrative": 'Suorittanut "EA1"-kurssin\nhyväksytysti.'},
    }
    status_url = f"{BASE_URL}/status/builder/1"
    unsigned = build_credential(
        credential_id="urn:uuid:3f1c1a52-9a0e-4f43-8f8e-0d6b1b5e7c21",
        issuer=issuer_profile(
            did=did,
            name="Äänekosken ammattiopisto",
            url="https://www.example.fi/",
            address={"addressLocality": "Äänekoski", "addressCountryCode": "FI"},
            other_identifiers=[("ext:BusinessId", "0123456-7")],
            # The institution's logo (issuer.services.institutions.logo_url): Image + caption.
            image_url=f"{BASE_URL}/catalog/institutions/builder/logo",
        ),
        achievement=achievement,
        recipient_name="Liisa Väätäinen",
        recipient_email="Liisa.Vaatainen@Example.fi",
        salt="c2FsdC1zdW9sYQ",
        valid_from=datetime(2026, 1, 15, 8, 0, tzinfo=UTC),
        valid_until=datetime(2031, 1, 15, 8, 0, tzinfo=UTC),
        credential_status=status_entry(status_url, 4711, "revocation"),
        evidence=[evidence_entry(narrative='Näyttö 12.1.2026\n\t– arvioija: "Matti"')],
        activity_start="2026-01-12",
        activity_end="2026-01-14",
        credits_earned=2.5,
    )
    assert "credentialStatus" in unsigned
    signed = sign(unsigned, private_key, method_id, created=CREATED)
    # The signature covers credentialStatus; only the JS stack's status lookup is skipped.
    request = {"op": "verify", "credential": signed, "didDocuments": {did: document}}
    answer = dbvc({**request, "ignoreStatus": True})
    assert answer == {"verified": True, "error": None}, error_text(answer)

    # The status list credential the entry points to is signed by Merkki as well.
    list_credential = status_list_credential(
        status_url, did, "revocation", Bitstring(MIN_LIST_LENGTH), "2026-01-15T08:00:00Z"
    )
    signed_list = sign(list_credential, private_key, method_id, created=CREATED)
    answer = js_verify(dbvc, signed_list, {did: document})
    assert answer == {"verified": True, "error": None}, error_text(answer)


# --- 2. The DB stack signs, Merkki verifies ----------------------------------------------------


def js_key(dbvc: RunJs) -> dict[str, str]:
    """A fresh Ed25519 key generated by @digitalbazaar/ed25519-multikey."""
    key = dbvc({"op": "generate"})
    assert key["publicKeyMultibase"].startswith("z6Mk")
    assert key["secretKeyMultibase"].startswith("z3u2")
    return key


def test_js_generated_multikey_pair_decodes_in_merkki(dbvc: RunJs) -> None:
    key = js_key(dbvc)
    private_key = decode_secret_key(key["secretKeyMultibase"])
    assert encode_public_key(private_key.public_key()) == key["publicKeyMultibase"]
    assert encode_secret_key(private_key) == key["secretKeyMultibase"]


def test_js_signed_did_key_credential_verifies_in_merkki(dbvc: RunJs) -> None:
    key = js_key(dbvc)
    did = "did:key:" + key["publicKeyMultibase"]
    method_id = did_key_verification_method(did)
    signed = js_sign(
        dbvc,
        ob_credential(did),
        public_multibase=key["publicKeyMultibase"],
        secret_multibase=key["secretKeyMultibase"],
        controller=did,
        method_id=method_id,
    )
    proof = only_proof(signed)
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"] == method_id

    verdicts = merkki_verdicts(signed)
    assert_all_ok(verdicts)


def test_js_signed_did_web_credential_verifies_in_merkki(dbvc: RunJs) -> None:
    key = js_key(dbvc)
    did = did_web_for(BASE_URL, "js-signed")
    method_id = verification_method_id(did, key["publicKeyMultibase"])
    document = did_web_document(did, [key["publicKeyMultibase"]])
    signed = js_sign(
        dbvc,
        ob_credential(did),
        public_multibase=key["publicKeyMultibase"],
        secret_multibase=key["secretKeyMultibase"],
        controller=did,
        method_id=method_id,
    )
    verdicts = merkki_verdicts(signed, {did: document})
    assert_all_ok(verdicts)
    # Merkki's full verification (schema, terms, proof, issuer = key controller, validity)
    # accepts it too.
    report = verify_credential(signed, resolver=merkki_resolver({did: document}))
    assert report.verdict == "valid", report.to_dict()["checks"]
    # And the JS stack agrees with itself on the same document.
    assert js_verify(dbvc, signed, {did: document})["verified"] is True


# --- 3. Tampering is caught in both directions -------------------------------------------------


def _change_achievement_description(credential: dict[str, Any]) -> None:
    credential["credentialSubject"]["achievement"]["description"] += "!"


def _change_issuer_name(credential: dict[str, Any]) -> None:
    credential["issuer"]["name"] = credential["issuer"]["name"].replace("Ä", "A", 1)


def _change_recipient_hash(credential: dict[str, Any]) -> None:
    identity = credential["credentialSubject"]["identifier"][0]
    identity["identityHash"] = identity["identityHash"][:-1] + "0"


def _extend_validity(credential: dict[str, Any]) -> None:
    credential["validFrom"] = "2025-01-15T08:00:00Z"


def _change_proof_created(credential: dict[str, Any]) -> None:
    only_proof(credential)["created"] = "2026-01-15T08:30:01Z"


TAMPERINGS: list[Callable[[dict[str, Any]], None]] = [
    _change_achievement_description,
    _change_issuer_name,
    _change_recipient_hash,
    _extend_validity,
    _change_proof_created,
]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda tamper: tamper.__name__.lstrip("_"))
def test_tampered_merkki_credential_fails_in_js(
    dbvc: RunJs, tamper: Callable[[dict[str, Any]], None]
) -> None:
    private_key = generate_private_key()
    did, method_id, document = did_web_issuer(private_key, "tamper")
    signed = sign(ob_credential(did), private_key, method_id, created=CREATED)
    assert js_verify(dbvc, signed, {did: document})["verified"] is True

    tampered = copy.deepcopy(signed)
    tamper(tampered)
    answer = js_verify(dbvc, tampered, {did: document})
    assert answer["verified"] is False
    assert "Invalid signature" in error_text(answer)


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda tamper: tamper.__name__.lstrip("_"))
def test_tampered_js_credential_fails_in_merkki(
    dbvc: RunJs, tamper: Callable[[dict[str, Any]], None]
) -> None:
    key = js_key(dbvc)
    did = "did:key:" + key["publicKeyMultibase"]
    signed = js_sign(
        dbvc,
        ob_credential(did),
        public_multibase=key["publicKeyMultibase"],
        secret_multibase=key["secretKeyMultibase"],
        controller=did,
        method_id=did_key_verification_method(did),
    )
    assert_all_ok(merkki_verdicts(signed))

    tampered = copy.deepcopy(signed)
    tamper(tampered)
    verdicts = merkki_verdicts(tampered)
    assert_none_ok(verdicts)


def test_signature_from_another_key_fails_in_both_directions(dbvc: RunJs) -> None:
    # A proof that names the issuer's key but was made with a different one. Merkki's `sign`
    # refuses to do that, so the forgery is assembled from the cryptosuite steps (§3.3).
    issuer_key, other_key = generate_private_key(), generate_private_key()
    did, method_id = did_key_issuer(issuer_key)
    credential = ob_credential(did)
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": CREATED,
        "verificationMethod": method_id,
        "proofPurpose": "assertionMethod",
    }
    digest = hash_data(proof_configuration(options, credential["@context"]), transform(credential))
    forged = {
        **credential,
        "proof": [{**options, "proofValue": serialize_proof(digest, other_key)}],
    }
    answer = js_verify(dbvc, forged)
    assert answer["verified"] is False
    assert "Invalid signature" in error_text(answer)
    # The same steps with the right key give a proof the JS stack accepts: the forgery failed
    # only because of the key.
    genuine = {
        **credential,
        "proof": [{**options, "proofValue": serialize_proof(digest, issuer_key)}],
    }
    assert js_verify(dbvc, genuine)["verified"] is True

    forged_in_js = js_sign(
        dbvc,
        credential,
        public_multibase=encode_public_key(issuer_key.public_key()),
        secret_multibase=encode_secret_key(other_key),
        controller=did,
        method_id=method_id,
    )
    assert_none_ok(merkki_verdicts(forged_in_js))


# --- 4. Control characters ---------------------------------------------------------------------


def control_character_credential(issuer_did: str) -> dict[str, Any]:
    """Control characters in named-node literals and in blank-node literals (whose N-Quads
    serialization also feeds RDFC-1.0's blank-node hashing, §4.6/§4.8)."""
    credential = ob_credential(
        issuer_did,
        name="Sarkain\there, askelpalautin\b, NUL\x00, DEL\x7f, US\x1f",
        text=f"kaikki: {CONTROL_CHARACTERS} loppu",
    )
    credential["credentialSubject"]["identifier"][0]["salt"] = f"suola\t\b{CONTROL_CHARACTERS}"
    return credential


def test_canonical_nquads_agree_on_control_characters(dbvc: RunJs) -> None:
    # No divergence with the pinned rdf-canonize 5.0.0: both escape \b \t \n \f \r " \\ with
    # ECHAR and every other C0 control and DEL as uppercase \uXXXX (RDFC-1.0 §4 -> RDF 1.2
    # N-Quads canonical form). If a future JS release diverged, this would fail with the lines.
    document = control_character_credential(
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    )
    merkki_nquads = canonize(document)
    js_nquads = dbvc({"op": "canonize", "document": document})["nquads"]
    assert js_nquads.splitlines() == merkki_nquads.splitlines()
    assert js_nquads == merkki_nquads

    # Make sure the characters really went through, escaped as the specification says.
    for escaped in ("\\t", "\\b", "\\n", "\\f", "\\r", "\\u0000", "\\u000B", "\\u001F", "\\u007F"):
        assert escaped in merkki_nquads, escaped
    assert not any(character in merkki_nquads.replace("\n", "") for character in CONTROL_CHARACTERS)
    # Each quad ends its own line: no raw newline inside a literal.
    assert all(line.endswith(" .") for line in merkki_nquads.splitlines())


def test_control_characters_sign_and_verify_in_both_directions(dbvc: RunJs) -> None:
    private_key = generate_private_key()
    did, method_id = did_key_issuer(private_key)
    credential = control_character_credential(did)

    merkki_signed = sign(credential, private_key, method_id, created=CREATED)
    answer = js_verify(dbvc, merkki_signed)
    assert answer == {"verified": True, "error": None}, error_text(answer)

    js_signed = js_sign(
        dbvc,
        credential,
        public_multibase=encode_public_key(private_key.public_key()),
        secret_multibase=encode_secret_key(private_key),
        controller=did,
        method_id=method_id,
    )
    verdicts = merkki_verdicts(js_signed)
    assert_all_ok(verdicts)
    # Same key, document and `created`, deterministic Ed25519: the two proofs are identical.
    assert only_proof(js_signed)["proofValue"] == only_proof(merkki_signed)["proofValue"]
    # The JSON strings survived the trip through node unchanged.
    assert json.dumps(js_signed["name"]) == json.dumps(credential["name"])
