"""What the issuing pages tell staff about the learners' mails (``issuer.web.staff.issuing``).

Staff are told what happened to each mail: sent, being sent, failed, or waiting in the outbox
because no mail server is configured (``ISSUER_SMTP_URL``); never that a mail will arrive when
nothing can send it.
"""

from __future__ import annotations

from flask_babel import gettext as _

from issuer.config import get_settings
from issuer.models.issuing import MailState


def smtp_configured() -> bool:
    """Whether a mail server is configured: without one, mails wait in the outbox."""
    return bool(get_settings().smtp_url)


def issued_notice(state: MailState | None) -> tuple[str, str]:
    """(message, category) after one badge was issued: the truth about its mail (read after
    the commit, when a synchronous sender has already tried)."""
    if state is None:
        return _("The badge was issued."), "success"
    if not smtp_configured():
        return (
            _(
                "The badge was issued. No mail server is configured (ISSUER_SMTP_URL), so the "
                "e-mail to the recipient was not sent: it waits in the outbox, where you can "
                "copy its links for the recipient."
            ),
            "success",
        )
    if state is MailState.SENT:
        return _("The badge was issued and the e-mail was sent to the recipient."), "success"
    if state is MailState.FAILED:
        return (
            _(
                "The badge was issued, but the e-mail to the recipient could not be sent. "
                "The outbox shows why and can send it again."
            ),
            "error",
        )
    return (
        _("The badge was issued. The e-mail to the recipient is being sent (see the outbox)."),
        "success",
    )


def mail_notices(states: dict[MailState, int]) -> list[str]:
    """What a cohort's job page says about its learners' mails, one line per state (counts as
    "label: number", which reads right for one mail and for many in every language)."""
    notices = []
    sent = states.get(MailState.SENT, 0)
    waiting = states.get(MailState.PENDING, 0) + states.get(MailState.SENDING, 0)
    failed = states.get(MailState.FAILED, 0)
    if sent:
        notices.append(_("E-mails sent to the learners: %(num)d", num=sent))
    if waiting and not smtp_configured():
        notices.append(
            _(
                "E-mails not sent because no mail server is configured (ISSUER_SMTP_URL); "
                "they wait in the outbox: %(num)d",
                num=waiting,
            )
        )
    elif waiting:
        notices.append(_("E-mails being sent: %(num)d", num=waiting))
    if failed:
        notices.append(_("E-mails that could not be sent (see the outbox): %(num)d", num=failed))
    return notices
