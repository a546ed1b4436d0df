"""The site's own pages: the start page (``/``) for its three audiences — an employer who
verifies a badge, anyone browsing the catalogue, staff who sign in — and the accessibility
statement (``/accessibility``) that Finnish law requires of the public-sector institutions
using Merkki (Act on the Provision of Digital Services 306/2019).
Both in the reader's language, linked from every page (the logo and the footer of base.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import get_session
from issuer.models import Institution
from issuer.web.i18n import current_language

bp = Blueprint("pages", __name__)

#: When the accessibility statement was prepared and last reviewed (a calendar date in
#: Finland, Europe/Helsinki). Update it whenever the list of known problems in
#: ``templates/pages/accessibility.html`` changes: the Act asks for a statement kept up to
#: date.
STATEMENT_PREPARED = date(2026, 12, 4)
STATEMENT_REVIEWED = date(2026, 12, 4)

_EMAIL_ADDRESS = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")


@dataclass(frozen=True, slots=True)
class FeedbackContact:
    """Where feedback on accessibility goes: the operator's setting, else the institutions'
    own contact addresses from their profiles."""

    #: ``ISSUER_ACCESSIBILITY_CONTACT`` as written (None when unset).
    text: str | None
    #: That setting when it is one e-mail address alone (then shown as a mail link).
    email: str | None
    #: (name in the reader's language, e-mail address) of each institution with an address.
    institutions: list[tuple[str, str]]


def _feedback_contact(lang: str) -> FeedbackContact:
    configured = get_settings().accessibility_contact
    if configured is not None:
        email = configured if _EMAIL_ADDRESS.fullmatch(configured) else None
        return FeedbackContact(text=configured, email=email, institutions=[])
    rows = get_session().scalars(
        select(Institution).where(Institution.email.is_not(None)).order_by(Institution.name_fi)
    )
    listed = [(row.name(lang), row.email) for row in rows if row.email]
    return FeedbackContact(text=None, email=None, institutions=listed)


@bp.get("/")
def start() -> ResponseReturnValue:
    return render_template("pages/start.html")


@bp.get("/accessibility")
def accessibility() -> ResponseReturnValue:
    return render_template(
        "pages/accessibility.html",
        contact=_feedback_contact(current_language()),
        prepared=STATEMENT_PREPARED,
        reviewed=STATEMENT_REVIEWED,
        base_url=get_settings().base_url,
    )
