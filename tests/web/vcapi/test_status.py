"""Bitstring Status List for anyone's credential through the VC-API verifier: the list is
fetched with the app's guarded fetcher (a stand-in here), must itself verify, and its bit
decides: 200 when unset, 422 ``revoked`` or ``suspended`` when set, 422 unverifiable when the
list cannot be had."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.core.status_list import Bitstring, status_entry, status_list_credential
from issuer.web.verifying import REMOTE_FETCHER_EXTENSION
from tests.web.vcapi.helpers import Holder, plain_credential, post, sign_eddsa

LIST_URL = "https://status.example/lists/1"
INDEX = 4711


def _setup(app: Flask, purpose: str, bit: bool) -> dict[str, Any]:
    issuer = Holder()
    bits = Bitstring()
    if bit:
        bits.set(INDEX)
    status_list = status_list_credential(
        LIST_URL, issuer.did, purpose, bits, "2025-01-01T00:00:00Z"
    )
    signed_list = sign_eddsa(status_list, issuer)

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
        if url != LIST_URL:
            raise ValueError(f"not reachable: {url}")
        return signed_list

    app.extensions[REMOTE_FETCHER_EXTENSION] = fetch
    document = plain_credential(issuer, "did:example:alice")
    document["credentialStatus"] = status_entry(LIST_URL, INDEX, purpose)
    return sign_eddsa(document, issuer)


@pytest.mark.parametrize(
    ("purpose", "bit", "status", "code"),
    [
        ("revocation", False, 200, None),
        ("revocation", True, 422, "revoked"),
        ("suspension", True, 422, "suspended"),
    ],
)
def test_bitstring_status(
    app: Flask, client: FlaskClient, purpose: str, bit: bool, status: int, code: str | None
) -> None:
    credential = _setup(app, purpose, bit)
    response = post(client, "credentials/verify", {"verifiableCredential": credential})
    body = response.get_json()
    assert response.status_code == status, body
    if code is None:
        assert f"status:{purpose}" in body["checks"]
    else:
        assert [(e["check"], e["code"]) for e in body["errors"]] == [(f"status:{purpose}", code)]


def test_unreachable_status_list_is_not_verified(app: Flask, client: FlaskClient) -> None:
    credential = _setup(app, "revocation", False)

    def down(url: str, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{url} is down")

    app.extensions[REMOTE_FETCHER_EXTENSION] = down
    response = post(client, "credentials/verify", {"verifiableCredential": credential})
    assert response.status_code == 422
    body = response.get_json()
    assert [(e["check"], e["code"]) for e in body["errors"]] == [
        ("status:revocation", "status_unavailable")
    ]
