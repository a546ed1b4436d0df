"""The LTI tool's services (issue 17, LTI): the tool key is sealed in the database, the same
for every caller and resealed by ``merkki key rewrap``; registrations take https addresses only
(plain http on loopback only in a development set-up); parsing deployment ids."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.core import secret_box
from issuer.db import get_session, unit_of_work
from issuer.models.lti import LtiToolKey
from issuer.services import institutions, lti
from issuer.services.audit import SystemActor
from issuer.services.errors import ConflictError
from tests.conftest import PASSPHRASE
from tests.web.lti.support import lti_app  # noqa: F401 - fixture


def test_the_tool_key_is_sealed_and_stable(lti_app: Flask) -> None:  # noqa: F811
    with lti_app.app_context(), unit_of_work() as session:
        first = lti.tool_key(session, PASSPHRASE)
    with lti_app.app_context():
        session = get_session()
        again = lti.tool_key(session, PASSPHRASE)
        rows = session.scalars(select(LtiToolKey)).all()
        assert again == first
        assert len(rows) == 1
        assert "PRIVATE KEY" not in rows[0].sealed_private_pem
        assert lti.jwks(session)["keys"][0]["kid"] == first.kid
        with pytest.raises(secret_box.SecretBoxError):
            lti.tool_key(session, "another passphrase")


def test_rewrap_reseals_the_tool_key_and_the_previous_passphrase_opens_it(
    lti_app: Flask,  # noqa: F811
) -> None:
    new = "a new passphrase for the tool key"
    with lti_app.app_context():
        session = get_session()
        before = lti.tool_key(session, PASSPHRASE)
        with pytest.raises(ConflictError):
            lti.reseal_tool_keys(session, ["not the passphrase"], new)
        assert lti.reseal_tool_keys(session, [PASSPHRASE], new) == 1
        # While the passphrase changes, the previous one still opens it, and the new one does.
        assert lti.tool_key(session, "still wrong", previous=[new]) == before
        assert lti.tool_key(session, new) == before
        session.rollback()


def _details(url: str) -> lti.PlatformDetails:
    return lti.PlatformDetails(
        name="x",
        issuer=url,
        client_id="c",
        deployment_ids="1, 2\n2",
        auth_login_url=f"{url}/auth",
        auth_token_url=f"{url}/token",
        key_set_url=f"{url}/jwks",
    )


@pytest.mark.parametrize(
    ("url", "development", "accepted"),
    [
        ("https://moodle.example.fi", False, True),
        ("http://moodle.example.fi", True, False),
        ("http://127.0.0.1:8080", False, False),
        ("http://127.0.0.1:8080", True, True),
        ("ftp://moodle.example.fi", True, False),
    ],
)
def test_registrations_take_https_addresses(
    lti_app: Flask,  # noqa: F811
    url: str,
    development: bool,
    accepted: bool,
) -> None:
    with lti_app.app_context():
        session = get_session()
        institution = institutions.get_institution(session, "b")
        try:
            found = lti.register_platform(
                session, institution, _details(url), actor=SystemActor(), development=development
            )
        except lti.LtiError:
            assert not accepted
        else:
            assert accepted
            assert lti.deployments(found) == ["1", "2"]
        session.rollback()
