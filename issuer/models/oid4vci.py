"""OpenID4VCI state (issue 18): the access tokens the token endpoint hands out and the nonces
wallets have used.

One module of the ``issuer.models`` package; its tables share ``Base`` with the others (Alembic
compares them in ``tests/test_migrations``).

An ``Oid4vciAccessToken`` is what a redeemed pre-authorized code (``wallet_offer``) turns into:
a short-lived bearer token for the credential endpoint, stored as its SHA-256 digest (256
random bits: a fast hash suffices, as for API tokens). It is spent when the credential is
issued (``used_at``, set by a conditional UPDATE), so one offer gives one wallet copy; expired
rows are removed as new tokens are made.

An ``Oid4vciUsedNonce`` is a ``c_nonce`` a key proof has used up. Nonces themselves are not
stored when handed out (the nonce endpoint is public and writes nothing: each nonce carries its
expiry under a MAC, ``issuer.services.oid4vci``); only a used one is, as a SHA-256 digest under
a primary key, so a second use fails however many app servers answer. Rows past their expiry
can go: the MAC refuses such a nonce anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db import Base, utc_now


class Oid4vciAccessToken(Base):
    __tablename__ = "oid4vci_access_token"

    # SHA-256 (hex) of the bearer token.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("wallet_offer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    # When the credential was issued with it; a spent token is refused (invalid_token).
    used_at: Mapped[datetime | None]


class Oid4vciUsedNonce(Base):
    __tablename__ = "oid4vci_used_nonce"

    # SHA-256 (hex) of the c_nonce.
    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
