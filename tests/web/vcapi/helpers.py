"""did:key signing for the VC-API tests: credentials and presentations made here with the
engine's own primitives (``issuer.core.dataintegrity``), in either suite."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from issuer.core.contexts import (
    DATA_INTEGRITY_V2,
    ED25519_2020_V1,
    VC_V1,
    VC_V2,
    vc_api_document_loader,
)
from issuer.core.dataintegrity.cryptosuite import (
    hash_data,
    proof_configuration,
    serialize_proof,
    transform,
)
from issuer.core.dataintegrity.signing import sign
from issuer.core.did import did_key_for

CREATED = "2026-01-01T00:00:00Z"


class Holder:
    """An Ed25519 key and its did:key."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.did = did_key_for(self.key.public_key())
        self.method = f"{self.did}#{self.did.removeprefix('did:key:')}"


def plain_credential(
    issuer: Holder, subject: str, *, version: str = "2.0", suite: str = "eddsa-rdfc-2022"
) -> dict[str, Any]:
    """A verifiable credential that is not an Open Badge, in VC 2.0 or 1.1, unsigned, with
    the context its proof suite needs (VC 2.0 defines DataIntegrityProof itself)."""
    if suite == "Ed25519Signature2020":
        suite_context = [ED25519_2020_V1]
    else:
        suite_context = [DATA_INTEGRITY_V2] if version == "1.1" else []
    if version == "2.0":
        return {
            "@context": [VC_V2, *suite_context],
            "type": ["VerifiableCredential"],
            "issuer": issuer.did,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": subject},
        }
    return {
        "@context": [VC_V1, *suite_context],
        "type": ["VerifiableCredential"],
        "issuer": issuer.did,
        "issuanceDate": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": subject},
    }


def sign_eddsa(document: dict[str, Any], signer: Holder, **options: Any) -> dict[str, Any]:
    """An ``eddsa-rdfc-2022`` proof added (``assertionMethod``)."""
    return sign(document, signer.key, signer.method, created=CREATED, **options)


def add_proof(
    document: dict[str, Any],
    signer: Holder,
    *,
    suite: str = "eddsa-rdfc-2022",
    purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """A proof in either suite (VC-DI-EDDSA §3.3.1 / Ed25519Signature2020: the same hashing
    and signature, another proof type), with an optional challenge and domain."""
    options: dict[str, Any] = (
        {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}
        if suite == "eddsa-rdfc-2022"
        else {"type": "Ed25519Signature2020"}
    )
    options.update(
        {"created": CREATED, "verificationMethod": signer.method, "proofPurpose": purpose}
    )
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    loader = vc_api_document_loader()  # the carried contexts and the W3C examples context
    config = proof_configuration(options, document["@context"], loader)
    signature = serialize_proof(hash_data(config, transform(unsecured, loader)), signer.key)
    signed = copy.deepcopy(document)
    signed["proof"] = {**options, "proofValue": signature}
    return signed


def presentation(
    holder: Holder,
    credentials: list[dict[str, Any]],
    *,
    suite: str = "eddsa-rdfc-2022",
    challenge: str = "c-123",
    domain: str | None = "verifier.example",
    signer: Holder | None = None,
) -> dict[str, Any]:
    """A presentation by ``holder`` (signed by ``signer``, the holder by default)."""
    context = [VC_V2] if suite == "eddsa-rdfc-2022" else [VC_V2, ED25519_2020_V1]
    document = {
        "@context": context,
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": credentials,
    }
    return add_proof(
        document,
        signer or holder,
        suite=suite,
        purpose="authentication",
        challenge=challenge,
        domain=domain,
    )


def post(client: FlaskClient, path: str, body: Any) -> TestResponse:
    return client.post(f"/vc-api/{path}", json=body)
