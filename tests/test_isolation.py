"""Staff of institution A can never read or change institution B's objects: through the staff
UI, the JSON API and the CLI.

Table-driven over ``app.url_map``: every rule is either public by design (listed explicitly in
``PUBLIC_ENDPOINTS``), a staff route (``/staff/...``) or an API route (``/api/...``), so a new
route is covered as soon as it exists. Each staff and API route is called as institution A's
admin (the most powerful role an institution has) with its URL parameters pointing at B's
objects (``PARAMETERS``; a new parameter name fails the test until it is added there), and must
answer 403 or 404. Routes without parameters act on the caller's own institution: asked for B
(``?institution=b``) they must refuse, or answer without any of B's data. Afterwards B's
objects are checked to be unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from werkzeug.routing import IntegerConverter, Rule

from issuer.cli import main
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import get_session
from issuer.models import Credential, Institution
from issuer.models.accounts import ApiToken, StaffUser
from issuer.models.integrations import AuthKind
from issuer.services import badge_classes, integrations, lti, oidc
from issuer.services.audit import SystemActor
from tests.snapshots import restore_or_build
from tests.web.staff.support import (
    World,
    bearer,
    csrf_token,
    fast_password_hashing,
    make_world,
    signed_in,
)

#: Public by design: documents anyone may fetch, the catalogue, verification, the learner's
#: own pages (reached by credential id or a private link), the wallet protocols, sign-in,
#: health and metrics.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "pages.start",
        "pages.accessibility",
        "public.healthz",
        "public.did_document",
        "public.issuer_profile",
        "public.credential",
        "public.badge_image",
        "catalog.catalog",
        "catalog.badge_page",
        "catalog.achievement",
        "catalog.institution_logo",
        "verify.form",
        "verify.submit",
        "verify.credential",
        "api.index",
        "api.verify_credential",
        "vcapi.verify_credential",
        "vcapi.verify_presentation",
        "learner.credential_page",
        "learner.badge_png",
        "learner.badge_svg",
        "learner.credential_json",
        "learner.qr_code_png",
        "learner.qr_code_svg",
        "learner.manage",
        "learner.manage_badge_png",
        "learner.manage_badge_svg",
        "learner.manage_credential_json",
        "learner.certificate_download",
        "learner.manage_certificate",
        "learner.manage_wallet",
        "learner.status_list",
        # OpenID4VCI (issue 18): metadata anyone may read, a wallet's offer reached by its
        # pre-authorized code, and endpoints authorized by that code or an access token, never
        # by a staff session (tests/interop/test_oid4vci_wallet.py, tests/web/oid4vci).
        "oid4vci.credential_issuer_metadata",
        "oid4vci.authorization_server_metadata",
        "oid4vci.credential_offer",
        "oid4vci.token",
        "oid4vci.nonce",
        "oid4vci.credential",
        # A wallet offer's interaction URL and exchange: reached by the offer's secret token,
        # which only the learner's manage page and `merkki wallet offer` hand out (issue 18).
        "wallet.interaction",
        "wallet.exchange",
        "observability.metrics",
        "staff.login",
        # Signing in through an institution's own provider: anyone may start it; the callback
        # signs in only whom the provider vouches for (tests/web/staff/test_oidc.py).
        "staff.oidc_start",
        "staff.oidc_callback",
        # The LTI tool: no staff session; a launch is proven by the platform's signed id_token
        # and acts for the institution of the registration it names, the course pages by the
        # launch id (tests/web/lti: another institution's registrations, placements and awards
        # are not reached; tests/web/test_csrf.py: a session cookie alone gets nothing).
        "lti.login",
        "lti.launch",
        "lti.jwks",
        "lti.register",
        "lti.course",
        "lti.place",
        "lti.placed",
        "lti.award",
        "lti.grade_rule",
        "lti.poll",
    }
)

#: Institution B's LTI platform (``b_objects``): its address must not reach A's pages.
B_PLATFORM = "https://moodle.b-only.example"

#: Staff routes about the session itself (signing out would end the test's session).
SESSION_ENDPOINTS = PUBLIC_ENDPOINTS | {"staff.logout"}

#: URL parameter -> a value naming one of institution B's objects (``world`` and the extra
#: objects ``_b_objects`` makes).
PARAMETERS: dict[str, Callable[[World, dict[str, Any]], Any]] = {
    "slug": lambda w, extra: w.b.badge_slug,
    "credential_id": lambda w, extra: w.b.credential_id,
    "user_id": lambda w, extra: w.b.admin_id,
    "token_id": lambda w, extra: w.b.token_id,
    "institution_slug": lambda w, extra: w.b.slug,
    "job_id": lambda w, extra: extra["job_id"],
    "offer_id": lambda w, extra: extra["offer_id"],
    "mail_id": lambda w, extra: extra["mail_id"],
    "integration_id": lambda w, extra: extra["integration_id"],
    "platform_id": lambda w, extra: extra["platform_id"],
    "decision": lambda w, extra: "approve",
}


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    app: Flask,
    keystore: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    fast_password_hashing(monkeypatch)
    return restore_or_build(request, app, "make_world", lambda: make_world(app, keystore))


@pytest.fixture
def b_objects(app: Flask, world: World) -> dict[str, Any]:
    """B's objects of the issuing feature that ``world`` does not make: a bulk job (made by a
    completion B's integration reported), a package offer waiting for approval, an outbox mail;
    and A's bearer integration (``a_integration_token``), which calls the completion routes
    as A."""
    from issuer.models.integrations import CompletionEvent
    from issuer.models.issuing import BulkJob, OfferState, OutboxMail, PackageOffer

    with app.app_context():
        session = get_session()
        badge = badge_classes.get_badge_class(session, world.b.badge_slug)
        job = BulkJob(
            institution_id=world.b.institution_id,
            badge_class_id=badge.id,
            file_sha256="0" * 64,
            created_by="test",
            actor_kind="user",
            actor_id=world.b.admin_id,
        )
        offer = PackageOffer(
            institution_id=world.b.institution_id,
            badge_class_id=badge.id,
            recipient_key="k" * 64,
            recipient_name="Pekka Paketti",
            email="pekka@example.fi",
            lang="fi",
            state=OfferState.PENDING,
        )
        mail = OutboxMail(
            institution_id=world.b.institution_id,
            credential_id=world.b.credential_id,
            to_address="learner@example.fi",
            lang="fi",
            subject="Merkki",
            body="Merkki",
        )
        session.add_all([job, offer, mail])
        b_integration = integrations.create_integration(
            session,
            _institution(world.b),
            name="B Moodle",
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        ).integration
        oidc.set_provider(
            session,
            _institution(world.b),
            oidc.ProviderSettings(
                display_name="B Haka",
                issuer="https://login.b.example",
                client_id="b-client",
                client_secret="b client secret",
                allowed_domains="b.test",
            ),
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        )
        a_integration = integrations.create_integration(
            session,
            _institution(world.a),
            name="A SIS",
            auth_kind=AuthKind.BEARER,
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        )
        b_platform = lti.register_platform(
            session,
            _institution(world.b),
            lti.PlatformDetails(
                name="B Moodle",
                issuer=B_PLATFORM,
                client_id="merkki-b",
                deployment_ids=["1"],
                auth_login_url=f"{B_PLATFORM}/mod/lti/auth.php",
                auth_token_url=f"{B_PLATFORM}/mod/lti/token.php",
                key_set_url=f"{B_PLATFORM}/mod/lti/certs.php",
            ),
            actor=SystemActor(),
        )
        session.flush()
        session.add(
            CompletionEvent(
                integration_id=b_integration.id,
                institution_id=world.b.institution_id,
                source_event_id="b-1",
                request_hash="0" * 64,
                job_id=job.id,
            )
        )
        session.commit()
        return {
            "job_id": job.id,
            "offer_id": offer.id,
            "mail_id": mail.id,
            "integration_id": b_integration.id,
            "a_integration_token": a_integration.secret,
            "platform_id": b_platform.id,
        }


def _institution(party: Any) -> Institution:
    found = get_session().get(Institution, party.institution_id)
    assert found is not None
    return found


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def _b_markers(world: World) -> list[str]:
    """Strings only B's data contains."""
    markers = [
        world.b.admin_email,
        world.b.issuer_email,
        world.b.badge_slug,
        "Oppilaitos B",
        B_PLATFORM,
    ]
    markers.append("login.b.example")  # B's sign-in provider (``b_objects``)
    if world.b.credential_id:
        markers.append(world.b.credential_id)
    return markers


def _url(app: Flask, rule: Rule, world: World, extra: dict[str, Any], **query: str) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        if name not in PARAMETERS:
            pytest.fail(
                f"{rule.rule} ({rule.endpoint}): add the parameter {name!r} to PARAMETERS in "
                "tests/test_isolation.py so that the isolation test can aim it at institution B"
            )
        values[name] = PARAMETERS[name](world, extra)
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values, **query)


def _is_int(rule: Rule, name: str) -> bool:
    # A subclass too: the app bounds its ints (issuer.web.security.BoundedIntegerConverter).
    return isinstance(rule._converters[name], IntegerConverter)


def _snapshot(app: Flask, world: World) -> dict[str, Any]:
    with app.app_context():
        session = get_session()
        badge = badge_classes.get_badge_class(session, world.b.badge_slug)
        version = badge_classes.current_version(session, badge)
        credential = session.get(Credential, world.b.credential_id)
        user = session.get(StaffUser, world.b.admin_id)
        token = session.get(ApiToken, world.b.token_id)
        assert credential is not None
        assert user is not None
        assert token is not None
        return {
            "badge": (badge.published, badge.current_version, json.dumps(version.data)),
            "credential": credential.signed_json,
            "credential_state": {
                column: getattr(credential, column)
                for column in ("revoked_at", "suspended_at")
                if hasattr(credential, column)
            },
            "user": (user.active, user.password_hash),
            "token": token.revoked_at,
            "integrations": [
                (found.revoked_at, found.secret_sealed)
                for found in integrations.list_integrations(session, _institution(world.b))
            ],
            "lti_platforms": [
                lti.platform_json(found)
                for found in lti.list_platforms(session, _institution(world.b))
            ],
            "oidc": [
                (found.issuer, found.client_secret_sealed, found.enabled, found.updated_at)
                for found in [oidc.get_provider(session, _institution(world.b))]
                if found is not None
            ],
        }


def test_every_route_is_classified(app: Flask) -> None:
    unclassified = [
        f"{rule.rule} ({rule.endpoint})"
        for rule in _rules(app)
        if rule.endpoint not in PUBLIC_ENDPOINTS and not rule.rule.startswith(("/staff", "/api/"))
    ]
    assert unclassified == [], "list these as public or move them under /staff or /api"
    stale = PUBLIC_ENDPOINTS - {rule.endpoint for rule in _rules(app)}
    # Endpoints of features that are not (yet) registered may be listed; others must exist.
    assert stale <= {e for e in PUBLIC_ENDPOINTS if e.split(".")[0] in {"learner", "verify"}} | {
        "api.verify_credential",
        "observability.metrics",
    }


def test_staff_of_a_cannot_reach_b_through_the_staff_ui(
    app: Flask, world: World, b_objects: dict[str, Any]
) -> None:
    before = _snapshot(app, world)
    client = signed_in(app, world.a.admin_email)
    token = csrf_token(client, "/staff/")
    markers = _b_markers(world)
    checked = 0
    for rule in _rules(app):
        if not rule.rule.startswith("/staff") or rule.endpoint in SESSION_ENDPOINTS:
            continue
        for method in _methods(rule):
            if rule.arguments:
                url = _url(app, rule, world, b_objects)
                response = client.open(url, method=method, data={"csrf_token": token})
                assert response.status_code in (403, 404), (method, url, response.status_code)
            else:
                url = _url(app, rule, world, b_objects, institution=world.b.slug)
                response = client.open(url, method=method, data={"csrf_token": token})
                body = response.get_data(as_text=True)
                leaked = [m for m in markers if m in body]
                assert response.status_code in (400, 403, 404, 422) or not leaked, (
                    method,
                    url,
                    response.status_code,
                    leaked,
                )
                if method == "GET":
                    plain = client.get(_url(app, rule, world, b_objects)).get_data(as_text=True)
                    assert [m for m in markers if m in plain] == [], (url, "own view leaks")
            checked += 1
    assert checked >= 20
    assert _snapshot(app, world) == before


def test_staff_of_a_cannot_reach_b_through_the_api(
    app: Flask, world: World, b_objects: dict[str, Any]
) -> None:
    before = _snapshot(app, world)
    client = app.test_client()
    markers = _b_markers(world)
    checked = 0
    for rule in _rules(app):
        if not rule.rule.startswith("/api/") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        # The completion webhook's routes take an integration's credentials, not API tokens.
        token = (
            b_objects["a_integration_token"]
            if rule.endpoint.startswith("api.completion")
            else world.a.token
        )
        headers = bearer(token)
        for method in _methods(rule):
            if rule.arguments:
                url = _url(app, rule, world, b_objects)
                response = client.open(url, method=method, headers=headers, json={})
                assert response.status_code in (403, 404), (method, url, response.status_code)
                assert response.is_json
            elif method == "GET":
                body = client.get(_url(app, rule, world, b_objects), headers=headers).get_data(
                    as_text=True
                )
                assert [m for m in markers if m in body] == [], rule.rule
            checked += 1
    assert checked >= 5
    assert _snapshot(app, world) == before


def test_api_routes_need_a_token(app: Flask, world: World, b_objects: dict[str, Any]) -> None:
    client = app.test_client()
    for rule in _rules(app):
        if not rule.rule.startswith("/api/") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in _methods(rule):
            response = client.open(_url(app, rule, world, b_objects), method=method, json={})
            assert response.status_code == 401, (method, rule.rule)


def test_staff_routes_need_a_sign_in(app: Flask, world: World, b_objects: dict[str, Any]) -> None:
    client = app.test_client()
    token = csrf_token(client, "/staff/login")
    for rule in _rules(app):
        if not rule.rule.startswith("/staff") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in _methods(rule):
            response = client.open(
                _url(app, rule, world, b_objects), method=method, data={"csrf_token": token}
            )
            assert response.status_code == 302, (method, rule.rule)
            assert response.headers["Location"].startswith("/staff/login")


def test_every_state_changing_staff_form_needs_a_csrf_token(app: Flask, world: World) -> None:
    before = _snapshot(app, world)
    client = signed_in(app, world.a.admin_email)
    own = {
        "slug": world.a.badge_slug,
        "user_id": world.a.issuer_id,
        "token_id": world.a.token_id,
        "credential_id": world.b.credential_id,
    }
    checked = 0
    for rule in _rules(app):
        if not rule.rule.startswith("/staff"):
            continue
        for method in set(_methods(rule)) - {"GET"}:
            values = {
                name: own.get(name, 1 if _is_int(rule, name) else "approve")
                for name in rule.arguments
            }
            with app.test_request_context():
                from flask import url_for

                url = url_for(rule.endpoint, **values)
            response = client.open(url, method=method, data={"anything": "1"})
            assert response.status_code == 400, (method, url, response.status_code)
            checked += 1
    assert checked >= 10
    assert _snapshot(app, world) == before


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_commands_scoped_to_a_do_not_reach_b(
    app: Flask, runner: FlaskCliRunner, world: World, b_objects: dict[str, Any]
) -> None:
    before = _snapshot(app, world)
    revoke = runner.invoke(
        main,
        ["integration", "revoke", "--institution", "a", str(b_objects["integration_id"])],
    )
    assert revoke.exit_code != 0
    assert "no integration" in revoke.output
    listed = runner.invoke(main, ["integration", "list", "--institution", "a"])
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["A SIS"]
    removed = runner.invoke(
        main, ["lti", "remove", "--institution", "a", str(b_objects["platform_id"])]
    )
    assert removed.exit_code != 0
    assert "no LTI registration" in removed.output
    listed = runner.invoke(main, ["lti", "list", "--institution", "a"])
    assert json.loads(listed.stdout) == []
    revoke = runner.invoke(main, ["token", "revoke", "--institution", "a", str(world.b.token_id)])
    assert revoke.exit_code != 0
    assert "no API token" in revoke.output
    listed = runner.invoke(main, ["token", "list", "--institution", "a"])
    assert listed.exit_code == 0
    assert [t["id"] for t in json.loads(listed.stdout)] == [world.a.token_id]
    users = runner.invoke(main, ["user", "list", "--institution", "a"])
    assert world.b.admin_email not in users.stdout
    issue = runner.invoke(
        main,
        [
            "issue",
            "--institution",
            "a",
            "--badge",
            world.b.badge_slug,
            "--email",
            "x@y.fi",
            "--name",
            "X",
        ],
    )
    assert issue.exit_code != 0
    assert _snapshot(app, world) == before


def test_unknown_ids_and_other_institutions_look_the_same(app: Flask, world: World) -> None:
    """404 for B's badge class and for one that does not exist: existence is not revealed."""
    client = signed_in(app, world.a.admin_email)
    theirs = client.get(f"/staff/badge-classes/{world.b.badge_slug}")
    missing = client.get("/staff/badge-classes/no-such-badge")
    assert theirs.status_code == missing.status_code == 404
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", theirs.get_data(as_text=True)) == strip.sub(
        "", missing.get_data(as_text=True)
    )
    api = app.test_client()
    theirs_api = api.get(
        f"/api/v1/badge-classes/{world.b.badge_slug}", headers=bearer(world.a.token)
    )
    missing_api = api.get("/api/v1/badge-classes/no-such-badge", headers=bearer(world.a.token))
    assert theirs_api.status_code == missing_api.status_code == 404


# --- another institution's drafts look like slugs that do not exist ----------------------------

DRAFT = "b-draft"
MADE_UP = "b-nosuch"
MADE_UP_ID = "987654"
#: Differs between any two answers and names nothing (a fresh CSRF token per page).
_VOLATILE = re.compile(r'name="csrf_token"[^>]*value="[^"]+"|"request_id": "[^"]+"')
SVG_BODY = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b'<rect width="8" height="8"/></svg>'
)
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON_LD = {"Accept": "application/ld+json"}

#: (who asks, method, path with {slug}, request keyword arguments): every route that takes a
#: badge class slug, asked as a visitor, as institution A's admin in the staff UI, and with A's
#: API token. ``{csrf}`` in form data becomes the signed-in client's token.
SLUG_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("visitor", "GET", "/badges/{slug}", {"headers": BROWSER}),
    ("visitor", "GET", "/badges/{slug}", {"headers": JSON_LD}),
    ("visitor", "GET", "/badges/{slug}/v1/fi", {"headers": BROWSER}),
    ("visitor", "GET", "/badges/{slug}/v1/en", {"headers": JSON_LD}),
    ("visitor", "GET", "/badges/{slug}/v1/image.svg", {}),
    ("visitor", "GET", "/badges/{slug}/v1/image.png", {}),
    ("visitor", "GET", "/badges/{slug}/v2/image.svg", {}),
    ("staff", "GET", "/staff/badge-classes/{slug}", {}),
    ("staff", "GET", "/staff/badge-classes/{slug}/edit", {}),
    ("staff", "POST", "/staff/badge-classes/{slug}/edit", {"data": {"csrf_token": "{csrf}"}}),
    ("staff", "GET", "/staff/badge-classes/{slug}/copy", {}),
    (
        "staff",
        "POST",
        "/staff/badge-classes/{slug}/copy",
        {"data": {"csrf_token": "{csrf}", "slug": "a-copy"}},
    ),
    (
        "staff",
        "POST",
        "/staff/badge-classes/{slug}/publish",
        {"data": {"csrf_token": "{csrf}", "published": "1"}},
    ),
    (
        "staff",
        "POST",
        "/staff/badge-classes/{slug}/adopt",
        {"data": {"csrf_token": "{csrf}", "adopted": "1"}},
    ),
    (
        "staff",
        "POST",
        "/staff/badge-classes/{slug}/auto-issue",
        {"data": {"csrf_token": "{csrf}", "auto_issue": "y"}},
    ),
    ("api", "GET", "/api/v1/badge-classes/{slug}", {}),
    ("api", "PUT", "/api/v1/badge-classes/{slug}", {"json": {"published": True}}),
    (
        "api",
        "PUT",
        "/api/v1/badge-classes/{slug}/image",
        {"data": SVG_BODY, "content_type": "image/svg+xml"},
    ),
    ("api", "POST", "/api/v1/badge-classes/{slug}/copy", {"json": {"slug": "a-copy"}}),
    (
        "api",
        "POST",
        "/api/v1/credentials",
        {"json": {"badge_class": "{slug}", "recipient": {"email": "x@y.fi", "name": "X Y"}}},
    ),
    (
        "api",
        "POST",
        "/api/v1/credentials/bulk?badge_class={slug}",
        {"data": b"email,name\nx@y.fi,X Y\n", "content_type": "text/csv"},
    ),
]


@pytest.fixture
def b_draft(app: Flask, world: World) -> int:
    """Institution B's unpublished badge class ``b-draft`` (its id)."""
    from issuer.services import badge_class_admin
    from tests.web.staff.support import complete_micro_credential

    with app.app_context():
        session = get_session()
        institution = session.get(Institution, world.b.institution_id)
        saved = badge_class_admin.create_badge_class(
            session, institution, complete_micro_credential(DRAFT), published=False
        )
        session.commit()
        return saved.badge_class.id


def _fill(value: Any, slug: str, csrf: str) -> Any:
    if isinstance(value, str):
        return value.replace("{slug}", slug).replace("{csrf}", csrf)
    if isinstance(value, dict):
        return {key: _fill(item, slug, csrf) for key, item in value.items()}
    return value


def _answer(response: Any, slug: str, made_up: str) -> tuple[int, str, str]:
    body = _VOLATILE.sub("", response.get_data(as_text=True)).replace(slug, made_up)
    return response.status_code, response.content_type, body


@pytest.mark.parametrize(
    ("who", "method", "path", "kwargs"),
    SLUG_ROUTES,
    ids=[f"{who}-{method}-{path}" for who, method, path, _ in SLUG_ROUTES],
)
def test_another_institutions_draft_answers_as_a_slug_that_does_not_exist(
    app: Flask,
    world: World,
    b_draft: int,
    who: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    if who == "staff":
        client = signed_in(app, world.a.admin_email)
        csrf = csrf_token(client, "/staff/")
    else:
        client, csrf = app.test_client(), ""
    headers = {**kwargs.get("headers", {}), **(bearer(world.a.token) if who == "api" else {})}
    before = _snapshot(app, world)

    def ask(slug: str) -> Any:
        options = {**_fill(kwargs, slug, csrf), "headers": headers}
        return client.open(path.replace("{slug}", slug), method=method, **options)

    draft, missing = ask(DRAFT), ask(MADE_UP)
    assert draft.status_code in (404, 422), (draft.status_code, draft.get_data(as_text=True))
    assert _answer(draft, DRAFT, MADE_UP) == _answer(missing, MADE_UP, MADE_UP)
    assert _snapshot(app, world) == before
    with app.app_context():
        still = badge_classes.get_badge_class(get_session(), DRAFT)
        assert not still.published
        assert still.current_version == 1


def test_the_issue_api_by_id_cannot_tell_a_draft_from_nothing(
    app: Flask, world: World, b_draft: int
) -> None:
    client = app.test_client()
    recipient = {"email": "x@y.fi", "name": "X Y"}

    def ask(reference: Any) -> Any:
        return client.post(
            "/api/v1/credentials",
            json={"badge_class": reference, "recipient": recipient},
            headers=bearer(world.a.token),
        )

    for draft_reference, made_up in ((b_draft, int(MADE_UP_ID)), (str(b_draft), MADE_UP_ID)):
        draft, missing = ask(draft_reference), ask(made_up)
        assert draft.status_code == missing.status_code == 422
        # The reference is echoed in quotes; with it replaced the answers are the same.
        echoed = draft.get_data(as_text=True).replace(f"'{b_draft}'", f"'{MADE_UP_ID}'")
        assert f"'{MADE_UP_ID}'" in echoed
        assert echoed == missing.get_data(as_text=True)


def test_draft_artwork_is_not_public_but_issued_versions_stay(
    app: Flask, world: World, b_draft: int
) -> None:
    from issuer.services import badge_class_admin

    client = app.test_client()
    assert client.get(f"/badges/{DRAFT}/v1/image.svg").status_code == 404
    # B's published badge class serves its artwork ...
    published = f"/badges/{world.b.badge_slug}/v1/image.svg"
    assert client.get(published).status_code == 200
    # ... and once withdrawn, still the version its credential was issued from, because the
    # credential's achievement points at it; the draft publishes its artwork when published.
    with app.app_context():
        session = get_session()
        badge_class_admin.set_published(
            session, badge_classes.get_badge_class(session, world.b.badge_slug), False
        )
        badge_class_admin.set_published(
            session, badge_classes.get_badge_class(session, DRAFT), True
        )
        session.commit()
    assert client.get(published).status_code == 200
    assert client.get(f"/badges/{DRAFT}/v1/image.svg").status_code == 200
