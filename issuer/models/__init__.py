"""The tables, one package: institutions, keys, badge classes and credentials (``core``); status
lists, bulk jobs and the outbox (``issuing``); the audit log (``audit``); staff accounts, API
tokens and their settings (``accounts``); platform integrations and their completions
(``integrations``); the LTI tool's registrations, placements and awards (``lti``); OpenID
Connect sign-in settings and account links (``oidc``); wallet offers and holder-bound copies
(``wallet``) and the OpenID4VCI access tokens and used nonces (``oid4vci``). Importing the
package puts every table on ``Base.metadata``, which Alembic and tests/test_migrations compare
with the migrations."""

# Imported so that their tables join the metadata.
from issuer.models import (  # noqa: F401
    accounts,
    audit,
    integrations,
    issuing,
    lti,
    oid4vci,
    oidc,
    wallet,
)
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
