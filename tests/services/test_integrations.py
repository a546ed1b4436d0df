"""The integrations service: secrets, authentication, completions (issue 17)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from issuer.core import webhook_signature
from issuer.core.keys import KeyStore
from issuer.models.integrations import AuthKind
from issuer.services import badge_classes, institutions, integrations
from issuer.services.audit import SystemActor
from issuer.services.errors import ConflictError, InvalidInputError
from issuer.services.institutions import InstitutionDetails
from issuer.services.issue_input import FieldErrors

PASSPHRASE = "the service's key passphrase"
BODY = b'{"event_id": "1"}'


@pytest.fixture
def hamk(session: Session, keystore: KeyStore, templates_dir: Path) -> int:
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
    )
    session.flush()
    return institution.id


def _create(session: Session, kind: AuthKind = AuthKind.HMAC) -> integrations.NewIntegration:
    return integrations.create_integration(
        session,
        institutions.get_institution(session, "hamk"),
        name="  Moodle   moodle.example.fi ",
        auth_kind=kind,
        actor=SystemActor(),
        passphrase=PASSPHRASE,
    )


def _authenticate(session: Session, key: str, secret: str, passphrase: str = PASSPHRASE) -> int:
    header = webhook_signature.header_value(secret, int(time.time()), BODY)
    found = integrations.authenticate_signature(
        session, key, header, BODY, passphrase=passphrase, now=time.time()
    )
    return found.id


def test_an_hmac_secret_is_stored_sealed_and_opens_with_the_passphrase_only(
    session: Session, hamk: int
) -> None:
    created = _create(session)
    integration = created.integration
    assert integration.name == "Moodle moodle.example.fi"
    assert integration.secret_hash is None
    assert integration.secret_sealed is not None
    assert created.secret not in integration.secret_sealed
    key = integrations.key_id(integration)
    assert _authenticate(session, key, created.secret) == integration.id
    # Another passphrase (changed since the secret was sealed): refused, not a crash.
    with pytest.raises(integrations.IntegrationAuthError) as caught:
        _authenticate(session, key, created.secret, passphrase="another")
    assert caught.value.code == "invalid_signature"


def test_a_sealed_secret_moved_to_another_row_does_not_open(session: Session, hamk: int) -> None:
    first, second = _create(session), _create(session)
    second.integration.secret_sealed = first.integration.secret_sealed
    session.flush()
    with pytest.raises(integrations.IntegrationAuthError):
        _authenticate(session, integrations.key_id(second.integration), first.secret)


def test_a_bearer_token_is_stored_as_its_digest(session: Session, hamk: int) -> None:
    created = _create(session, AuthKind.BEARER)
    assert created.integration.secret_sealed is None
    assert created.integration.secret_hash is not None
    assert created.secret not in created.integration.secret_hash
    assert integrations.authenticate_bearer(session, created.secret).id == created.integration.id
    # Another last character (not always "A": a secret may end in one).
    changed = created.secret[:-1] + ("B" if created.secret.endswith("A") else "A")
    for wrong in (changed, created.secret + "x", "", "mki_"):
        with pytest.raises(integrations.IntegrationAuthError):
            integrations.authenticate_bearer(session, wrong)


def test_revoking_drops_the_sealed_secret_and_refuses_calls(session: Session, hamk: int) -> None:
    created = _create(session)
    integrations.revoke_integration(session, created.integration, actor=SystemActor())
    assert created.integration.revoked_at is not None
    assert created.integration.secret_sealed is None
    with pytest.raises(integrations.IntegrationAuthError):
        _authenticate(session, integrations.key_id(created.integration), created.secret)


def test_resealing_moves_every_secret_to_the_new_passphrase(session: Session, hamk: int) -> None:
    first, second = _create(session), _create(session)
    integrations.revoke_integration(session, second.integration, actor=SystemActor())
    bearer = _create(session, AuthKind.BEARER)
    key = integrations.key_id(first.integration)
    # Between the restart with the new passphrase and the rewrap: the old one, now previous,
    # still opens the secret.
    header = webhook_signature.header_value(first.secret, int(time.time()), BODY)
    found = integrations.authenticate_signature(
        session, key, header, BODY, passphrase="new", previous=(PASSPHRASE,), now=time.time()
    )
    assert found.id == first.integration.id

    # The live HMAC secret only (revoked: none held; bearer: a digest).
    assert integrations.reseal_secrets(session, ("new", PASSPHRASE), "new") == 1
    assert bearer.integration.secret_sealed is None
    assert _authenticate(session, key, first.secret, passphrase="new") == first.integration.id
    with pytest.raises(integrations.IntegrationAuthError):
        _authenticate(session, key, first.secret)  # the old passphrase is gone

    # A secret no given passphrase opens stops the change, naming the integration.
    with pytest.raises(ConflictError, match=key):
        integrations.reseal_secrets(session, (PASSPHRASE,), "a third")
    assert _authenticate(session, key, first.secret, passphrase="new") == first.integration.id


def test_names_are_required_and_bounded(session: Session, hamk: int) -> None:
    institution = institutions.get_institution(session, "hamk")
    for name in (" ", "x" * 101):
        with pytest.raises(InvalidInputError):
            integrations.create_integration(
                session, institution, name=name, actor=SystemActor(), passphrase=PASSPHRASE
            )


def test_the_request_hash_ignores_key_order_and_spacing() -> None:
    one = integrations.parse_completion(
        b'{"event_id": "1", "badge_class": "b", "learner": {"email": "a@b.fi", "name": "A"}}'
    )
    two = integrations.parse_completion(
        b'{"learner":{"name":"A","email":"a@b.fi"},"badge_class":"b","event_id":"1"}'
    )
    three = integrations.parse_completion(
        b'{"learner":{"name":"B","email":"a@b.fi"},"badge_class":"b","event_id":"1"}'
    )
    assert one.request_hash == two.request_hash != three.request_hash


def test_numeric_ids_are_taken_as_text_and_other_types_refused() -> None:
    parsed = integrations.parse_completion(
        b'{"event_id": 17, "badge_class": "b", "course_id": 42,'
        b' "learner": {"email": "a@b.fi", "name": "A"}}'
    )
    assert (parsed.event_id, parsed.course_id) == ("17", "42")
    with pytest.raises(FieldErrors) as caught:
        integrations.parse_completion(
            b'{"event_id": true, "badge_class": ["b"], "learner": "a@b.fi"}'
        )
    assert set(caught.value.fields) == {"event_id", "badge_class", "learner"}
