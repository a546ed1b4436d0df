"""Creating Data Integrity proofs: ``create_proof`` and ``sign``.

``create_proof``/``sign`` implement VC-DI-EDDSA v1.0 §3.3.1 "Create Proof" and VC Data
Integrity §4.2/§4.3 ("Add Proof", "Add Proof Set/Chain") with the steps of ``cryptosuite``.
Only ``eddsa-rdfc-2022`` proofs are produced.
"""

from __future__ import annotations

import copy
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.canonical import assert_all_terms_defined, canonize_and_find_undefined_terms
from issuer.core.contexts import DocumentLoader
from issuer.core.dataintegrity.cryptosuite import (
    ASSERTION_METHOD,
    DATA_INTEGRITY_PROOF,
    EDDSA_RDFC_2022,
    JsonObject,
    hash_data,
    proof_configuration,
    proof_input,
    proof_list,
    serialize_proof,
    transform,
    utc_now_xsd,
    without,
)
from issuer.core.errors import EngineError, KeyError_, ProofError, UndefinedTermError
from issuer.core.multikey import decode_public_key, public_key_bytes

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")


def _checked_canonical(unsecured: JsonObject, loader: DocumentLoader | None) -> str:
    """§3.3.2 Transformation of a document whose terms must all be defined, in one walk.

    Raises ``UndefinedTermError`` naming the undefined terms (they would be dropped by
    canonicalization and go out unsigned). A document the one-pass walk cannot canonicalize is
    checked the two-pass way, so that undefined terms are reported before any other problem,
    exactly as before."""
    try:
        canonical, undefined = canonize_and_find_undefined_terms(unsecured, loader)
    except EngineError:
        assert_all_terms_defined(unsecured, loader)
        raise
    if undefined:
        raise UndefinedTermError(undefined)
    return canonical


def _check_document(document: object) -> JsonObject:
    if not isinstance(document, dict):
        raise ProofError("the document to sign must be a JSON object")
    if "@context" not in document:
        raise ProofError("the document to sign has no @context")
    return document


def _key_named_by(verification_method: str) -> str | None:
    """The Multikey a verification method id names by itself (did:key, ``#z6Mk...``), if any."""
    if verification_method.startswith("did:key:"):
        return verification_method[len("did:key:") :].partition("#")[0]
    _, _, fragment = verification_method.partition("#")
    return fragment if fragment.startswith("z6Mk") else None


def _check_verification_method(verification_method: object, private_key: Ed25519PrivateKey) -> str:
    if not isinstance(verification_method, str) or not _ABSOLUTE_IRI.fullmatch(verification_method):
        raise ProofError(f"verificationMethod {verification_method!r} is not an absolute IRI")
    named = _key_named_by(verification_method)
    if named is None:
        return verification_method
    try:
        named_key = decode_public_key(named)
    except KeyError_:
        return verification_method  # not a key after all: nothing to compare
    if public_key_bytes(named_key) != public_key_bytes(private_key.public_key()):
        raise ProofError(
            f"verificationMethod {verification_method!r} names another key than the one "
            "signing; the proof would never verify"
        )
    return verification_method


def _proof_options(
    verification_method: str,
    created: str | None,
    proof_purpose: str,
    proof_id: str | None,
    previous_proof: str | list[str] | None,
) -> JsonObject:
    # Key order follows the W3C test vectors; JSON key order does not affect the signature.
    options: JsonObject = {"type": DATA_INTEGRITY_PROOF}
    if proof_id is not None:
        options["id"] = proof_id
    options["cryptosuite"] = EDDSA_RDFC_2022
    options["created"] = utc_now_xsd() if created is None else created
    options["verificationMethod"] = verification_method
    options["proofPurpose"] = proof_purpose
    if previous_proof is not None:
        options["previousProof"] = previous_proof
    return options


def create_proof(
    document: JsonObject,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
    loader: DocumentLoader | None = None,
    check_terms: bool = True,
) -> JsonObject:
    """§3.3.1 Create Proof: the ``DataIntegrityProof`` object (with ``proofValue``) for
    ``document``.

    The proof covers ``document`` without its proofs (a proof set), or with the proofs named by
    ``previous_proof`` (a proof chain). ``created`` defaults to now (UTC, seconds).

    Refuses with ``UndefinedTermError``, naming them, properties and types that no @context
    defines, because canonicalization drops them silently and they would go out unsigned.
    ``check_terms=False`` skips that guard; it exists for documents whose contexts define terms
    only through ``@vocab`` (the W3C test vectors), which the guard counts as undefined.
    """
    document = _check_document(document)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ProofError("the signing key must be an Ed25519 private key")
    unsecured = without(document, "proof")
    canonical_unsecured = _checked_canonical(unsecured, loader) if check_terms else None
    _check_verification_method(verification_method, private_key)
    options = _proof_options(verification_method, created, proof_purpose, proof_id, previous_proof)
    if check_terms:
        assert_all_terms_defined({"@context": document["@context"], **options}, loader)
    input_document = proof_input(unsecured, proof_list(document), previous_proof)
    canonical_config = proof_configuration(options, document["@context"], loader)
    if canonical_unsecured is not None and input_document is unsecured:
        canonical_document = canonical_unsecured
    else:
        canonical_document = transform(input_document, loader)
    proof = dict(options)
    proof["proofValue"] = serialize_proof(
        hash_data(canonical_config, canonical_document), private_key
    )
    return proof


def sign(
    document: JsonObject,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: str | None = None,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
    loader: DocumentLoader | None = None,
    check_terms: bool = True,
) -> JsonObject:
    """A new document: ``document`` with a new ``eddsa-rdfc-2022`` proof appended to ``proof``,
    which is always emitted as an array (ob3-facts §1.1). Existing proofs are kept (a proof
    set). Raises ``UndefinedTermError`` naming undefined properties (see ``create_proof``),
    ``ProofError`` for other problems."""
    document = _check_document(document)
    existing = proof_list(document)
    if not all(isinstance(proof, dict) for proof in existing):
        raise ProofError("the document's existing proof is not a proof object or list of them")
    proof = create_proof(
        document,
        private_key,
        verification_method,
        created=created,
        proof_id=proof_id,
        previous_proof=previous_proof,
        loader=loader,
        check_terms=check_terms,
    )
    signed = copy.deepcopy(document)
    signed["proof"] = [*copy.deepcopy(existing), proof]
    return signed
