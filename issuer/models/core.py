"""The service's tables, as typed SQLAlchemy 2 models.

Portable types only (SQLite and PostgreSQL): ``JSON`` for badge-class data, ``UTCDateTime`` for
timestamps, non-native enums stored as strings with a check constraint. Models hold data, not
behaviour: URLs, DIDs and documents are built by the services.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now


class KeyStatus(enum.StrEnum):
    """Lifecycle of a signing key (DESIGN.md "Issuer identity")."""

    #: Signs new credentials; at most one per institution.
    ACTIVE = "active"
    #: No longer signs, stays in the DID document so old credentials keep verifying.
    RETIRED = "retired"
    #: Removed from the DID document: what it signed no longer verifies.
    COMPROMISED = "compromised"


class Institution(Base):
    """An issuing organisation; its issuer id is ``did:web:HOST:issuers:<slug>``."""

    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_fi: Mapped[str] = mapped_column(String(255))
    name_sv: Mapped[str | None] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    email: Mapped[str | None] = mapped_column(String(320))
    street_address: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    address_locality: Mapped[str | None] = mapped_column(String(128))
    address_country: Mapped[str | None] = mapped_column(String(128))
    # ISO 3166-1 alpha-2: the EU micro-credential element "country of the issuer".
    address_country_code: Mapped[str] = mapped_column(String(2), default="FI", server_default="FI")
    # Y-tunnus, the Finnish business id, e.g. "0123456-7".
    business_id: Mapped[str | None] = mapped_column(String(9))
    # Opintopolku (Finnish National Agency for Education) organisation OID, 1.2.246.562.10.*.
    oid: Mapped[str | None] = mapped_column(String(64))
    # Profile shown in the catalogue (issuer.services.accounts.update_profile).
    description_fi: Mapped[str | None] = mapped_column(Text)
    description_sv: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    # Checked and sanitised by issuer.services.images; PNG or SVG.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_media_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    signing_keys: Mapped[list[SigningKey]] = relationship(
        back_populates="institution", order_by="SigningKey.id"
    )
    badge_classes: Mapped[list[BadgeClass]] = relationship(back_populates="institution")

    def name(self, lang: str) -> str:
        """The name in ``lang`` (fi, sv or en), falling back to the Finnish name."""
        localized = {"fi": self.name_fi, "sv": self.name_sv, "en": self.name_en}.get(lang)
        return localized or self.name_fi


class SigningKey(Base):
    """An Ed25519 key of an institution. Its private half is sealed into this row by the
    ``database`` key store (``sealed_private_key``), or kept by the ``files`` or ``pkcs11``
    store under ``key_id`` (``issuer.core.keys.SigningKeyStore``)."""

    __tablename__ = "signing_key"
    __table_args__ = (
        # At most one active key per institution: issuing must never have to guess.
        Index(
            "uq_signing_key_active_per_institution",
            "institution_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    # The name of the key in every store (a file ``<key_id>.pem``, a token object's label), and
    # the associated data its sealed private key opens under.
    key_id: Mapped[str] = mapped_column(String(128), unique=True)
    public_key_multibase: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[KeyStatus] = mapped_column(
        Enum(
            KeyStatus,
            name="key_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=KeyStatus.ACTIVE,
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    retired_at: Mapped[datetime | None]
    #: The private key encrypted under ``ISSUER_KEY_PASSPHRASE`` (``issuer.core.key_envelope``),
    #: written in the same transaction as the row; None when another store keeps it.
    sealed_private_key: Mapped[str | None] = mapped_column(Text)

    institution: Mapped[Institution] = relationship(back_populates="signing_keys")


class BadgeClass(Base):
    """A badge that can be issued; its content lives in immutable ``BadgeClassVersion``s.

    ``institution`` is None for a national badge class (the shipped templates), which every
    institution may issue.
    """

    __tablename__ = "badge_class"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    published: Mapped[bool] = mapped_column(default=False, server_default=false())
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    institution: Mapped[Institution | None] = relationship(back_populates="badge_classes")
    versions: Mapped[list[BadgeClassVersion]] = relationship(
        back_populates="badge_class", order_by="BadgeClassVersion.version"
    )


class BadgeClassVersion(Base):
    """One immutable version of a badge class: its ``badge.json`` data and artwork.

    Credentials point at the version they were issued from, so editing a badge class never
    changes what an issued credential's achievement id and image URL refer to.
    """

    __tablename__ = "badge_class_version"
    __table_args__ = (UniqueConstraint("badge_class_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    version: Mapped[int]
    # The badge.json content (see badge_templates/README.md).
    data: Mapped[dict[str, Any]]
    image: Mapped[bytes] = mapped_column(LargeBinary)
    image_media_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    badge_class: Mapped[BadgeClass] = relationship(back_populates="versions")


class Credential(Base):
    """An issued credential, kept as the exact signed bytes that were handed out."""

    __tablename__ = "credential"
    __table_args__ = (
        Index("ix_credential_institution_id_recipient_key", "institution_id", "recipient_key"),
    )

    # uuid4 hex; the public id is ``<ISSUER_BASE_URL>/credentials/<id>``.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    badge_class_version_id: Mapped[int] = mapped_column(
        ForeignKey("badge_class_version.id"), index=True
    )
    recipient_name: Mapped[str] = mapped_column(String(255))
    # OB 3.0 IdentityObject ``identityHash`` ("sha256$<hex>") of the e-mail address and salt.
    recipient_identity_hash: Mapped[str] = mapped_column(String(80), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    # The signed credential exactly as serialized and returned; never re-serialized, because
    # any other serialization is not what the recipient holds (style anchors §6).
    signed_json: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Issuing (migration 0003). HMAC-SHA256 of the normalized e-mail address under the secret
    # key: finds a learner's credentials at an institution (re-run CSV files, packages) without
    # keeping the address.
    recipient_key: Mapped[str | None] = mapped_column(String(64))
    # The learner's choices on their page (via the private manage link).
    hidden: Mapped[bool] = mapped_column(default=False, server_default=false())
    indexable: Mapped[bool] = mapped_column(default=False, server_default=false())
    # SHA-256 of the manage link's token (the token itself is only in the learner's e-mail).
    manage_token_hash: Mapped[str | None] = mapped_column(String(64))
    # Revocation is permanent and has a reason, shown on the verification page; suspension can
    # be lifted (issuer.services.revocation, migration 0004). The status list bits follow them.
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()
    badge_class_version: Mapped[BadgeClassVersion] = relationship()
