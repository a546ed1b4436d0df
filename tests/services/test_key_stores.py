"""The database key store (the default): keys sealed into their rows, in the same transaction;
moving file keys into it; re-wrapping under a new passphrase."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.key_envelope import DatabaseKeyStore, forget_cached_keys
from issuer.core.keys import KeyStore, SigningKeyStore
from issuer.db import get_session, unit_of_work
from issuer.models import Credential, Institution, SigningKey
from issuer.services import (
    badge_classes,
    institutions,
    issuing,
    keys,
    learner_keys,
    verification,
)
from issuer.services.errors import SigningUnavailableError
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL, PASSPHRASE

HAMK = InstitutionDetails(slug="hamk", name_fi="HAMK")


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Opened keys are cached per process: each test opens its own.
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture
def store(app: Flask) -> SigningKeyStore:
    with app.app_context():
        return keys.keystore_for(get_settings())


def _issue(session: Session, institution: Institution, keystore: SigningKeyStore) -> Credential:
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, "test-badge"),
        "liisa@example.fi",
        "Liisa Virtanen",
        "en",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )


def _verified(session: Session, credential: Credential) -> bool:
    document = json.loads(credential.signed_json)
    return verification.verify(session, document, base_url=BASE_URL).verified


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_database_store_is_the_default_and_seals_into_the_row(
    session: Session, store: SigningKeyStore, keys_dir: Path, templates_dir: Path
) -> None:
    assert store.kind == "database"
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(session, HAMK, store)
    key = keys.active_key(session, institution)

    assert key.sealed_private_key is not None
    assert json.loads(key.sealed_private_key)["format"] == "merkki-sealed-key/1"
    assert _files(keys_dir) == []  # nothing on this host's disk
    assert _verified(session, _issue(session, institution, store))
    rotated = keys.rotate_key(session, institution, store)
    assert rotated.sealed_private_key is not None
    assert _verified(session, _issue(session, institution, store))


def test_a_failed_commit_leaves_no_key(app: Flask, store: SigningKeyStore, keys_dir: Path) -> None:
    def refuse(session: Session) -> None:
        raise RuntimeError("the commit fails")

    def create() -> None:
        with unit_of_work() as work:
            institutions.create_institution(work, HAMK, store)
            assert work.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 1

    with app.app_context():
        session = get_session()
        event.listen(session, "before_commit", refuse)
        try:
            with pytest.raises(RuntimeError, match="the commit fails"):
                create()
        finally:
            event.remove(session, "before_commit", refuse)
        assert session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(Institution)) == 0
    assert _files(keys_dir) == []


def test_a_sealed_key_does_not_open_with_another_passphrase_or_on_another_row(
    session: Session, store: SigningKeyStore
) -> None:
    first = keys.active_key(session, institutions.create_institution(session, HAMK, store))
    other = institutions.create_institution(
        session, InstitutionDetails(slug="tamk", name_fi="TAMK"), store
    )
    second = keys.active_key(session, other)
    assert keys.load_private_key(store, first)

    with pytest.raises(SigningUnavailableError) as wrong_passphrase:
        keys.load_private_key(DatabaseKeyStore(PASSPHRASE + "x"), first)
    assert wrong_passphrase.value.reason == "key_unusable"
    assert "passphrase" not in wrong_passphrase.value.message.lower()

    # Copied onto another key's row (say, by someone with write access to the database), the
    # sealed key does not open: its key id is bound in as associated data.
    second.sealed_private_key = first.sealed_private_key
    forget_cached_keys()
    with pytest.raises(SigningUnavailableError) as moved:
        keys.load_private_key(store, second)
    assert moved.value.reason == "key_unusable"
    assert "cannot decrypt" in moved.value.detail


def test_migrate_seals_the_file_keys_and_credentials_keep_verifying(
    session: Session,
    app: Flask,
    keystore: KeyStore,
    keys_dir: Path,
    templates_dir: Path,
) -> None:
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(session, HAMK, keystore)  # the files store
    old_key = keys.active_key(session, institution)
    before = _issue(session, institution, keystore)
    keys.rotate_key(session, institution, keystore)
    assert old_key.sealed_private_key is None
    assert len(_files(keys_dir)) == 2

    database = keys.database_keystore(get_settings())
    moved = keys.migrate_to_database(session, keystore, database)

    assert {k.key_id for k in moved} == {k.key_id for k in institution.signing_keys}
    assert all(k.sealed_private_key is not None for k in institution.signing_keys)
    assert keys.migrate_to_database(session, keystore, database) == []  # nothing left to move
    for path in _files(keys_dir):
        path.unlink()  # what the operator does once the move is committed
    only_database = DatabaseKeyStore(PASSPHRASE)
    assert _verified(session, before)
    after = _issue(session, institution, only_database)
    assert _verified(session, after)


def test_migrate_refuses_a_file_that_holds_another_key(
    session: Session, keystore: KeyStore
) -> None:
    from issuer.core.keys import generate_private_key

    institution = institutions.create_institution(session, HAMK, keystore)
    key = keys.active_key(session, institution)
    keystore.save(key.key_id, generate_private_key(), overwrite=True)
    with pytest.raises(SigningUnavailableError) as refused:
        keys.migrate_to_database(session, keystore, keys.database_keystore(get_settings()))
    assert refused.value.reason == "key_mismatch"
    assert key.sealed_private_key is None


def test_rewrap_changes_the_passphrase(
    session: Session, store: SigningKeyStore, templates_dir: Path
) -> None:
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(session, HAMK, store)
    key = keys.active_key(session, institution)
    assert isinstance(store, DatabaseKeyStore)

    assert keys.rewrap(session, store, "the new passphrase") == 1

    forget_cached_keys()
    with pytest.raises(SigningUnavailableError):
        keys.load_private_key(DatabaseKeyStore(PASSPHRASE), key)
    new = DatabaseKeyStore("the new passphrase")
    assert _verified(session, _issue(session, institution, new))
    # While the passphrase changes, a host configured with the new one and the old one as
    # previous opens keys under either.
    both = DatabaseKeyStore("the new passphrase", previous=[PASSPHRASE])
    assert keys.load_private_key(both, key)
    # A key that no passphrase of the store opens stops the change: nothing is re-wrapped.
    with pytest.raises(SigningUnavailableError):
        keys.rewrap(session, DatabaseKeyStore(PASSPHRASE), "a third passphrase")
    assert keys.load_private_key(new, key)


def test_migrate_skips_a_retired_key_without_its_file_but_not_an_active_one(
    session: Session, keystore: KeyStore
) -> None:
    institution = institutions.create_institution(session, HAMK, keystore)
    retired = keys.active_key(session, institution)
    active = keys.rotate_key(session, institution, keystore)
    keystore.delete(retired.key_id)  # a retired key never signs again
    database = keys.database_keystore(get_settings())

    assert keys.migrate_to_database(session, keystore, database) == [active]
    assert retired.sealed_private_key is None

    other = institutions.create_institution(
        session, InstitutionDetails(slug="tamk", name_fi="TAMK"), keystore
    )
    missing = keys.active_key(session, other)
    keystore.delete(missing.key_id)
    with pytest.raises(SigningUnavailableError) as refused:
        keys.migrate_to_database(session, keystore, database)
    assert refused.value.reason == "key_missing"


def test_two_hosts_with_their_own_keys_folders_sign_with_every_key(
    app: Flask, app_config: dict[str, object], tmp_path: Path, templates_dir: Path
) -> None:
    # Issue 16's report: a key made on host A could not sign on host B, and after a rotation on
    # B, A could no longer issue. With the database store both reach every key.
    from issuer import create_app
    from issuer.db import dispose

    host_b = create_app({**app_config, "KEYS_DIR": tmp_path / "host-b-keys"})
    try:
        with app.app_context(), unit_of_work() as session:  # host A
            badge_classes.load_templates(session, templates_dir)
            institutions.create_institution(session, HAMK, keys.keystore_for(get_settings()))
        with host_b.app_context(), unit_of_work() as session:
            hamk = institutions.get_institution(session, "hamk")
            assert _verified(session, _issue(session, hamk, keys.keystore_for(get_settings())))
            keys.rotate_key(session, hamk, keys.keystore_for(get_settings()))
        with app.app_context(), unit_of_work() as session:
            hamk = institutions.get_institution(session, "hamk")
            credential = _issue(session, hamk, keys.keystore_for(get_settings()))
            assert json.loads(credential.signed_json)["proof"][0]["verificationMethod"].endswith(
                keys.active_key(session, hamk).public_key_multibase
            )
            assert _verified(session, credential)
    finally:
        dispose(host_b)


def test_rewrap_under_the_current_passphrase_moves_keys_off_the_previous_one(
    session: Session, store: SigningKeyStore
) -> None:
    # Step 2 of "Change the key passphrase": the hosts run with the new passphrase and the old
    # one as previous; `merkki key rewrap` (no variable) re-wraps under the current one.
    key = keys.active_key(session, institutions.create_institution(session, HAMK, store))
    changing = DatabaseKeyStore("the new passphrase", previous=[PASSPHRASE])
    assert keys.load_private_key(changing, key)

    assert keys.rewrap(session, changing, "the new passphrase") == 1

    forget_cached_keys()
    assert keys.load_private_key(DatabaseKeyStore("the new passphrase"), key)
    with pytest.raises(SigningUnavailableError):
        keys.load_private_key(DatabaseKeyStore(PASSPHRASE), key)
