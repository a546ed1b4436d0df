"""The ``eddsa-rdfc-2022`` cryptosuite (VC-DI-EDDSA v1.0 §3.3), step by step, and what signing
and verifying share.

One function per step of the cryptosuite (section numbers of VC-DI-EDDSA v1.0):

* ``transform``           §3.3.2 Transformation: RDFC-1.0 canonical N-Quads of the document;
* ``proof_configuration`` §3.3.5 Proof Configuration: the proof options without ``proofValue``,
  with the document's ``@context``, canonicalized the same way;
* ``hash_data``           §3.3.4 Hashing: SHA-256(proof configuration) ‖ SHA-256(document);
* ``serialize_proof``     §3.3.6 Proof Serialization: Ed25519 (RFC 8032, pure) -> ``z`` + base58btc;
* ``verify_signature``    §3.3.7 Proof Verification.

Shared by ``signing`` and ``verifying``: the known proof types and suites (``check_suite``;
``Ed25519Signature2020`` proofs use the same hash construction, without a cryptosuite,
ob3-facts §2.3), xsd:dateTime values, ``proofValue`` decoding and the input document of a proof
in a set or chain (``proof_input``).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuer.core.canonical import canonize
from issuer.core.contexts import DocumentLoader
from issuer.core.errors import ProofError

DATA_INTEGRITY_PROOF = "DataIntegrityProof"
EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
ED25519_SIGNATURE_2020 = "Ed25519Signature2020"
ASSERTION_METHOD = "assertionMethod"
SIGNATURE_LENGTH = 64
_MAX_PROOF_VALUE_LENGTH = 256  # base58 of 64 bytes is at most 88 characters
_BASE58BTC = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
# XML Schema 1.1 Part 2 §3.3.7 dateTime lexical space (years limited to four digits here).
_XSD_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?"
)

JsonObject = dict[str, Any]


def parse_xsd_datetime(value: object, name: str = "created") -> datetime:
    """Parse an xsd:dateTime; a value without a time zone is taken as UTC. ``ProofError`` if the
    value is not a valid xsd:dateTime (VC-DI-EDDSA §3.3.5 step 3)."""
    match = _XSD_DATETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ProofError(f"{name} {value!r} is not an xsd:dateTime (like 2024-01-01T00:00:00Z)")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    zone = match.group(8)
    try:
        if zone is None or zone == "Z":
            tzinfo = UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            tzinfo = timezone(sign * offset)
        return datetime(year, month, day, hour, minute, second, tzinfo=tzinfo)
    except ValueError:
        raise ProofError(f"{name} {value!r} is not a valid date and time") from None


def utc_now_xsd() -> str:
    """The current time as xsd:dateTime, UTC, seconds precision: ``2024-05-01T12:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class UnsupportedProofError(ProofError):
    """A proof type or cryptosuite this verifier does not implement: it could not be checked,
    which is not the same as being invalid."""

    code = "unsupported_proof"


# ``eddsa-2022`` is the name the draft of VC-DI-EDDSA gave the very same algorithm before it was
# renamed ``eddsa-rdfc-2022``; OB 3.0 lists it among the prior suites that verifiers should still
# accept, and the 1EdTech validator does. It is accepted for verification only, never produced.
LEGACY_EDDSA_SUITES = frozenset({"eddsa-2022"})


def check_suite(options: Mapping[str, Any], *, verifying: bool = False) -> None:
    """Only ``DataIntegrityProof``/``eddsa-rdfc-2022`` and ``Ed25519Signature2020`` are known
    (plus, when verifying, the legacy ``eddsa-2022`` name)."""
    proof_type = options.get("type")
    cryptosuite = options.get("cryptosuite")
    if proof_type == DATA_INTEGRITY_PROOF:
        if verifying and isinstance(cryptosuite, str) and cryptosuite in LEGACY_EDDSA_SUITES:
            return
        if cryptosuite != EDDSA_RDFC_2022:
            raise UnsupportedProofError(
                f"unsupported cryptosuite {cryptosuite!r} (supported: {EDDSA_RDFC_2022})"
            )
    elif proof_type == ED25519_SIGNATURE_2020:
        if cryptosuite is not None:
            raise ProofError(f"{ED25519_SIGNATURE_2020} proofs have no cryptosuite")
    else:
        raise UnsupportedProofError(
            f"unsupported proof type {proof_type!r} (supported: {DATA_INTEGRITY_PROOF} with "
            f"{EDDSA_RDFC_2022}, {ED25519_SIGNATURE_2020})"
        )


def without(document: Mapping[str, Any], key: str) -> JsonObject:
    return {name: value for name, value in document.items() if name != key}


def proof_list(document: Mapping[str, Any]) -> list[Any]:
    """``document.proof`` as a list (a single proof object is accepted)."""
    proofs = document.get("proof")
    if proofs is None:
        return []
    return list(proofs) if isinstance(proofs, list) else [proofs]


def _previous_proof_ids(previous: object) -> list[str]:
    if previous is None:
        return []
    ids = previous if isinstance(previous, list) else [previous]
    if not ids or not all(isinstance(item, str) and item for item in ids):
        raise ProofError("previousProof must be a proof id or a list of proof ids")
    return list(ids)


def proof_input(unsecured: JsonObject, all_proofs: list[Any], previous_proof: object) -> JsonObject:
    """The document a proof is computed over: no proofs, except those a proof chain names in
    ``previousProof`` (VC Data Integrity §4.3 "Add Proof Set/Chain" and §4.5)."""
    ids = _previous_proof_ids(previous_proof)
    if not ids:
        return unsecured
    matching = []
    for proof_id in ids:
        found = [p for p in all_proofs if isinstance(p, dict) and p.get("id") == proof_id]
        if not found:
            raise ProofError(f"previousProof {proof_id!r} is not in the document's proofs")
        matching.append(found[0])
    return {**unsecured, "proof": matching}


# --- the cryptosuite steps -------------------------------------------------------------------


def transform(unsecured_document: JsonObject, loader: DocumentLoader | None = None) -> str:
    """§3.3.2 Transformation: canonical N-Quads (RDFC-1.0) of the unsecured document."""
    return canonize(unsecured_document, loader)


def proof_configuration(
    options: Mapping[str, Any],
    document_context: Any,
    loader: DocumentLoader | None = None,
    *,
    verifying: bool = False,
) -> str:
    """§3.3.5 Proof Configuration: canonical N-Quads of the proof options without
    ``proofValue``, with ``@context`` set to the document's. Validates type, cryptosuite and
    ``created``."""
    if not isinstance(options, Mapping):
        raise ProofError("proof options must be a JSON object")
    config = without(options, "proofValue")
    check_suite(config, verifying=verifying)
    if "created" in config:
        parse_xsd_datetime(config["created"], "created")
    if document_context is None:
        raise ProofError("the document has no @context")
    config["@context"] = document_context
    return canonize(config, loader)


def hash_data(canonical_proof_config: str, canonical_document: str) -> bytes:
    """§3.3.4 Hashing: SHA-256 of the proof configuration FIRST, then of the document."""
    proof_hash = hashlib.sha256(canonical_proof_config.encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonical_document.encode("utf-8")).digest()
    return proof_hash + document_hash


def serialize_proof(hash_data: bytes, private_key: Ed25519PrivateKey) -> str:
    """§3.3.6 Proof Serialization: ``z`` + base58btc(Ed25519 signature of ``hash_data``)."""
    signature = private_key.sign(hash_data)
    return "z" + base58.b58encode(signature).decode("ascii")


def decode_proof_value(proof_value: object) -> bytes:
    """The 64 signature bytes of a ``proofValue``; ``ProofError`` naming what is wrong."""
    if not isinstance(proof_value, str) or not proof_value:
        raise ProofError("proofValue is missing or not a string")
    if len(proof_value) > _MAX_PROOF_VALUE_LENGTH:
        raise ProofError("proofValue is too long to be an Ed25519 signature")
    if not proof_value.startswith("z"):
        raise ProofError("proofValue does not start with the multibase prefix 'z' (base58btc)")
    if not _BASE58BTC.fullmatch(proof_value[1:]):
        raise ProofError("proofValue is not valid base58btc")
    signature = bytes(base58.b58decode(proof_value[1:].encode("ascii")))
    if len(signature) != SIGNATURE_LENGTH:
        raise ProofError(
            f"proofValue holds {len(signature)} bytes, an Ed25519 signature has {SIGNATURE_LENGTH}"
        )
    return signature


@functools.lru_cache(maxsize=4096)
def check_proof_value(proof_value: str) -> None:
    """``decode_proof_value`` as a check, remembered for values that decode: the outcome
    depends on the string alone, and the pure-Python base58 decoding showed in the profile of
    every verification (failures raise and so are never remembered; bounded like the other
    caches)."""
    decode_proof_value(proof_value)


def verify_signature(hash_data: bytes, proof_value: str, public_key: Ed25519PublicKey) -> bool:
    """§3.3.7 Proof Verification: does ``proof_value`` sign ``hash_data`` with ``public_key``?
    A malformed ``proof_value`` raises ``ProofError`` (it is not a signature at all)."""
    signature = decode_proof_value(proof_value)
    try:
        public_key.verify(signature, hash_data)
    except InvalidSignature:
        return False
    return True
