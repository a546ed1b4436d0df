"""The app on the ``pkcs11`` key store (a SoftHSM2 token): institutions are created, keys
rotated and credentials and status lists signed through the token; they verify in Merkki."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.config import get_settings
from issuer.core.pkcs11_keys import Pkcs11KeyStore
from issuer.db import unit_of_work
from issuer.models import SigningKey
from issuer.models.issuing import StatusList
from issuer.services import badge_classes, institutions, keys, revocation, verification
from issuer.services.actors import CLI_ACTOR
from issuer.services.errors import SigningUnavailableError
from issuer.services.institutions import InstitutionDetails
from tests.softhsm import SoftHsm, softhsm_fixture
from tests.web.verify.helpers import MICRO, issue, templates_dir

__all__ = ["softhsm_fixture", "templates_dir"]  # fixtures used below


@pytest.fixture
def key_store() -> str:
    return "pkcs11"


@pytest.fixture
def app_config(app_config: dict[str, Any], softhsm: SoftHsm) -> dict[str, Any]:
    return {
        **app_config,
        "HSM_LIBRARY": softhsm.library,
        "HSM_TOKEN": softhsm.token,
        "HSM_PIN": softhsm.pin,
    }


def _verified(app: Flask, text: str) -> bool:
    with app.app_context(), unit_of_work() as session:
        document = json.loads(text)
        return verification.verify(session, document, base_url=get_settings().base_url).verified


def test_create_rotate_and_sign_through_the_token(app: Flask, keys_dir: Path) -> None:
    slug = "hamk"
    with app.app_context(), unit_of_work() as session:
        store = keys.keystore_for(get_settings())
        assert isinstance(store, Pkcs11KeyStore)
        badge_classes.load_templates(session, get_settings().badge_templates_dir)
        hamk = institutions.create_institution(
            session, InstitutionDetails(slug=slug, name_fi="HAMK"), store
        )
        first = issue(session, hamk, MICRO, "Aino Virtanen").signed_json
        old_key = keys.active_key(session, hamk)
        assert old_key.sealed_private_key is None  # nothing of the key in the database
        assert store.has_private_key(old_key.key_id, None)
        old_multibase = old_key.public_key_multibase
    assert _verified(app, first)

    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, slug)
        revocation.rotate_key(session, hamk, keys.keystore_for(get_settings()), actor=CLI_ACTOR)
        second = issue(session, hamk, MICRO, "Bertil Holm").signed_json
        third = issue(session, hamk, MICRO, "Carla Niemi")
        # A changed bit: the list is signed again, now by the token's new key.
        revocation.revoke(session, third, actor=CLI_ACTOR, reason="test")
        third_text = third.signed_json
        signed_lists = [row.signed_json for row in session.scalars(select(StatusList))]
        new_multibase = keys.active_key(session, hamk).public_key_multibase
    assert json.loads(second)["proof"][0]["verificationMethod"].endswith(new_multibase)
    assert _verified(app, first)
    assert _verified(app, second)
    assert not _verified(app, third_text)  # revoked, as the re-signed list says
    signers = set()
    for signed_json in signed_lists:
        assert signed_json is not None
        signers.add(json.loads(signed_json)["proof"][0]["verificationMethod"].split("#")[1])
    # The revocation list by the new key; a list whose bits did not change, by the old one.
    assert new_multibase in signers
    assert signers <= {old_multibase, new_multibase}
    assert not keys_dir.exists() or not any(keys_dir.iterdir())


def test_a_key_missing_from_the_token_refuses_to_sign(app: Flask) -> None:
    with app.app_context(), unit_of_work() as session:
        store = keys.keystore_for(get_settings())
        assert isinstance(store, Pkcs11KeyStore)
        hamk = institutions.create_institution(
            session, InstitutionDetails(slug="tamk", name_fi="TAMK"), store
        )
        key = keys.active_key(session, hamk)
        store.delete(key.key_id)
        with pytest.raises(SigningUnavailableError) as refused:
            keys.load_private_key(store, key)
        assert refused.value.reason == "key_missing"
        assert key.key_id not in refused.value.message
        rows = session.scalars(select(SigningKey)).all()
        assert all(row.sealed_private_key is None for row in rows)
