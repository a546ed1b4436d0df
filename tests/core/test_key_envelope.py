"""The database store's envelope: a sealed key opens only with its passphrase and its key id."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core import key_envelope
from issuer.core.errors import KeyError_
from issuer.core.key_envelope import DatabaseKeyStore, open_sealed, reseal, seal
from issuer.core.keys import KeyStore, generate_private_key
from issuer.core.multikey import encode_public_key

PASSPHRASE = "correct horse battery staple"


def _same(a: Ed25519PrivateKey, b: Ed25519PrivateKey) -> bool:
    return a.private_bytes_raw() == b.private_bytes_raw()


def test_a_sealed_key_opens_with_its_passphrase_and_key_id() -> None:
    private_key = generate_private_key()
    sealed = seal(private_key, "hamk-1", PASSPHRASE)
    assert _same(open_sealed(sealed, "hamk-1", [PASSPHRASE]), private_key)


def test_the_sealed_text_names_its_construction_and_holds_no_key_in_the_clear() -> None:
    private_key = generate_private_key()
    sealed = seal(private_key, "hamk-1", PASSPHRASE)
    document = json.loads(sealed)
    assert document["format"] == "merkki-sealed-key/1"
    assert document["aead"] == "AES-256-GCM"
    assert document["kdf"]["name"] == "scrypt"
    assert document["kdf"]["n"] >= 2**15
    raw = private_key.private_bytes_raw()
    assert raw.hex() not in sealed
    assert key_envelope._b64(raw) not in sealed
    assert PASSPHRASE not in sealed
    # A random data-encryption key per private key: the same key sealed twice differs.
    assert (
        json.loads(seal(private_key, "hamk-1", PASSPHRASE))["private_key"]
        != (document["private_key"])
    )


def test_another_passphrase_cannot_open_it() -> None:
    sealed = seal(generate_private_key(), "hamk-1", PASSPHRASE)
    with pytest.raises(KeyError_, match="cannot decrypt") as refused:
        open_sealed(sealed, "hamk-1", [PASSPHRASE + "x"])
    assert PASSPHRASE not in refused.value.message


def test_it_cannot_be_moved_to_another_key_id() -> None:
    # The key id is the associated data of both layers (AES-GCM): a sealed key copied onto
    # another key's row does not open there.
    sealed = seal(generate_private_key(), "hamk-1", PASSPHRASE)
    with pytest.raises(KeyError_, match="cannot decrypt"):
        open_sealed(sealed, "hamk-2", [PASSPHRASE])


def test_a_changed_ciphertext_is_refused() -> None:
    sealed = json.loads(seal(generate_private_key(), "hamk-1", PASSPHRASE))
    body = bytearray(key_envelope._unb64(sealed["private_key"]))
    body[-1] ^= 1
    sealed["private_key"] = key_envelope._b64(bytes(body))
    with pytest.raises(KeyError_, match="corrupt"):
        open_sealed(json.dumps(sealed), "hamk-1", [PASSPHRASE])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{}",
        '{"format": "merkki-sealed-key/1", "aead": "AES-256-GCM", "kdf": {"name": "md5"}}',
    ],
)
def test_garbage_is_corrupt(text: str) -> None:
    with pytest.raises(KeyError_, match="corrupt"):
        open_sealed(text, "hamk-1", [PASSPHRASE])


def test_a_forged_costly_kdf_is_refused_before_deriving() -> None:
    sealed = json.loads(seal(generate_private_key(), "hamk-1", PASSPHRASE))
    sealed["kdf"]["n"] = 2**30
    with pytest.raises(KeyError_, match="corrupt"):
        open_sealed(json.dumps(sealed), "hamk-1", [PASSPHRASE])


def test_reseal_moves_it_to_a_new_passphrase_and_keeps_the_key() -> None:
    private_key = generate_private_key()
    sealed = seal(private_key, "hamk-1", PASSPHRASE)
    moved = reseal(sealed, "hamk-1", [PASSPHRASE], "new passphrase")
    assert _same(open_sealed(moved, "hamk-1", ["new passphrase"]), private_key)
    with pytest.raises(KeyError_, match="cannot decrypt"):
        open_sealed(moved, "hamk-1", [PASSPHRASE])
    # Only the data-encryption key is re-wrapped; the key's own ciphertext is kept.
    assert json.loads(moved)["private_key"] == json.loads(sealed)["private_key"]
    assert json.loads(moved)["kdf"]["salt"] != json.loads(sealed)["kdf"]["salt"]
    with pytest.raises(KeyError_, match="cannot decrypt"):
        reseal(sealed, "hamk-1", ["wrong"], "new passphrase")


def test_the_store_opens_with_previous_passphrases_and_seals_with_the_current_one() -> None:
    private_key = generate_private_key()
    old = seal(private_key, "hamk-1", "old passphrase")
    store = DatabaseKeyStore("new passphrase", previous=["old passphrase"])
    assert _same(store.private_key("hamk-1", old), private_key)
    public, sealed = store.new_key("hamk-2")
    assert sealed is not None
    opened = open_sealed(sealed, "hamk-2", ["new passphrase"])
    assert encode_public_key(opened.public_key()) == encode_public_key(public)
    with pytest.raises(KeyError_):
        open_sealed(sealed, "hamk-2", ["old passphrase"])
    with pytest.raises(KeyError_, match="cannot decrypt"):
        DatabaseKeyStore("new passphrase").private_key("hamk-1", old)


def test_the_store_reads_unsealed_keys_from_its_files(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "keys"
    files = KeyStore(folder, PASSPHRASE)
    private_key = generate_private_key()
    files.save("hamk-1", private_key)
    store = DatabaseKeyStore(PASSPHRASE, files=files)
    assert store.has_private_key("hamk-1", None)
    assert not store.has_private_key("hamk-2", None)
    assert _same(store.private_key("hamk-1", None), private_key)
    with pytest.raises(KeyError_, match="not sealed"):
        DatabaseKeyStore(PASSPHRASE).private_key("hamk-1", None)


def test_opened_keys_are_cached_for_a_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(key_envelope.time, "monotonic", lambda: clock[0])
    opened: list[str] = []
    real_open = key_envelope.open_sealed

    def counting(sealed: str, key_id: str, passphrases: list[str]) -> Ed25519PrivateKey:
        opened.append(key_id)
        return real_open(sealed, key_id, passphrases)

    monkeypatch.setattr(key_envelope, "open_sealed", counting)
    store = DatabaseKeyStore(PASSPHRASE)
    _, sealed = store.new_key("hamk-1")
    assert sealed is not None
    first = store.private_key("hamk-1", sealed)
    assert store.private_key("hamk-1", sealed) is first
    assert opened == ["hamk-1"]
    clock[0] += key_envelope.OPENED_KEY_TTL + 1
    assert _same(store.private_key("hamk-1", sealed), first)
    assert opened == ["hamk-1", "hamk-1"]
    # Another passphrase does not get the key another store opened.
    with pytest.raises(KeyError_):
        DatabaseKeyStore("another").private_key("hamk-1", sealed)


def test_no_passphrase_in_the_repr() -> None:
    store = DatabaseKeyStore(PASSPHRASE, previous=["older secret"])
    assert PASSPHRASE not in repr(store)
    assert "older secret" not in repr(store)
    with pytest.raises(KeyError_):
        DatabaseKeyStore("")
