"""E-mail: one mail per credential, in the recipient's language, through a real local SMTP
server (aiosmtpd); the outbox without ISSUER_SMTP_URL; failures recorded and resent."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models.issuing import MailState, OutboxMail
from issuer.services import issue_input, issuing, mail
from issuer.services.issuing_context import IssuingContext
from tests.web.learner.support import (
    BASE_URL,
    World,
    issue,
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


class Inbox:
    """An aiosmtpd handler that keeps what arrives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def smtp_port(inbox: tuple[Inbox, int]) -> int:
    return inbox[1]


@pytest.fixture(name="app_config")
def smtp_app_config(app_config: dict[str, Any], smtp_port: int) -> dict[str, Any]:
    return {
        **app_config,
        "JOB_RUNNER": "inline",
        "MAIL_DELIVERY": "sync",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?from=merkki@hamk.example",
    }


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


@pytest.mark.parametrize(
    ("lang", "subject", "greeting"),
    [
        ("fi", "Merkkisi: Merkki test-badge", "Hei Liisa Virtanen"),
        ("sv", "Ditt märke: Märke test-badge", "Hej Liisa Virtanen"),
        ("en", "Your badge: Badge test-badge", "Hello Liisa Virtanen"),
    ],
)
def test_an_issued_credential_sends_one_mail_in_the_recipients_language(
    app: Flask,
    world: World,
    inbox: tuple[Inbox, int],
    lang: str,
    subject: str,
    greeting: str,
) -> None:
    handler, _port = inbox
    issued = issue(app, name="Liisa Virtanen", options=issue_input.IssueOptions(lang=lang))

    assert len(handler.messages) == 1
    message = handler.messages[0]
    assert handler.envelopes[0] == ("merkki@hamk.example", ["liisa@example.fi"])
    assert message["Subject"] == subject
    assert message["Content-Language"] == lang
    body = _body(message).replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert greeting in body
    assert f"{BASE_URL}/credentials/{issued.id}\n" in body
    assert f"{BASE_URL}/credentials/{issued.id}/manage/{issued.manage_token}" in body
    assert f"{BASE_URL}/verify/{issued.id}" in body
    with app.app_context():
        [stored] = get_session().scalars(select(OutboxMail))
        assert stored.state is MailState.SENT
        assert stored.attempts == 1


def test_a_failed_send_is_recorded_and_can_be_resent(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    handler, _port = inbox
    # Point the service at a port where nobody listens.
    good = app.extensions["issuer.settings"]
    app.extensions["issuer.settings"] = dataclasses.replace(
        good, smtp_url=f"smtp://127.0.0.1:{_free_port()}"
    )
    issue(app)
    with app.app_context():
        [failed] = get_session().scalars(select(OutboxMail))
        assert failed.state is MailState.FAILED
        assert failed.last_error
        mail_id = failed.id
    assert handler.messages == []

    app.extensions["issuer.settings"] = good
    with app.app_context(), unit_of_work() as session:
        stored = session.get(OutboxMail, mail_id)
        assert stored is not None
        mail.resend(session, stored)
    assert len(handler.messages) == 1
    with app.app_context():
        resent = get_session().get(OutboxMail, mail_id)
        assert resent is not None
        assert resent.state is MailState.SENT
        assert resent.attempts == 2
        assert resent.last_error is None


def test_nothing_is_sent_when_the_transaction_rolls_back(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    handler, _port = inbox
    from issuer.services import badge_classes, institutions

    def failing_request() -> None:
        with unit_of_work() as session:
            issuing.issue(
                session,
                IssuingContext.from_settings(get_settings()),
                institutions.get_institution(session, "hamk"),
                badge_classes.get_badge_class(session, "test-badge"),
                "liisa@example.fi",
                "Liisa",
            )
            raise RuntimeError("the request failed after issuing")

    with app.app_context(), pytest.raises(RuntimeError):
        failing_request()
    assert handler.messages == []
    with app.app_context():
        assert list(get_session().scalars(select(OutboxMail))) == []


@pytest.mark.parametrize(
    ("url", "host", "port", "ssl", "starttls", "user", "password"),
    [
        ("smtp://mail.example.fi", "mail.example.fi", 25, False, False, None, None),
        (
            "smtp://merkki%40x.fi:p%C3%A4ss@mail.example.fi:587?starttls=1",
            "mail.example.fi",
            587,
            False,
            True,
            "merkki@x.fi",
            "päss",
        ),
        ("smtps://u:s3cret@mail.example.fi", "mail.example.fi", 465, True, False, "u", "s3cret"),
    ],
)
def test_smtp_urls(
    url: str,
    host: str,
    port: int,
    ssl: bool,
    starttls: bool,
    user: str | None,
    password: str | None,
) -> None:
    parsed = mail.parse_smtp_url(url)
    assert (parsed.host, parsed.port, parsed.use_ssl, parsed.starttls) == (
        host,
        port,
        ssl,
        starttls,
    )
    assert (parsed.username, parsed.password) == (user, password)
    if password is not None:
        assert password not in repr(parsed)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.fi",
        "smtp://",
        "smtp://mail.example.fi:99999",
        "smtps://mail.example.fi?starttls=1",
        "smtp://mail.example.fi?tls=1",
        "smtp://mail.example.fi?from=nobody",
    ],
)
def test_bad_smtp_urls_stop_the_service_with_a_message(url: str) -> None:
    from issuer.config import ConfigError, load_settings

    with pytest.raises(mail.SmtpUrlError):
        mail.parse_smtp_url(url)
    with pytest.raises(ConfigError, match="ISSUER_SMTP_URL"):
        load_settings({"SMTP_URL": url, "DATABASE_URL": "sqlite://", "KEYS_DIR": "."})


def test_without_smtp_mails_wait_in_the_outbox(app: Flask, world: World) -> None:
    app.extensions["issuer.settings"] = dataclasses.replace(
        app.extensions["issuer.settings"], smtp_url=None
    )
    issue(app)
    with app.app_context():
        [waiting] = get_session().scalars(select(OutboxMail))
        assert waiting.state is MailState.PENDING
        assert waiting.to_address == "liisa@example.fi"
        assert mail.masked_address(waiting.to_address) == "l***@example.fi"


# --- the envelope recipient is the validated address (issue 13) -------------------------------


def test_the_envelope_recipient_is_exactly_the_validated_address(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    handler, _port = inbox
    issue(app, email="  Liisa.Virtanen@Example.FI ")
    assert handler.envelopes == [("merkki@hamk.example", ["liisa.virtanen@example.fi"])]
    assert handler.messages[0]["To"] == "liisa.virtanen@example.fi"


def test_a_queued_row_with_several_addresses_is_never_sent(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    # A row queued before addresses were validated (or written by hand): the To header would
    # parse into two recipients. It fails with the reason and reaches nobody.
    handler, _port = inbox
    issued = issue(app)
    handler.envelopes.clear()
    handler.messages.clear()
    with app.app_context(), unit_of_work() as session:
        [stored] = session.scalars(select(OutboxMail))
        stored.to_address = "liisa@example.fi, attacker@evil.example"
        mail.resend(session, stored)
    assert handler.envelopes == []
    with app.app_context():
        [failed] = get_session().scalars(select(OutboxMail))
        assert failed.credential_id == issued.id
        assert failed.state is MailState.FAILED
        assert failed.last_error is not None
        assert "one e-mail address only" in failed.last_error


@pytest.mark.parametrize(
    ("lang", "greeting", "signature"),
    [
        ("fi", "Hei Liisa,", "Merkki lähetti tämän viestin automaattisesti."),
        ("sv", "Hej Liisa,", "Detta meddelande skickades automatiskt av Merkki."),
        ("en", "Hello Liisa,", "This message was sent automatically by Merkki."),
    ],
)
def test_the_mail_is_written_in_its_language_without_any_app(
    lang: str, greeting: str, signature: str
) -> None:
    """The service reads the message catalogues itself: a job or a command writes the learner's
    mail in the learner's language with no web request (and here, no app) around it."""
    body = mail.credential_mail_body(
        lang=lang,
        name="Liisa",
        badge="Merkki",
        institution="HAMK",
        page_url=f"{BASE_URL}/credentials/x",
        manage_url=f"{BASE_URL}/credentials/x/manage/y",
        verify_url=f"{BASE_URL}/verify/x",
    )
    assert body.startswith(greeting + "\n\n")
    assert signature in body


# --- learners reached (issue 15) ----------------------------------------------------------------


def _change_status(app: Flask, credential_id: str, action: str, reason: str | None) -> None:
    from issuer.services import revocation
    from issuer.services.audit import SystemActor

    with app.app_context(), unit_of_work() as session:
        credential = issuing.get_credential(session, credential_id)
        revocation.change_status(
            session, credential, action, actor=SystemActor(label="staff@hamk.fi"), reason=reason
        )


@pytest.mark.parametrize(
    ("lang", "subject", "sentence", "reason_line"),
    [
        (
            "fi",
            "Osaamismerkkisi on peruttu: Merkki test-badge",
            "Peruminen on pysyvä",
            "Syy: Väärä henkilö",
        ),
        (
            "sv",
            "Ditt märke har återkallats: Märke test-badge",
            "Återkallelsen är permanent",
            "Skäl: Väärä henkilö",
        ),
        (
            "en",
            "Your badge was revoked: Badge test-badge",
            "The revocation is permanent",
            "Reason: Väärä henkilö",
        ),
    ],
)
def test_a_revocation_is_mailed_to_the_learner_in_the_credentials_language_with_the_reason(
    app: Flask,
    world: World,
    inbox: tuple[Inbox, int],
    lang: str,
    subject: str,
    sentence: str,
    reason_line: str,
) -> None:
    handler, _port = inbox
    issued = issue(app, name="Liisa Virtanen", options=issue_input.IssueOptions(lang=lang))
    handler.messages.clear()
    handler.envelopes.clear()

    _change_status(app, issued.id, "revoke", "Väärä henkilö")

    assert handler.envelopes == [("merkki@hamk.example", ["liisa@example.fi"])]
    [message] = handler.messages
    assert message["Subject"] == subject
    assert message["Content-Language"] == lang
    body = _body(message).replace("\r\n", "\n")
    assert "Liisa Virtanen" in body
    assert sentence in body
    assert reason_line in body
    assert f"{BASE_URL}/credentials/{issued.id}\n" in body
    # The private manage link goes only into the first mail.
    assert "/manage/" not in body
    with app.app_context():
        mails = list(get_session().scalars(select(OutboxMail).order_by(OutboxMail.id)))
        assert [one.state for one in mails] == [MailState.SENT, MailState.SENT]
        assert mails[1].credential_id == issued.id
        assert mails[1].lang == lang


def test_a_suspension_and_its_lifting_are_mailed_and_a_missing_reason_is_left_out(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    handler, _port = inbox
    issued = issue(app, options=issue_input.IssueOptions(lang="sv"))
    handler.messages.clear()

    _change_status(app, issued.id, "suspend", "Utredning pågår")
    _change_status(app, issued.id, "unsuspend", None)

    suspended, lifted = handler.messages
    assert suspended["Subject"] == "Ditt märke har spärrats: Märke test-badge"
    assert "Skäl: Utredning pågår" in _body(suspended)
    assert lifted["Subject"] == "Ditt märke är giltigt igen: Märke test-badge"
    assert "Skäl" not in _body(lifted)
    assert "kan åter verifieras som giltigt" in _body(lifted)


def test_without_smtp_a_revocation_mail_waits_in_the_outbox(app: Flask, world: World) -> None:
    app.extensions["issuer.settings"] = dataclasses.replace(
        app.extensions["issuer.settings"], smtp_url=None
    )
    issued = issue(app)
    _change_status(app, issued.id, "revoke", "Virhe")
    with app.app_context():
        first, revoked = get_session().scalars(select(OutboxMail).order_by(OutboxMail.id))
        assert (first.state, revoked.state) == (MailState.PENDING, MailState.PENDING)
        assert revoked.to_address == "liisa@example.fi"
        assert revoked.subject == "Osaamismerkkisi on peruttu: Merkki test-badge"
        assert "Syy: Virhe" in revoked.body


def test_a_credential_issued_without_a_mail_gets_no_status_mail(
    app: Flask, world: World, inbox: tuple[Inbox, int]
) -> None:
    handler, _port = inbox
    issued = issue(app, options=issue_input.IssueOptions(lang="fi", send_mail=False))
    _change_status(app, issued.id, "revoke", "Virhe")
    assert handler.messages == []
    with app.app_context():
        assert list(get_session().scalars(select(OutboxMail))) == []


def test_the_links_of_a_mail_are_its_page_manage_link_and_verification_page(
    app: Flask, world: World
) -> None:
    issued = issue(app, options=issue_input.IssueOptions(lang="en"))
    _change_status(app, issued.id, "suspend", None)
    with app.app_context():
        first, suspended = get_session().scalars(select(OutboxMail).order_by(OutboxMail.id))
        assert mail.mail_links(first, BASE_URL) == [
            (mail.PAGE, f"{BASE_URL}/credentials/{issued.id}"),
            (mail.VERIFY, f"{BASE_URL}/verify/{issued.id}"),
            (mail.MANAGE, f"{BASE_URL}/credentials/{issued.id}/manage/{issued.manage_token}"),
        ]
        assert mail.mail_links(suspended, BASE_URL) == [
            (mail.PAGE, f"{BASE_URL}/credentials/{issued.id}")
        ]
        # The manage link of each credential comes from its own first mail.
        other = issue(app, email="matti@example.fi", name="Matti")
        assert mail.manage_links(get_session(), [issued.id, other.id, "0" * 32], BASE_URL) == {
            issued.id: f"{BASE_URL}/credentials/{issued.id}/manage/{issued.manage_token}",
            other.id: f"{BASE_URL}/credentials/{other.id}/manage/{other.manage_token}",
        }


def test_a_resend_is_audited_with_who_asked(app: Flask, world: World) -> None:
    from issuer.models.audit import AuditEvent
    from issuer.services.audit import SystemActor

    issued = issue(app)
    with app.app_context(), unit_of_work() as session:
        [stored] = session.scalars(select(OutboxMail))
        mail_id = stored.id
        mail.resend(session, stored, actor=SystemActor(kind="user", id="3", label="a@hamk.fi"))
    with app.app_context():
        [event] = get_session().scalars(
            select(AuditEvent).where(AuditEvent.action == "mail.resend")
        )
        assert (event.actor_label, event.target) == ("a@hamk.fi", issued.id)
        assert event.details == {"mail": mail_id, "to": "l***@example.fi"}


def test_another_institutions_mail_is_not_found(app: Flask, world: World) -> None:
    from issuer.services import institutions
    from issuer.services.errors import NotFoundError

    issue(app)
    with app.app_context():
        session = get_session()
        [stored] = session.scalars(select(OutboxMail))
        hamk = institutions.get_institution(session, "hamk")
        tamk = institutions.get_institution(session, "tamk")
        assert mail.get_mail(session, hamk, stored.id) is stored
        with pytest.raises(NotFoundError):
            mail.get_mail(session, tamk, stored.id)
        with pytest.raises(NotFoundError):
            mail.get_mail(session, hamk, stored.id + 1000)
