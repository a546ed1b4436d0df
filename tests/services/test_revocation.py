"""Revoking, suspending and unsuspending credentials; rotating and withdrawing keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.models import Credential, KeyStatus
from issuer.models.audit import AuditEvent
from issuer.models.issuing import StatusList
from issuer.services import (
    badge_classes,
    institutions,
    issuing,
    keys,
    learner_keys,
    own_records,
    revocation,
    status,
    verification,
)
from issuer.services.audit import SystemActor
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL

ACTOR = SystemActor(kind="user", id="7", label="rehtori@hamk.fi")
MOMENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def hamk(session: Session, keystore: KeyStore, templates_dir: Path) -> Any:
    badge_classes.load_templates(session, templates_dir)
    return institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
    )


def _issue(session: Session, institution: Any, keystore: KeyStore, name: str = "A B") -> Credential:
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, "test-badge"),
        f"{name.split()[0].lower()}@example.fi",
        name,
        "fi",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )


def _events(session: Session, target: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target == target, AuditEvent.action != "issue")
            .order_by(AuditEvent.id)
        )
    )


def _verdict(session: Session, credential: Credential) -> str:
    return verification.verify_stored(session, credential.id, base_url=BASE_URL).verdict


# --- finding credentials ------------------------------------------------------------------------


def test_a_credential_is_found_by_its_id_uuid_or_url(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore)
    hexid = credential.id
    dashed = f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"
    for reference in (hexid, hexid.upper(), dashed, f" {BASE_URL}/credentials/{hexid} "):
        assert revocation.find_credential(session, reference, BASE_URL) is credential
    for reference in ("", "nope", "0" * 32, f"https://elsewhere.example/credentials/{hexid}"):
        with pytest.raises(NotFoundError):
            revocation.find_credential(session, reference, BASE_URL)


# --- revocation and suspension ------------------------------------------------------------------


def test_revoke(session: Session, hamk: Any, keystore: KeyStore) -> None:
    credential = _issue(session, hamk, keystore)
    assert _verdict(session, credential) == "valid"

    revocation.revoke(session, credential, actor=ACTOR, reason="  Väärä   henkilö \n", now=MOMENT)

    assert credential.revoked_at == MOMENT
    assert credential.revocation_reason == "Väärä henkilö"
    assert revocation.credential_state(credential) == "revoked"
    assert status.is_set(session, credential.id, status.REVOCATION)
    [event] = _events(session, credential.id)
    assert (event.action, event.reason, event.actor_label, event.actor_kind, event.actor_id) == (
        "revoke",
        "Väärä henkilö",
        "rehtori@hamk.fi",
        "user",
        "7",
    )
    assert event.occurred_at == MOMENT
    assert event.institution_id == hamk.id
    result = verification.verify_stored(session, credential.id, base_url=BASE_URL)
    assert result.verdict == "revoked"
    assert result.revocation_reason == "Väärä henkilö"
    assert "Väärä henkilö" in result.check("status:revocation").message  # type: ignore[union-attr]


@pytest.mark.parametrize("reason", ["", "   ", "x" * (revocation.MAX_REASON_LENGTH + 1)])
def test_revocation_needs_a_reasonable_reason(
    session: Session, hamk: Any, keystore: KeyStore, reason: str
) -> None:
    credential = _issue(session, hamk, keystore)
    with pytest.raises(InvalidInputError):
        revocation.revoke(session, credential, actor=ACTOR, reason=reason)
    assert credential.revoked_at is None
    assert not status.is_set(session, credential.id, status.REVOCATION)
    assert _events(session, credential.id) == []


def test_revocation_is_permanent(session: Session, hamk: Any, keystore: KeyStore) -> None:
    credential = _issue(session, hamk, keystore)
    revocation.revoke(session, credential, actor=ACTOR, reason="x")
    for action in (revocation.suspend, revocation.unsuspend):
        with pytest.raises(ConflictError, match="revoked"):
            action(session, credential, actor=ACTOR)
    with pytest.raises(ConflictError, match="already revoked"):
        revocation.revoke(session, credential, actor=ACTOR, reason="again")
    assert [e.action for e in _events(session, credential.id)] == ["revoke"]
    assert credential.revocation_reason == "x"


def test_suspend_and_unsuspend(session: Session, hamk: Any, keystore: KeyStore) -> None:
    credential = _issue(session, hamk, keystore)
    with pytest.raises(ConflictError, match="not suspended"):
        revocation.unsuspend(session, credential, actor=ACTOR)

    revocation.suspend(session, credential, actor=ACTOR, reason="selvityksessä", now=MOMENT)
    assert credential.suspended_at == MOMENT
    assert status.is_set(session, credential.id, status.SUSPENSION)
    assert not status.is_set(session, credential.id, status.REVOCATION)
    assert _verdict(session, credential) == "suspended"
    with pytest.raises(ConflictError, match="already suspended"):
        revocation.suspend(session, credential, actor=ACTOR)

    revocation.unsuspend(session, credential, actor=ACTOR)
    assert credential.suspended_at is None
    assert not status.is_set(session, credential.id, status.SUSPENSION)
    assert _verdict(session, credential) == "valid"
    assert [(e.action, e.reason) for e in _events(session, credential.id)] == [
        ("suspend", "selvityksessä"),
        ("unsuspend", None),
    ]


def test_a_suspended_credential_can_still_be_revoked(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore)
    revocation.suspend(session, credential, actor=ACTOR)
    revocation.revoke(session, credential, actor=ACTOR, reason="lopullinen")
    result = verification.verify_stored(session, credential.id, base_url=BASE_URL)
    assert result.verdict == "revoked"
    assert result.check("status:suspension") is None


def test_the_suspension_bit_alone_suspends_our_credential(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    # The allocation on the suspension list decides, as the published list does.
    credential = _issue(session, hamk, keystore)
    status.set_status(session, credential.id, status.SUSPENSION, True)
    assert _verdict(session, credential) == "suspended"


def test_list_versions_move_so_lists_are_re_signed(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore)
    url = json.loads(credential.signed_json)["credentialStatus"]["statusListCredential"]
    before = own_records.own_list_credential(session, BASE_URL, url)
    revocation.revoke(session, credential, actor=ACTOR, reason="x")
    after = own_records.own_list_credential(session, BASE_URL, url)
    assert before is not None
    assert after is not None
    assert before["credentialSubject"]["encodedList"] != after["credentialSubject"]["encodedList"]


# --- keys ---------------------------------------------------------------------------------------


def test_rotation_keeps_old_credentials_verifying(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    old_key = keys.active_key(session, hamk)
    old = _issue(session, hamk, keystore, "Vanha Avain")

    change = revocation.rotate_key(session, hamk, keystore, actor=ACTOR)

    assert change.key is keys.active_key(session, hamk)
    assert change.key.id != old_key.id
    assert old_key.status is KeyStatus.RETIRED
    new = _issue(session, hamk, keystore, "Uusi Avain")
    assert _verdict(session, old) == "valid"
    assert _verdict(session, new) == "valid"
    document = institutions.did_document(hamk, BASE_URL)
    listed = {m["publicKeyMultibase"] for m in document["verificationMethod"]}
    assert listed == {old_key.public_key_multibase, change.key.public_key_multibase}
    [event] = _events(session, change.key.key_id)
    assert event.action == "key.rotate"
    assert event.details is not None
    assert event.details["retired_key_id"] == old_key.key_id


def test_a_compromised_key_fails_what_it_signed_with_a_reason(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    old_key = keys.active_key(session, hamk)
    old = _issue(session, hamk, keystore, "Vanha Avain")
    revocation.rotate_key(session, hamk, keystore, actor=ACTOR)
    new = _issue(session, hamk, keystore, "Uusi Avain")

    change = revocation.withdraw_compromised_key(
        session, hamk, old_key.key_id, keystore, actor=ACTOR, reason="vuoto"
    )

    assert change.key is old_key
    assert change.new_active is None  # the retired key was not the active one
    assert old_key.status is KeyStatus.COMPROMISED
    result = verification.verify_stored(session, old.id, base_url=BASE_URL)
    assert result.verdict == "not_genuine"
    proof = result.check("proof")
    assert proof is not None
    assert "withdrawn by HAMK as compromised" in proof.message
    assert _verdict(session, new) == "valid"
    document = institutions.did_document(hamk, BASE_URL)
    assert old_key.public_key_multibase not in json.dumps(document)
    [event] = _events(session, old_key.key_id)
    assert (event.action, event.reason) == ("key.compromised", "vuoto")
    with pytest.raises(ConflictError):
        revocation.withdraw_compromised_key(session, hamk, old_key.key_id, keystore, actor=ACTOR)


def test_withdrawing_the_active_key_makes_a_new_one_and_re_signs_the_lists(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    active = keys.active_key(session, hamk)
    credential = _issue(session, hamk, keystore)
    url = json.loads(credential.signed_json)["credentialStatus"]["statusListCredential"]
    signed_before = own_records.own_list_credential(session, BASE_URL, url)
    assert signed_before is not None
    versions = {row.id: row.version for row in session.scalars(select(StatusList))}

    change = revocation.withdraw_compromised_key(
        session, hamk, active.public_key_multibase, keystore, actor=ACTOR
    )

    assert change.new_active is not None
    assert keys.active_key(session, hamk) is change.new_active
    for row in session.scalars(select(StatusList)):
        assert row.version == versions[row.id] + 1
    signed_after = own_records.own_list_credential(session, BASE_URL, url)
    assert signed_after is not None
    assert change.new_active.public_key_multibase in signed_after["proof"][0]["verificationMethod"]
    # What the old key signed no longer verifies; newly issued credentials do.
    assert _verdict(session, credential) == "not_genuine"
    assert _verdict(session, _issue(session, hamk, keystore, "Uusi Nimi")) == "valid"


def test_keys_are_found_by_id_multibase_or_method(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    key = keys.active_key(session, hamk)
    did = institutions.institution_did(hamk, BASE_URL)
    for reference in (key.key_id, key.public_key_multibase, f"{did}#{key.public_key_multibase}"):
        assert revocation.find_key(session, hamk, reference) is key
    with pytest.raises(NotFoundError):
        revocation.find_key(session, hamk, "z6MkNope")
    assert revocation.list_keys(session, hamk) == [key]


def test_change_status_dispatches_by_name_and_refuses_unknown_actions() -> None:
    """The one dispatch the staff pages, the API and the CLI share (``change_status``)."""
    from issuer.services import revocation

    assert revocation.STATUS_ACTIONS == ("revoke", "suspend", "unsuspend")
    with pytest.raises(ValueError, match="unknown status action"):
        revocation.change_status(None, None, "delete", actor=None)  # type: ignore[arg-type]


# --- the learner is told (issue 15) -------------------------------------------------------------


def test_each_status_change_queues_a_mail_to_the_learner_in_the_credentials_language(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    from issuer.models.issuing import MailState, OutboxMail

    credential = issuing.issue_credential(
        session,
        hamk,
        badge_classes.get_badge_class(session, "test-badge"),
        "anna@example.fi",
        "Anna Berg",
        "sv",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )
    revocation.suspend(session, credential, actor=ACTOR, reason="Utredning", now=MOMENT)
    revocation.unsuspend(session, credential, actor=ACTOR, now=MOMENT)
    revocation.revoke(session, credential, actor=ACTOR, reason="Fel person", now=MOMENT)

    issued, suspended, lifted, revoked = session.scalars(
        select(OutboxMail).where(OutboxMail.credential_id == credential.id).order_by(OutboxMail.id)
    )
    assert {mail.to_address for mail in (suspended, lifted, revoked)} == {"anna@example.fi"}
    assert {mail.lang for mail in (suspended, lifted, revoked)} == {"sv"}
    assert {mail.state for mail in (suspended, lifted, revoked)} == {MailState.PENDING}
    assert suspended.subject == "Ditt märke har spärrats: Märke test-badge"
    assert "Skäl: Utredning" in suspended.body
    assert lifted.subject == "Ditt märke är giltigt igen: Märke test-badge"
    assert "Skäl" not in lifted.body
    assert revoked.subject == "Ditt märke har återkallats: Märke test-badge"
    assert "Skäl: Fel person" in revoked.body
    assert "Hej Anna Berg," in revoked.body
    assert f"{BASE_URL}/credentials/{credential.id}\n" in revoked.body
    assert issued.subject == "Ditt märke: Märke test-badge"
