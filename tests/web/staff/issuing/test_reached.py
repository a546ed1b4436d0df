"""Learners reached (issue 15): the outbox shows each mail as the learner reads it, with its
links to copy, and sends it again (audited); the notices after issuing say what happened to the
mail; the cohort's learners download as CSV; one institution never sees another's."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import socket

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.db import get_session, unit_of_work
from issuer.models.accounts import Role
from issuer.models.audit import AuditEvent
from issuer.models.issuing import BulkJob, MailState, OutboxMail
from issuer.services import accounts, badge_classes, institutions, issue_input
from tests.web.learner.support import (
    BASE_URL,
    CSRF,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)
from tests.web.test_i18n_pages import english_on

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


def _badge_id(app: Flask) -> str:
    with app.app_context():
        return str(badge_classes.get_badge_class(get_session(), "test-badge").id)


def _mail_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(get_session().scalars(select(OutboxMail.id).order_by(OutboxMail.id)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _issue_from_the_form(app: Flask, client: FlaskClient, lang: str = "en") -> str:
    response = client.post(
        f"/staff/issue/?lang={lang}",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app),
            "email": "liisa@example.fi",
            "name": "Liisa Virtanen",
            "lang": "fi",
        },
    )
    assert response.status_code == 302, response.text
    return client.get(response.headers["Location"]).text


# --- the outbox -----------------------------------------------------------------------------------


def test_a_mail_opens_as_the_learner_reads_it_with_its_links_to_copy(
    app: Flask, staff: dict[str, str]
) -> None:
    issued = issue(app, name="<b>Liisa</b>", options=issue_input.IssueOptions(lang="sv"))
    [mail_id] = _mail_ids(app)
    client = _signed_in(app, staff["hamk"])

    listing = client.get("/staff/issue/outbox?lang=en")
    assert f'href="/staff/issue/outbox/{mail_id}"' in listing.text

    page = client.get(f"/staff/issue/outbox/{mail_id}?lang=en")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.text
    assert "liisa@example.fi" in text  # the full address, to reach the learner
    assert "Ditt märke: Märke test-badge" in text  # the subject, in the learner's language
    assert "Hej &lt;b&gt;Liisa&lt;/b&gt;," in text  # the body, escaped
    assert "<b>Liisa</b>" not in text
    assert "no mail server is configured" in text
    page_url = f"{BASE_URL}/credentials/{issued.id}"
    manage_url = f"{page_url}/manage/{issued.manage_token}"
    for label, link in (
        ("Learner page", page_url),
        ("Private manage link", manage_url),
        ("Verification page", f"{BASE_URL}/verify/{issued.id}"),
    ):
        field = re.search(
            rf'<label id="label-(\w+)" for="link-\1">{label}</label>\s*'
            rf'<div class="copy-field">\s*<input id="link-\1" type="text" readonly '
            rf'value="{re.escape(link)}"',
            text,
        )
        assert field is not None, label
        assert f'data-copy="{link}"' in text
    # No inline script (the CSP forbids them): the copy buttons come from a static file.
    assert re.search(r"<script(?![^>]*\bsrc=)", text) is None
    assert "/static/learner.js" in text

    finnish = client.get(f"/staff/issue/outbox/{mail_id}?lang=fi")
    assert "Yksityinen hallintalinkki" in finnish.text
    assert "Viesti sellaisena kuin vastaanottaja sen lukee" in finnish.text
    swedish = client.get(f"/staff/issue/outbox/{mail_id}?lang=sv")
    assert "Privat hanteringslänk" in swedish.text


def test_another_institutions_staff_get_404_for_its_mail_and_its_resend(
    app: Flask, staff: dict[str, str]
) -> None:
    issue(app)
    [mail_id] = _mail_ids(app)
    with app.app_context(), unit_of_work() as session:
        stored = session.get(OutboxMail, mail_id)
        assert stored is not None
        stored.state = MailState.FAILED
    other = _signed_in(app, staff["tamk"])
    assert other.get(f"/staff/issue/outbox/{mail_id}").status_code == 404
    assert other.get(f"/staff/issue/outbox/{mail_id + 1}").status_code == 404
    refused = other.post(
        f"/staff/issue/outbox/{mail_id}/resend",
        data={"csrf_token": _token(other, "/staff/issue/outbox")},
    )
    assert refused.status_code == 404
    with app.app_context():
        assert get_session().get(OutboxMail, mail_id).state is MailState.FAILED  # type: ignore[union-attr]
        assert list(get_session().scalars(select(AuditEvent.action))) == ["issue"]


def test_a_resend_needs_the_csrf_token_and_is_audited(app: Flask, staff: dict[str, str]) -> None:
    issued = issue(app)
    [mail_id] = _mail_ids(app)
    with app.app_context(), unit_of_work() as session:
        stored = session.get(OutboxMail, mail_id)
        assert stored is not None
        stored.state = MailState.FAILED
    client = _signed_in(app, staff["hamk"])
    assert client.post(f"/staff/issue/outbox/{mail_id}/resend").status_code == 400

    page = client.get(f"/staff/issue/outbox/{mail_id}?lang=en")
    assert f'action="/staff/issue/outbox/{mail_id}/resend"' in page.text
    response = client.post(
        f"/staff/issue/outbox/{mail_id}/resend?lang=en",
        data={"csrf_token": _token(client, f"/staff/issue/outbox/{mail_id}")},
    )
    assert response.status_code == 302
    # Without a mail server the mail waits again, and the notice says so.
    notice = client.get(response.headers["Location"] + "?lang=en").text
    assert "it waits in the outbox until one is" in notice
    with app.app_context():
        session = get_session()
        assert session.get(OutboxMail, mail_id).state is MailState.PENDING  # type: ignore[union-attr]
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.resend"))
        assert (event.actor_label, event.target) == ("issuer@hamk.fi", issued.id)


# --- notices after issuing ------------------------------------------------------------------------


def test_without_a_mail_server_the_notice_says_the_mail_waits(
    app: Flask, staff: dict[str, str]
) -> None:
    client = _signed_in(app, staff["hamk"])
    page = _issue_from_the_form(app, client)
    assert "will get an e-mail" not in page
    assert "No mail server is configured (ISSUER_SMTP_URL), so the e-mail" in page
    [mail_id] = _mail_ids(app)
    assert f'href="/staff/issue/outbox/{mail_id}"' in page  # the issued page opens the mail

    finnish = _issue_from_the_form(app, client, lang="fi")
    assert "Sähköpostipalvelinta ei ole määritetty (ISSUER_SMTP_URL), joten viestiä" in finnish


def test_a_failed_send_is_told_as_failed(app: Flask, staff: dict[str, str]) -> None:
    app.extensions["issuer.settings"] = dataclasses.replace(
        app.extensions["issuer.settings"], smtp_url=f"smtp://127.0.0.1:{_free_port()}"
    )
    client = _signed_in(app, staff["hamk"])
    page = _issue_from_the_form(app, client, lang="sv")
    assert "e-postmeddelandet till mottagaren kunde inte skickas" in page
    assert "No mail server" not in page


# --- the cohort's learners as CSV -----------------------------------------------------------------


def _upload(app: Flask, client: FlaskClient, data: bytes) -> str:
    response = client.post(
        "/staff/issue/bulk",
        data={
            "csrf_token": _token(client, "/staff/issue/bulk"),
            "badge_class": _badge_id(app),
            "lang": "fi",
            "file": (io.BytesIO(data), "cohort.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def test_the_cohort_downloads_as_csv_with_names_addresses_and_links(
    app: Flask, staff: dict[str, str]
) -> None:
    client = _signed_in(app, staff["hamk"])
    cohort = (
        "Email;Name\n"
        "a@example.fi;Äijälä Anna\n"
        'b@example.fi;=HYPERLINK("http://evil.example")\n'
        "c@example.fi;@SUM(1)\n"
    ).encode()
    job_url = _upload(app, client, cohort)

    job_page = client.get(job_url + "?lang=en").text
    assert "E-mails not sent because no mail server is configured (ISSUER_SMTP_URL)" in job_page
    assert ": 3" in job_page
    with app.app_context():
        job_id = get_session().scalar(select(BulkJob.id))
    csv_url = f"/staff/issue/jobs/{job_id}/learners.csv"
    assert f'href="{csv_url}"' in job_page

    response = client.get(csv_url + "?lang=fi")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Nimi", "Sähköposti", "Oppijan merkkisivu", "Yksityinen hallintalinkki"]
    assert [row[:2] for row in rows[1:]] == [
        ["Äijälä Anna", "a@example.fi"],
        ['\'=HYPERLINK("http://evil.example")', "b@example.fi"],
        ["'@SUM(1)", "c@example.fi"],
    ]
    with app.app_context():
        mails = {mail.to_address: mail for mail in get_session().scalars(select(OutboxMail))}
        for row in rows[1:]:
            mail = mails[row[1]]
            assert row[2] == f"{BASE_URL}/credentials/{mail.credential_id}"
            assert row[3].startswith(f"{BASE_URL}/credentials/{mail.credential_id}/manage/")
            assert row[3] in mail.body  # the very link the learner was mailed
        [event] = get_session().scalars(
            select(AuditEvent).where(AuditEvent.action == "learners.export")
        )
        assert (event.actor_label, event.target) == ("issuer@hamk.fi", f"job:{job_id}")

    # Another institution's staff cannot download it, nor see it exists.
    other = _signed_in(app, staff["tamk"])
    assert other.get(csv_url).status_code == 404
    with app.app_context():
        assert (
            len(
                list(
                    get_session().scalars(
                        select(AuditEvent).where(AuditEvent.action == "learners.export")
                    )
                )
            )
            == 1
        )


# --- a cohort's rows that fail while issuing -----------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rows_that_fail_in_the_background_are_shown_in_the_readers_language(
    app: Flask, staff: dict[str, str], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed row keeps its messages, not their text in the language the job ran in (a
    worker's English, or here the uploader's Finnish): the staff page shows them in the
    reader's Finnish or Swedish, the API in English (issue 15)."""
    from issuer.services import issue_many
    from issuer.services.errors import SigningUnavailableError
    from issuer.services.issue_input import FieldErrors, untranslated

    real = issue_many.issue_many

    def failing(session, ctx, institution, badge_class, recipients, **kwargs):  # type: ignore[no-untyped-def]
        emails = {recipient.email for recipient in recipients}
        if "a@example.fi" in emails:
            raise SigningUnavailableError("the key file is missing", "key_missing")
        if "b@example.fi" in emails:
            # As if the badge class had lost its Swedish texts after the upload.
            raise FieldErrors([untranslated("sv", "test-badge", ["name.sv", "criteria_narrative"])])
        return real(session, ctx, institution, badge_class, recipients, **kwargs)

    monkeypatch.setattr(issue_many, "issue_many", failing)
    client = _signed_in(app, staff["hamk"])
    cohort = "email;name\na@example.fi;Anna A\nb@example.fi;Bertil B\nc@example.fi;Cecilia C\n"
    job_url = _upload(app, client, cohort.encode())
    expected = {
        "fi": (
            "Rivi 2: merkkejä ei voi juuri nyt allekirjoittaa; syy on palvelun lokissa",
            "Rivi 3: lang: merkkiluokkaa &#39;test-badge&#39; ei ole käännetty kokonaan kielelle "
            "ruotsi; puuttuu: Nimi (ruotsi), Kriteerit",
        ),
        "sv": (
            "Rad 2: märken kan inte undertecknas just nu; orsaken finns i tjänstens logg",
            "Rad 3: lang: märkesklassen &#39;test-badge&#39; är inte helt översatt till svenska",
        ),
    }
    for lang, lines in expected.items():
        response = client.get(f"{job_url}?lang={lang}")
        for line in lines:
            assert line in response.text, (lang, line)
        assert english_on(response, lang) == [], lang
    english = client.get(f"{job_url}?lang=en").text
    assert "credentials cannot be signed right now; the cause is in the service log" in english
    assert "badge class &#39;test-badge&#39; is not fully translated into Swedish" in english
    with app.app_context():
        job_id = get_session().scalar(select(BulkJob.id))
    body = client.get(
        f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {world.hamk_token}"}
    )
    assert body.status_code == 200, body.text
    assert body.get_json()["errors"][0] == {
        "line": 2,
        "message": "credentials cannot be signed right now; the cause is in the service log",
    }
