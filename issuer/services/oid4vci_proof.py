"""OpenID4VCI 1.0 key proofs of type ``jwt`` (Appendix F.1 "jwt Proof Type", Appendix F.4
"Verifying Proof") and the holder DIDs they bind a credential to.

A wallet proves possession of the key the credential is to be bound to with a JWT signed by that
key: header ``typ`` = ``openid4vci-proof+jwt``, the key named by exactly one of ``kid`` (a DID URL)
or ``jwk`` (``x5c`` is not supported here); claims ``aud`` = the credential issuer identifier,
``iat``, and ``nonce`` = a ``c_nonce`` from our Nonce Endpoint. The signature is checked with
joserfc (a maintained JOSE library); this module only decides which key and which algorithms are
acceptable and what the claims must say.

The credential is bound by its ``credentialSubject.id``: the holder's ``did:key``. A ``kid``
must be a ``did:key`` DID URL; a ``jwk`` is turned into the ``did:key`` of the same key (W3C CCG
did:key method: Ed25519 ``0xed01``, P-256 ``0x1200`` with the compressed point), so that every
wallet copy names its holder the same way, whichever header the wallet chose.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, OKPKey

PROOF_TYP = "openid4vci-proof+jwt"
#: ``proof_signing_alg_values_supported``: EdDSA (RFC 8037) as wallets send it today, its
#: fully-specified name Ed25519 (RFC 9864), and ES256 (P-256), which most OpenID4VCI wallets use.
PROOF_ALGORITHMS = ("EdDSA", "Ed25519", "ES256")
#: How old a proof's ``iat`` may be, and how far in the future (clock skew, §13.8 "Proof
#: replay": the issuer MAY accept an ``iat`` in the reasonably near future).
PROOF_MAX_AGE = timedelta(minutes=5)
PROOF_MAX_SKEW = timedelta(minutes=1)
#: A key proof is a few hundred bytes; anything far larger is not one.
MAX_PROOF_LENGTH = 8192

_DID_KEY = "did:key:"
_ED25519_HEADER = b"\xed\x01"
_P256_HEADER = b"\x80\x24"
_BASE58 = re.compile(r"z[1-9A-HJ-NP-Za-km-z]{40,60}")
#: JWK members that belong to a private key (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2): a proof
#: header carrying one is refused (Appendix F.4: "the header parameter does not contain a
#: private key").
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class ProofError(Exception):
    """A key proof is refused; ``error`` is the OpenID4VCI error code (§8.3.1.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class KeyProof:
    """A key proof whose signature, type, audience and time checked out."""

    holder_did: str
    #: The ``nonce`` claim, still to be checked against our nonces (``oid4vci.use_nonce``).
    nonce: str


def _invalid(description: str) -> ProofError:
    return ProofError("invalid_proof", description)


# --- did:key of a wallet's key -------------------------------------------------------------


def did_key_of(public_key: object) -> str:
    """The ``did:key`` of an Ed25519 or P-256 public key."""
    if isinstance(public_key, Ed25519PublicKey):
        raw = _ED25519_HEADER + public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    elif isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raw = _P256_HEADER + public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
    else:
        raise _invalid("only Ed25519 and P-256 keys are accepted")
    return _DID_KEY + "z" + base58.b58encode(raw).decode("ascii")


def public_key_of_did_key(did: str) -> Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """The public key a ``did:key`` (Ed25519 or P-256) holds."""
    multibase = did[len(_DID_KEY) :] if did.startswith(_DID_KEY) else ""
    if not _BASE58.fullmatch(multibase):
        raise _invalid("kid must be a did:key DID URL of an Ed25519 or P-256 key")
    raw = base58.b58decode(multibase[1:].encode("ascii"))
    try:
        if raw[:2] == _ED25519_HEADER and len(raw) == 34:
            return Ed25519PublicKey.from_public_bytes(raw[2:])
        if raw[:2] == _P256_HEADER and len(raw) == 35:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
    except ValueError:
        pass
    raise _invalid("kid must be a did:key DID URL of an Ed25519 or P-256 key")


def _holder_from_kid(kid: object) -> tuple[str, OKPKey | ECKey]:
    if not isinstance(kid, str) or len(kid) > 256:
        raise _invalid("kid must be a did:key DID URL")
    did, _, fragment = kid.partition("#")
    public_key = public_key_of_did_key(did)
    # did:key §"Document Creation": the one verification method is did:key:X#X.
    if fragment and fragment != did[len(_DID_KEY) :]:
        raise _invalid("kid names no verification method of its did:key")
    return did, _import(public_key)


def _holder_from_jwk(jwk: object) -> tuple[str, OKPKey | ECKey]:
    if not isinstance(jwk, dict):
        raise _invalid("jwk must be a JSON object")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise _invalid("jwk holds a private key")
    kind = (jwk.get("kty"), jwk.get("crv"))
    try:
        if kind == ("OKP", "Ed25519"):
            okp = OKPKey.import_key(jwk)
            return did_key_of(okp.public_key), okp
        if kind == ("EC", "P-256"):
            eck = ECKey.import_key(jwk)
            return did_key_of(eck.public_key), eck
    except (JoseError, ValueError, TypeError) as error:
        raise _invalid(f"jwk is not a usable public key: {error}") from None
    raise _invalid("jwk must be an Ed25519 (OKP) or P-256 (EC) public key")


def _import(public_key: Ed25519PublicKey | ec.EllipticCurvePublicKey) -> OKPKey | ECKey:
    if isinstance(public_key, Ed25519PublicKey):
        return OKPKey.import_key(public_key)
    return ECKey.import_key(public_key)


def _algorithm_fits(alg: str, key: OKPKey | ECKey) -> bool:
    if isinstance(key, OKPKey):
        return alg in ("EdDSA", "Ed25519")
    return alg == "ES256"


# --- the proof -----------------------------------------------------------------------------


def verify_jwt_proof(proof: object, *, audience: str, now: datetime) -> KeyProof:
    """Check a ``jwt`` key proof (Appendix F.4) except its nonce: the caller checks that against
    its own nonces and uses it up. Raises ``ProofError`` (``invalid_proof``; §8.3.1.2 also
    counts a proof without a nonce as an invalid proof)."""
    if not isinstance(proof, str) or not proof or len(proof) > MAX_PROOF_LENGTH:
        raise _invalid("a jwt proof must be a compact JWT")
    try:
        # Parsed only, to find the key; verified below with that key.
        compact = jws.extract_compact(proof.encode("ascii"))
    except (JoseError, ValueError, UnicodeError):
        raise _invalid("the proof is not a compact JWS") from None
    header: dict[str, Any] = dict(compact.headers())
    if header.get("typ") != PROOF_TYP:
        raise _invalid(f"the proof's typ must be {PROOF_TYP}")
    alg = header.get("alg")
    if alg not in PROOF_ALGORITHMS:
        raise _invalid("the proof's alg must be one of " + ", ".join(PROOF_ALGORITHMS))
    named = [name for name in ("kid", "jwk", "x5c") if name in header]
    if len(named) != 1 or named[0] == "x5c":
        raise _invalid("the proof header must name its key with exactly one of kid or jwk")
    if named[0] == "kid":
        holder_did, key = _holder_from_kid(header["kid"])
    else:
        holder_did, key = _holder_from_jwk(header["jwk"])
    if not _algorithm_fits(str(alg), key):
        raise _invalid(f"alg {alg} does not fit the key")
    try:
        with warnings.catch_warnings():
            # joserfc warns that "EdDSA" is deprecated by RFC 9864 in favour of "Ed25519";
            # wallets still send it, and both mean Ed25519 here (the key is checked above).
            warnings.simplefilter("ignore", SecurityWarning)
            jws.deserialize_compact(proof, key, algorithms=[str(alg)])
    except (JoseError, ValueError):
        raise _invalid("the proof's signature does not verify") from None
    try:
        claims = json.loads(compact.payload)
    except (ValueError, UnicodeError):
        raise _invalid("the proof's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _invalid("the proof's payload is not a JSON object")
    _check_claims(claims, audience=audience, now=now)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise _invalid("the proof carries no nonce; get one from the nonce endpoint")
    return KeyProof(holder_did=holder_did, nonce=nonce)


def _check_claims(claims: dict[str, Any], *, audience: str, now: datetime) -> None:
    aud = claims.get("aud")
    # RFC 7519 §4.1.3 allows an array; OpenID4VCI asks for the string. Either must be us.
    if aud != audience and not (isinstance(aud, list) and aud == [audience]):
        raise _invalid("the proof's aud is not this credential issuer")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _invalid("the proof has no iat")
    issued = now.timestamp() - float(iat)
    if issued > PROOF_MAX_AGE.total_seconds():
        raise _invalid("the proof is too old (iat)")
    if -issued > PROOF_MAX_SKEW.total_seconds():
        raise _invalid("the proof's iat is in the future")
