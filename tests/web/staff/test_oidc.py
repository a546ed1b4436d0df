"""Staff sign-in with the institution's OpenID Connect provider, end to end against a real
provider (``tests/oidc_provider.py``: Authlib's authorization server over TLS on loopback).

One provider and one SQLite app for the module (the tests change no configuration): institution
A uses the provider (domains a.fi and shared.fi, the ``groups`` claim mapped to roles, the role
updated at every sign-in); institution B has a staff member at shared.fi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from issuer import create_app
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session, unit_of_work
from issuer.models.accounts import Role, StaffUser
from issuer.models.audit import AuditEvent
from issuer.models.oidc import OidcProvider, StaffOidcLink
from issuer.services import accounts, institutions, oidc
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from issuer.web.staff.oidc import OIDC_FETCHER_EXTENSION
from tests.conftest import BACKENDS, BASE_URL, PASSPHRASE, migrated_database
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, start_provider
from tests.web.staff.support import FAST_HASHER, PASSWORD, csrf_token, login

ENGLISH = {"Accept-Language": "en"}


@dataclass
class Site:
    app: Flask
    provider: Provider


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("oidc")
    database_url = migrated_database(request, folder)
    patch = pytest.MonkeyPatch()
    patch.setattr(accounts, "_hasher", FAST_HASHER)
    with start_provider(folder) as provider:
        app = create_app(
            {
                "TESTING": True,
                "BASE_URL": BASE_URL,
                "DATABASE_URL": database_url,
                "KEYS_DIR": folder / "keys",
                "KEY_PASSPHRASE": PASSPHRASE,
                "SECRET_KEY": "test secret key",
                "BADGE_TEMPLATES_DIR": folder / "templates",
            }
        )
        app.extensions[OIDC_FETCHER_EXTENSION] = provider.fetcher()
        keystore = KeyStore(folder / "keys", PASSPHRASE)
        with app.app_context(), unit_of_work() as session:
            made = {}
            for slug in ("a", "b"):
                made[slug] = institutions.create_institution(
                    session,
                    InstitutionDetails(
                        slug=slug,
                        name_fi=f"Oppilaitos {slug.upper()}",
                        name_sv=f"Läroanstalt {slug.upper()}",
                        name_en=f"Institution {slug.upper()}",
                    ),
                    keystore,
                )
            for email, slug, role in (
                ("admin@a.fi", "a", Role.INSTITUTION_ADMIN),
                ("issuer@a.fi", "a", Role.ISSUER),
                ("teacher@shared.fi", "b", Role.INSTITUTION_ADMIN),
            ):
                accounts.create_user(
                    session, institution=made[slug], email=email, role=role, password=PASSWORD
                )
            oidc.set_provider(
                session,
                made["a"],
                oidc.ProviderSettings(
                    display_name="Haka",
                    issuer=provider.issuer,
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    allowed_domains="a.fi shared.fi",
                    role_claim="groups",
                    role_map="merkki-admins = institution_admin\nteachers = issuer",
                    update_role=True,
                ),
                actor=SystemActor(),
                passphrase=PASSPHRASE,
            )
        try:
            yield Site(app, provider)
        finally:
            dispose(app)
            patch.undo()


def person(sub: str, email: str, **claims: Any) -> dict[str, Any]:
    return {"sub": sub, "email": email, "email_verified": True, "name": "Testi Henkilö", **claims}


def through_provider(
    client: FlaskClient,
    site: Site,
    who: dict[str, Any],
    *,
    tamper: Callable[[str], str] | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """Start at Merkki, let ``who`` sign in at the provider, come back to the callback."""
    site.provider.person = who
    started = client.get("/staff/sign-in/oidc/a?next=/staff/tokens")
    assert started.status_code == 302, started.text
    url = started.headers["Location"]
    location = site.provider.authorize(tamper(url) if tamper else url)
    back = urlsplit(location)
    assert back.path == "/staff/sign-in/oidc/a/callback", location
    return client.get(f"{back.path}?{back.query}", headers=headers)


def _user(app: Flask, email: str) -> StaffUser | None:
    with app.app_context():
        return accounts.find_user_by_email(get_session(), email)


def _audit(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            get_session().scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/staff/").status_code == 200


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def test_first_sign_in_provisions_an_account_and_the_next_one_finds_it(site: Site) -> None:
    client = site.app.test_client()
    before = len(site.provider.token_requests)
    answer = through_provider(client, site, person("sub-new", "Uusi.Opettaja@A.fi"))
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/staff/tokens"  # where the sign-in started
    assert _signed_in(client)
    user = _user(site.app, "uusi.opettaja@a.fi")
    assert user is not None
    assert (user.role, user.name, user.institution_id) == (Role.ISSUER, "Testi Henkilö", 1)
    # No password opens the account: it signs in through the provider only.
    assert login(site.app.test_client(), "uusi.opettaja@a.fi", PASSWORD).status_code == 200

    # PKCE: the token request carried the verifier whose S256 challenge the provider got.
    [token_request] = site.provider.token_requests[before:]
    verifier = token_request["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert site.provider.challenges[-1] == create_s256_code_challenge(verifier)
    started = client.get("/staff/sign-in/oidc/a")
    query = parse_qs(urlsplit(started.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] != [create_s256_code_challenge(verifier)]  # fresh each time

    again = through_provider(site.app.test_client(), site, person("sub-new", "uusi.opettaja@a.fi"))
    assert again.status_code == 302
    with site.app.app_context():
        links = get_session().scalars(
            select(StaffOidcLink).where(StaffOidcLink.subject == "sub-new")
        )
        assert [link.staff_user_id for link in links] == [user.id]
    [first, second] = [
        event for event in _audit(site.app, "oidc.sign_in") if event.target == f"staff:{user.id}"
    ]
    assert first.details is not None
    assert first.details["provisioned"] is True
    assert second.details is not None
    assert second.details["provisioned"] is False


def test_a_tampered_code_challenge_fails_at_the_token_request(site: Site) -> None:
    # The provider checks the verifier against the challenge it was given: a challenge that
    # is not the verifier's makes the token request fail, and nobody is signed in.
    client = site.app.test_client()
    answer = through_provider(
        client,
        site,
        person("sub-pkce", "pkce@a.fi"),
        tamper=lambda url: _with_query(url, code_challenge=create_s256_code_challenge("x" * 43)),
        headers=ENGLISH,
    )
    assert answer.status_code == 502
    assert "did not confirm the sign-in" in answer.text
    assert not _signed_in(client)
    assert _user(site.app, "pkce@a.fi") is None


def test_the_role_follows_the_mapping(site: Site) -> None:
    client = site.app.test_client()
    admin = person("sub-map", "paakayttaja@a.fi", groups=["staff", "merkki-admins"])
    assert through_provider(client, site, admin).status_code == 302
    user = _user(site.app, "paakayttaja@a.fi")
    assert user is not None
    assert user.role is Role.INSTITUTION_ADMIN
    assert client.get("/staff/integrations").status_code == 200

    # Left the admin group: the next sign-in sets the mapped role again (update_role).
    demoted = person("sub-map", "paakayttaja@a.fi", groups=["teachers"])
    assert through_provider(site.app.test_client(), site, demoted).status_code == 302
    user = _user(site.app, "paakayttaja@a.fi")
    assert user is not None
    assert user.role is Role.ISSUER
    [event] = [
        e for e in _audit(site.app, "oidc.sign_in") if e.details and "role_changed" in e.details
    ]
    assert event.details is not None
    assert event.details["role_changed"] == ["institution_admin", "issuer"]


def test_a_wrong_state_is_refused_and_a_callback_works_once(site: Site) -> None:
    client = site.app.test_client()
    site.provider.person = person("sub-state", "state@a.fi")
    started = client.get("/staff/sign-in/oidc/a")
    back = urlsplit(site.provider.authorize(started.headers["Location"]))
    forged = _with_query(f"{back.path}?{back.query}", state="not-the-state")
    refused = client.get(forged, headers=ENGLISH)
    assert refused.status_code == 400
    assert "does not belong to this sign-in" in refused.text
    # The flow was used up: the genuine answer after a forged one is refused too.
    replay = client.get(f"{back.path}?{back.query}", headers=ENGLISH)
    assert replay.status_code == 400
    assert "was not started in this browser" in replay.text
    assert not _signed_in(client)
    assert _user(site.app, "state@a.fi") is None
    # Another browser cannot finish someone else's sign-in either.
    other = site.app.test_client().get(f"{back.path}?{back.query}")
    assert other.status_code == 400


def test_an_id_token_for_another_nonce_is_refused(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    client = site.app.test_client()
    answer = through_provider(
        client,
        site,
        person("sub-nonce", "nonce@a.fi"),
        tamper=lambda url: _with_query(url, nonce="an-attackers-nonce"),
        headers=ENGLISH,
    )
    assert answer.status_code == 400
    assert "could not be verified" in answer.text
    assert "OIDC sign-in failed (nonce_mismatch)" in caplog.text
    assert not _signed_in(client)
    assert _user(site.app, "nonce@a.fi") is None


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("fi", "ei ole niitä"),
        ("sv", "hör inte till"),
        ("en", "is not one of those"),
    ],
)
def test_a_person_from_a_domain_not_allowed_is_refused(site: Site, lang: str, words: str) -> None:
    client = site.app.test_client()
    answer = through_provider(
        client,
        site,
        person(f"sub-evil-{lang}", f"someone-{lang}@elsewhere.fi"),
        headers={"Accept-Language": lang},
    )
    assert answer.status_code == 403
    assert f'lang="{lang}"' in answer.text
    assert words in answer.text
    assert not _signed_in(client)
    assert _user(site.app, f"someone-{lang}@elsewhere.fi") is None
    refusals = [e for e in _audit(site.app, "oidc.refused") if e.actor_label.startswith("someone")]
    assert refusals
    assert refusals[-1].reason == "domain_not_allowed"


def test_another_institutions_account_is_not_taken_over(site: Site) -> None:
    client = site.app.test_client()
    before = _user(site.app, "teacher@shared.fi")
    assert before is not None
    answer = through_provider(
        client, site, person("sub-teacher", "teacher@shared.fi", groups=["merkki-admins"])
    )
    assert answer.status_code == 403
    assert not _signed_in(client)
    after = _user(site.app, "teacher@shared.fi")
    assert after is not None
    assert (after.institution_id, after.role, after.password_hash) == (
        before.institution_id,
        before.role,
        before.password_hash,
    )
    with site.app.app_context():
        assert (
            get_session()
            .scalars(select(StaffOidcLink).where(StaffOidcLink.subject == "sub-teacher"))
            .all()
            == []
        )


def test_an_existing_account_is_linked_and_keeps_its_session_rules(site: Site) -> None:
    # issuer@a.fi has a password account; the first sign-in through the provider links it.
    client = site.app.test_client()
    assert through_provider(client, site, person("sub-issuer", "issuer@a.fi")).status_code == 302
    assert _signed_in(client)
    # Signing out ends the session on the server, as after a password sign-in.
    token = csrf_token(client, "/staff/")
    copy = site.app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert not _signed_in(copy)


def test_the_sign_in_page_offers_the_provider_and_unknown_ones_are_readable(site: Site) -> None:
    client = site.app.test_client()
    page = client.get("/staff/login?lang=en&next=/staff/tokens").text
    assert "Sign in with Haka" in page
    assert "/staff/sign-in/oidc/a?next=/staff/tokens" in page
    assert "/staff/sign-in/oidc/b" not in page
    for url in ("/staff/sign-in/oidc/b", "/staff/sign-in/oidc/nobody"):
        missing = client.get(url, headers=ENGLISH)
        assert missing.status_code == 404
        assert "no sign-in provider" in missing.text


def test_the_admin_sets_the_provider_and_the_secret_stays_sealed(site: Site) -> None:
    client = site.app.test_client()
    assert login(client, "admin@a.fi").status_code == 302
    token = csrf_token(client, "/staff/sign-in-provider")
    page = client.get("/staff/sign-in-provider?lang=en").text
    assert f"{BASE_URL}/staff/sign-in/oidc/a/callback" in page
    assert CLIENT_SECRET not in page
    form = {
        "csrf_token": token,
        "display_name": "Haka",
        "issuer": site.provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": "",
        "allowed_domains": "a.fi shared.fi",
        "email_claim": "email",
        "default_role": "issuer",
        "role_claim": "groups",
        "role_map": "merkki-admins = institution_admin\nteachers = issuer",
        "update_role": "y",
        "enabled": "y",
    }
    bad = client.post(
        "/staff/sign-in-provider?lang=en",
        data={**form, "issuer": "http://op.test", "allowed_domains": "not a domain!"},
    )
    assert bad.status_code == 422
    assert "https address" in bad.text
    saved = client.post("/staff/sign-in-provider", data=form)
    assert saved.status_code == 302
    with site.app.app_context():
        stored = get_session().scalar(select(OidcProvider))
        assert stored is not None
        assert stored.client_secret_sealed is not None
        assert CLIENT_SECRET not in stored.client_secret_sealed
        # An empty secret field kept the saved secret.
        assert oidc.client_secret(stored, get_settings().key_passphrase) == CLIENT_SECRET
    configured = [e for e in _audit(site.app, "oidc.configure") if e.actor_label == "admin@a.fi"]
    assert configured
    assert CLIENT_SECRET not in str(configured[-1].details)
    issuer = site.app.test_client()
    assert login(issuer, "issuer@a.fi").status_code == 302
    assert issuer.get("/staff/sign-in-provider").status_code == 403
