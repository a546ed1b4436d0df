"""OpenID4VCI ``jwt`` key proofs (``issuer.services.oid4vci_proof``): what a proof must say and
which holder DID it binds. Proofs are made here with joserfc, the library the service checks
them with; the wallet end to end is tests/interop/test_oid4vci_wallet.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from issuer.core.did import did_key_for
from issuer.services.oid4vci_proof import (
    PROOF_TYP,
    ProofError,
    did_key_of,
    public_key_of_did_key,
    verify_jwt_proof,
)

# joserfc warns that "EdDSA" is deprecated (RFC 9864) whenever the tests sign with it.
pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")

AUDIENCE = "https://merkki.example"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ED = OKPKey.generate_key("Ed25519")
P256 = ECKey.generate_key("P-256")


def ed_did() -> str:
    return did_key_for(ED.public_key)  # type: ignore[arg-type]


def proof(
    key: OKPKey | ECKey = ED,
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    alg = alg or ("EdDSA" if isinstance(key, OKPKey) else "ES256")
    protected: dict[str, Any] = {"alg": alg, "typ": PROOF_TYP}
    if isinstance(key, OKPKey):
        did = ed_did()
        protected["kid"] = f"{did}#{did.removeprefix('did:key:')}"
    else:
        protected["jwk"] = key.as_dict(private=False)
    protected.update(header or {})
    protected = {name: value for name, value in protected.items() if value is not None}
    body = {"aud": AUDIENCE, "iat": int(NOW.timestamp()), "nonce": "n-1", **(claims or {})}
    body = {name: value for name, value in body.items() if value is not None}
    return jws.serialize_compact(protected, json.dumps(body), key, algorithms=[alg])


def unsigned(header: dict[str, Any]) -> str:
    """A compact JWS with ``header`` and a made-up signature: refused before it is checked."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"aud": AUDIENCE, "iat": int(NOW.timestamp()), "nonce": "n"}
    did = ed_did()
    return ".".join(
        (part({"typ": PROOF_TYP, "kid": f"{did}#{did[8:]}", **header}), part(claims), "c2ln")
    )


def refused(text: object, *, audience: str = AUDIENCE, now: datetime = NOW) -> str:
    with pytest.raises(ProofError) as caught:
        verify_jwt_proof(text, audience=audience, now=now)
    assert caught.value.error == "invalid_proof"
    return caught.value.description


def test_a_did_key_proof_binds_its_did() -> None:
    checked = verify_jwt_proof(proof(), audience=AUDIENCE, now=NOW)
    assert checked.holder_did == ed_did()
    assert checked.nonce == "n-1"
    # Ed25519 by its fully specified name (RFC 9864) as well.
    assert verify_jwt_proof(proof(alg="Ed25519"), audience=AUDIENCE, now=NOW).nonce == "n-1"


def test_a_jwk_proof_binds_the_did_key_of_the_same_key() -> None:
    checked = verify_jwt_proof(proof(P256), audience=AUDIENCE, now=NOW)
    assert checked.holder_did.startswith("did:key:zDn")
    assert did_key_of(public_key_of_did_key(checked.holder_did)) == checked.holder_did
    raw = base58.b58decode(checked.holder_did.removeprefix("did:key:z"))
    compressed = P256.public_key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    assert raw == b"\x80\x24" + compressed
    # An Ed25519 JWK gives the did:key an Ed25519 kid would.
    ed_jwk = proof(header={"kid": None, "jwk": ED.as_dict(private=False)})
    assert verify_jwt_proof(ed_jwk, audience=AUDIENCE, now=NOW).holder_did == ed_did()


def test_proofs_for_another_audience_or_time_are_refused() -> None:
    assert "aud" in refused(proof(claims={"aud": "https://evil.example"}))
    assert "aud" in refused(proof(claims={"aud": None}))
    assert "too old" in refused(proof(claims={"iat": int((NOW - timedelta(hours=1)).timestamp())}))
    assert "future" in refused(proof(claims={"iat": int((NOW + timedelta(hours=1)).timestamp())}))
    assert "iat" in refused(proof(claims={"iat": "yesterday"}))
    assert "nonce" in refused(proof(claims={"nonce": None}))


def test_headers_must_type_the_proof_and_name_one_public_key() -> None:
    assert "typ" in refused(proof(header={"typ": "JWT"}))
    both = proof(header={"jwk": ED.as_dict(private=False)})
    assert "exactly one" in refused(both)
    assert "exactly one" in refused(proof(header={"kid": None}))
    assert "exactly one" in refused(proof(header={"kid": None, "x5c": ["MIIB"]}))
    private = proof(header={"kid": None, "jwk": ED.as_dict(private=True)})
    assert "private" in refused(private)
    assert "did:key" in refused(proof(header={"kid": "did:web:evil.example#key-1"}))
    other = did_key_for(OKPKey.generate_key("Ed25519").public_key)  # type: ignore[arg-type]
    assert "verification method" in refused(proof(header={"kid": f"{ed_did()}#{other[8:]}"}))


def test_signatures_and_algorithms_are_checked() -> None:
    # Signed by another key than the kid names.
    stranger = OKPKey.generate_key("Ed25519")
    did = ed_did()
    forged = jws.serialize_compact(
        {"alg": "EdDSA", "typ": PROOF_TYP, "kid": f"{did}#{did[8:]}"},
        json.dumps({"aud": AUDIENCE, "iat": int(NOW.timestamp()), "nonce": "n"}),
        stranger,
        algorithms=["EdDSA"],
    )
    assert "signature" in refused(forged)
    assert "does not fit" in refused(unsigned({"alg": "ES256"}))
    assert "alg" in refused(unsigned({"alg": "none"}))
    assert "alg" in refused(unsigned({"alg": "HS256"}))
    assert "signature" in refused(unsigned({"alg": "EdDSA"}))
    for junk in ("", "a.b", "x" * 9000, None, 42, "ey.ey.ey"):
        refused(junk)
