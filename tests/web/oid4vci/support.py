"""An app with one issued credential for the OpenID4VCI tests, made once per module: a copy of
the session's migrated SQLite file, one institution, one badge class and one credential, and
offers made through the wallet service as the manage page makes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from issuer import create_app, urls
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_session, unit_of_work, utc_now
from issuer.models import Credential
from issuer.models.wallet import WalletCopy, WalletOffer
from issuer.services import badge_classes, institutions, issuing, learner_keys, wallet
from issuer.services.institutions import InstitutionDetails
from issuer.services.wallet import OfferSecrets
from tests.conftest import PASSPHRASE, badge_template, write_template

SLUG = "hamk"


@dataclass
class WalletWorld:
    app: Flask
    base_url: str
    credential_id: str

    def offer(self, *, with_tx_code: bool) -> OfferSecrets:
        with self.app.app_context(), unit_of_work() as session:
            return wallet.create_offer(session, self.credential_id, with_tx_code=with_tx_code)

    def offer_uri(self, offer: OfferSecrets) -> str:
        return urls.credential_offer_uri(self.base_url, offer.pre_authorized_code)

    def expire(self, offer: OfferSecrets) -> None:
        with self.app.app_context(), unit_of_work() as session:
            session.execute(
                update(WalletOffer)
                .where(WalletOffer.id == offer.offer_id)
                .values(expires_at=utc_now() - timedelta(seconds=1))
            )

    def copies(self) -> list[WalletCopy]:
        with self.app.app_context():
            session = get_session()
            rows = list(session.scalars(select(WalletCopy).order_by(WalletCopy.created_at)))
            session.expunge_all()
            return rows

    def count(self, model: Any) -> int:
        with self.app.app_context():
            return int(get_session().scalar(select(func.count()).select_from(model)) or 0)

    def original_json(self) -> str:
        with self.app.app_context():
            credential = get_session().get(Credential, self.credential_id)
            assert credential is not None
            return credential.signed_json


def make_world(root: Path, base_url: str, database_url: str, **config: Any) -> WalletWorld:
    """The app at ``base_url`` on ``database_url`` (migrated, empty; ``migrated_database``),
    with one credential issued."""
    templates = root / "badge_templates"
    write_template(templates, badge_template("test-badge"))
    app = create_app(
        {
            "TESTING": True,
            "BASE_URL": base_url,
            "DATABASE_URL": database_url,
            "KEYS_DIR": root / "keys",
            "KEY_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "oid4vci test secret key",
            "BADGE_TEMPLATES_DIR": templates,
            "REMOTE_FETCH": "off",
            **config,
        }
    )
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, templates)
        keystore = KeyStore(root / "keys", PASSPHRASE)
        institution = institutions.create_institution(
            session, InstitutionDetails(slug=SLUG, name_fi="HAMK"), keystore
        )
        credential = issuing.issue_credential(
            session,
            institution,
            badge_classes.get_badge_class(session, "test-badge"),
            "aino@example.fi",
            "Aino Virtanen",
            "fi",
            base_url=base_url,
            keystore=keystore,
            secret=learner_keys.recipient_secret(get_settings()),
        )
        credential_id = credential.id
    return WalletWorld(app=app, base_url=base_url, credential_id=credential_id)
