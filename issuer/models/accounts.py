"""Staff accounts, API tokens, sign-in throttling and adopted national badge classes (models).

One module of the ``issuer.models`` package, beside ``core``; its tables share the
same ``Base`` (and thus the same metadata, which Alembic compares in ``tests/test_migrations``).
Secrets are never stored: passwords as argon2id hashes, API tokens as SHA-256 digests (tokens
are 256-bit random strings, so a fast hash is enough; a slow one only matters for guessable
secrets such as passwords — OWASP Password Storage Cheat Sheet).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import BadgeClass, Institution


class Role(enum.StrEnum):
    """What a staff member or API token may do. A service admin passes every check; an
    institution admin can do everything an issuer can (``issuer.web.auth.has_role``)."""

    SERVICE_ADMIN = "service_admin"
    INSTITUTION_ADMIN = "institution_admin"
    ISSUER = "issuer"


def _role_column(name: str) -> Enum:
    return Enum(
        Role,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda roles: [role.value for role in roles],
    )


class StaffUser(Base):
    """A person who signs in to the staff UI.

    ``institution_id`` is None only for a service admin (the check constraint says so).
    """

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(
            "role = 'service_admin' OR institution_id IS NOT NULL",
            name="institution_required",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    # Stored lower-cased (``services.accounts.normalize_email``), unique across the service.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_role_column("staff_role"))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Set for a password that somebody else saw (a generated one-time password).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    # Part of every session's stamp (``services.accounts.session_stamp``): raised on sign-out,
    # password change or reset and deactivation, which ends every session issued before,
    # replayed cookies included (the Flask session lives in the cookie, not on the server).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    institution: Mapped[Institution | None] = relationship()


class ApiToken(Base):
    """A bearer token for the JSON API, scoped to one institution.

    The token is ``mk_<prefix>_<secret>``; ``prefix`` finds the row, ``token_hash`` (SHA-256 of
    the whole token, hex) proves it. Revoked tokens stay for the record.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(_role_column("api_token_role"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The actor label of whoever created it (an e-mail address or "cli").
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins per (client address, e-mail) in a fixed window.

    ``key`` is the SHA-256 of the pair, so neither is stored in clear. Kept in the database
    rather than in memory so that every worker process sees the same count.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]


class BadgeClassAdoption(Base):
    """An institution's statement that it awards a national badge class: the catalogue lists
    it among "institutions that award it" before its first credential is issued."""

    __tablename__ = "badge_class_adoption"
    __table_args__ = (UniqueConstraint("institution_id", "badge_class_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    institution: Mapped[Institution] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()


class PackageSetting(Base):
    """How an institution awards a package (a badge class that ``requires`` others): issue it
    automatically once a learner holds every component, or offer it to staff for approval.

    Per institution, because a national package is awarded by many institutions with their
    own practice. No row means "offer to staff" (nothing is issued without a decision).
    """

    __tablename__ = "package_setting"
    __table_args__ = (UniqueConstraint("institution_id", "badge_class_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"), index=True)
    auto_issue: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    institution: Mapped[Institution] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()
