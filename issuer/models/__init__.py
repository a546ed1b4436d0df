"""The tables, one package: institutions, keys, badge classes and credentials (``core``); status
lists, bulk jobs and the outbox (``issuing``); the audit log (``audit``); staff accounts, API
tokens and their settings (``accounts``). Importing the package puts every table on
``Base.metadata``, which Alembic and tests/test_migrations compare with the migrations."""

from issuer.models import accounts, audit, issuing  # noqa: F401 - their tables join the metadata
from issuer.models.core import (
    BadgeClass,
    BadgeClassVersion,
    Credential,
    Institution,
    KeyStatus,
    SigningKey,
)

__all__ = [
    "BadgeClass",
    "BadgeClassVersion",
    "Credential",
    "Institution",
    "KeyStatus",
    "SigningKey",
]
