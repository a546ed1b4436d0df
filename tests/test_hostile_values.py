"""No 500 from out-of-range integers or NUL bytes, anywhere (issue 13).

Table-driven over ``app.url_map``: every route and method is requested with each of its URL
parameters replaced, one at a time, by integers beyond 32 and 64 bits and by strings with a NUL
byte (``%00``); every GET also with each known query parameter set to those values; every POST
and PUT with form fields and a JSON body made of them. Anonymous, as institution A's admin
(staff UI, CSRF checks off so that forms reach their validation) and with A's API token. No
answer may be a 5xx; answers under ``/api/``, ``/status/`` and ``/oid4vci/`` are JSON. SQLite
and PostgreSQL both (PostgreSQL's INTEGER columns overflow beyond 2**31 - 1, SQLite's beyond
2**63 - 1).

A new route is covered as soon as it exists; a new URL parameter name fails the test until
``REAL`` names a usable value for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose, unit_of_work
from issuer.services import migrate, wallet
from issuer.web import ratelimit
from tests.web.staff.support import PASSWORD, World, bearer, fast_password_hashing, make_world

#: Integers the database cannot hold: beyond PostgreSQL's INTEGER, beyond 64 bits (SQLite,
#: BIGINT), and far beyond.
HUGE_INTEGERS = ("2147483648", "9223372036854775808", "18446744073709551616", "9" * 40)
#: Strings with a NUL byte, which PostgreSQL refuses in text ("A string literal cannot contain
#: NUL"), at the start, inside and alone.
NUL_STRINGS = ("\x00", "a\x00b", "\x00" * 3)
HOSTILE = HUGE_INTEGERS + NUL_STRINGS

#: URL parameter -> a real value, so that each parameter is tried with the others valid.
REAL: dict[str, Callable[[World], str]] = {
    "slug": lambda w: w.a.badge_slug,
    "credential_id": lambda w: str(w.b.credential_id),
    "user_id": lambda w: str(w.a.issuer_id),
    "token_id": lambda w: str(w.a.token_id),
    "institution_slug": lambda w: w.b.slug,
    "purpose": lambda w: "revocation",
    "number": lambda w: "1",
    "job_id": lambda w: "1",
    "offer_id": lambda w: "1",
    "mail_id": lambda w: "1",
    "integration_id": lambda w: "1",
    "platform_id": lambda w: "1",
    "decision": lambda w: "approve",
    "version": lambda w: "1",
    "lang": lambda w: "fi",
    "extension": lambda w: "svg",
    "token": lambda w: "not-the-token",
    "filename": lambda w: "style.css",
    # An OpenID4VCI pre-authorized code (/oid4vci/offers/<code>).
    "code": lambda w: "not-a-code",
}


def _open_offer(app: Flask, world: World) -> str:
    """The interaction token of an open wallet offer of B's credential (made once per app), so
    that the wallet routes are reached past the offer lookup (issue 18)."""
    token = app.config.get("TEST_WALLET_TOKEN")
    if token is None:
        with app.app_context(), unit_of_work() as session:
            offer = wallet.create_offer(session, str(world.b.credential_id), with_tx_code=True)
        token = app.config["TEST_WALLET_TOKEN"] = offer.interaction_token
    return str(token)


#: Routes whose URL parameter needs a value of its own: endpoint -> parameter -> value.
REAL_FOR_ENDPOINT: dict[str, dict[str, Callable[[Flask, World], str]]] = {
    "wallet.interaction": {"token": _open_offer},
    "wallet.exchange": {"token": _open_offer},
    # The same offer's OpenID4VCI credential offer by reference.
    "oid4vci.credential_offer": {
        "code": lambda app, world: wallet.pre_authorized_code(_open_offer(app, world))
    },
}

#: Query parameters the views read (``request.args``), each set to every hostile value.
QUERY = (
    "page",
    "q",
    "state",
    "institution",
    "action",
    "target",
    "actor",
    "since",
    "until",
    "download",
    "next",
    "badge_class",
    "lang",
    "area",
    "eqf",
    "min_ects",
    "max_ects",
    "language",
    # The sign-in provider's callback (issuer.web.staff.oidc).
    "code",
    "error",
    # The LTI tool (issuer.web.lti).
    "launch",
    "invite",
    "openid_configuration",
    "registration_token",
    "placement",
    "iss",
    "login_hint",
    "client_id",
    "issued",
    "already",
    "unreachable",
)

#: Form fields and JSON members the views read; each body sets all of them at once.
FIELDS = (
    "email",
    "name",
    "password",
    "current",
    "new",
    "confirm",
    "role",
    "slug",
    "reason",
    "badge_class",
    "lang",
    "json",
    "institution",
    "version",
    "achievement_type",
    "url",
    "business_id",
    "oid",
    "name_fi",
    "name_sv",
    "name_en",
    "description_fi",
    "postal_code",
    "address_country_code",
    "hidden",
    "indexable",
    "grade",
    "valid_until",
    "activity_start_date",
    "requires",
    "ects",
    "hours",
    "eqf_level",
    # The sign-in provider's settings (issuer.web.staff.oidc).
    "display_name",
    "issuer",
    "client_id",
    "client_secret",
    "allowed_domains",
    "email_claim",
    "default_role",
    "role_claim",
    "role_map",
    "update_role",
    "enabled",
    # OpenID4VCI token and credential requests.
    "grant_type",
    "pre-authorized_code",
    "tx_code",
    "credential_configuration_id",
    "proofs",
    # The wallet exchange (issue 18).
    "verifiablePresentation",
    # The LTI tool (issuer.web.lti) and its registrations on the integrations page.
    "id_token",
    "state",
    "user",
    "line_item",
    "threshold",
    "iss",
    "login_hint",
    "lti-name",
    "lti-issuer",
    "lti-client_id",
    "lti-deployment_ids",
    "lti-auth_login_url",
    "lti-auth_token_url",
    "lti-key_set_url",
)

#: Routes left out, and why.
SKIPPED = {
    "staff.logout": "ends the session the other requests use",
}


@pytest.fixture
def hostile_app(
    app_config: dict[str, Any], keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, World]]:
    fast_password_hashing(monkeypatch)
    app = create_app({**app_config, "WTF_CSRF_ENABLED": False})
    # Thousands of requests from one address: the limits would answer 429 before the views.
    monkeypatch.setattr(ratelimit.limiter, "enabled", False)
    migrate.upgrade(app_config["DATABASE_URL"])
    world = make_world(app, keystore)
    yield app, world
    dispose(app)


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def _path(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with ``values`` percent-encoded in (``url_for`` would refuse some)."""
    path = rule.rule
    for marker in _placeholders(rule.rule):
        name = marker.rsplit(":", 1)[-1]
        path = path.replace(f"<{marker}>", quote(values[name], safe=""))
    return path


def _placeholders(template: str) -> list[str]:
    found: list[str] = []
    rest = template
    while "<" in rest:
        start = rest.index("<")
        end = rest.index(">", start)
        found.append(rest[start + 1 : end])
        rest = rest[end + 1 :]
    return found


def _requests(rule: Rule, world: World, app: Flask) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, client keyword arguments) for one rule."""
    for name in rule.arguments:
        if name not in REAL:
            pytest.fail(f"{rule.rule}: add the URL parameter {name!r} to REAL")
    own = REAL_FOR_ENDPOINT.get(rule.endpoint, {})
    real = {
        name: own[name](app, world) if name in own else REAL[name](world) for name in rule.arguments
    }
    paths = [_path(rule, real)]
    for name in sorted(rule.arguments):
        for value in HOSTILE:
            paths.append(_path(rule, {**real, name: value}))
    for method in _methods(rule):
        for path in paths:
            yield method, path, {}
        if method == "GET":
            for value in HOSTILE:
                yield method, paths[0] + "?" + urlencode(dict.fromkeys(QUERY, value)), {}
        else:
            for value in HOSTILE:
                form = dict.fromkeys(FIELDS, value)
                yield method, paths[0], {"data": form}
                yield method, paths[0] + "?" + urlencode(dict.fromkeys(QUERY, value)), {}
                body = {
                    **dict.fromkeys(FIELDS, value),
                    "recipient": {"email": value, "name": value},
                    "id": value,
                    "credentialStatus": {"statusListIndex": value},
                }
                yield method, paths[0], {"json": body}
                numbers = {key: int(value) for key in FIELDS} if value.isdigit() else [value]
                yield method, paths[0], {"json": numbers}


def _is_json(response: TestResponse) -> bool:
    try:
        json.loads(response.get_data(as_text=True))
    except ValueError:
        return False
    return response.mimetype.endswith("json")


def test_no_route_answers_5xx_to_huge_integers_or_nul_bytes(
    hostile_app: tuple[Flask, World],
) -> None:
    app, world = hostile_app
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is an answer here, not a crash
    staff = app.test_client()
    signing_in = staff.post(
        "/staff/login", data={"email": world.a.admin_email, "password": PASSWORD}
    )
    assert signing_in.status_code == 302
    anonymous = app.test_client()
    failures: list[str] = []
    seen = 0
    for rule in _rules(app):
        if rule.endpoint in SKIPPED:
            continue
        for method, url, kwargs in _requests(rule, world, app):
            if rule.rule.startswith("/api/"):
                client, headers = anonymous, bearer(world.a.token)
            elif rule.rule.startswith("/staff"):
                client, headers = staff, {}
            else:
                client, headers = anonymous, {}
            response = client.open(url, method=method, headers=headers, **kwargs)
            seen += 1
            where = f"{method} {url} {sorted(kwargs)}"
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {where}")
            elif (
                response.status_code >= 400
                and url.startswith(("/api/", "/status/", "/oid4vci/"))
                and not _is_json(response)
            ):
                failures.append(f"{response.status_code} not JSON: {where}")
    assert seen > 1000
    assert not failures, "\n".join(failures[:80]) + f"\n({len(failures)} in all)"
