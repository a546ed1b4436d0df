"""Multikey encoding of Ed25519 keys (VC-DI-EDDSA §2.1.1)."""

from __future__ import annotations

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.errors import KeyError_
from issuer.core.multikey import (
    decode_public_key,
    decode_secret_key,
    encode_public_key,
    encode_secret_key,
    private_key_seed,
    public_key_bytes,
)
from tests.spec_files import load_json


def _multibase(raw: bytes) -> str:
    return "z" + base58.b58encode(raw).decode("ascii")


@pytest.mark.shared
@pytest.mark.parametrize(
    "relative", ["vectors/vc-di-eddsa/keyPair.json", "vectors/ob3-1edtech-impl-guide/keyPair.json"]
)
def test_key_pair_vectors(relative: str) -> None:
    pair = load_json(relative)
    secret = pair.get("privateKeyMultibase") or pair["secretKeyMultibase"]
    private_key = decode_secret_key(secret)
    assert encode_public_key(private_key.public_key()) == pair["publicKeyMultibase"]
    assert encode_secret_key(private_key) == secret
    assert public_key_bytes(decode_public_key(pair["publicKeyMultibase"])) == public_key_bytes(
        private_key.public_key()
    )


@pytest.mark.shared
def test_1edtech_key_matches_the_guide_hex() -> None:
    pair = load_json("vectors/ob3-1edtech-impl-guide/keyPair.json")
    private_key = decode_secret_key(pair["secretKeyMultibase"])
    assert public_key_bytes(private_key.public_key()).hex() == pair["publicKeyHex"]
    assert private_key_seed(private_key).hex() == pair["privateKeyHex_seed_plus_public"][:64]


@pytest.mark.shared
def test_legacy_64_byte_secret_form_is_refused() -> None:
    # The guide prints 0x8026 || seed || public (66 bytes); the Multikey form has the seed only.
    pair = load_json("vectors/ob3-1edtech-impl-guide/keyPair.json")
    with pytest.raises(KeyError_, match="64 key bytes, expected 32"):
        decode_secret_key(pair["secretKeyMultibase_as_printed_in_guide"])


def test_round_trip_and_prefixes() -> None:
    private_key = Ed25519PrivateKey.generate()
    public = encode_public_key(private_key.public_key())
    secret = encode_secret_key(private_key)
    assert public.startswith("z6Mk")
    assert secret.startswith("z3u2")
    assert encode_public_key(decode_public_key(public)) == public
    assert encode_secret_key(decode_secret_key(secret)) == secret


GOOD = encode_public_key(Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "non-empty"),
        ("u" + GOOD[1:], "does not start with the multibase prefix 'z'"),
        ("z6Mk0OIl", "not valid base58btc"),
        (GOOD + " ", "not valid base58btc"),
        (GOOD + "\n", "not valid base58btc"),
        ("zÄÖ", "not valid base58btc"),
        (_multibase(b"\xe7\x01" + bytes(33)), "multicodec header 0xe701, expected 0xed01"),
        (_multibase(b"\x80\x26" + bytes(32)), "multicodec header 0x8026, expected 0xed01"),
        (_multibase(b"\xed\x01" + bytes(31)), "31 key bytes, expected 32"),
        (_multibase(b"\xed\x01" + bytes(33)), "33 key bytes, expected 32"),
        (_multibase(b"\xed"), "multicodec header 0xed, expected 0xed01"),
        ("z" + "2" * 500, "too long"),
    ],
)
def test_public_key_decoding_errors(value: str, message: str) -> None:
    with pytest.raises(KeyError_, match=message):
        decode_public_key(value)


@pytest.mark.parametrize("value", [None, 42, b"z6Mk"])
def test_public_key_must_be_a_string(value: object) -> None:
    with pytest.raises(KeyError_, match="non-empty multibase string"):
        decode_public_key(value)  # type: ignore[arg-type]


def test_secret_key_errors_do_not_reveal_the_value() -> None:
    private_key = Ed25519PrivateKey.generate()
    public = encode_public_key(private_key.public_key())
    wrong_length = _multibase(b"\x80\x26" + private_key_seed(private_key)[:31])
    with pytest.raises(KeyError_, match="0xed01, expected 0x8026") as caught:
        decode_secret_key(public)
    with pytest.raises(KeyError_, match="31 key bytes") as caught_length:
        decode_secret_key(wrong_length)
    assert wrong_length not in caught_length.value.message
    assert "value hidden" in caught.value.message
    with pytest.raises(KeyError_, match="prefix 'z'"):
        decode_secret_key("m" + wrong_length[1:])
