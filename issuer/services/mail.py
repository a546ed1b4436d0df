"""E-mail to learners: an outbox in the database, sent after the transaction commits.

* ``queue_credential_mail`` renders the mail in the learner's language and adds an
  ``OutboxMail`` row to the issuing transaction. Nothing is sent inside a transaction: a mail
  cannot be rolled back, so a credential whose transaction fails must not have been announced.
* After a commit that queued mail, a sender delivers pending mails (``deliver_pending``), each
  claimed first (``pending -> sending``) so that two processes never send the same mail. The
  commit calls the notifier the app wiring installed (``set_notifier``; ``issuer.wiring.mail``
  knows the app, its settings and its ``MAIL_DELIVERY`` mode): in the service the mail is sent
  on a background thread; ``MAIL_DELIVERY = "sync"`` (a Flask config key, for tests) sends
  before ``commit()`` returns, ``"off"`` leaves everything to ``merkki``/staff.
* Without ``ISSUER_SMTP_URL`` (the embedded default) nothing is sent: mails stay in the outbox,
  where staff see them (``/staff/issue/outbox``), open each one as the learner will read it and
  copy its links (``mail_links``). Failed sends keep their error; staff can send them again
  (``resend``, audited).
* A revocation, suspension or lifted suspension is told to the learner the same way
  (``queue_status_mail``, called by ``issuer.services.revocation`` in its transaction), in the
  credential's language, to the address the credential was mailed to.

``ISSUER_SMTP_URL``: ``smtp://[user[:password]@]host[:port][?starttls=1&from=addr]`` (port 25
by default; ``starttls=1`` upgrades the connection, as port 587 expects) or
``smtps://...`` (TLS from the start, port 465 by default). User and password are URL-decoded.
``from`` is the sender address; by default ``merkki@<host of ISSUER_BASE_URL>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import urlsplit

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from issuer import config, urls
from issuer.models import Credential, Institution
from issuer.models.issuing import MailState, OutboxMail
from issuer.services import audit, badge_classes, emails
from issuer.services.errors import NotFoundError
from issuer.services.translation import translator

SMTP_TIMEOUT_SECONDS = 30
_SESSION_FLAG = "merkki_mail_queued"


# ``ISSUER_SMTP_URL`` is parsed where configuration is read (``issuer.config``); the names stay
# importable from here.
SmtpUrlError = config.SmtpUrlError
SmtpSettings = config.SmtpSettings
parse_smtp_url = config.parse_smtp_url


# --- composing -------------------------------------------------------------------------------


def _sender(settings: SmtpSettings, base_url: str) -> str:
    if settings.sender:
        return settings.sender
    host = urlsplit(base_url).hostname or "localhost"
    return f"merkki@{host}"


def credential_mail_body(
    *,
    lang: str,
    name: str,
    badge: str,
    institution: str,
    page_url: str,
    manage_url: str,
    verify_url: str,
) -> str:
    """The plain-text body in ``lang`` (built here rather than in a template: it is plain text,
    where HTML escaping would garble names such as O'Brien)."""
    _ = translator(lang)
    paragraphs = [
        _("Hello %(name)s,", name=name),
        _(
            '%(institution)s has awarded you the badge "%(badge)s".',
            institution=institution,
            badge=badge,
        ),
        _("Your badge page, which you can share (for example on LinkedIn or in your CV):")
        + "\n"
        + page_url,
        _(
            "On that page you can also download the badge as an image that carries the "
            "credential, and the credential file for a digital wallet."
        ),
        _("Anyone can check that the badge is genuine here:") + "\n" + verify_url,
        _(
            "Your private link for managing the page (hide it, or allow search engines to list "
            "it). Do not share this link:"
        )
        + "\n"
        + manage_url,
        _(
            "To keep the badge in a digital wallet app on your phone (it stays yours after your "
            "school e-mail address has expired), open:"
        )
        + "\n"
        + manage_url
        + urls.MANAGE_WALLET,
        _("This message was sent automatically by Merkki."),
    ]
    return "\n\n".join(paragraphs) + "\n"


def queue_credential_mail(
    session: Session,
    *,
    credential: Credential,
    email: str,
    badge_name: str,
    institution: Institution,
    manage_url: str,
    base_url: str,
) -> OutboxMail:
    """Add the "you received a badge" mail for ``credential`` to the outbox, in the
    credential's language. Sent after the transaction commits."""
    lang = credential.lang
    _ = translator(lang)
    subject = _("Your badge: %(badge)s", badge=badge_name)
    body = credential_mail_body(
        lang=lang,
        name=credential.recipient_name,
        badge=badge_name,
        institution=institution.name(lang),
        page_url=urls.credential_url(base_url, credential.id),
        manage_url=manage_url,
        verify_url=urls.verify_url(base_url, credential.id),
    )
    mail = OutboxMail(
        institution_id=institution.id,
        credential_id=credential.id,
        to_address=email,
        lang=lang,
        subject=subject[:255],
        body=body,
        state=MailState.PENDING,
    )
    session.add(mail)
    mark_queued(session)
    return mail


#: The status changes a learner is told about (``issuer.services.revocation``'s actions).
STATUS_MAIL_ACTIONS = ("revoke", "suspend", "unsuspend")


def learner_address(session: Session, credential_id: str) -> str | None:
    """The address the credential was mailed to when it was issued (its first outbox mail), or
    None: plain addresses are never stored on credentials (only in the outbox, which must be
    sendable), so a credential issued without a mail has no address to write to."""
    return session.scalar(
        select(OutboxMail.to_address)
        .where(OutboxMail.credential_id == credential_id)
        .order_by(OutboxMail.id)
        .limit(1)
    )


def status_mail_text(
    *,
    action: str,
    lang: str,
    name: str,
    badge: str,
    institution: str,
    page_url: str,
    reason: str | None,
) -> tuple[str, str]:
    """(subject, plain-text body) telling the learner that ``action`` (revoke, suspend,
    unsuspend) happened to their badge, in ``lang``; the reason is given when there is one."""
    _ = translator(lang)
    if action == "revoke":
        subject = _("Your badge was revoked: %(badge)s", badge=badge)
        what = _(
            '%(institution)s has revoked your badge "%(badge)s". The revocation is permanent: '
            "the badge no longer verifies as valid.",
            institution=institution,
            badge=badge,
        )
    elif action == "suspend":
        subject = _("Your badge was suspended: %(badge)s", badge=badge)
        what = _(
            '%(institution)s has suspended your badge "%(badge)s". While it is suspended, the '
            "badge does not verify as valid.",
            institution=institution,
            badge=badge,
        )
    elif action == "unsuspend":
        subject = _("Your badge is valid again: %(badge)s", badge=badge)
        what = _(
            '%(institution)s has lifted the suspension of your badge "%(badge)s". It verifies '
            "as valid again.",
            institution=institution,
            badge=badge,
        )
    else:
        raise ValueError(f"no mail for the status action {action!r}")
    paragraphs = [_("Hello %(name)s,", name=name), what]
    if reason:
        paragraphs.append(_("Reason: %(reason)s", reason=reason))
    paragraphs += [
        _("Your badge page shows its current state:") + "\n" + page_url,
        _(
            "If you have questions about this, contact %(institution)s.",
            institution=institution,
        ),
        _("This message was sent automatically by Merkki."),
    ]
    return subject, "\n\n".join(paragraphs) + "\n"


def queue_status_mail(
    session: Session,
    credential: Credential,
    action: str,
    *,
    base_url: str,
    reason: str | None = None,
) -> OutboxMail | None:
    """Tell the learner that ``action`` happened to ``credential``: a mail in the credential's
    language, added to the outbox in the caller's transaction and sent after it commits, like
    the mail of an issued badge. None when the credential was never mailed (no address)."""
    address = learner_address(session, credential.id)
    if address is None:
        return None
    lang = credential.lang
    institution = credential.institution
    subject, body = status_mail_text(
        action=action,
        lang=lang,
        name=credential.recipient_name,
        badge=badge_classes.parsed(credential.badge_class_version).name.get(lang),
        institution=institution.name(lang),
        page_url=urls.credential_url(base_url, credential.id),
        reason=reason,
    )
    mail = OutboxMail(
        institution_id=credential.institution_id,
        credential_id=credential.id,
        to_address=address,
        lang=lang,
        subject=subject[:255],
        body=body,
        state=MailState.PENDING,
    )
    session.add(mail)
    mark_queued(session)
    return mail


def mark_queued(session: Session) -> None:
    """Note that ``session`` queued mail: the sender delivers it after the commit."""
    session.info[_SESSION_FLAG] = True


# --- sending ---------------------------------------------------------------------------------


def _message(mail: OutboxMail, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = formataddr(("Merkki", sender))
    message["To"] = recipient
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    # After set_content, which replaces every Content-* header.
    message["Content-Language"] = mail.lang
    return message


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.use_ssl:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
        if settings.starttls:
            client.starttls(context=context)
    if settings.username:
        client.login(settings.username, settings.password or "")
    return client


def _claim(session: Session, mail_id: int) -> bool:
    """``pending -> sending`` for one mail; False when someone else claimed it first."""
    result = session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.state == MailState.PENDING)
        .values(state=MailState.SENDING)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def deliver_pending(
    session: Session, smtp_url: str | None, base_url: str, *, limit: int = 500
) -> int:
    """Send pending mails (oldest first) over ``smtp_url``; returns how many were sent.

    Commits per mail (this runs outside any request's unit of work): a mail is claimed, then
    marked sent, or failed with the error. Nothing happens without ``smtp_url``.
    """
    if not smtp_url:
        return 0
    settings = parse_smtp_url(smtp_url)
    sender = _sender(settings, base_url)
    ids = list(
        session.scalars(
            select(OutboxMail.id)
            .where(OutboxMail.state == MailState.PENDING)
            .order_by(OutboxMail.id)
            .limit(limit)
        )
    )
    session.commit()
    sent = 0
    client: smtplib.SMTP | None = None
    try:
        for mail_id in ids:
            if not _claim(session, mail_id):
                continue
            mail = session.get(OutboxMail, mail_id)
            assert mail is not None
            mail.attempts += 1
            try:
                # The envelope recipient is exactly the one validated address, never what the
                # To header could be parsed into (a row queued before addresses were validated
                # and holding "a@x.fi, b@y.fi" fails here instead of reaching two people).
                recipient = emails.check_email(mail.to_address)
            except emails.EmailError as error:
                mail.state = MailState.FAILED
                mail.last_error = f"invalid recipient address: {error.message}"[:2000]
                session.commit()
                continue
            try:
                if client is None:
                    client = _connect(settings)
                client.send_message(
                    _message(mail, sender, recipient), from_addr=sender, to_addrs=[recipient]
                )
            except (OSError, smtplib.SMTPException) as error:
                mail.state = MailState.FAILED
                mail.last_error = f"{type(error).__name__}: {error}"[:2000]
                client = None  # reconnect for the next one
            else:
                mail.state = MailState.SENT
                mail.sent_at = datetime.now(UTC)
                mail.last_error = None
                sent += 1
            session.commit()
    finally:
        if client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
    return sent


def resend(session: Session, mail: OutboxMail, *, actor: audit.AuditActor | None = None) -> None:
    """Put a failed (or sent) mail back in the queue; the next delivery sends it again. The
    audit log names who asked (a person may ask for a mail to go out twice)."""
    mail.state = MailState.PENDING
    audit.record(
        session,
        actor=actor if actor is not None else audit.SystemActor(),
        action="mail.resend",
        institution_id=mail.institution_id,
        target=mail.credential_id or f"mail:{mail.id}",
        details={"mail": mail.id, "to": masked_address(mail.to_address)},
    )
    mark_queued(session)


def get_mail(session: Session, institution: Institution, mail_id: int) -> OutboxMail:
    """One of ``institution``'s mails; another institution's is "not found", as if it did not
    exist (staff of one institution never read or resend another's mail)."""
    found = session.get(OutboxMail, mail_id)
    if found is None or found.institution_id != institution.id:
        raise NotFoundError(f"no mail {mail_id}")
    return found


#: What a link in a mail leads to (``mail_links``).
PAGE, MANAGE, VERIFY = "page", "manage", "verify"


def mail_links(mail: OutboxMail, base_url: str) -> list[tuple[str, str]]:
    """(kind, URL) of the links in ``mail``'s body that lead to its credential, in the order the
    body gives them: its public page, the private manage link, the verification page. The body
    is what the learner reads, so these are exactly the links the learner gets."""
    if mail.credential_id is None:
        return []
    known = {
        urls.credential_url(base_url, mail.credential_id): PAGE,
        urls.verify_url(base_url, mail.credential_id): VERIFY,
    }
    manage_prefix = urls.manage_url(base_url, mail.credential_id, "")
    found: list[tuple[str, str]] = []
    for line in mail.body.splitlines():
        link = line.strip()
        kind = known.get(link)
        if (
            kind is None
            and link.startswith(manage_prefix)
            and len(link) > len(manage_prefix)
            # The wallet page behind the manage link is reached from the manage page too.
            and not link.endswith(urls.MANAGE_WALLET)
        ):
            kind = MANAGE
        if kind is not None and (kind, link) not in found:
            found.append((kind, link))
    return found


def manage_links(session: Session, credential_ids: list[str], base_url: str) -> dict[str, str]:
    """credential id -> the private manage link its learner was mailed. The link's token is
    stored only hashed on the credential; the mail (kept in the outbox so that it can be sent
    and re-sent) is the one place that holds the link itself."""
    found: dict[str, str] = {}
    for start in range(0, len(credential_ids), 500):
        chunk = credential_ids[start : start + 500]
        for one in session.scalars(
            select(OutboxMail).where(OutboxMail.credential_id.in_(chunk)).order_by(OutboxMail.id)
        ):
            assert one.credential_id is not None
            if one.credential_id in found:
                continue
            for kind, link in mail_links(one, base_url):
                if kind == MANAGE:
                    found[one.credential_id] = link
                    break
    return found


def credential_mail_state(session: Session, credential_id: str) -> MailState | None:
    """The state of the first mail of ``credential_id`` (the one announcing it), or None when
    none was queued: what staff are told after issuing."""
    return session.scalar(
        select(OutboxMail.state)
        .where(OutboxMail.credential_id == credential_id)
        .order_by(OutboxMail.id)
        .limit(1)
    )


def credential_mail_id(session: Session, credential_id: str) -> int | None:
    """The id of the first mail of ``credential_id`` (the one announcing it), or None."""
    return session.scalar(
        select(OutboxMail.id)
        .where(OutboxMail.credential_id == credential_id)
        .order_by(OutboxMail.id)
        .limit(1)
    )


def first_mail_states(session: Session, credential_ids: list[str]) -> dict[MailState, int]:
    """How many of the credentials' first mails (those announcing them) are in each state."""
    first: dict[str, MailState] = {}
    for start in range(0, len(credential_ids), 500):
        chunk = credential_ids[start : start + 500]
        for credential_id, state in session.execute(
            select(OutboxMail.credential_id, OutboxMail.state)
            .where(OutboxMail.credential_id.in_(chunk))
            .order_by(OutboxMail.id)
        ):
            if credential_id is not None:
                first.setdefault(credential_id, state)
    counts: dict[MailState, int] = {}
    for state in first.values():
        counts[state] = counts.get(state, 0) + 1
    return counts


def list_outbox(
    session: Session, institution: Institution, *, limit: int = 200
) -> list[OutboxMail]:
    return list(
        session.scalars(
            select(OutboxMail)
            .where(OutboxMail.institution_id == institution.id)
            .order_by(OutboxMail.id.desc())
            .limit(limit)
        )
    )


def masked_address(address: str) -> str:
    """``l***@example.fi``: enough for staff to recognise, not to harvest."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def address_digest(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:12]


# --- after commit ----------------------------------------------------------------------------

#: Called after a commit that queued mail; installed by the app wiring (``issuer.wiring.mail``),
#: which knows whose mail it is and how it goes out. None: nobody delivers (mails wait in the
#: outbox for ``merkki`` or staff).
_notifier: Callable[[], None] | None = None


def set_notifier(notifier: Callable[[], None] | None) -> None:
    """Install what runs after a commit that queued mail (module docstring)."""
    global _notifier
    _notifier = notifier


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # A rollback leaves the flag set; the next commit then triggers a delivery pass, which
    # finds nothing new or sends what is pending anyway: harmless.
    if not session.info.pop(_SESSION_FLAG, False) or _notifier is None:
        return
    _notifier()
