"""Configuration: the ``ISSUER_*`` environment variables, read in this one place.

Layering (Flask tutorial's app factory): ``defaults()`` -> ``from_environment()`` -> the
``test_config`` a test passes to ``create_app``. The Flask config keys are the variable names
without the ``ISSUER_`` prefix. ``load_settings`` turns the merged mapping into a typed, checked
``Settings``, which the app keeps in ``app.extensions["issuer.settings"]``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from issuer import paths
from issuer.core.did import DidError, did_web_for
from issuer.core.keys import passphrase_or_development, tighten_directory

ENV_PREFIX = "ISSUER_"

#: Every environment variable the service reads -> its Flask config key.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "ISSUER_BASE_URL": "BASE_URL",
    "ISSUER_DATABASE_URL": "DATABASE_URL",
    "ISSUER_KEYS_DIR": "KEYS_DIR",
    "ISSUER_KEY_PASSPHRASE": "KEY_PASSPHRASE",
    "ISSUER_KEY_STORE": "KEY_STORE",
    "ISSUER_KEY_PASSPHRASE_PREVIOUS": "KEY_PASSPHRASE_PREVIOUS",
    "ISSUER_HSM_LIBRARY": "HSM_LIBRARY",
    "ISSUER_HSM_TOKEN": "HSM_TOKEN",
    "ISSUER_HSM_PIN": "HSM_PIN",
    "ISSUER_SECRET_KEY": "SECRET_KEY",
    "ISSUER_LOG_LEVEL": "LOG_LEVEL",
    "ISSUER_REMOTE_FETCH": "REMOTE_FETCH",
    "ISSUER_SMTP_URL": "SMTP_URL",
    "ISSUER_ACCESSIBILITY_CONTACT": "ACCESSIBILITY_CONTACT",
    # Read by issuer/web/security.py, issuer/web/ratelimit.py and issuer/web/observability.py.
    "ISSUER_MAX_REQUEST_BYTES": "MAX_REQUEST_BYTES",
    "ISSUER_PROXY_FIX": "PROXY_FIX",
    "ISSUER_RATE_LIMITS": "RATE_LIMITS",
    "ISSUER_RATE_LIMIT_STORAGE": "RATE_LIMIT_STORAGE",
    "ISSUER_RATE_LIMIT_LOGIN": "RATE_LIMIT_LOGIN",
    "ISSUER_RATE_LIMIT_VERIFY": "RATE_LIMIT_VERIFY",
    "ISSUER_RATE_LIMIT_API": "RATE_LIMIT_API",
    # How many app servers run (issuer/web/shared_state.py warns about per-host state).
    "ISSUER_HOSTS": "HOSTS",
    "ISSUER_LOG_FORMAT": "LOG_FORMAT",
    "ISSUER_METRICS_TOKEN": "METRICS_TOKEN",
    # Read (and checked) by issuer/services/jobs.py.
    "ISSUER_REDIS_URL": "REDIS_URL",
    "ISSUER_JOB_RUNNER": "JOB_RUNNER",
    "ISSUER_JOB_STALE_SECONDS": "JOB_STALE_SECONDS",
    "ISSUER_JOB_BATCH_SIZE": "JOB_BATCH_SIZE",
    "ISSUER_WALLET_OFFER_TTL": "WALLET_OFFER_TTL",
}

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DATABASE_FILE_NAME = "merkki.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SWITCH_VALUES = {"on": True, "off": False}
SETTINGS_EXTENSION = "issuer.settings"
#: Where private keys live (``issuer.services.keys.keystore_for``): sealed into the database,
#: encrypted files in ISSUER_KEYS_DIR, or a PKCS#11 token.
KEY_STORES = ("database", "files", "pkcs11")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The checked configuration of one app."""

    #: Public URL the service is reached at, without a trailing slash; DIDs and ids derive from it.
    base_url: str
    database_url: str
    keys_dir: Path
    key_passphrase: str
    #: True when no passphrase is configured and the public development passphrase is in use.
    key_passphrase_is_development: bool
    secret_key: str
    #: True when no secret key is configured and a random one was made for this process.
    secret_key_is_random: bool
    log_level: str
    badge_templates_dir: Path
    #: Whether verification may fetch other issuers' DID documents and status lists over HTTPS.
    remote_fetch: bool = True
    #: Where learner mails go (``smtp://`` or ``smtps://``); None: they wait in the outbox.
    smtp_url: str | None = None
    #: Where the accessibility statement (``/accessibility``) sends feedback: an e-mail address
    #: or a short text. None: the statement names the institutions' own contact addresses.
    accessibility_contact: str | None = None
    #: ``database`` (default), ``files`` or ``pkcs11`` (``KEY_STORES``).
    key_store: str = "database"
    #: Passphrases that opened the sealed keys before ``key_passphrase`` (while it changes).
    key_passphrase_previous: tuple[str, ...] = ()
    #: The PKCS#11 module, token label and user PIN of the ``pkcs11`` store.
    hsm_library: str | None = None
    hsm_token: str | None = None
    hsm_pin: str | None = None
    #: How long a wallet offer stays open, in seconds (issue 18: 15 minutes by default).
    wallet_offer_ttl: int = 900

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return (
            f"Settings(base_url={self.base_url!r}, database_url={_redacted(self.database_url)!r}, "
            f"keys_dir={str(self.keys_dir)!r}, key_store={self.key_store!r}, "
            f"log_level={self.log_level!r})"
        )


def defaults(instance_path: str | Path) -> dict[str, Any]:
    """The configuration when no variable is set: a development service on this machine."""
    return {
        "BASE_URL": DEFAULT_BASE_URL,
        # Embedded default (DESIGN.md): SQLite in the Flask instance folder, no other service.
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / DATABASE_FILE_NAME}",
        "KEYS_DIR": paths.KEYS_DIR,
        # None: the public development passphrase, with a loud warning at start-up.
        "KEY_PASSPHRASE": None,
        # None: a random key for this process, with a warning.
        "SECRET_KEY": None,
        "LOG_LEVEL": "INFO",
        "REMOTE_FETCH": "on",
        # Not an environment variable: the shipped templates live in the repository.
        "BADGE_TEMPLATES_DIR": paths.BADGE_TEMPLATES_DIR,
    }


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Config entries for the ``ISSUER_*`` variables that are set (empty counts as unset)."""
    return {
        key: environ[variable]
        for variable, key in ENVIRONMENT_VARIABLES.items()
        if environ.get(variable, "").strip()
    }


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Check and normalize the merged configuration; ``ConfigError`` names what is wrong."""
    passphrase, is_development = passphrase_or_development(config.get("KEY_PASSPHRASE"))
    secret_key = config.get("SECRET_KEY")
    secret_key_is_random = not secret_key
    return Settings(
        base_url=normalize_base_url(config.get("BASE_URL", DEFAULT_BASE_URL)),
        database_url=_database_url(config.get("DATABASE_URL")),
        keys_dir=_directory(config.get("KEYS_DIR"), "ISSUER_KEYS_DIR"),
        key_passphrase=passphrase,
        key_passphrase_is_development=is_development,
        secret_key=str(secret_key) if secret_key else secrets.token_hex(32),
        secret_key_is_random=secret_key_is_random,
        log_level=_log_level(config.get("LOG_LEVEL", "INFO")),
        badge_templates_dir=_directory(
            config.get("BADGE_TEMPLATES_DIR", paths.BADGE_TEMPLATES_DIR), "BADGE_TEMPLATES_DIR"
        ),
        remote_fetch=_switch(config.get("REMOTE_FETCH", "on"), "ISSUER_REMOTE_FETCH"),
        smtp_url=_smtp_url(config.get("SMTP_URL")),
        accessibility_contact=_one_line(config.get("ACCESSIBILITY_CONTACT")),
        key_store=_key_store(config.get("KEY_STORE", "database")),
        key_passphrase_previous=_previous_passphrases(config.get("KEY_PASSPHRASE_PREVIOUS")),
        hsm_library=_one_line(config.get("HSM_LIBRARY")),
        hsm_token=_one_line(config.get("HSM_TOKEN")),
        hsm_pin=_secret(config.get("HSM_PIN")),
        wallet_offer_ttl=_wallet_offer_ttl(config.get("WALLET_OFFER_TTL", 900)),
    )


#: A wallet offer's lifetime: at least a minute (time to open the wallet), at most a day (an
#: offer is a bearer secret in a QR code).
WALLET_OFFER_TTL_RANGE = (60, 86400)


def _wallet_offer_ttl(value: object) -> int:
    low, high = WALLET_OFFER_TTL_RANGE
    try:
        seconds = int(str(value).strip())
    except ValueError:
        seconds = 0
    if not low <= seconds <= high:
        raise ConfigError(f"ISSUER_WALLET_OFFER_TTL must be seconds from {low} to {high}")
    return seconds


def _key_store(value: object) -> str:
    name = str(value).strip().lower() if isinstance(value, str) else value
    if name not in KEY_STORES:
        raise ConfigError(f"ISSUER_KEY_STORE must be one of {', '.join(KEY_STORES)}")
    assert isinstance(name, str)
    return name


def _previous_passphrases(value: object) -> tuple[str, ...]:
    """``ISSUER_KEY_PASSPHRASE_PREVIOUS``: one passphrase (passphrases may contain any
    character, so there is no list syntax); a list only from a test's config."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v)
    return (str(value),)


def _secret(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def normalize_base_url(value: object) -> str:
    """``ISSUER_BASE_URL`` without trailing slashes, checked to be expressible as a did:web."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("ISSUER_BASE_URL must be a URL such as https://merkki.example.fi")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"ISSUER_BASE_URL {value!r} must be an http(s) URL with a host")
    try:
        # Issuer DIDs are did:web under this URL (DESIGN.md "Issuer identity"); refuse a URL
        # that cannot become one now rather than at the first issuance.
        did_web_for(url, "probe")
    except DidError as error:
        raise ConfigError(f"ISSUER_BASE_URL: {error.message}") from None
    return url


def _database_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("ISSUER_DATABASE_URL must be an SQLAlchemy database URL")
    try:
        make_url(value.strip())
    except ArgumentError:
        raise ConfigError(
            f"ISSUER_DATABASE_URL {_redacted(value)!r} is not an SQLAlchemy database URL "
            "(e.g. postgresql+psycopg://user@host/merkki or sqlite:////path/merkki.sqlite3)"
        ) from None
    return value.strip()


def _directory(value: object, name: str) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ConfigError(f"{name} must be a directory path")
    # Relative paths are taken relative to the working directory at start-up, once.
    return Path(value).expanduser().resolve()


def _log_level(value: object) -> str:
    level = str(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"ISSUER_LOG_LEVEL {value!r} must be one of {', '.join(LOG_LEVELS)}")
    return level


_TRUE = {"1", "true", "yes", "on"}


class SmtpUrlError(ValueError):
    """``ISSUER_SMTP_URL`` is not usable; the message says why."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    use_ssl: bool
    starttls: bool
    username: str | None
    password: str | None
    sender: str | None

    def __repr__(self) -> str:  # never show the password
        return f"SmtpSettings(host={self.host!r}, port={self.port}, ssl={self.use_ssl})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """Parse ``ISSUER_SMTP_URL`` (format in the module docstring)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError("the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError("a host is required, e.g. smtp://mail.example.fi:587?starttls=1")
    try:
        port = parts.port
    except ValueError:
        raise SmtpUrlError("the port must be a number 1-65535") from None
    options = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"starttls", "from"}
    if unknown:
        raise SmtpUrlError(f"unknown option(s) {', '.join(sorted(unknown))}; use starttls, from")
    use_ssl = parts.scheme == "smtps"
    starttls = options.get("starttls", "0").lower() in _TRUE
    if use_ssl and starttls:
        raise SmtpUrlError("smtps:// is TLS already; starttls=1 is for smtp://")
    sender = options.get("from")
    if sender is not None and "@" not in sender:
        raise SmtpUrlError("from= must be an e-mail address")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if use_ssl else 25),
        use_ssl=use_ssl,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
    )


def _smtp_url(value: object) -> str | None:
    """``ISSUER_SMTP_URL``, checked by ``parse_smtp_url`` (scheme, host, port, options)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parse_smtp_url(str(value).strip())
    except SmtpUrlError as error:
        raise ConfigError(f"ISSUER_SMTP_URL: {error}") from None
    return str(value).strip()


def _one_line(value: object) -> str | None:
    """Free text shown on a page, on one line; unset or blank is None."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _switch(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    switch = SWITCH_VALUES.get(str(value).strip().lower())
    if switch is None:
        raise ConfigError(f"{name} {value!r} must be on or off")
    return switch


def _redacted(database_url: str) -> str:
    """The URL with any password hidden."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def init_app(app: Flask) -> Settings:
    """Check ``app.config``, keep the typed settings, configure logging, warn about unsafe
    development fallbacks."""
    settings = load_settings(app.config)
    app.extensions[SETTINGS_EXTENSION] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["BASE_URL"] = settings.base_url
    app.logger.setLevel(getattr(logging, settings.log_level))
    if settings.key_passphrase_is_development:
        app.logger.warning(
            "\n%s\n!!! ISSUER_KEY_PASSPHRASE is not set: private keys (%s) are encrypted with\n"
            "!!! the PUBLIC development passphrase. Anyone with the database or the files can\n"
            "!!! sign as your institutions. Set ISSUER_KEY_PASSPHRASE before issuing real\n"
            "!!! credentials.\n%s",
            "!" * 78,
            "sealed in the database" if settings.key_store == "database" else settings.keys_dir,
            "!" * 78,
        )
    _keep_keys_private(app, settings.keys_dir)
    if settings.secret_key_is_random:
        app.logger.warning(
            "ISSUER_SECRET_KEY is not set: using a random key for this process only "
            "(sessions and form tokens will not survive a restart or work across workers)."
        )
    return settings


def _keep_keys_private(app: Flask, keys_dir: Path) -> None:
    """The keys folder must be the service user's alone (mode 0700): wider permissions are
    tightened at start, with a warning, since others may have copied the encrypted keys."""
    try:
        widened = tighten_directory(keys_dir)
    except OSError as error:
        app.logger.warning(
            "the keys folder %s is readable by others and could not be made private: %s",
            keys_dir,
            error.strerror,
        )
        return
    if widened is not None:
        app.logger.warning(
            "the keys folder %s had mode %o; set to 0700 (only the service user may read keys)",
            keys_dir,
            widened,
        )


def get_settings(app: Flask | None = None) -> Settings:
    """The settings of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    settings = target.extensions.get(SETTINGS_EXTENSION)
    if not isinstance(settings, Settings):
        raise RuntimeError("the app was not created by issuer.create_app")
    return settings
