"""``merkki wallet offer``: a fresh wallet offer of a credential, printed (issue 18)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from issuer import urls
from issuer.cli import main
from issuer.db import get_session
from issuer.models.wallet import WalletOffer
from issuer.services import wallet
from tests.web.learner.support import (
    BASE_URL,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


def _offers(app: Flask) -> int:
    with app.app_context():
        return int(get_session().scalar(select(func.count()).select_from(WalletOffer)) or 0)


def test_merkki_wallet_offer_prints_the_offer(
    app: Flask, world: World, runner: FlaskCliRunner
) -> None:
    issued = issue(app)
    made = runner.invoke(main, ["wallet", "offer", issued.id, "--json"])
    assert made.exit_code == 0, made.output
    offer = json.loads(made.stdout)
    assert set(offer) == {"interaction_url", "credential_offer_uri", "tx_code"}
    assert re.fullmatch(r"\d{6}", offer["tx_code"])
    token = urlsplit(offer["interaction_url"]).path.rsplit("/", 1)[1]
    assert offer["interaction_url"] == urls.wallet_url(BASE_URL, token)
    assert offer["credential_offer_uri"] == urls.credential_offer_uri(
        BASE_URL, wallet.pre_authorized_code(token)
    )
    bare = runner.invoke(
        main, ["wallet", "offer", f"{BASE_URL}/credentials/{issued.id}", "--json", "--no-tx-code"]
    )
    assert json.loads(bare.stdout)["tx_code"] is None
    plain = runner.invoke(main, ["wallet", "offer", issued.id])
    assert plain.exit_code == 0
    assert plain.stdout.splitlines()[0].startswith(f"interaction URL:      {BASE_URL}/wallet/")
    assert _offers(app) == 3
    unknown = runner.invoke(main, ["wallet", "offer", "0" * 32])
    assert unknown.exit_code != 0
    assert "no credential" in unknown.output
