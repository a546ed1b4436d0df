"""Wallet offers (single use, expiring, transaction code) and holder-bound copies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_database
from issuer.models import Credential
from issuer.models.audit import AuditEvent
from issuer.models.wallet import WalletCopy, WalletOffer
from issuer.services import (
    badge_classes,
    institutions,
    issuing,
    learner_keys,
    revocation,
    verification,
    wallet,
)
from issuer.services.audit import SystemActor
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.institutions import InstitutionDetails
from issuer.services.issuing_context import IssuingContext
from tests.conftest import BASE_URL

MOMENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture
def issued(session: Session, keystore: KeyStore, templates_dir: Path) -> Credential:
    badge_classes.load_templates(session, templates_dir)
    hamk = institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
    )
    credential = issuing.issue_credential(
        session,
        hamk,
        badge_classes.get_badge_class(session, "test-badge"),
        "aino@example.fi",
        "Aino Virtanen",
        "fi",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )
    session.commit()
    return credential


def _ctx(keystore: KeyStore) -> IssuingContext:
    return IssuingContext(base_url=BASE_URL, keystore=keystore, secret="s")


def test_an_offer_keeps_only_digests_and_is_redeemed_once(
    session: Session, issued: Credential
) -> None:
    offer = wallet.create_offer(session, issued.id, with_tx_code=False, now=MOMENT)
    session.commit()
    row = session.get(WalletOffer, offer.offer_id)
    assert row is not None
    assert offer.tx_code is None
    assert row.tx_code_hash is None
    stored = json.dumps([str(getattr(row, c.name)) for c in WalletOffer.__table__.columns])
    assert offer.interaction_token not in stored
    assert offer.pre_authorized_code not in stored
    assert offer.expires_at == MOMENT + wallet.DEFAULT_OFFER_TTL
    # The code is derived from the token, one way.
    assert offer.pre_authorized_code == wallet.pre_authorized_code(offer.interaction_token)
    assert wallet.vcapi_challenge(offer.interaction_token) != offer.pre_authorized_code

    later = MOMENT + timedelta(minutes=1)
    assert wallet.offer_for_token(session, offer.interaction_token, now=later).id == row.id
    assert (
        wallet.redeem_interaction(session, offer.interaction_token, now=later).used_via == "vcapi"
    )
    with pytest.raises(wallet.OfferUnavailableError) as used:
        wallet.redeem_interaction(session, offer.interaction_token, now=later)
    assert used.value.reason == "used"
    # One offer, one redemption, whichever protocol asks.
    with pytest.raises(wallet.OfferUnavailableError):
        wallet.redeem_pre_authorized_code(session, offer.pre_authorized_code, None, now=later)
    with pytest.raises(wallet.OfferUnavailableError) as unknown:
        wallet.offer_for_token(session, "x" * 43, now=later)
    assert unknown.value.reason == "unknown"


def test_an_offer_expires_and_a_withdrawn_credential_is_not_offered(
    session: Session, issued: Credential
) -> None:
    offer = wallet.create_offer(
        session, issued.id, with_tx_code=False, now=MOMENT, ttl=timedelta(minutes=2)
    )
    with pytest.raises(wallet.OfferUnavailableError) as expired:
        wallet.redeem_interaction(
            session, offer.interaction_token, now=MOMENT + timedelta(minutes=2)
        )
    assert expired.value.reason == "expired"
    with pytest.raises(NotFoundError):
        wallet.create_offer(session, "0" * 32, with_tx_code=False, now=MOMENT)
    revocation.suspend(session, issued, actor=SystemActor(), reason=None)
    with pytest.raises(ConflictError):
        wallet.create_offer(session, issued.id, with_tx_code=False, now=MOMENT)


def test_the_transaction_code_is_checked_and_guessing_spends_the_offer(
    session: Session, issued: Credential
) -> None:
    offer = wallet.create_offer(session, issued.id, with_tx_code=True, now=MOMENT)
    assert offer.tx_code is not None
    assert offer.tx_code.isdigit()
    assert len(offer.tx_code) == 6
    wrong = f"{(int(offer.tx_code) + 1) % 10**6:06d}"
    for guess in (None, wrong):
        with pytest.raises(wallet.WrongTxCodeError):
            wallet.redeem_pre_authorized_code(session, offer.pre_authorized_code, guess, now=MOMENT)
    session.commit()
    redeemed = wallet.redeem_pre_authorized_code(
        session, offer.pre_authorized_code, offer.tx_code, now=MOMENT
    )
    assert redeemed.used_via == "oid4vci"
    assert redeemed.failed_attempts == 2

    guessed = wallet.create_offer(session, issued.id, with_tx_code=True, now=MOMENT)
    other = f"{(int(guessed.tx_code or 0) + 1) % 10**6:06d}"
    for _ in range(wallet.MAX_TX_CODE_ATTEMPTS):
        with pytest.raises(wallet.WrongTxCodeError):
            wallet.redeem_pre_authorized_code(
                session, guessed.pre_authorized_code, other, now=MOMENT
            )
    with pytest.raises(wallet.OfferUnavailableError):
        wallet.redeem_pre_authorized_code(
            session, guessed.pre_authorized_code, guessed.tx_code, now=MOMENT
        )


def test_two_redemptions_of_one_offer_cannot_both_succeed(
    session: Session, issued: Credential
) -> None:
    # On both databases: the second session read the offer as open before the first redeemed
    # it; only the conditional UPDATE stands between them.
    offer = wallet.create_offer(session, issued.id, with_tx_code=False, now=MOMENT)
    session.commit()
    other = get_database().sessionmaker()
    try:
        stale = wallet.offer_for_token(other, offer.interaction_token, now=MOMENT)
        assert stale.used_at is None
        other.commit()  # ends the read transaction, keeps the loaded (now stale) row
        wallet.redeem_interaction(session, offer.interaction_token, now=MOMENT)
        session.commit()
        with pytest.raises(wallet.OfferUnavailableError):
            wallet._redeem(other, stale, "oid4vci", MOMENT)
        other.rollback()
    finally:
        other.close()
    [row] = session.scalars(select(WalletOffer)).all()
    session.refresh(row)
    assert row.used_via == "vcapi"


def test_a_holder_bound_copy_shares_the_originals_status(
    session: Session, issued: Credential, keystore: KeyStore
) -> None:
    with pytest.raises(InvalidInputError):
        wallet.issue_holder_bound_copy(
            session, _ctx(keystore), issued, HOLDER + "#key", via="vcapi"
        )
    copy = wallet.issue_holder_bound_copy(
        session, _ctx(keystore), issued, HOLDER, via="oid4vci", now=MOMENT
    )
    session.commit()
    original = json.loads(issued.signed_json)
    assert copy["id"].startswith("urn:uuid:")
    assert copy["id"] != original["id"]
    assert copy["credentialSubject"]["id"] == HOLDER
    assert copy["credentialSubject"]["identifier"] == original["credentialSubject"]["identifier"]
    assert copy["credentialStatus"] == original["credentialStatus"]
    assert copy["proof"][0]["created"] == "2026-06-01T12:00:00Z"
    [row] = wallet.copies_of(session, issued.id)
    assert json.loads(row.signed_json) == copy
    assert row.holder_did == HOLDER
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet.copy"))

    assert verification.verify(session, copy, base_url=BASE_URL).verdict == "valid"
    # A suspension is in no status entry the copy carries: our records of the original say it.
    revocation.suspend(session, issued, actor=SystemActor(), reason=None)
    assert verification.verify(session, copy, base_url=BASE_URL).verdict == "suspended"
    revocation.unsuspend(session, issued, actor=SystemActor(), reason=None)
    # Our record speaks only for the copy we delivered, not for a document claiming its id.
    forged = json.loads(json.dumps(copy))
    forged["credentialSubject"]["name"] = "Someone Else"
    assert verification.verify(session, forged, base_url=BASE_URL).verdict == "not_genuine"
    revocation.revoke(session, issued, actor=SystemActor(), reason="error")
    session.commit()
    assert verification.verify(session, copy, base_url=BASE_URL).verdict == "revoked"
    with pytest.raises(ConflictError):
        wallet.issue_holder_bound_copy(session, _ctx(keystore), issued, HOLDER, via="vcapi")
    assert session.scalar(select(WalletCopy.id).where(WalletCopy.via == "vcapi")) is None


def test_holder_dids_are_checked() -> None:
    assert wallet.check_holder_did(HOLDER) == HOLDER
    assert (
        wallet.check_holder_did("did:web:example.com%3A8443:u:1")
        == "did:web:example.com%3A8443:u:1"
    )
    for bad in (
        "",
        "did:key:",
        "DID:key:z6",
        "did:key:z6 x",
        "did:key:z6/path",
        "https://x",
        "did:k:a\n",
    ):
        with pytest.raises(InvalidInputError):
            wallet.check_holder_did(bad)
    with pytest.raises(InvalidInputError):
        wallet.check_holder_did("did:key:" + "z" * wallet.MAX_DID_LENGTH)
    assert wallet.is_token("A" * 43)
    assert not wallet.is_token("A" * 42)
    assert not wallet.is_token("../" + "A" * 40)
