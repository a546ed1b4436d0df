"""Dates and times in Helsinki time, one format per language (``issuer.services.dates``), and
the templates' ``when`` filter over it (``issuer.web.i18n``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask, render_template_string

from issuer.services.dates import format_date, format_datetime

#: 22:30 UTC on 3 December is 00:30 on 4 December in Helsinki (UTC+2 in winter).
LATE_EVENING = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)
#: 12:30 UTC on 30 June is 15:30 in Helsinki (UTC+3 in summer).
SUMMER = datetime(2026, 6, 30, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "lang", "expected"),
    [
        (LATE_EVENING, "fi", "4.12.2026 klo 0.30"),
        (LATE_EVENING, "sv", "4.12.2026 kl. 0.30"),
        (LATE_EVENING, "en", "4 December 2026, 00:30"),
        (SUMMER, "fi", "30.6.2026 klo 15.30"),
        (SUMMER, "sv", "30.6.2026 kl. 15.30"),
        (SUMMER, "en", "30 June 2026, 15:30"),
        # A naive time is taken as UTC, as the database stores it.
        (LATE_EVENING.replace(tzinfo=None), "fi", "4.12.2026 klo 0.30"),
        # An unknown language gets English.
        (SUMMER, "de", "30 June 2026, 15:30"),
    ],
)
def test_date_and_time_in_helsinki_in_one_format_per_language(
    moment: datetime, lang: str, expected: str
) -> None:
    assert format_datetime(moment, lang) == expected


def test_a_calendar_date_is_not_moved() -> None:
    assert format_date(date(2026, 12, 3), "fi") == "3.12.2026"
    assert format_date(date(2026, 12, 3), "en") == "3 December 2026"


@pytest.mark.parametrize(
    ("lang", "moment", "day"),
    [
        ("fi", "4.12.2026 klo 0.30", "4.12.2026"),
        ("sv", "4.12.2026 kl. 0.30", "4.12.2026"),
        ("en", "4 December 2026, 00:30", "4 December 2026"),
    ],
)
def test_the_when_filter_in_the_readers_language(
    app: Flask, lang: str, moment: str, day: str
) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        rendered = render_template_string(
            '{{ moment|when }}|{{ moment|when("date") }}|{{ nothing|when }}',
            moment=LATE_EVENING,
            nothing=None,
        )
    assert rendered == f"{moment}|{day}|"
