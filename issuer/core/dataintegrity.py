"""Data Integrity proofs: ``eddsa-rdfc-2022`` (VC-DI-EDDSA v1.0 §3.3) and the legacy
``Ed25519Signature2020``.

One function per step of the cryptosuite (section numbers of VC-DI-EDDSA v1.0):

* ``transform``           §3.3.2 Transformation: RDFC-1.0 canonical N-Quads of the document;
* ``proof_configuration`` §3.3.5 Proof Configuration: the proof options without ``proofValue``,
  with the document's ``@context``, canonicalized the same way;
* ``hash_data``           §3.3.4 Hashing: SHA-256(proof configuration) ‖ SHA-256(document);
* ``serialize_proof``     §3.3.6 Proof Serialization: Ed25519 (RFC 8032, pure) -> ``z`` + base58btc;
* ``verify_signature``    §3.3.7 Proof Verification.

``create_proof``/``sign`` implement §3.3.1 "Create Proof" and VC Data Integrity §4.2/§4.3 ("Add
Proof", "Add Proof Set/Chain"); ``verify_proofs`` implements §3.3.3 "Verify Proof" for every
proof of a proof set or chain (VC Data Integrity §4.5 "Verify Proof Sets and Chains") and never
raises for bad input. ``Ed25519Signature2020`` proofs use the same hash construction, without a
cryptosuite (ob3-facts §2.3), and are accepted for verification only.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuer.core import lru
from issuer.core.canonical import (
    assert_all_terms_defined,
    canonize,
    canonize_and_find_undefined_terms,
    find_undefined_terms,
)
from issuer.core.contexts import DocumentLoader
from issuer.core.errors import (
    EngineError,
    KeyError_,
    ProofError,
    UndefinedTermError,
)
from issuer.core.lru import BoundedCache
from issuer.core.multikey import decode_public_key, public_key_bytes
from issuer.core.proof_options import ProofOptionsView, proof_options_view
from issuer.core.resolver import KeyResolver, ResolutionError, ResolvedKey

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
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")

JsonObject = dict[str, Any]

# Verification results that are pure functions of their input, kept so that the same credential
# verified again (a QR code scanned by a whole job fair, a status list shared by thousands of
# credentials) does not cost a canonicalization and a signature check each time. Only the
# default (offline, fixed) context loader is cached. Keys:
# * VERIFIED_PROOFS: SHA-256 of the exact input document and proof JSON (sorted keys), the
#   public key's 32 bytes, the purpose and the term-check flag -> True. Only successes are
#   kept. The key is still resolved on every verification (a withdrawn or rotated-away key is
#   refused before this cache is asked), and ``expires`` is checked against the clock every time.
# * DOCUMENT_TERMS: SHA-256 of the document JSON -> its undefined terms (a pure function of the
#   document and the carried contexts).
# A document that arrived as JSON text (a stored credential, a posted body) is keyed on that
# exact text instead (``SourceKey``): equal texts are equal documents, so nothing has to be
# re-serialized to ask the caches; the same document in another spelling is merely another key.
VERIFIED_PROOFS: BoundedCache[tuple[bytes, bytes, str, bool], bool] = BoundedCache(4096)
DOCUMENT_TERMS: BoundedCache[bytes, tuple[str, ...]] = BoundedCache(4096)
#: A proof's canonical configuration and the options read from it, by the digest of the proof
#: options' and the document context's JSON text (a pure function of both).
PROOF_OPTIONS: BoundedCache[bytes, tuple[str, ProofOptionsView]] = BoundedCache(4096)


def clear_verification_caches() -> None:
    """Forget every remembered verification (benchmarks measure first verifications): every
    bounded cache of the process (``lru.clear_all``: proofs, terms, proof options, the
    verifier's views and schema verdicts, expanded status lists, our issuers' keys) and the
    decoded proof values."""
    lru.clear_all()
    _check_proof_value.cache_clear()


def _json_text(value: Any) -> str:
    """A stable text of parsed JSON (sorted keys): equal texts mean equal documents."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def json_text_or_none(value: Any) -> str | None:
    """``_json_text``, or None for what has no such text (too deep, non-string keys): such a
    document is judged without the caches, as before they existed."""
    try:
        return _json_text(value)
    except (ValueError, TypeError, RecursionError):
        return None


class SourceKey:
    """The cache key of a document that was parsed from JSON text: a digest of that exact text.

    Keys derived from it (``derive``) name what is a pure function of the document: its
    terms, each of its proofs. They are tagged, so they never equal a key made from a
    re-serialized document (``_digest`` of text that starts with ``{``).
    """

    __slots__ = ("_digest",)

    def __init__(self, source: str | bytes) -> None:
        raw = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
        self._digest = hashlib.sha256(b"source\x00" + raw).digest()

    def derive(self, label: str) -> bytes:
        return hashlib.sha256(label.encode("ascii") + b"\x00" + self._digest).digest()


#: ``SourceKey.derive`` label of the document without its proofs (its terms).
UNSECURED = "unsecured"


def undefined_terms(
    document: JsonObject,
    loader: DocumentLoader | None = None,
    *,
    source: SourceKey | None = None,
) -> list[str]:
    """``find_undefined_terms``, remembered for the default loader (see ``DOCUMENT_TERMS``).
    ``source``: the key of the JSON text of the document ``document`` is the unsecured form of
    (``document`` is that document without its ``proof``). Raises what
    ``find_undefined_terms`` raises."""
    if loader is not None:
        return find_undefined_terms(document, loader)
    if source is not None:
        key = source.derive(UNSECURED)
    else:
        text = json_text_or_none(document)
        if text is None:
            return find_undefined_terms(document, loader)
        key = _digest(text)
    known = DOCUMENT_TERMS.get(key)
    if known is None:
        known = tuple(find_undefined_terms(document, loader))
        DOCUMENT_TERMS.put(key, known)
    return list(known)


def _digest(*texts: str) -> bytes:
    hasher = hashlib.sha256()
    for text in texts:
        hasher.update(text.encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
    return hasher.digest()


# --- helpers ---------------------------------------------------------------------------------


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


def _check_suite(options: Mapping[str, Any], *, verifying: bool = False) -> None:
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


def _without(document: Mapping[str, Any], key: str) -> JsonObject:
    return {name: value for name, value in document.items() if name != key}


def _proof_list(document: Mapping[str, Any]) -> list[Any]:
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


def _input_document(
    unsecured: JsonObject, all_proofs: list[Any], previous_proof: object
) -> JsonObject:
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


def _short(error: BaseException) -> str:
    """``Type: message`` of an unexpected error, cut short for a report."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."


def _describe_undefined(terms: list[str], where: str) -> str:
    return f"{where} uses terms not defined by any @context: " + ", ".join(terms)


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
    config = _without(options, "proofValue")
    _check_suite(config, verifying=verifying)
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
def _check_proof_value(proof_value: str) -> None:
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


# --- creating proofs -------------------------------------------------------------------------


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
    unsecured = _without(document, "proof")
    canonical_unsecured = _checked_canonical(unsecured, loader) if check_terms else None
    _check_verification_method(verification_method, private_key)
    options = _proof_options(verification_method, created, proof_purpose, proof_id, previous_proof)
    if check_terms:
        assert_all_terms_defined({"@context": document["@context"], **options}, loader)
    input_document = _input_document(unsecured, _proof_list(document), previous_proof)
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
    existing = _proof_list(document)
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


# --- verifying proofs ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofResult:
    """The outcome of verifying one proof; ``message`` says why in plain words."""

    ok: bool
    proof_type: str
    cryptosuite: str | None
    verification_method: str | None
    controller: str | None
    message: str
    #: True when the proof could not be checked at all (an unsupported cryptosuite, a key that
    #: could not be retrieved): the verifier reports "could not verify", not "forged".
    unchecked: bool = False
    #: True when the key's controller was proven to vouch for it (``ResolvedKey.confirmed``).
    confirmed: bool = False


def _result(
    proof: object,
    ok: bool,
    message: str,
    controller: str | None = None,
    *,
    unchecked: bool = False,
    signed: list[ProofOptionsView] | None = None,
) -> ProofResult:
    """A proof's result. Its type, suite and method are the signed ones once the proof
    configuration was read (``signed``); before that, what the JSON says (for the message)."""
    fields = proof if isinstance(proof, dict) else {}

    def text(name: str) -> str | None:
        value = fields.get(name)
        return value if isinstance(value, str) else None

    if signed:
        view = signed[0]
        return ProofResult(
            ok=ok,
            proof_type=view.type or "",
            cryptosuite=view.cryptosuite,
            verification_method=view.verification_method,
            controller=controller,
            message=message,
            unchecked=unchecked,
        )
    return ProofResult(
        ok=ok,
        proof_type=text("type") or "",
        cryptosuite=text("cryptosuite"),
        verification_method=text("verificationMethod"),
        controller=controller,
        message=message,
        unchecked=unchecked,
    )


class _Verifier:
    """Verifies the proofs of one document; canonical forms are computed once and shared."""

    def __init__(
        self,
        unsecured: JsonObject,
        all_proofs: list[Any],
        resolver: KeyResolver,
        loader: DocumentLoader | None,
        expected_purpose: str,
        check_terms: bool,
        source: SourceKey | None = None,
        known: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.unsecured = unsecured
        #: The unsecured document's canonical form and undefined terms, when the caller has
        #: them already (the verifier's signed view is made from the same canonical form).
        self.known = known
        self.all_proofs = all_proofs
        self.resolver = resolver
        self.loader = loader
        self.expected_purpose = expected_purpose
        self.check_terms = check_terms
        self._canonical: dict[str, str] = {}
        self.source = source
        self._text: str | None = None
        self._text_known = False

    @property
    def text(self) -> str | None:
        """The unsecured document's JSON text (cache keys, canonical-form memo); None when it
        has none, and then nothing is cached. Made when first needed: with a ``source`` key,
        a document found in the caches is never re-serialized."""
        if not self._text_known:
            self._text = json_text_or_none(self.unsecured)
            self._text_known = True
        return self._text

    def _terms_key(self) -> bytes | None:
        if self.source is not None:
            return self.source.derive(UNSECURED)
        return _digest(self.text) if self.text is not None else None

    def document_problem(self) -> str | None:
        """Why the document itself cannot verify (undefined terms, invalid JSON-LD), or None.

        The terms are found in the same walk that canonicalizes the document (the canonical
        form is kept for the proofs), and remembered for the default loader."""
        if self.known is not None:
            return _describe_undefined(list(self.known[1]), "credential") if self.known[1] else None
        key = self._terms_key()
        if key is None:
            return _document_problem(self.unsecured, self.loader)
        cacheable = self.loader is None
        known = DOCUMENT_TERMS.get(key) if cacheable else None
        if known is None:
            if self.text is None:
                return _document_problem(self.unsecured, self.loader)
            try:
                canonical, undefined = canonize_and_find_undefined_terms(
                    self.unsecured, self.loader
                )
            except EngineError:
                # Judged the two-pass way, with the same messages as always.
                return _document_problem(self.unsecured, self.loader)
            self._canonical[self.text] = canonical
            known = tuple(undefined)
            if cacheable:
                DOCUMENT_TERMS.put(key, known)
        if known:
            return _describe_undefined(list(known), "credential")
        return None

    def verify(self, proof: object, index: int) -> ProofResult:
        """Verify ``proof``, the ``index``-th of the document's proofs."""
        signed: list[ProofOptionsView] = []
        try:
            resolved = self._verify(proof, index, signed)
        except UnsupportedProofError as error:
            return _result(proof, False, error.message, unchecked=True, signed=signed)
        except ResolutionError as error:
            return _result(proof, False, error.message, unchecked=error.unavailable, signed=signed)
        except EngineError as error:
            return _result(proof, False, error.message, signed=signed)
        except Exception as error:  # never raise for bad input, whatever it is
            return _result(
                proof, False, f"proof could not be checked: {_short(error)}", signed=signed
            )
        message = f"signature verified (key controlled by {resolved.controller})"
        result = _result(proof, True, message, resolved.controller, signed=signed)
        return dataclasses.replace(result, confirmed=resolved.confirmed)

    def _signed_options(self, options: JsonObject, context: Any) -> tuple[str, ProofOptionsView]:
        """§3.3.5 Proof Configuration, and the options as the canonical configuration states
        them: the signature covers those, not the JSON keys (an embedded ``@context`` can
        alias ``verificationMethod``), so every option the checks use is read from there."""
        key_text = json_text_or_none({"@context": context, **options})
        key = _digest(key_text) if key_text is not None and self.loader is None else None
        known = PROOF_OPTIONS.get(key) if key is not None else None
        if known is None:
            canonical = proof_configuration(options, context, self.loader, verifying=True)
            known = (canonical, proof_options_view(canonical))
            if key is not None:
                PROOF_OPTIONS.put(key, known)
        return known

    def _verify(self, proof: object, index: int, signed: list[ProofOptionsView]) -> ResolvedKey:
        """Return the key if ``proof`` verifies; raise ``EngineError`` otherwise.
        ``signed`` receives the proof's options as signed, once they are known."""
        if not isinstance(proof, dict):
            raise ProofError("proof is not a JSON object")
        proof_value = proof.get("proofValue")
        if not isinstance(proof_value, str):
            # Checked before the suite: a proof without a signature value signs nothing,
            # whatever suite it names (the OB 3.0 examples' ``"proof": {}``).
            raise ProofError("proof has no proofValue string")
        _check_suite(proof, verifying=True)
        _check_proof_value(proof_value)
        options = _without(proof, "proofValue")
        context = self._context_for(options)
        options.pop("@context", None)
        if self.check_terms:
            undefined = find_undefined_terms({"@context": context, **options}, self.loader)
            if undefined:
                raise ProofError(_describe_undefined(undefined, "proof"))
        canonical_config, view = self._signed_options(options, context)
        signed.append(view)
        # The suite, purpose, dates and key as signed (VC-DI-EDDSA §3.3.3 steps 2-4, VC Data
        # Integrity §2.1 "expires"): what the JSON keys say does not count.
        _check_suite(view.as_options(), verifying=True)
        if view.created is not None:
            parse_xsd_datetime(view.created, "created")
        purpose = view.proof_purpose
        if purpose != self.expected_purpose:
            raise ProofError(
                f"proof purpose {purpose!r} does not match the expected {self.expected_purpose!r}"
            )
        self._check_expiry(view.expires)
        if view.verification_method is None and isinstance(proof.get("verificationMethod"), str):
            # JSON-LD drops an IRI that is not absolute: the signed proof names no key.
            raise ProofError(
                f"verificationMethod {proof['verificationMethod']!r} is not an absolute IRI, "
                "so the signed proof names no key"
            )
        resolved = self._resolve(view.verification_method)
        input_document = _input_document(
            self.unsecured, self.all_proofs, proof.get("previousProof")
        )
        cache_key = None
        if self.loader is None:
            # The document's source text and the proof's position decide both the input
            # document (with the proofs ``previousProof`` names) and the proof.
            content_key = (
                self.source.derive(f"proof:{index}")
                if self.source is not None
                else self._content_key(input_document, proof)
            )
            if content_key is not None:
                cache_key = (
                    content_key,
                    public_key_bytes(resolved.public_key),
                    self.expected_purpose,
                    self.check_terms,
                )
        if cache_key is not None and VERIFIED_PROOFS.get(cache_key):
            return resolved
        if input_document is self.unsecured and self.known is not None:
            canonical_document = self.known[0]  # no JSON text needed to find it
        else:
            input_text = (
                self.text if input_document is self.unsecured else json_text_or_none(input_document)
            )
            canonical_document = self._transform(input_document, input_text)
        data = hash_data(canonical_config, canonical_document)
        if not verify_signature(data, proof_value, resolved.public_key):
            raise ProofError(
                "signature does not match: the credential or its proof was changed after "
                "signing, or it was signed with another key"
            )
        if cache_key is not None:
            VERIFIED_PROOFS.put(cache_key, True)
        return resolved

    def _content_key(self, input_document: JsonObject, proof: JsonObject) -> bytes | None:
        """The digest of the input document's and the proof's JSON texts, or None when either
        has none."""
        input_text = (
            self.text if input_document is self.unsecured else json_text_or_none(input_document)
        )
        proof_text = json_text_or_none(proof)
        if input_text is None or proof_text is None:
            return None
        return _digest(input_text, proof_text)

    def _resolve(self, method_id: object) -> ResolvedKey:
        if not isinstance(method_id, str) or not method_id:
            raise ProofError("proof has no verificationMethod")
        resolved = self.resolver.resolve(method_id)
        if self.expected_purpose not in resolved.purposes:
            raise ProofError(
                f"verification method {method_id!r} is not authorized for "
                f"{self.expected_purpose} by its controller"
            )
        return resolved

    def _context_for(self, options: JsonObject) -> Any:
        # VC-DI-EDDSA §3.3.3 step 4: a proof that carries its own @context must agree with the
        # document's. We require equality: a shorter proof context would let the document's
        # later contexts (and the terms they define) fall out of what is verified.
        context = self.unsecured.get("@context")
        if "@context" in options and _as_list(options["@context"]) != _as_list(context):
            raise ProofError("the proof's @context differs from the document's @context")
        return context

    def _check_expiry(self, expires: str | None) -> None:
        # VC Data Integrity §2.1 "expires": a proof past this time is invalid.
        if expires is not None and parse_xsd_datetime(expires, "expires") < datetime.now(UTC):
            raise ProofError(f"proof expired at {expires}")

    def _transform(self, input_document: JsonObject, text: str | None) -> str:
        if input_document is self.unsecured and self.known is not None:
            return self.known[0]
        if text is None:
            # Not JSON data (e.g. a set): refused as always, naming the problem.
            text = _json_text(input_document)
        if text not in self._canonical:
            self._canonical[text] = transform(input_document, self.loader)
        return self._canonical[text]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _document_problem(unsecured: JsonObject, loader: DocumentLoader | None) -> str | None:
    """Why the document itself cannot verify (undefined terms, invalid JSON-LD), or None."""
    try:
        undefined = find_undefined_terms(unsecured, loader)
    except EngineError as error:
        return error.message
    if undefined:
        return _describe_undefined(undefined, "credential")
    return None


def verify_proofs(
    document: JsonObject,
    resolver: KeyResolver,
    *,
    loader: DocumentLoader | None = None,
    expected_purpose: str = ASSERTION_METHOD,
    check_terms: bool = True,
    source: SourceKey | None = None,
    known: tuple[str, tuple[str, ...]] | None = None,
) -> list[ProofResult]:
    """Verify every proof of ``document`` (one result per proof, in order). Never raises: bad
    input gives failed results whose ``message`` names the problem. ``source``: the key of
    the exact JSON text ``document`` was parsed from (and not changed since), for the caches.

    Each proof is checked over the document without proofs, or with the proofs its
    ``previousProof`` names (VC Data Integrity §4.5). A document or proof using terms that no
    @context defines fails, naming them (``check_terms=False`` skips this, see
    ``create_proof``). ``known``: the unsecured document's canonical form and undefined terms,
    when the caller computed them already (``signed_view.SignedView``)."""
    try:
        return _verify_proofs(
            document, resolver, loader, expected_purpose, check_terms, source, known
        )
    except Exception as error:  # last line of defence: the contract is "never raises"
        return [_result(None, False, f"document could not be checked: {_short(error)}")]


def _verify_proofs(
    document: object,
    resolver: KeyResolver,
    loader: DocumentLoader | None,
    expected_purpose: str,
    check_terms: bool,
    source: SourceKey | None,
    known: tuple[str, tuple[str, ...]] | None = None,
) -> list[ProofResult]:
    if not isinstance(document, dict):
        return [_result(None, False, "document is not a JSON object")]
    proofs = _proof_list(document)
    if not proofs:
        return [_result(None, False, "document has no proof")]
    unsecured = _without(document, "proof")
    verifier = _Verifier(
        unsecured, proofs, resolver, loader, expected_purpose, check_terms, source, known
    )
    problem = verifier.document_problem() if check_terms else None
    if problem is not None:
        return [_result(proof, False, problem) for proof in proofs]
    return [verifier.verify(proof, index) for index, proof in enumerate(proofs)]
