"""Every state-changing form refuses a request without a valid CSRF token (issue 7).

The routes come from ``app.url_map``: every rule that accepts POST, PUT, PATCH or DELETE must be
in ``FORMS`` (checked here with a missing token, a made-up one and another session's token: 400
and a readable HTML page, nothing changed in the database), or be one of the justified
exemptions below. A new route that is in neither makes ``test_every_unsafe_route_is_covered``
fail. One representative form per blueprint is then shown to work with the valid token.

Exemptions:

* ``API_TOKEN_ROUTES``: the JSON API under ``/api/``. It authenticates with a bearer token a
  browser never attaches on its own, so a forged cross-site request has nothing to ride on
  (OWASP CSRF Prevention Cheat Sheet). Checked: a signed-in staff member's session cookie alone
  gets 401 on every one of them.
* ``WALLET_PROTOCOL_ROUTES``: the OpenID4VCI token, nonce and credential endpoints (issue 18).
  A wallet app, not a browser session, calls them: the token endpoint is authorized by the
  pre-authorized code (and PIN) in its body, the credential endpoint by an ``Authorization:
  Bearer`` access token, the nonce endpoint changes nothing; none reads a cookie, so a forged
  cross-site request has nothing to ride on, and a CSRF token would break every wallet.
  Checked: a signed-in staff member's session cookie alone gets the protocol's refusal and
  nothing is written.
* ``NOT_STATE_CHANGING``: public verification (the form and the API). Nothing is stored and no
  session is needed (an employer opens it from a link). Checked: a request without a token is
  answered and every table stays byte-for-byte the same.
* ``HOLDER_AUTHENTICATED``: the VC-API exchange of a wallet offer (``/wallet/<token>/exchange``,
  issue 18), an API for wallet apps, which send neither cookies nor form tokens. It reads no
  session; what it changes needs the offer's secret token in the URL and a presentation signed
  by the holder's key over the offer's challenge, which a cross-site page cannot make. Checked:
  a signed-in session's cookie with a request that lacks that proof changes nothing.
* ``LTI_ROUTES``: the LTI tool (``issuer.web.lti``). Its requests come from a course platform,
  often inside the platform's iframe where the session cookie is not sent, so no session and
  no form token exist. The launch POST is proven by the platform's signed id_token and its
  single-use nonce (tests/web/lti/test_launch.py); the course pages' POSTs by the launch id in
  their address, a 256-bit secret only the launched page holds. Checked: a signed-in staff
  member's session cookie alone gets a 4xx on every one of them and nothing changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_database, get_session, unit_of_work
from issuer.models import BadgeClass, Credential
from issuer.models.accounts import StaffUser
from issuer.models.issuing import OutboxMail
from issuer.services import (
    badge_classes,
    institutions,
    integrations,
    issue_input,
    issuing,
    lti,
)
from issuer.services.audit import SystemActor
from issuer.services.issuing_context import IssuingContext
from tests.web.staff.support import (
    PASSWORD,
    World,
    bearer,
    csrf_token,
    fast_password_hashing,
    make_world,
    signed_in,
)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ENGLISH = {"Accept-Language": "en"}
CSRF_MESSAGE = "The form has expired or was not sent from this site."

Who = Literal["anonymous", "admin"]

#: Every state-changing form outside the API -> who sends it (``admin``: institution B's
#: admin, signed in; ``anonymous``: nobody, as on the sign-in form and the learner's link).
FORMS: dict[str, Who] = {
    "staff.login": "anonymous",
    "staff.logout": "admin",
    "staff.change_password": "admin",
    "staff.institution_profile": "admin",
    "staff.users": "admin",
    "staff.activate_user": "admin",
    "staff.deactivate_user": "admin",
    "staff.reset_user_password": "admin",
    "staff.tokens": "admin",
    "staff.revoke_token": "admin",
    "staff.integrations_page": "admin",
    "staff.revoke_integration": "admin",
    "staff.oidc_settings": "admin",
    "staff.add_lti_platform": "admin",
    "staff.create_lti_invite": "admin",
    "staff.remove_lti_platform": "admin",
    "staff.badge_class_new": "admin",
    "staff.badge_class_edit": "admin",
    "staff.badge_class_copy": "admin",
    "staff.badge_class_publish": "admin",
    "staff.badge_class_adopt": "admin",
    "staff.badge_class_auto_issue": "admin",
    "staff_credentials.revoke": "admin",
    "staff_credentials.suspend": "admin",
    "staff_credentials.unsuspend": "admin",
    "staff_issuing.issue_one": "admin",
    "staff_issuing.bulk_upload": "admin",
    "staff_issuing.resend": "admin",
    "staff_issuing.decide": "admin",
    "learner.manage": "anonymous",
    "learner.manage_wallet": "anonymous",
}

#: JSON API routes authenticated by a bearer token (see the module docstring).
API_TOKEN_ROUTES = frozenset(
    {
        "api.create_badge_class",
        "api.update_badge_class",
        "api.copy_badge_class",
        "api.put_badge_class_image",
        "api.issue_credential",
        "api.issue_bulk",
        "api.revoke_credential",
        "api.suspend_credential",
        "api.unsuspend_credential",
        # The completion webhook: an integration's HMAC signature or bearer token, never a
        # session cookie.
        "api.report_completion",
    }
)

#: OpenID4VCI endpoints authorized by what the wallet sends, never a cookie (see the module
#: docstring).
WALLET_PROTOCOL_ROUTES = frozenset({"oid4vci.token", "oid4vci.nonce", "oid4vci.credential"})

#: Authenticated by the offer's token and the holder's signature (see the module docstring).
HOLDER_AUTHENTICATED = frozenset({"wallet.exchange"})

#: Public verification: answers, stores nothing (see the module docstring).
NOT_STATE_CHANGING = frozenset(
    {
        "verify.submit",
        "api.verify_credential",
        "vcapi.verify_credential",
        "vcapi.verify_presentation",
    }
)


#: The LTI tool's routes: the platform's id_token or the launch id, never a session cookie.
LTI_ROUTES = frozenset(
    {
        "lti.login",
        "lti.launch",
        "lti.place",
        "lti.award",
        "lti.grade_rule",
        "lti.poll",
    }
)


@dataclass
class Setting:
    app: Flask
    world: World
    manage_token: str
    values: dict[str, Any]


@pytest.fixture
def setting(app: Flask, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch) -> Setting:
    """Institutions A and B (``tests/web/staff/support.py``) and a credential issued by B the way
    a request issues it (with its learner's manage link and a mail in the outbox)."""
    fast_password_hashing(monkeypatch)
    world = make_world(app, keystore)
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, world.b.slug)
        issued = issuing.issue(
            session,
            IssuingContext.from_settings(get_settings()),
            institution,
            badge_classes.get_badge_class(session, world.b.badge_slug),
            "oppija@example.fi",
            "Olli Oppija",
            issue_input.IssueOptions(lang="fi"),
        )
        session.flush()
        mail_id = session.scalar(
            select(OutboxMail.id).where(OutboxMail.institution_id == institution.id)
        )
        credential_id, manage_token = issued.credential.id, issued.manage_token
        integration_id = integrations.create_integration(
            session,
            institution,
            name="Moodle",
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        ).integration.id
        platform_id = lti.register_platform(
            session,
            institution,
            lti.PlatformDetails(
                name="Moodle",
                issuer="https://moodle.b.example",
                client_id="merkki",
                deployment_ids=["1"],
                auth_login_url="https://moodle.b.example/mod/lti/auth.php",
                auth_token_url="https://moodle.b.example/mod/lti/token.php",
                key_set_url="https://moodle.b.example/mod/lti/certs.php",
            ),
            actor=SystemActor(),
        ).id
    assert mail_id is not None
    assert world.b.credential_id is not None
    values = {
        # Every URL variable of an unsafe route; a new one must be given a value here.
        "slug": world.b.badge_slug,
        "credential_id": world.b.credential_id,
        "token_id": world.b.token_id,
        "user_id": world.b.issuer_id,
        "mail_id": mail_id,
        "integration_id": integration_id,
        "platform_id": platform_id,
        "offer_id": 1,
        "decision": "approve",
    }
    manage = {"credential_id": credential_id, "token": manage_token}
    return Setting(
        app,
        world,
        manage_token,
        {
            **values,
            "learner.manage": manage,
            "learner.manage_wallet": manage,
            "wallet.exchange": {"token": "A" * 43},
        },
    )


def unsafe_rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & UNSAFE_METHODS):
            yield rule, method


def url_for_rule(setting: Setting, rule: Rule) -> str:
    special = setting.values.get(rule.endpoint)
    values = dict(special) if isinstance(special, dict) else {}
    for argument in rule.arguments:
        if argument not in values:
            assert argument in setting.values, (
                f"{rule.rule}: give the URL variable {argument!r} a value in the setting fixture"
            )
            values[argument] = setting.values[argument]
    adapter = setting.app.url_map.bind("127.0.0.1:5000")
    return adapter.build(rule.endpoint, values, force_external=False)


def database_fingerprint(app: Flask) -> dict[str, list[str]]:
    """Every row of every table, as text: a refused request must leave all of it unchanged."""
    engine = get_database(app).engine
    fingerprint: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            quoted = engine.dialect.identifier_preparer.quote(table)
            rows = connection.execute(text(f"SELECT * FROM {quoted}"))  # noqa: S608 - reflected names
            fingerprint[table] = sorted(repr(tuple(row)) for row in rows)
    return fingerprint


def assert_refused(response: TestResponse, what: str) -> None:
    assert response.status_code == 400, f"{what}: {response.status_code}"
    assert response.content_type.startswith("text/html"), f"{what}: {response.content_type}"
    page = response.get_data(as_text=True)
    assert "<h1>" in page, f"{what}: not a page:\n{page[:500]}"
    assert CSRF_MESSAGE in page, f"{what}: no explanation:\n{page[:500]}"
    assert "Traceback" not in page


def other_sessions_token(app: Flask) -> str:
    """A genuine token, minted for someone else's session."""
    return csrf_token(app.test_client())


# --- the table is complete --------------------------------------------------------------------


def test_every_unsafe_route_is_covered(app: Flask) -> None:
    found = {rule.endpoint for rule, _method in unsafe_rules(app)}
    api = {rule.endpoint for rule, _m in unsafe_rules(app) if rule.rule.startswith("/api/")}
    forms = found - api - WALLET_PROTOCOL_ROUTES
    assert found >= WALLET_PROTOCOL_ROUTES
    exempt = NOT_STATE_CHANGING | HOLDER_AUTHENTICATED | LTI_ROUTES
    assert forms - exempt == set(FORMS), (
        "state-changing form routes and the FORMS table differ: "
        f"not in the table {sorted(forms - exempt - set(FORMS))}, "
        f"gone {sorted(set(FORMS) - forms)}"
    )
    assert forms >= LTI_ROUTES
    assert all(
        rule.rule.startswith("/lti/")
        for rule, _m in unsafe_rules(app)
        if rule.endpoint in LTI_ROUTES
    )
    assert api - NOT_STATE_CHANGING == API_TOKEN_ROUTES, (
        f"API routes to review: {sorted(api - NOT_STATE_CHANGING - API_TOKEN_ROUTES)}, "
        f"gone {sorted(API_TOKEN_ROUTES - api)}"
    )
    assert all(
        rule.rule.startswith("/api/")
        for rule, _m in unsafe_rules(app)
        if rule.endpoint in API_TOKEN_ROUTES
    )
    assert found >= NOT_STATE_CHANGING | HOLDER_AUTHENTICATED


# --- refused without a valid token ------------------------------------------------------------


def test_every_form_refuses_a_missing_or_wrong_token(setting: Setting) -> None:
    app = setting.app
    admin = signed_in(app, setting.world.b.admin_email)
    csrf_token(admin, "/staff/")  # the session now holds its own token
    foreign = other_sessions_token(app)
    before = database_fingerprint(app)
    checked = 0
    for rule, method in unsafe_rules(app):
        if rule.endpoint not in FORMS:
            continue
        url = url_for_rule(setting, rule)
        if FORMS[rule.endpoint] == "admin":
            client = admin
        else:
            client = app.test_client()
            csrf_token(client, "/staff/login")  # a session with a token of its own
        form = {"reason": "CSRF test", "email": setting.world.b.admin_email, "name": "X"}
        for label, token in (("no token", None), ("made-up", "forged"), ("foreign", foreign)):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            response = client.open(url, method=method, data=data, headers=ENGLISH)
            assert_refused(response, f"{method} {url} with {label} token")
            # Flask-WTF also reads the X-CSRFToken header: a forged one there is refused too.
        header = client.open(
            url, method=method, data=form, headers={**ENGLISH, "X-CSRFToken": foreign}
        )
        assert_refused(header, f"{method} {url} with another session's token in the header")
        checked += 1
    assert checked >= len(FORMS)
    assert database_fingerprint(app) == before
    # The refusals did not sign the admin out.
    assert admin.get("/staff/").status_code == 200


def test_api_routes_ignore_the_session_cookie(setting: Setting) -> None:
    """Signed in to the staff UI, with no bearer token: every token-authenticated API route
    answers 401 JSON, so a cross-site request riding on the cookie gets nothing."""
    app = setting.app
    admin = signed_in(app, setting.world.b.admin_email)
    before = database_fingerprint(app)
    for rule, method in unsafe_rules(app):
        if rule.endpoint not in API_TOKEN_ROUTES:
            continue
        url = url_for_rule(setting, rule)
        response = admin.open(url, method=method, json={"reason": "x"})
        assert response.status_code == 401, f"{method} {url}: {response.status_code}"
        # The completion webhook's 401 names what is missing (docs/integrations.md).
        expected = (
            "signature_missing" if rule.endpoint == "api.report_completion" else "unauthorized"
        )
        assert response.get_json()["error"] == expected
    # The OpenID4VCI endpoints: the cookie neither trades a code nor authorizes a credential.
    token = admin.post("/oid4vci/token", data={"grant_type": "x"})
    assert token.status_code == 400
    assert token.get_json()["error"] == "unsupported_grant_type"
    credential = admin.post("/oid4vci/credential", json={"credential_configuration_id": "x"})
    assert credential.status_code == 401
    assert credential.get_json()["error"] == "invalid_token"
    assert admin.post("/oid4vci/nonce").status_code == 200
    assert database_fingerprint(app) == before


def test_the_wallet_exchange_changes_nothing_without_the_holders_proof(setting: Setting) -> None:
    """A signed-in session's cookie, no CSRF token, and no offer token or presentation that a
    cross-site page could have: the exchange answers with a refusal and writes nothing."""
    from issuer.services import wallet

    app = setting.app
    with app.app_context(), unit_of_work() as session:
        offer = wallet.create_offer(
            session, setting.world.b.credential_id or "", with_tx_code=False
        )
    admin = signed_in(app, setting.world.b.admin_email)
    before = database_fingerprint(app)
    for rule, method in unsafe_rules(app):
        if rule.endpoint not in HOLDER_AUTHENTICATED:
            continue
        unknown = admin.open(url_for_rule(setting, rule), method=method, json={})
        assert unknown.status_code == 404
        own = f"/wallet/{offer.interaction_token}/exchange"
        forged = {"verifiablePresentation": {"type": "VerifiablePresentation"}}
        assert admin.open(own, method=method, json=forged).status_code == 400
        # Starting the exchange (a challenge) needs no token either, and stores nothing.
        assert admin.open(own, method=method, json={}).status_code == 200
    assert database_fingerprint(app) == before


def test_lti_routes_ignore_the_session_cookie(setting: Setting) -> None:
    """Signed in to the staff UI, with no id_token and no launch id: every LTI route answers a
    4xx page and nothing changes (see the module docstring)."""
    app = setting.app
    admin = signed_in(app, setting.world.b.admin_email)
    before = database_fingerprint(app)
    for rule, method in unsafe_rules(app):
        if rule.endpoint not in LTI_ROUTES:
            continue
        url = url_for_rule(setting, rule)
        response = admin.open(url, method=method, data={"user": "x", "badge_class": "1"})
        assert 400 <= response.status_code < 500, f"{method} {url}: {response.status_code}"
    assert database_fingerprint(app) == before


def test_public_verification_needs_no_token_and_stores_nothing(setting: Setting) -> None:
    app = setting.app
    with app.app_context():
        stored = get_session().get(Credential, setting.world.b.credential_id)
        assert stored is not None
        signed = stored.signed_json
    client = app.test_client()
    # Status lists are signed when their bits change, not when read: from the first
    # verification on, nothing is written at all.
    before = database_fingerprint(app)
    assert client.post("/api/v1/verify", json=json.loads(signed)).status_code == 200
    page = client.post("/verify", data={"json": signed}, headers=ENGLISH)
    assert page.status_code == 200
    assert "valid" in page.get_data(as_text=True).lower()
    api = client.post("/api/v1/verify", data=signed, content_type="application/json")
    assert api.status_code == 200
    assert api.get_json()["verdict"] == "valid"
    assert database_fingerprint(app) == before


# --- the same forms work with the valid token: one per blueprint ------------------------------


def _count(app: Flask, statement: Any) -> int:
    with app.app_context():
        return int(get_session().scalar(statement) or 0)


def test_representative_forms_work_with_the_valid_token(setting: Setting) -> None:
    app, world = setting.app, setting.world
    blueprints_shown: set[str] = set()

    # staff: sign-in itself, then deactivating a colleague.
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/staff/login")
    signed = anonymous.post(
        "/staff/login",
        data={"email": world.b.admin_email, "password": PASSWORD, "csrf_token": token},
    )
    assert signed.status_code == 302
    admin = anonymous
    token = csrf_token(admin, "/staff/users")
    response = admin.post(
        f"/staff/users/{world.b.issuer_id}/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert (
        _count(
            app,
            select(func.count()).where(
                StaffUser.id == world.b.issuer_id, StaffUser.active.is_(False)
            ),
        )
        == 1
    )
    blueprints_shown.add("staff")

    # staff_credentials: revoking a credential.
    response = admin.post(
        f"/staff/credentials/{world.b.credential_id}/revoke",
        data={"reason": "issued by mistake", "csrf_token": token},
    )
    assert response.status_code == 303
    assert (
        _count(
            app,
            select(func.count()).where(
                Credential.id == world.b.credential_id, Credential.revoked_at.is_not(None)
            ),
        )
        == 1
    )
    blueprints_shown.add("staff_credentials")

    # staff_issuing: issuing one credential.
    badge_id = _count(app, select(BadgeClass.id).where(BadgeClass.slug == world.b.badge_slug))
    credentials = _count(app, select(func.count()).select_from(Credential))
    response = admin.post(
        "/staff/issue/",
        data={
            "badge_class": str(badge_id),
            "email": "uusi@example.fi",
            "name": "Uusi Oppija",
            "lang": "fi",
            "csrf_token": token,
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]
    assert _count(app, select(func.count()).select_from(Credential)) == credentials + 1
    blueprints_shown.add("staff_issuing")

    # learner: the private manage link hides the page.
    manage = setting.values["learner.manage"]
    url = f"/credentials/{manage['credential_id']}/manage/{manage['token']}"
    learner = app.test_client()
    page = learner.get(url)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert match is not None
    response = learner.post(url, data={"hidden": "y", "csrf_token": match.group(1)})
    assert response.status_code == 302
    assert (
        _count(
            app,
            select(func.count()).where(
                Credential.id == manage["credential_id"], Credential.hidden.is_(True)
            ),
        )
        == 1
    )
    blueprints_shown.add("learner")

    assert blueprints_shown == {endpoint.partition(".")[0] for endpoint in FORMS}


def test_api_routes_work_with_a_bearer_token_and_no_csrf_token(setting: Setting) -> None:
    """The exemption is real: the API's own authentication suffices."""
    client = setting.app.test_client()
    response = client.post(
        f"/api/v1/credentials/{setting.world.b.credential_id}/suspend",
        data=json.dumps({"reason": "checking"}),
        content_type="application/json",
        headers=bearer(setting.world.b.token),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
