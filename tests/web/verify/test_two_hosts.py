"""Two hosts on one database (issue 16 "Caches across hosts"): what one app process changes, the
other honours at once in its own verdicts, even with its verification caches warm.

Two ``create_app`` calls on the same database stand for two app servers: each has its own
process-wide state in ``app.extensions`` and they share the module-level bounded caches, which
is the harder case (a cache keyed only on the document would hand B's verdict straight back).
Every verification of our own credentials reads the key state and the status bits from the
database (``issuer.services.key_resolution``, ``own_records``): the caches are keyed on that
state, so a host never serves a stale verdict. What lags is only what HTTP caches outside the
app keep: a status list for at most its ``ttl`` (``Cache-Control: max-age``), which is the bound
docs/operations.md documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.cli import main
from issuer.db import dispose
from issuer.services import status_publishing
from tests.conftest import BASE_URL
from tests.web.verify.helpers import Scenario, scenario, served_status, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below


@pytest.fixture
def host_b(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """A second app on the same database (and, while keys are files, the same keys folder)."""
    other = create_app(dict(app_config))
    yield other
    dispose(other)


def api_verdict(client: FlaskClient, text: str) -> dict[str, Any]:
    answer = client.post("/api/v1/verify", data=text, content_type="application/json")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def page_verdict(client: FlaskClient, credential_id: str) -> str:
    page = client.get(f"/verify/{credential_id}").get_data(as_text=True)
    for verdict in ("valid", "revoked", "not_genuine", "unverifiable", "suspended"):
        if f'data-verdict="{verdict}"' in page:
            return verdict
    raise AssertionError("no verdict on the page")


def warm(client: FlaskClient, text: str, credential_id: str) -> None:
    """Verify twice on B, so that every cache that could remember the verdict holds it."""
    for _ in range(2):
        assert api_verdict(client, text)["verdict"] == "valid"
        assert page_verdict(client, credential_id) == "valid"


def test_a_key_marked_compromised_on_host_a_fails_on_host_b_at_once(
    app: Flask, host_b: Flask, scenario: Scenario
) -> None:
    credential = scenario.credentials["valid"]
    b = host_b.test_client()
    warm(b, credential.text, credential.id)
    method = json.loads(credential.text)["proof"][0]["verificationMethod"]
    key = method.partition("#")[2]

    withdrawn = app.test_cli_runner().invoke(
        main, ["key", "compromised", "--institution", scenario.slug, key, "--reason", "leak"]
    )
    assert withdrawn.exit_code == 0, withdrawn.output

    answer = api_verdict(b, credential.text)
    assert answer["verified"] is False
    assert answer.get("keyWithdrawn") is True
    assert page_verdict(b, credential.id) != "valid"
    # B's DID document no longer lists the key either.
    document = b.get(f"/issuers/{scenario.slug}/did.json").get_json()
    assert key not in json.dumps(document)


def test_a_revocation_on_host_a_is_served_by_host_b_at_once(
    app: Flask, host_b: Flask, scenario: Scenario
) -> None:
    credential = scenario.credentials["valid"]
    b = host_b.test_client()
    warm(b, credential.text, credential.id)
    assert served_status(b, host_b, credential)[0] is False

    revoked = app.test_cli_runner().invoke(main, ["revoke", credential.id, "--reason", "virhe"])
    assert revoked.exit_code == 0, revoked.output

    assert api_verdict(b, credential.text)["verdict"] == "revoked"
    assert page_verdict(b, credential.id) == "revoked"
    bit, response = served_status(b, host_b, credential)
    assert bit is True
    # Outside the app, an HTTP cache may keep the old list for at most its ttl: the bound.
    ttl_s = json.loads(response.get_data(as_text=True))["credentialSubject"]["ttl"] // 1000
    assert ttl_s == status_publishing.TTL_MS // 1000
    assert response.headers["Cache-Control"] == f"public, max-age={ttl_s}"


def test_a_rotation_on_host_a_is_used_by_host_b_for_its_next_signature(
    app: Flask, host_b: Flask, scenario: Scenario
) -> None:
    b = host_b.test_client()
    before = b.get(f"/issuers/{scenario.slug}/did.json").get_json()
    rotated = app.test_cli_runner().invoke(main, ["key", "rotate", "--institution", scenario.slug])
    assert rotated.exit_code == 0, rotated.output
    new_key = json.loads(rotated.stdout)[-1]["verification_method"]
    assert new_key not in json.dumps(before)

    # B revokes (signing the status list): with the key A made active, which B's DID
    # document lists.
    revoked = host_b.test_cli_runner().invoke(
        main, ["revoke", scenario.credentials["valid"].id, "--reason", "virhe"]
    )
    assert revoked.exit_code == 0, revoked.output
    url = json.loads(scenario.credentials["valid"].text)["credentialStatus"]
    served = b.get(url["statusListCredential"].removeprefix(BASE_URL)).get_json()
    assert served["proof"][0]["verificationMethod"] == new_key
    assert new_key in json.dumps(b.get(f"/issuers/{scenario.slug}/did.json").get_json())
