"""ISSUER_KEY_STORE and the settings of the key stores."""

from __future__ import annotations

import pytest

from issuer.config import ConfigError, defaults, load_settings


def _config(**values: object) -> dict[str, object]:
    return {**defaults("instance"), "DATABASE_URL": "sqlite://", **values}


def test_the_database_store_is_the_default() -> None:
    settings = load_settings(_config())
    assert settings.key_store == "database"
    assert settings.key_passphrase_previous == ()


@pytest.mark.parametrize("value", ["files", "PKCS11", " database "])
def test_each_store_can_be_chosen(value: str) -> None:
    settings = load_settings(_config(KEY_STORE=value))
    assert settings.key_store == value.strip().lower()


def test_an_unknown_store_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="ISSUER_KEY_STORE must be one of database, files"):
        load_settings(_config(KEY_STORE="vault"))


def test_secrets_of_the_stores_stay_out_of_the_repr() -> None:
    settings = load_settings(
        _config(
            KEY_STORE="pkcs11",
            KEY_PASSPHRASE_PREVIOUS="old-passphrase-value",
            HSM_LIBRARY="/usr/lib/softhsm/libsofthsm2.so",
            HSM_TOKEN="merkki",
            HSM_PIN="pin-value-1234",
        )
    )
    assert settings.key_passphrase_previous == ("old-passphrase-value",)
    assert settings.hsm_pin == "pin-value-1234"
    shown = repr(settings)
    assert "old-passphrase-value" not in shown
    assert "pin-value-1234" not in shown
    assert "pkcs11" in shown
