"""The issue-one form takes dates as they are written in Finland (31.12.2030, and a time as
"31.12.2030 klo 12.00", Helsinki time) as well as ISO 8601; anything else is a clear error tied
to its field (issue 15)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.db import get_session
from issuer.models import Credential
from issuer.web.staff.dates import typed_date
from tests.web.learner.support import (
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)
from tests.web.staff.issuing.test_views import (
    _badge_id,
    _signed_in,
    _token,
    staff,  # noqa: F401 - fixture
)


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("31.12.2030", "2030-12-31"),
        (" 1.7.2030 ", "2030-07-01"),
        ("31.12.2030.", "2030-12-31"),
        ("31.12.2030 klo 12.00", "2030-12-31T12:00:00+02:00"),
        ("1.7.2030 kl. 9.30", "2030-07-01T09:30:00+03:00"),  # summer time
        ("1.7.2030 9:30", "2030-07-01T09:30:00+03:00"),
        ("2030-12-31", "2030-12-31"),
        ("31.2.2030", "31.2.2030"),  # no such day: left for the service to refuse
        ("31.12.2030 klo 25.00", "31.12.2030 klo 25.00"),
        ("12/31/2030", "12/31/2030"),
        ("", ""),
    ],
)
def test_typed_dates(typed: str, iso: str) -> None:
    assert typed_date(typed) == iso


def _issue(app: Flask, email: str, **fields: str) -> tuple[int, str]:
    client = _signed_in(app, email)
    response = client.post(
        "/staff/issue/?lang=en",
        data={
            "csrf_token": _token(client, "/staff/issue/"),
            "badge_class": _badge_id(app, "test-badge"),
            "email": "liisa@example.fi",
            "name": "Liisa",
            **fields,
        },
    )
    return response.status_code, response.text


def test_finnish_dates_are_accepted(
    app: Flask,
    staff: dict[str, str],  # noqa: F811 - the fixture
) -> None:
    status, _html = _issue(
        app,
        staff["hamk"],
        activity_start_date="15.1.2026",
        activity_end_date="31.5.2026",
        valid_until="31.12.2030 klo 12.00",
    )
    assert status == 302
    with app.app_context():
        credential = get_session().scalars(select(Credential)).one()
        assert credential.valid_until is not None
        until = credential.valid_until
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        assert until == datetime(2030, 12, 31, 10, 0, tzinfo=UTC)


def test_a_date_that_is_not_one_is_an_error_tied_to_its_field(
    app: Flask,
    staff: dict[str, str],  # noqa: F811 - the fixture
) -> None:
    status, html = _issue(
        app, staff["hamk"], activity_start_date="31.2.2026", valid_until="huomenna"
    )
    assert status == 422
    assert "Enter a date as DD.MM.YYYY or YYYY-MM-DD, e.g. 31.12.2030." in html
    assert "31.12.2030 klo 16.00" in html
    for field in ("activity_start_date", "valid_until"):
        assert re.search(
            rf'<input type="text" id="{field}"[^>]*aria-invalid="true" '
            rf'aria-describedby="error-{field} hint-{field}"',
            html,
        ), field
        assert f'href="#{field}"' in html  # the error summary links to the input
    assert re.search(r'id="form-errors" role="alert" tabindex="-1" autofocus', html)
    # What was typed is kept as typed.
    assert 'value="31.2.2026"' in html
