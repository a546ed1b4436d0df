"""Configuration from ISSUER_* variables, the app factory, and the README's table."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest
from flask import Flask

from issuer import create_app, paths
from issuer.config import (
    DEFAULT_BASE_URL,
    ENVIRONMENT_VARIABLES,
    ConfigError,
    from_environment,
    get_settings,
    load_settings,
)
from issuer.core.keys import DEVELOPMENT_PASSPHRASE
from issuer.db import dispose


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def _app_from_environment() -> Flask:
    app = create_app()
    dispose(app)
    return app


def test_defaults_are_a_local_development_service(
    clean_environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="issuer"):
        app = _app_from_environment()
    settings = get_settings(app)

    assert settings.base_url == DEFAULT_BASE_URL == "http://127.0.0.1:5000"
    assert settings.database_url == f"sqlite:///{Path(app.instance_path) / 'merkki.sqlite3'}"
    assert settings.keys_dir == paths.REPOSITORY_ROOT / "keys"
    assert settings.key_passphrase == DEVELOPMENT_PASSPHRASE
    assert settings.key_passphrase_is_development
    assert settings.secret_key_is_random
    assert len(settings.secret_key) == 64
    assert app.config["SECRET_KEY"] == settings.secret_key
    assert settings.log_level == "INFO"
    # Both unsafe fallbacks are announced.
    assert "PUBLIC development passphrase" in caplog.text
    assert "ISSUER_SECRET_KEY is not set" in caplog.text


def test_every_variable_is_read(clean_environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment.setenv("ISSUER_BASE_URL", "https://merkki.example.fi/")
    clean_environment.setenv("ISSUER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    clean_environment.setenv("ISSUER_KEYS_DIR", str(tmp_path / "k"))
    clean_environment.setenv("ISSUER_KEY_PASSPHRASE", "s3cret")
    clean_environment.setenv("ISSUER_SECRET_KEY", "flask-secret")
    clean_environment.setenv("ISSUER_LOG_LEVEL", "debug")

    app = _app_from_environment()
    settings = get_settings(app)

    assert settings.base_url == "https://merkki.example.fi"  # trailing slash stripped
    assert settings.database_url == f"sqlite:///{tmp_path / 'x.sqlite3'}"
    assert settings.keys_dir == tmp_path / "k"
    assert (settings.key_passphrase, settings.key_passphrase_is_development) == ("s3cret", False)
    assert (app.config["SECRET_KEY"], settings.secret_key_is_random) == ("flask-secret", False)
    assert settings.log_level == "DEBUG"
    assert app.logger.level == logging.DEBUG


def test_test_config_replaces_the_environment(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("ISSUER_BASE_URL", "https://from-the-environment.example")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite3'}"})
    dispose(app)
    assert app.testing
    assert get_settings(app).base_url == DEFAULT_BASE_URL


def test_empty_variables_count_as_unset() -> None:
    assert from_environment({"ISSUER_BASE_URL": "  ", "ISSUER_LOG_LEVEL": "WARNING"}) == {
        "LOG_LEVEL": "WARNING"
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("BASE_URL", "ftp://example.fi", "ISSUER_BASE_URL"),
        ("BASE_URL", "merkki.example.fi", "ISSUER_BASE_URL"),
        ("BASE_URL", "https://example.fi/?q=1", "ISSUER_BASE_URL"),
        ("DATABASE_URL", "not a url", "ISSUER_DATABASE_URL"),
        ("LOG_LEVEL", "LOUD", "ISSUER_LOG_LEVEL"),
    ],
)
def test_bad_values_are_refused_by_name(key: str, value: str, message: str, tmp_path: Path) -> None:
    config = {
        "BASE_URL": DEFAULT_BASE_URL,
        "DATABASE_URL": "sqlite://",
        "KEYS_DIR": tmp_path,
        "BADGE_TEMPLATES_DIR": tmp_path,
        key: value,
    }
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+psycopg://merkki:hunter2@db/merkki",
            "KEY_PASSPHRASE": "passphrase-value",
            "SECRET_KEY": "secret-value",
            "KEYS_DIR": tmp_path,
        }
    )
    shown = repr(settings)
    assert "hunter2" not in shown
    assert "passphrase-value" not in shown
    assert "secret-value" not in shown


def test_readme_documents_every_variable() -> None:
    readme = (paths.REPOSITORY_ROOT / "README.md").read_text("utf-8")
    documented = set(re.findall(r"^\| `(ISSUER_[A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == set(ENVIRONMENT_VARIABLES)


def test_the_factory_registers_the_blueprints_and_routes(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite3'}"})
    dispose(app)
    assert {"public", "api"} <= set(app.blueprints)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {
        "/issuers/<slug>/did.json",
        "/issuers/<slug>",
        "/credentials/<credential_id>",
        "/badges/<slug>/v<int:version>/image.<extension>",
        "/healthz",
    } <= rules


def test_a_keys_folder_open_to_others_is_made_private_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    keys_dir.chmod(0o755)
    config = {"TESTING": True, "KEYS_DIR": keys_dir, "DATABASE_URL": "sqlite://"}
    with caplog.at_level(logging.WARNING, logger="issuer"):
        dispose(create_app(config))
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert "had mode 755; set to 0700" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="issuer"):
        dispose(create_app(config))  # already private: nothing to say
    assert "keys folder" not in caplog.text


def test_the_keys_folder_is_created_private(tmp_path: Path) -> None:
    from issuer.core.keys import KeyStore, generate_private_key

    keys_dir = tmp_path / "keys"
    KeyStore(keys_dir, "passphrase").save("k1", generate_private_key())
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys_dir / "k1.pem").stat().st_mode) == 0o600
