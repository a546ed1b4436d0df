"""Dates as people in Finland type them, for the staff forms (issue 15).

Finnish and Swedish write a date day first with full stops (``31.12.2030``; SFS 4175) and a time
with a full stop after ``klo`` / ``kl.`` (``31.12.2030 klo 12.00``). The services take ISO 8601
(``2030-12-31``, or a date-time with an offset), as the API does; the form turns what it
recognises into that and passes anything else on as typed, so that the service's own check
reports it. A typed time is Helsinki time (Europe/Helsinki, with its summer time), the time the
staff member's clock shows.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")

_FINNISH_DATE = re.compile(
    r"(?P<day>\d{1,2})\s*\.\s*(?P<month>\d{1,2})\s*\.\s*(?P<year>\d{4})\.?"
    r"(?:\s*(?:,|klo|kl\.?|at)?\s*(?P<hour>\d{1,2})[.:](?P<minute>\d{2}))?",
    re.IGNORECASE,
)


def typed_date(text: str) -> str:
    """``31.12.2030`` -> ``2030-12-31``; ``31.12.2030 klo 12.00`` -> ``2030-12-31T12:00:00+02:00``
    (Helsinki time); anything else (ISO 8601 included) unchanged."""
    found = _FINNISH_DATE.fullmatch(text.strip())
    if found is None:
        return text
    try:
        day = date(int(found["year"]), int(found["month"]), int(found["day"]))
        if found["hour"] is None:
            return day.isoformat()
        moment = datetime(
            day.year,
            day.month,
            day.day,
            int(found["hour"]),
            int(found["minute"]),
            tzinfo=HELSINKI,
        )
    except ValueError:
        # 31.2.2030 or 25.00: left as typed, and the service says it is not a date.
        return text
    return moment.isoformat()
