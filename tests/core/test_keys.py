"""Key generation and the encrypted key store."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.errors import KeyError_
from issuer.core.keys import (
    DEVELOPMENT_PASSPHRASE,
    KeyStore,
    generate_private_key,
    passphrase_or_development,
)
from issuer.core.multikey import private_key_seed

PASSPHRASE = "correct horse battery staple äö"


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys" / "nested", PASSPHRASE)


def test_generated_keys_differ() -> None:
    first, second = generate_private_key(), generate_private_key()
    assert isinstance(first, Ed25519PrivateKey)
    assert private_key_seed(first) != private_key_seed(second)


def test_round_trip(store: KeyStore) -> None:
    key = generate_private_key()
    path = store.save("hamk-2026", key)
    assert path == store.directory / "hamk-2026.pem"
    assert store.exists("hamk-2026")
    assert private_key_seed(store.load("hamk-2026")) == private_key_seed(key)


def test_file_and_directory_modes(store: KeyStore) -> None:
    path = store.save("k1", generate_private_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    # Only the key file is left behind: the temporary file was renamed or removed.
    assert [p.name for p in store.directory.iterdir()] == ["k1.pem"]


def test_file_is_encrypted_pkcs8(store: KeyStore) -> None:
    key = generate_private_key()
    data = store.save("k1", key).read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # "password was not given but private key is encrypted"
        serialization.load_pem_private_key(data, password=None)
    assert private_key_seed(key).hex().encode() not in data


def test_wrong_passphrase(store: KeyStore) -> None:
    store.save("k1", generate_private_key())
    other = KeyStore(store.directory, "not the passphrase")
    with pytest.raises(KeyError_, match=r"cannot decrypt key 'k1'.*wrong ISSUER_KEY_PASSPHRASE"):
        other.load("k1")


def test_unencrypted_key_file_is_refused(store: KeyStore) -> None:
    store.directory.mkdir(parents=True)
    plain = generate_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (store.directory / "planted.pem").write_bytes(plain)
    with pytest.raises(KeyError_, match="not encrypted"):
        store.load("planted")


def test_missing_key(store: KeyStore) -> None:
    assert not store.exists("nope")
    with pytest.raises(KeyError_, match="no key 'nope'"):
        store.load("nope")
    with pytest.raises(KeyError_, match="no key 'nope'"):
        store.delete("nope")


def test_save_never_overwrites_by_accident(store: KeyStore) -> None:
    first, second = generate_private_key(), generate_private_key()
    store.save("k1", first)
    with pytest.raises(KeyError_, match="already exists"):
        store.save("k1", second)
    assert private_key_seed(store.load("k1")) == private_key_seed(first)
    store.save("k1", second, overwrite=True)
    assert private_key_seed(store.load("k1")) == private_key_seed(second)
    assert sorted(p.name for p in store.directory.iterdir()) == ["k1.pem"]


def test_delete(store: KeyStore) -> None:
    store.save("k1", generate_private_key())
    store.delete("k1")
    assert not store.exists("k1")


@pytest.mark.parametrize(
    "key_id",
    [
        "../escape",
        "a/b",
        "a\\b",
        "/etc/passwd",
        ".hidden",
        "..",
        ".",
        "",
        "k\x00",
        "x" * 129,
        "ä",
        "a b",
        "-leading",
        None,
        7,
    ],
)
def test_unsafe_key_ids_are_refused(store: KeyStore, tmp_path: Path, key_id: object) -> None:
    key = generate_private_key()
    with pytest.raises(KeyError_, match="invalid key id"):
        store.save(key_id, key)  # type: ignore[arg-type]
    with pytest.raises(KeyError_, match="invalid key id"):
        store.load(key_id)  # type: ignore[arg-type]
    with pytest.raises(KeyError_, match="invalid key id"):
        store.exists(key_id)  # type: ignore[arg-type]
    with pytest.raises(KeyError_, match="invalid key id"):
        store.delete(key_id)  # type: ignore[arg-type]
    assert not (tmp_path / "escape.pem").exists()


def test_only_ed25519_keys_are_stored(store: KeyStore) -> None:
    with pytest.raises(KeyError_, match="only Ed25519"):
        store.save("k1", "not a key")  # type: ignore[arg-type]


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match="non-empty passphrase"):
        KeyStore(tmp_path, "")


def test_repr_hides_the_passphrase(store: KeyStore) -> None:
    assert PASSPHRASE not in repr(store)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_development_passphrase_when_unconfigured(value: str | None) -> None:
    assert passphrase_or_development(value) == (DEVELOPMENT_PASSPHRASE, True)


def test_configured_passphrase_is_used() -> None:
    assert passphrase_or_development("s3cret") == ("s3cret", False)
