"""Verification writes nothing (issue 13): status lists are signed when a bit changes, in the
same transaction, never when a list is served or a credential verified; with the database
read-only, verification and status lists are still served."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from issuer.cli import main
from issuer.core.keys import KeyStore
from issuer.core.status_list import check_status
from issuer.db import get_session, unit_of_work
from issuer.models.issuing import StatusList
from issuer.services import issuing, keys, revocation, status, status_publishing
from tests.conftest import BASE_URL
from tests.db_errors import read_only_database
from tests.web.verify.helpers import ACTOR, EXPECTED_VERDICT, Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

STATES = ("valid", "revoked", "suspended", "expired")


def _verdict(page: str) -> str:
    match = re.search(r'data-verdict="([a-z_]+)"', page)
    assert match is not None, page[:500]
    return match.group(1)


def _no_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way to a private key or a signature fail loudly."""

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("a private key was loaded or something signed")

    monkeypatch.setattr(KeyStore, "load", refuse)
    monkeypatch.setattr(keys, "load_private_key", refuse)
    monkeypatch.setattr(status_publishing, "sign", refuse)
    monkeypatch.setattr(status_publishing, "_sign", refuse)
    monkeypatch.setattr(status_publishing, "sign_changed_lists", refuse)
    monkeypatch.setattr(status_publishing, "sign_unsigned_lists", refuse)


def _entry(scenario: Scenario, state: str) -> dict[str, Any]:
    entry: dict[str, Any] = scenario.credentials[state].document["credentialStatus"]
    return entry


def _suspension_entry(app: Flask, credential_id: str) -> dict[str, Any]:
    """The entry of the credential's (unreferenced) suspension position, to read the list."""
    from issuer.services import own_records

    with app.app_context():
        position = own_records.allocations_of(get_session(), credential_id)["suspension"]
        url = status.list_url(BASE_URL, position.institution_slug, "suspension", position.number)
        allocation = get_session().scalar(
            select(status.StatusAllocation.index).where(
                status.StatusAllocation.credential_id == credential_id,
                status.StatusAllocation.purpose == "suspension",
            )
        )
    return {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": str(allocation),
        "statusListCredential": url,
    }


def _served_bit(client: FlaskClient, entry: dict[str, Any]) -> bool:
    response = client.get(entry["statusListCredential"].removeprefix(BASE_URL))
    assert response.status_code == 200, response.get_data(as_text=True)
    return bool(check_status(entry, response.get_json()).status)


def _signed_versions(app: Flask) -> list[tuple[int, int, int | None, str | None]]:
    with app.app_context():
        rows = get_session().execute(
            select(
                StatusList.id, StatusList.version, StatusList.signed_version, StatusList.signed_json
            ).order_by(StatusList.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _api_verdict(client: FlaskClient, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", data=text.encode(), content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def test_verification_and_status_lists_decrypt_no_key_and_sign_nothing(
    app: Flask, client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _signed_versions(app)
    assert all(signed == version for _id, version, signed, _text in before)
    _no_signing(monkeypatch)
    for state in STATES:
        issued = scenario.credentials[state]
        page = client.get(f"/verify/{issued.id}")
        assert page.status_code == 200
        assert _verdict(page.get_data(as_text=True)) == EXPECTED_VERDICT[state]
        assert _api_verdict(client, issued.text)["verdict"] == EXPECTED_VERDICT[state]
    assert _served_bit(client, _entry(scenario, "revoked")) is True
    assert _served_bit(client, _entry(scenario, "valid")) is False
    suspended = _suspension_entry(app, scenario.credentials["suspended"].id)
    assert _served_bit(client, suspended) is True
    assert _signed_versions(app) == before  # and nothing was written


@pytest.mark.parametrize("action", ["revoke", "suspend", "unsuspend"])
def test_after_a_status_change_the_served_list_is_already_signed_with_the_bit(
    app: Flask,
    client: FlaskClient,
    scenario: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    state = "suspended" if action == "unsuspend" else "valid"
    credential_id = scenario.credentials[state].id
    with app.app_context(), unit_of_work() as session:
        stored = issuing.get_credential(session, credential_id)
        if action == "revoke":
            revocation.revoke(session, stored, actor=ACTOR, reason="Virhe")
        elif action == "suspend":
            revocation.suspend(session, stored, actor=ACTOR)
        else:
            revocation.unsuspend(session, stored, actor=ACTOR)
    # Committed together with the bit: every list's signature covers its current bits.
    assert all(signed == version for _id, version, signed, _t in _signed_versions(app))
    _no_signing(monkeypatch)
    entry = _entry(scenario, state) if action == "revoke" else _suspension_entry(app, credential_id)
    assert _served_bit(client, entry) is (action != "unsuspend")
    expected = {"revoke": "revoked", "suspend": "suspended", "unsuspend": "valid"}[action]
    assert _verdict(client.get(f"/verify/{credential_id}").get_data(as_text=True)) == expected


def test_a_read_only_database_still_serves_verification_and_status_lists(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    revoked = _entry(scenario, "revoked")
    with read_only_database(app):
        # The database really refuses writes.
        with app.app_context(), pytest.raises(DBAPIError), unit_of_work() as session:
            session.execute(update(StatusList).values(version=StatusList.version + 1))
        for state in STATES:
            issued = scenario.credentials[state]
            page = client.get(f"/verify/{issued.id}")
            assert page.status_code == 200
            assert _verdict(page.get_data(as_text=True)) == EXPECTED_VERDICT[state]
            assert _api_verdict(client, issued.text)["verdict"] == EXPECTED_VERDICT[state]
        assert _served_bit(client, revoked) is True
        assert _served_bit(client, _entry(scenario, "valid")) is False


def test_a_list_left_unsigned_is_not_signed_on_a_read_and_merkki_init_signs_it(
    app: Flask, client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list an older Merkki left unsigned (it signed on the first GET): the route answers 503
    and a verification reports the status as could not be checked, without signing;
    ``merkki init`` signs it."""
    revoked = scenario.credentials["revoked"]
    with app.app_context(), unit_of_work() as session:
        session.execute(update(StatusList).values(signed_json=None, signed_version=None))
    with monkeypatch.context() as patched:
        _no_signing(patched)
        response = client.get(revoked.document["credentialStatus"]["statusListCredential"])
        assert response.status_code == 503
        assert response.get_json()["error"] == "status_list_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        # The list cannot vouch for a credential that is not revoked: could not be checked.
        valid = scenario.credentials["valid"]
        body = _api_verdict(client, valid.text)
        [check] = [c for c in body["checks"] if c["name"] == "status:revocation"]
        assert (check["ok"], check["code"]) == (None, "status_unavailable")
        assert body["verdict"] == "unverifiable"
        # Our own records still know what was revoked (the database row decides).
        assert _api_verdict(client, revoked.text)["verdict"] == "revoked"
        page = client.get(f"/verify/{valid.id}").get_data(as_text=True)
        assert _verdict(page) == "unverifiable"
    assert all(signed is None for _id, _v, signed, _t in _signed_versions(app))

    result = app.test_cli_runner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "status lists: 4 signed" in result.output
    assert all(signed == version for _id, version, signed, _t in _signed_versions(app))
    assert _served_bit(client, _entry(scenario, "revoked")) is True
    page = client.get(f"/verify/{revoked.id}").get_data(as_text=True)
    assert _verdict(page) == "revoked"


def test_the_served_list_text_is_the_stored_signature(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    url = _entry(scenario, "revoked")["statusListCredential"]
    served = client.get(url.removeprefix(BASE_URL))
    stored = {text for _id, _v, _s, text in _signed_versions(app)}
    assert served.get_data(as_text=True) in stored
    assert json.loads(served.data)["id"] == url
