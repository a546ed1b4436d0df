"""Into the learner's wallet (issue 18): offers and the holder-bound copies they deliver.

One module of the ``issuer.models`` package; its tables share ``Base`` with the others (Alembic
compares them in ``tests/test_migrations``).

A ``WalletOffer`` is one offer of one credential to one wallet, by either protocol: the
interaction URL (``/wallet/<token>``, the QR code) leads a Learner Credential Wallet to the
VC-API exchange and an OpenID4VCI wallet to the credential offer, whose pre-authorized code is
derived from the same token (``issuer.services.wallet``). No secret is stored in clear: the
interaction token and the pre-authorized code as SHA-256 digests (256 random bits: a fast hash
suffices), the transaction code (a short PIN) as a digest keyed with the pre-authorized code,
so that the table alone does not reveal it. An offer is redeemed once (``used_at``, set by a
conditional UPDATE) and expires (``expires_at``).

A ``WalletCopy`` is a credential delivered to a wallet: a copy of the learner's credential
bound to the holder's DID (``credentialSubject.id``), signed anew under its own id, sharing the
original's ``credentialStatus`` (revoking the original revokes every copy).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import Credential


class WalletOffer(Base):
    __tablename__ = "wallet_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(32), ForeignKey("credential.id"), index=True)
    # SHA-256 (hex) of the interaction token (the ``/wallet/<token>`` URL and its exchange).
    interaction_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 (hex) of the OpenID4VCI pre-authorized code.
    pre_authorized_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC-SHA256 of the transaction code under the pre-authorized code; None: no tx_code.
    tx_code_hash: Mapped[str | None] = mapped_column(String(64))
    # Wrong transaction codes given so far: the offer is spent after a few (a PIN is short).
    failed_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    # When a wallet redeemed it (VC-API presentation accepted, OpenID4VCI code exchanged).
    used_at: Mapped[datetime | None]
    # 'vcapi' or 'oid4vci': which protocol redeemed it.
    used_via: Mapped[str | None] = mapped_column(String(16))

    credential: Mapped[Credential] = relationship()


class WalletCopy(Base):
    __tablename__ = "wallet_copy"

    # uuid4 hex; the copy's credential ``id`` is ``urn:uuid:<the same uuid>``.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(32), ForeignKey("credential.id"), index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_offer.id"))
    holder_did: Mapped[str] = mapped_column(String(2048))
    # The signed copy exactly as handed to the wallet.
    signed_json: Mapped[str] = mapped_column(Text)
    # 'vcapi' or 'oid4vci'.
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    credential: Mapped[Credential] = relationship()
