"""A credential signed inside a PKCS#11 token (SoftHSM2) verifies in the Digital Bazaar stack,
and in Merkki, from its did:web DID document."""

from __future__ import annotations

import secrets

import pytest

from issuer.core.dataintegrity.signing import sign
from issuer.core.did import did_web_document, did_web_for, verification_method_id
from issuer.core.multikey import encode_public_key
from tests.interop.dbvc import RunJs, error_text
from tests.interop.test_digitalbazaar import (
    BASE_URL,
    CREATED,
    js_verify,
    merkki_verdicts,
    ob_credential,
)
from tests.softhsm import SoftHsm, softhsm_fixture

__all__ = ["softhsm_fixture"]

pytestmark = pytest.mark.interop


def test_a_token_signed_credential_verifies_in_js_and_in_merkki(
    dbvc: RunJs, softhsm: SoftHsm
) -> None:
    store = softhsm.store()
    key_id = f"hsm-{secrets.token_hex(8)}"
    public, _ = store.new_key(key_id)
    private_key = store.private_key(key_id, None)
    did = did_web_for(BASE_URL, "hsm")
    multibase = encode_public_key(public)
    method = verification_method_id(did, multibase)
    signed = sign(ob_credential(did), private_key, method, created=CREATED)
    document = did_web_document(did, [multibase])

    answer = js_verify(dbvc, signed, {did: document})
    assert answer == {"verified": True, "error": None}, error_text(answer)
    verdicts = merkki_verdicts(signed, {did: document})
    assert len(verdicts) == 1
    assert verdicts[0][0], verdicts

    # Changed after signing: both refuse it.
    tampered = {**signed, "name": "Something else"}
    assert js_verify(dbvc, tampered, {did: document})["verified"] is False
    assert not any(ok for ok, _ in merkki_verdicts(tampered, {did: document}))
