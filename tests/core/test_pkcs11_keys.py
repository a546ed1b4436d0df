"""The ``pkcs11`` key store on a SoftHSM2 token: keys are made, kept and used in the token."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives import serialization

from issuer.core.dataintegrity.signing import sign
from issuer.core.dataintegrity.verifying import verify_proofs
from issuer.core.did import did_key_for, did_key_verification_method
from issuer.core.errors import KeyError_
from issuer.core.multikey import encode_public_key
from issuer.core.pkcs11_keys import Pkcs11KeyStore, TokenPrivateKey
from issuer.core.resolver import ChainResolver, DidKeyResolver
from tests.softhsm import SoftHsm, softhsm_fixture

__all__ = ["softhsm_fixture"]

DOCUMENT = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential"],
    "issuer": "",
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {"id": "urn:uuid:0b8b4a3e-4a1c-4bd0-9d55-6c1f3f0a2e11"},
}


def _key_id() -> str:
    return f"hamk-{secrets.token_hex(8)}"


def test_a_key_made_in_the_token_signs_there_and_verifies(softhsm: SoftHsm) -> None:
    store = softhsm.store()
    key_id = _key_id()
    public, sealed = store.new_key(key_id)
    assert sealed is None  # nothing for the database to keep
    assert store.has_private_key(key_id, None)

    private_key = store.private_key(key_id, None)
    assert isinstance(private_key, TokenPrivateKey)
    assert encode_public_key(private_key.public_key()) == encode_public_key(public)
    signature = private_key.sign(b"hello")
    public.verify(signature, b"hello")  # CKM_EDDSA is pure Ed25519 (RFC 8032)

    did = did_key_for(public)
    signed = sign({**DOCUMENT, "issuer": did}, private_key, did_key_verification_method(did))
    [result] = verify_proofs(signed, ChainResolver([DidKeyResolver()]))
    assert result.ok, result.message


def test_the_private_key_never_leaves_the_token(softhsm: SoftHsm) -> None:
    import pkcs11

    store = softhsm.store()
    key_id = _key_id()
    store.new_key(key_id)
    private_key = store.private_key(key_id, None)
    with pytest.raises(KeyError_, match="never leaves"):
        private_key.private_bytes_raw()
    with pytest.raises(KeyError_, match="never leaves"):
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    # The token itself refuses: the private half is sensitive and not extractable.
    with pkcs11_session(softhsm) as session:
        token_key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=key_id)
        assert token_key[pkcs11.Attribute.SENSITIVE] is True
        assert token_key[pkcs11.Attribute.EXTRACTABLE] is False
        with pytest.raises(pkcs11.PKCS11Error):
            token_key[pkcs11.Attribute.VALUE]


def pkcs11_session(softhsm: SoftHsm) -> object:
    from issuer.core.pkcs11_keys import _LockedSession, _open

    return _LockedSession(_open(softhsm.library, softhsm.token, softhsm.pin))


def test_keys_are_kept_apart_and_never_overwritten(softhsm: SoftHsm) -> None:
    store = softhsm.store()
    first, second = _key_id(), _key_id()
    public_first, _ = store.new_key(first)
    public_second, _ = store.new_key(second)
    assert encode_public_key(public_first) != encode_public_key(public_second)
    with pytest.raises(KeyError_, match="already exists"):
        store.new_key(first)
    assert encode_public_key(store.public_key(first)) == encode_public_key(public_first)


def test_a_missing_key(softhsm: SoftHsm) -> None:
    store = softhsm.store()
    assert not store.has_private_key("nothing-here", None)
    with pytest.raises(KeyError_, match="no key 'nothing-here'"):
        store.private_key("nothing-here", None)
    store_key = _key_id()
    store.new_key(store_key)
    store.delete(store_key)
    assert not store.has_private_key(store_key, None)


def test_a_wrong_pin_or_token_is_a_key_error_without_the_pin(softhsm: SoftHsm) -> None:
    with pytest.raises(KeyError_) as wrong:
        Pkcs11KeyStore(softhsm.library, "no-such-token", "9999").has_private_key("k", None)
    assert "9999" not in wrong.value.message
    store = Pkcs11KeyStore(softhsm.library, softhsm.token, softhsm.pin)
    assert softhsm.pin not in repr(store)
    with pytest.raises(KeyError_, match="ISSUER_HSM"):
        Pkcs11KeyStore("", softhsm.token, softhsm.pin)
