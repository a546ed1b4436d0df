"""The VC-API verifier writes nothing and signs nothing (DESIGN.md "Verifying writes
nothing"): on a read-only database, with every way to a private key refused, it still gives
our own credentials their verdicts, alone and in a presentation."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.core.keys import KeyStore
from issuer.services import keys, status_publishing
from tests.db_errors import read_only_database
from tests.web.vcapi.helpers import Holder, post, presentation
from tests.web.verify.helpers import Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

EXPECTED = {"valid": 200, "revoked": 422, "suspended": 422, "expired": 422, "tampered": 422}


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("a private key was loaded or something signed")


def test_vc_api_on_a_read_only_database_signs_nothing(
    app: Flask, client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = Holder()
    for name in ("sign", "_sign", "sign_changed_lists", "sign_unsigned_lists"):
        monkeypatch.setattr(status_publishing, name, _refuse)
    monkeypatch.setattr(KeyStore, "load", _refuse)
    monkeypatch.setattr(keys, "load_private_key", _refuse)
    with read_only_database(app):
        for name, code in EXPECTED.items():
            document = scenario.credentials[name].document
            response = post(client, "credentials/verify", {"verifiableCredential": document})
            assert response.status_code == code, (name, response.get_json())
            vp = presentation(holder, [document])
            response = post(
                client,
                "presentations/verify",
                {
                    "verifiablePresentation": vp,
                    "options": {"challenge": "c-123", "domain": "verifier.example"},
                },
            )
            assert response.status_code == code, (name, response.get_json())
