"""Issue 18 acceptance: the Learner Credential Wallet's VC-API exchange, run by the library the
wallet uses (``@digitalcredentials/vc``, ``js/lcw_exchange.mjs``), against Merkki served on
loopback.

One node process runs the whole scenario: refused presentations (wrong challenge, wrong domain,
a signature that no longer covers what is sent) issue nothing; the right one receives a
holder-bound copy, which verifies in the Digital Bazaar stack (signature, the issuer's did:web,
the Bitstring status list) and in Merkki's VC-API; the offer cannot be used again, an expired
one not at all; revoking the original through Merkki's API makes the copy verify as revoked in
both.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, make_server

from issuer import create_app, urls
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session, unit_of_work
from issuer.models.wallet import WalletCopy
from issuer.services import (
    accounts,
    badge_classes,
    institutions,
    issue_input,
    issuing,
    verification,
    wallet,
)
from issuer.services.institutions import InstitutionDetails
from issuer.services.issuing_context import IssuingContext
from tests.conftest import BACKENDS, PASSPHRASE, badge_template, migrated_database, write_template
from tests.interop.dbvc import JS_DIR, RUN_TIMEOUT_S, RunJs, context_paths, error_text

SCRIPT = JS_DIR / "lcw_exchange.mjs"


@dataclass
class Served:
    url: str
    app: Flask
    credential_id: str
    token: str


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """Merkki on a free loopback port (its base URL is that address: the did:web DIDs and the
    status list URLs resolve to it), with one issued credential and an API token."""
    root = tmp_path_factory.mktemp("wallet-lcw")
    write_template(root / "templates", badge_template("test-badge"))
    server: BaseWSGIServer = make_server("127.0.0.1", 0, _late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    database_url = migrated_database(request, root)
    app = create_app(
        {
            "TESTING": True,
            "BASE_URL": url,
            "DATABASE_URL": database_url,
            "KEYS_DIR": root / "keys",
            "KEY_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "wallet interop secret",
            "BADGE_TEMPLATES_DIR": root / "templates",
            "REMOTE_FETCH": "off",
            "MAIL_DELIVERY": "off",
        }
    )
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, root / "templates")
        hamk = institutions.create_institution(
            session,
            InstitutionDetails(slug="hamk", name_fi="HAMK"),
            KeyStore(root / "keys", PASSPHRASE),
        )
        token = accounts.create_token(session, hamk, name="lms", created_by="test").secret
        credential_id = issuing.issue(
            session,
            IssuingContext.from_settings(get_settings()),
            hamk,
            badge_classes.get_badge_class(session, "test-badge"),
            "liisa@example.fi",
            "Liisa Virtanen",
            issue_input.IssueOptions(lang="fi", send_mail=False),
        ).credential.id
    _late.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(url, app, credential_id, token)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        dispose(app)


class _LateApp:
    """The WSGI app, set once the server's port (and so the base URL) is known."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


_late = _LateApp()


def _run(request: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"lcw_exchange.mjs: {result.stdout}\n{result.stderr}") from None
    assert result.returncode == 0, (answer, result.stderr)
    return answer


def test_the_lcw_exchange_receives_a_bound_copy_that_verifies_and_is_revoked_with_the_original(
    served: Served, dbvc: RunJs
) -> None:
    app, base = served.app, served.url
    with app.app_context(), unit_of_work() as session:
        offer = wallet.create_offer(session, served.credential_id, with_tx_code=True)
        expired = wallet.create_offer(
            session,
            served.credential_id,
            with_tx_code=False,
            now=datetime.now(UTC) - timedelta(hours=1),
        )
    host = base.removeprefix("http://")
    answer = _run(
        {
            "offer": urls.wallet_url(base, offer.interaction_token),
            "expired": urls.wallet_url(base, expired.interaction_token),
            "revoke": {
                "url": f"{base}/api/v1/credentials/{served.credential_id}/revoke",
                "token": served.token,
            },
            "merkkiVerify": f"{base}/vc-api/credentials/verify",
            "contexts": context_paths(),
            # The issuer's did:web names https://<host>: answered by the loopback server.
            "web": {f"https://{host}": base, f"http://{host}": base},
        }
    )
    assert "error" not in answer, answer
    assert answer["protocols"] == {
        "vcapi": urls.wallet_exchange_url(base, offer.interaction_token),
        "OID4VCI": urls.credential_offer_uri(base, offer.pre_authorized_code),
    }
    assert answer["query"][0]["type"] == "DIDAuthentication"
    assert answer["refused"] == {
        name: {"status": 400, "error": "did_authentication_failed"}
        for name in ("wrongChallenge", "wrongDomain", "invalidSignature")
    }
    assert answer["received"]["status"] == 200, answer["received"]
    [copy] = answer["received"]["body"]["verifiablePresentation"]["verifiableCredential"]
    assert copy["credentialSubject"]["id"] == answer["holder"]
    assert answer["reused"] == {"status": 410, "error": "offer_used"}
    assert answer["expired"] == {"status": 410, "error": "offer_expired"}

    before, after = answer["before"], answer["after"]
    assert before["digitalBazaar"]["verified"] is True, error_text(before["digitalBazaar"])
    assert before["digitalBazaar"]["statuses"] == [
        {
            "purpose": "revocation",
            "index": copy["credentialStatus"]["statusListIndex"],
            "set": False,
        }
    ]
    assert before["merkki"] == {"status": 200, "verified": True, "errors": []}
    assert answer["revokeStatus"] == 200
    assert after["digitalBazaar"]["verified"] is False
    assert after["digitalBazaar"]["statuses"][0]["set"] is True
    assert after["merkki"]["status"] == 422
    assert after["merkki"]["verified"] is False
    with app.app_context():
        session = get_session()
        # One copy, for the one right presentation.
        assert session.scalar(select(func.count()).select_from(WalletCopy)) == 1
        assert verification.verify(session, copy, base_url=base).verdict == "revoked"
