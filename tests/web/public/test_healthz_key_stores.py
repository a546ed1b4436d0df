"""``/healthz`` with the database key store (the default): sealed keys are checked in their
rows, and no keys folder is needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.config import get_settings
from issuer.core.key_envelope import forget_cached_keys
from issuer.db import unit_of_work
from issuer.models import SigningKey
from issuer.services import institutions, keys
from issuer.services.institutions import InstitutionDetails
from tests.web.public.test_healthz import OK, assert_no_secrets, failed, probe


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture
def key_id(app: Flask) -> str:
    with app.app_context(), unit_of_work() as session:
        created = institutions.create_institution(
            session,
            InstitutionDetails(slug="tamk", name_fi="TAMK"),
            keys.keystore_for(get_settings()),
        )
        return keys.active_key(session, created).key_id


def _change_sealed(app: Flask, key_id: str, sealed: str) -> None:
    with app.app_context(), unit_of_work() as session:
        row = session.scalars(select(SigningKey).where(SigningKey.key_id == key_id)).one()
        row.sealed_private_key = sealed


def test_sealed_keys_need_no_keys_folder(client: FlaskClient, key_id: str, keys_dir: Path) -> None:
    assert not keys_dir.exists()
    status, body = probe(client)
    assert status == 200
    assert body["checks"]["signing_keys"] == OK


def test_a_corrupt_sealed_key(client: FlaskClient, app: Flask, key_id: str) -> None:
    _change_sealed(app, key_id, '{"format": "merkki-sealed-key/1"}')
    status, body = probe(client)
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("key_unusable")
    assert_no_secrets(body, key_id)


def test_a_sealed_key_of_another_row(client: FlaskClient, app: Flask, key_id: str) -> None:
    with app.app_context(), unit_of_work() as session:
        other = institutions.create_institution(
            session,
            InstitutionDetails(slug="omnia", name_fi="Omnia"),
            keys.keystore_for(get_settings()),
        )
        sealed = keys.active_key(session, other).sealed_private_key
    assert sealed is not None
    _change_sealed(app, key_id, sealed)
    status, body = probe(client)
    assert status == 503
    assert body["checks"]["signing_keys"] == failed("key_unusable")
