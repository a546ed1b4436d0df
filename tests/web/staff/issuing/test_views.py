"""Staff issuing UI: issue one, upload a cohort CSV and follow the job, the outbox, approvals;
sign-in, roles, CSRF and institution isolation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.models.issuing import BulkJob, OutboxMail
from issuer.services import accounts, badge_classes, institutions
from tests.db_errors import read_only_database
from tests.web.learner.support import (
    CSRF,
    World,
    assert_nothing_of_the_server,
    break_key,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

PASSWORD = "a long enough test password"


@pytest.fixture
def staff(app: Flask, world: World) -> dict[str, str]:
    with app.app_context(), unit_of_work() as session:
        for slug in ("hamk", "tamk"):
            accounts.create_user(
                session,
                institution=institutions.get_institution(session, slug),
                email=f"issuer@{slug}.fi",
                role=Role.ISSUER,
                password=PASSWORD,
            )
    return {"hamk": "issuer@hamk.fi", "tamk": "issuer@tamk.fi"}


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    token = CSRF.search(client.get("/staff/login").text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def _token(client: FlaskClient, url: str) -> str:
    return CSRF.search(client.get(url).text).group(1)  # type: ignore[union-attr]


def _badge_id(app: Flask, slug: str) -> str:
    with app.app_context():
        return str(badge_classes.get_badge_class(get_session(), slug).id)


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model)) or 0


def test_pages_need_a_signed_in_issuer(app: Flask, world: World) -> None:
    client = app.test_client()
    for path in ("/staff/issue/", "/staff/issue/bulk", "/staff/issue/outbox"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/login")


def test_issue_one_from_the_form(app: Flask, staff: dict[str, str]) -> None:
    client = _signed_in(app, staff["hamk"])
    form = client.get("/staff/issue/")
    assert form.status_code == 200
    assert "Badge test-badge" in form.text or "Merkki test-badge" in form.text
    response = client.post(
        "/staff/issue/",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app, "test-badge"),
            "email": "liisa@example.fi",
            "name": "<b>Liisa</b>",
            "lang": "en",
            "grade": "5",
        },
    )
    assert response.status_code == 302, response.text
    page = client.get(response.headers["Location"])
    assert "&lt;b&gt;Liisa&lt;/b&gt;" in page.text
    assert _count(app, Credential) == 1
    assert _count(app, OutboxMail) == 1


def test_the_form_on_a_read_only_database_answers_503_busy_in_the_readers_language(
    app: Flask, staff: dict[str, str]
) -> None:
    client = _signed_in(app, staff["hamk"])
    data = {
        "csrf_token": _token(client, "/staff/issue/"),
        "badge_class": _badge_id(app, "test-badge"),
        "email": "liisa@example.fi",
        "name": "Liisa",
        "lang": "en",
    }
    with read_only_database(app):
        response = client.post("/staff/issue/", data=data, headers={"Accept-Language": "fi"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    assert "Palvelu on juuri nyt kiireinen. Yritä hetken kuluttua uudelleen." in response.text
    assert "Traceback" not in response.text
    assert _count(app, Credential) == 0


@pytest.mark.parametrize("breakage", ["missing", "passphrase"])
def test_a_broken_key_is_a_generic_503_page_in_the_readers_language(
    app: Flask, staff: dict[str, str], keys_dir: Path, breakage: str
) -> None:
    client = _signed_in(app, staff["hamk"])
    data = {
        "csrf_token": _token(client, "/staff/issue/"),
        "badge_class": _badge_id(app, "test-badge"),
        "email": "liisa@example.fi",
        "name": "Liisa",
        "lang": "en",
    }
    key_id = break_key(app, keys_dir, breakage)
    response = client.post("/staff/issue/", data=data, headers={"Accept-Language": "sv"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Märken kan inte signeras just nu." in response.text
    assert_nothing_of_the_server(response.text, keys_dir, key_id)
    assert _count(app, Credential) == 0


def test_form_errors_are_shown_and_nothing_is_issued(app: Flask, staff: dict[str, str]) -> None:
    client = _signed_in(app, staff["hamk"])
    response = client.post(
        "/staff/issue/?lang=en",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app, "test-badge"),
            "email": "not-an-address",
            "name": "Liisa",
            "valid_until": "someday",
        },
    )
    assert response.status_code == 422
    assert "not an e-mail address" in response.text
    assert "YYYY-MM-DD" in response.text
    assert _count(app, Credential) == 0

    without_csrf = client.post(
        "/staff/issue/",
        data={"badge_class": _badge_id(app, "test-badge"), "email": "a@b.fi", "name": "A"},
    )
    assert without_csrf.status_code == 400
    assert _count(app, Credential) == 0


def test_bulk_upload_shows_every_bad_line(app: Flask, staff: dict[str, str]) -> None:
    client = _signed_in(app, staff["hamk"])
    bad = b"email;name\nok@example.fi;OK\nbroken;X\n;Y\n"
    response = client.post(
        "/staff/issue/bulk?lang=en",
        data={
            "csrf_token": _token(client, "/staff/issue/bulk"),
            "badge_class": _badge_id(app, "test-badge"),
            "lang": "fi",
            "file": (io.BytesIO(bad), "cohort.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Line 3" in response.text
    assert "Line 4" in response.text
    assert _count(app, Credential) == 0
    assert _count(app, BulkJob) == 0


def test_bulk_upload_runs_a_job_whose_page_shows_progress(
    app: Flask, staff: dict[str, str]
) -> None:
    client = _signed_in(app, staff["hamk"])
    good = b"Email,Name\na@example.fi,A\nb@example.fi,B\n"
    response = client.post(
        "/staff/issue/bulk",
        data={
            "csrf_token": _token(client, "/staff/issue/bulk"),
            "badge_class": _badge_id(app, "test-badge"),
            "lang": "fi",
            "file": (io.BytesIO(good), "cohort.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    job_page = client.get(response.headers["Location"] + "?lang=en")
    assert job_page.status_code == 200
    assert "Done." in job_page.text
    assert 'http-equiv="refresh"' not in job_page.text  # finished: no more refreshing
    assert _count(app, Credential) == 2
    assert "cohort.csv" in client.get("/staff/issue/jobs").text

    # The other institution cannot see the job.
    other = _signed_in(app, staff["tamk"])
    assert other.get(response.headers["Location"]).status_code == 404


def test_the_outbox_lists_mails_without_full_addresses_and_resends(
    app: Flask, staff: dict[str, str]
) -> None:
    issue(app, email="liisa@example.fi")
    client = _signed_in(app, staff["hamk"])
    page = client.get("/staff/issue/outbox?lang=en")
    assert page.status_code == 200
    assert "l***@example.fi" in page.text
    assert "liisa@example.fi" not in page.text
    assert "ISSUER_SMTP_URL" in page.text
    with app.app_context():
        mail_id = get_session().scalar(select(OutboxMail.id))
    # Another institution's staff cannot resend it.
    other = _signed_in(app, staff["tamk"])
    refused = other.post(
        f"/staff/issue/outbox/{mail_id}/resend",
        data={"csrf_token": _token(other, "/staff/issue/outbox")},
    )
    assert refused.status_code == 404
    assert "l***@example.fi" not in other.get("/staff/issue/outbox").text


def test_approvals_issue_a_completed_package(app: Flask, staff: dict[str, str]) -> None:
    issue(app, badge="module-a", name="Liisa Virtanen")
    issue(app, badge="module-b", name="Liisa Virtanen")
    client = _signed_in(app, staff["hamk"])
    page = client.get("/staff/issue/approvals?lang=en")
    assert "Liisa Virtanen" in page.text
    assert "Badge package-ab" in page.text
    action = CSRF.search(page.text)
    assert action is not None
    import re

    approve = re.search(r'action="(/staff/issue/approvals/\d+/approve)"', page.text)
    assert approve is not None
    # The other institution's staff see nothing and cannot approve.
    other = _signed_in(app, staff["tamk"])
    assert "Liisa Virtanen" not in other.get("/staff/issue/approvals").text
    assert (
        other.post(
            approve.group(1), data={"csrf_token": _token(other, "/staff/issue/approvals")}
        ).status_code
        == 404
    )
    before = _count(app, Credential)
    response = client.post(approve.group(1), data={"csrf_token": action.group(1)})
    assert response.status_code == 302
    assert _count(app, Credential) == before + 1
    assert "Liisa Virtanen" not in client.get("/staff/issue/approvals").text


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_the_form_normalises_tabs_and_crlf_in_the_signed_credential(
    app: Flask, staff: dict[str, str]
) -> None:
    client = _signed_in(app, staff["hamk"])
    response = client.post(
        "/staff/issue/",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app, "test-badge"),
            "email": "liisa@example.fi",
            "name": "Liisa\tVirtanen",
            "lang": "en",
            "evidence_narrative": "Näyttö\t1\r\nrivi 2",
            "grade": "hyvä\t4",
        },
    )
    assert response.status_code == 302, response.text
    with app.app_context():
        [stored] = get_session().scalars(select(Credential))
        document = json.loads(stored.signed_json)
    assert document["evidence"][0]["narrative"] == "Näyttö 1\nrivi 2"
    assert document["credentialSubject"]["result"][0]["value"] == "hyvä 4"
    assert document["credentialSubject"]["name"] == "Liisa Virtanen"


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize("field", ["name", "evidence_narrative", "grade"])
def test_the_form_refuses_control_characters_naming_the_field(
    app: Flask, staff: dict[str, str], character: str, field: str
) -> None:
    client = _signed_in(app, staff["hamk"])
    data = {
        "csrf_token": _token(client, "/staff/issue/"),
        "badge_class": _badge_id(app, "test-badge"),
        "email": "liisa@example.fi",
        "name": "Liisa",
        "lang": "en",
        "evidence_narrative": "Näyttö",
        "grade": "4",
    }
    data[field] += character
    response = client.post("/staff/issue/?lang=sv", data=data)
    assert response.status_code == 422
    assert f"U+{ord(character):04X}" in response.text
    assert "styrtecken" in response.text  # in the reader's language
    assert _count(app, Credential) == 0


# --- e-mail addresses validated once (issuer.services.emails; issue 13) -----------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("Liisa <liisa@example.fi>", "Ange endast e-postadressen"),
        ("liisa@example.fi, matti@example.fi", "endast en e-postadress"),
        ("lii\u200bsa@example.fi", "U+200B"),
        ("liisa@example.fi\u202e", "U+202E"),
    ],
)
def test_the_form_refuses_anything_but_one_plain_address(
    app: Flask, staff: dict[str, str], address: str, reason: str
) -> None:
    client = _signed_in(app, staff["hamk"])
    response = client.post(
        "/staff/issue/?lang=sv",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app, "test-badge"),
            "email": address,
            "name": "Liisa",
            "lang": "en",
        },
    )
    assert response.status_code == 422
    assert reason in response.text
    assert _count(app, Credential) == 0
