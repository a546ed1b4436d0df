"""Staff sign-in with an institution's OpenID Connect provider (models; issue 17).

One module of the ``issuer.models`` package; its tables share ``Base`` with the others (Alembic
compares them in ``tests/test_migrations``).

An ``OidcProvider`` is one institution's provider settings (MPASSid, Haka's OIDC interface,
Microsoft Entra ID...): at most one per institution. The client secret is sealed
(``issuer.core.secret_box``), like an integration's HMAC secret: the token request needs the
secret itself, so it cannot be kept as a hash. A ``StaffOidcLink`` ties a staff account to the
provider's stable identifier of the person, the pair (``iss``, ``sub``): OpenID Connect Core 1.0
section 5.7 says these two together are the only claims a client may rely on as a unique
identifier; an e-mail address can change hands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.accounts import Role, StaffUser
from issuer.models.core import Institution


class OidcProvider(Base):
    __tablename__ = "oidc_provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), unique=True)
    # What the sign-in button names: "MPASSid", "Haka", "Microsoft".
    display_name: Mapped[str] = mapped_column(String(100))
    # The issuer identifier (OpenID Connect Discovery 1.0 section 2); the discovery document is
    # at ``<issuer>/.well-known/openid-configuration`` and must name the same issuer.
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    # Sealed with the key passphrase (``issuer.core.secret_box``); None: a public client, which
    # proves itself by PKCE alone.
    client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    # Lower-case e-mail domains whose people may sign in, space-separated.
    allowed_domains: Mapped[str] = mapped_column(Text)
    # The claim that holds the e-mail address ("email"; Entra ID without the optional claim:
    # "preferred_username").
    email_claim: Mapped[str] = mapped_column(String(100), default="email", server_default="email")
    # Role mapping: the claim to read (e.g. "groups", "roles") and claim value -> role.
    role_claim: Mapped[str | None] = mapped_column(String(100))
    role_map: Mapped[dict[str, Any] | None]
    # The role of an account provisioned at its first sign-in when the mapping gives none.
    default_role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="oidc_default_role",
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )
    # Whether the mapping sets the role again at every sign-in (else only at provisioning).
    update_role: Mapped[bool] = mapped_column(default=False, server_default=false())
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

    institution: Mapped[Institution] = relationship()


class StaffOidcLink(Base):
    """A staff account's identity at a provider: (issuer, subject), unique across the service."""

    __tablename__ = "staff_oidc_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(512))
    # OpenID Connect Core 1.0 section 2: at most 255 ASCII characters.
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship()
