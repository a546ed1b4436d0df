"""Dates and times as people in Finland read them: in Helsinki time, one format per language.

Every date a page, a certificate or a mail shows goes through here (issue 15): the service's
readers are in Finland, and a credential issued at 22:30 UTC on 3 December was issued on
4 December there. The web layer's ``when`` filter (``issuer.web.i18n``) calls these with the
reader's language.

Formats (CLDR patterns): Finnish and Swedish as written in Finland, ``4.12.2026 klo 15.30`` and
``4.12.2026 kl. 15.30`` (Finland-Swedish usage, CLDR ``sv_FI``); English with the month's name,
``4 December 2026, 15:30``, so that nobody has to guess the day from the month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime

HELSINKI = ZoneInfo("Europe/Helsinki")
#: language -> (Babel locale, date pattern, date-and-time pattern). Unknown languages get English.
FORMATS = {
    "fi": ("fi", "d.M.y", "d.M.y 'klo' H.mm"),
    "sv": ("sv_FI", "d.M.y", "d.M.y 'kl.' H.mm"),
    "en": ("en_GB", "d MMMM y", "d MMMM y, HH:mm"),
}


def helsinki(moment: datetime) -> datetime:
    """``moment`` in Helsinki time; a naive ``datetime`` is taken as UTC, as the database
    stores it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(HELSINKI)


def format_date(moment: datetime | date, lang: str) -> str:
    """The calendar date of ``moment`` in Helsinki, in ``lang``'s format (``4.12.2026``). A
    ``date`` is already a calendar date and is not moved."""
    locale, pattern, _ = FORMATS.get(lang, FORMATS["en"])
    day = helsinki(moment).date() if isinstance(moment, datetime) else moment
    return str(babel_format_date(day, pattern, locale=locale))


def format_datetime(moment: datetime, lang: str) -> str:
    """``moment`` in Helsinki time with hours and minutes, in ``lang``'s format
    (``4.12.2026 klo 15.30``)."""
    locale, _, pattern = FORMATS.get(lang, FORMATS["en"])
    return str(babel_format_datetime(helsinki(moment), pattern, locale=locale))
