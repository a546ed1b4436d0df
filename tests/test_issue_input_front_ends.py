"""Every front end refuses the same bad issue input (``issuer.services.issue_input``, one check
for all): the JSON API, the staff form, a cohort CSV (through the bulk API) and ``merkki issue``.

The cases marked "was accepted" are where the copies of the rules used to disagree: the form
and the CSV check trimmed invisible characters off an address before it was checked, the form
dropped a narrative that was nothing but such a character, and the CSV check lower-cased
``lang``. Now the strictest rule holds everywhere.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from issuer.cli import main
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.services import accounts, badge_classes, institutions
from tests.web.learner.support import (
    CSRF,
    World,
    auth,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

PASSWORD = "a long enough test password"
STAFF = "issuer@hamk.fi"


@dataclass(frozen=True)
class Bad:
    """One bad issuance: what is sent, the field the API names, and a part of the message
    every front end shows (the CLI's own, for a value ``click`` refuses first)."""

    email: str = "liisa@example.fi"
    name: str = "Liisa Virtanen"
    lang: str = "en"
    badge: str = "test-badge"
    evidence_url: str = ""
    evidence_narrative: str = ""
    grade: str = ""
    valid_until: str = ""
    api_field: str = ""
    says: str = ""
    cli_says: str | None = None


#: Bad values of what all four front ends take: address, name, language (and the badge class).
RECIPIENT_CASES = {
    "not an address": Bad(
        email="liisa.example.fi",
        api_field="recipient.email",
        says="not an e-mail address",
    ),
    "address ending in U+0085 (was accepted by the form and the CSV)": Bad(
        email="liisa@example.fi\x85",
        api_field="recipient.email",
        says="U+0085",
    ),
    "address ending in U+2028 (was accepted by the form and the CSV)": Bad(
        email="liisa@example.fi\u2028",
        api_field="recipient.email",
        says="U+2028",
    ),
    "blank address": Bad(
        email="   ",
        api_field="recipient.email",
        says="e-mail address is required",
    ),
    "blank name": Bad(name="  ", api_field="recipient.name", says="name is required"),
    "control character in the name": Bad(
        name="Liisa\x08", api_field="recipient.name", says="U+0008"
    ),
    "name too long": Bad(
        name="L" * 256,
        api_field="recipient.name",
        says="longer than 255 characters",
    ),
    "unknown language": Bad(lang="de", api_field="lang", says="must be one of", cli_says="--lang"),
    "language in upper case (was accepted by the CSV)": Bad(
        lang="FI", api_field="lang", says="must be one of", cli_says="--lang"
    ),
    "language the badge class lacks": Bad(
        badge="finnish-only",
        lang="en",
        api_field="lang",
        says="not fully translated into English",
    ),
}

#: Bad values of what the API, the form and the CSV take (``merkki issue`` takes none of these).
OPTION_CASES = {
    "evidence URL not http(s)": Bad(
        evidence_url="ftp://x.example/a",
        api_field="evidence.0.url",
        says="is not an http(s) URL",
    ),
    "narrative of nothing but U+0085 (was dropped by the form)": Bad(
        evidence_narrative="\x85",
        api_field="evidence.0.narrative",
        says="U+0085",
    ),
    "grade too long": Bad(grade="5" * 256, api_field="grade", says="at most 255 characters"),
    "valid_until in the past": Bad(
        valid_until="2001-01-01",
        api_field="valid_until",
        says="must be in the future",
    ),
    "valid_until not a date": Bad(
        valid_until="someday", api_field="valid_until", says="YYYY-MM-DD"
    ),
}


@pytest.fixture
def staff(app: Flask, world: World) -> FlaskClient:
    with app.app_context(), unit_of_work() as session:
        accounts.create_user(
            session,
            institution=institutions.get_institution(session, "hamk"),
            email=STAFF,
            role=Role.ISSUER,
            password=PASSWORD,
        )
    client = app.test_client()
    token = _csrf(client, "/staff/login")
    response = client.post(
        "/staff/login", data={"email": STAFF, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def _csrf(client: FlaskClient, url: str) -> str:
    found = CSRF.search(client.get(url).text)
    assert found is not None
    return found.group(1)


def _credentials(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(Credential)) or 0


def _through_the_api(app: Flask, world: World, bad: Bad) -> None:
    body: dict[str, object] = {
        "badge_class": bad.badge,
        "recipient": {"email": bad.email, "name": bad.name},
        "lang": bad.lang,
    }
    if bad.evidence_url or bad.evidence_narrative:
        item = {"url": bad.evidence_url, "narrative": bad.evidence_narrative}
        body["evidence"] = [{key: value for key, value in item.items() if value}]
    for member in ("grade", "valid_until"):
        if getattr(bad, member):
            body[member] = getattr(bad, member)
    response = app.test_client().post(
        "/api/v1/credentials",
        json=body,
        headers={**auth(world.hamk_token), "Accept-Language": "en"},
    )
    assert response.status_code == 422, response.text
    fields = response.get_json()["fields"]
    assert bad.api_field in fields, fields
    assert bad.says in fields[bad.api_field]


def _through_the_form(app: Flask, staff: FlaskClient, bad: Bad) -> None:
    with app.app_context():
        badge_id = str(badge_classes.get_badge_class(get_session(), bad.badge).id)
    response = staff.post(
        "/staff/issue/?lang=en",
        data={
            "csrf_token": _csrf(staff, "/staff/issue/"),
            "badge_class": badge_id,
            "email": bad.email,
            "name": bad.name,
            "lang": bad.lang,
            "evidence_url": bad.evidence_url,
            "evidence_narrative": bad.evidence_narrative,
            "grade": bad.grade,
            "valid_until": bad.valid_until,
        },
    )
    assert response.status_code == 422, response.text
    assert bad.says in html.unescape(response.text)


def _through_a_csv(app: Flask, world: World, bad: Bad) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    columns = ["email", "name", "lang", "evidence_url", "evidence_narrative", "grade"]
    columns.append("valid_until")
    writer.writerow(columns)
    writer.writerow([getattr(bad, column) for column in columns])
    response = app.test_client().post(
        f"/api/v1/credentials/bulk?badge_class={bad.badge}",
        data=text.getvalue().encode("utf-8"),
        content_type="text/csv",
        headers={**auth(world.hamk_token), "Accept-Language": "en"},
    )
    assert response.status_code == 422, response.text
    [row] = response.get_json()["errors"]
    assert row["line"] == 2
    assert bad.says in row["message"]


def _through_the_cli(runner: FlaskCliRunner, bad: Bad) -> None:
    args = ["issue", "--institution", "hamk", "--badge", bad.badge, "--email", bad.email]
    result = runner.invoke(main, [*args, "--name", bad.name, "--lang", bad.lang])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert (bad.cli_says or bad.says) in result.output


@pytest.mark.parametrize("bad", RECIPIENT_CASES.values(), ids=RECIPIENT_CASES.keys())
def test_every_front_end_refuses_the_same_recipient(
    app: Flask, world: World, staff: FlaskClient, runner: FlaskCliRunner, bad: Bad
) -> None:
    _through_the_api(app, world, bad)
    _through_the_form(app, staff, bad)
    _through_a_csv(app, world, bad)
    _through_the_cli(runner, bad)
    assert _credentials(app) == 0


@pytest.mark.parametrize("bad", OPTION_CASES.values(), ids=OPTION_CASES.keys())
def test_every_front_end_with_the_field_refuses_the_same_option(
    app: Flask, world: World, staff: FlaskClient, bad: Bad
) -> None:
    _through_the_api(app, world, bad)
    _through_the_form(app, staff, bad)
    _through_a_csv(app, world, bad)
    assert _credentials(app) == 0
