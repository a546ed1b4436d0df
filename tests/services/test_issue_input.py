"""The one check of issue input (``issuer.services.issue_input``): what it returns, how it names
fields for each front end, and the stand-alone text of each problem."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from issuer.services import issue_input
from issuer.services.issue_input import Evidence, FieldErrors, IssueInput

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _problems(raw: IssueInput, **options: object) -> dict[str, tuple[str, str]]:
    with pytest.raises(FieldErrors) as caught:
        issue_input.validate(raw, now=NOW, **options)  # type: ignore[arg-type]
    return {error.field: (error.code, error.text) for error in caught.value.errors}


def test_valid_input_comes_back_normalised() -> None:
    recipient = issue_input.validate(
        IssueInput(
            email=" Liisa.Virtanen@Example.FI ",
            name="Liisa\t Virtanen\r\n",
            lang="sv",
            evidence=(Evidence(url=" https://x.example/p ", narrative="Rivi 1\r\nRivi 2 "),),
            grade=" 5 ",
            activity_start_date="2026-01-10",
            activity_end_date=date(2026, 3, 20),
            valid_until="2030-12-31",
        ),
        now=NOW,
    )
    assert (recipient.email, recipient.name) == ("liisa.virtanen@example.fi", "Liisa Virtanen")
    options = recipient.options
    assert options.lang == "sv"
    assert options.evidence == (Evidence(url="https://x.example/p", narrative="Rivi 1\nRivi 2"),)
    assert options.grade == "5"
    assert (options.activity_start_date, options.activity_end_date) == (
        date(2026, 1, 10),
        date(2026, 3, 20),
    )
    assert options.valid_until == datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_every_problem_is_listed_with_a_code() -> None:
    problems = _problems(
        IssueInput(
            email="not-an-address",
            name="  ",
            lang="FI",
            evidence=(Evidence(url="ftp://x.example/a"), Evidence()),
            grade="x" * 256,
            activity_start_date="2026-03-01",
            activity_end_date="2026-02-01",
            valid_until="2020-01-01",
        )
    )
    assert {field: code for field, (code, _) in problems.items()} == {
        "recipient.email": "invalid_email",
        "recipient.name": "required",
        "lang": "unknown_language",
        "evidence.0.url": "not_http_url",
        "evidence.1": "empty_evidence",
        "grade": "too_long",
        "activity_end_date": "end_before_start",
        "valid_until": "not_in_future",
    }
    # A message that reads only next to its field says which field it is when it stands alone.
    assert problems["valid_until"][1] == "valid_until: must be in the future"
    assert problems["recipient.name"][1] == "the recipient's name is required"


def test_fields_are_named_as_the_front_end_names_them() -> None:
    problems = _problems(
        IssueInput(
            email="",
            name="Liisa\x08",
            evidence=issue_input.flat_evidence("javascript:alert(1)", "a\x7f"),
            activity_start_date="2026-02-30",
        ),
        names=issue_input.FLAT_NAMES,
    )
    assert set(problems) == {
        "email",
        "name",
        "evidence_url",
        "evidence_narrative",
        "activity_start_date",
    }
    assert problems["email"][0] == "required"
    assert problems["name"][1].startswith("name contains a control character (U+0008)")
    assert problems["evidence_narrative"][1].startswith("evidence_narrative contains")
    assert problems["evidence_url"][1].startswith("evidence_url: 'javascript:alert(1)'")
    assert problems["activity_start_date"][0] == "invalid_date"


def test_the_badge_class_languages_are_checked_when_given() -> None:
    problems = _problems(
        IssueInput(email="a@b.fi", name="A", lang="en"),
        languages=["fi"],
        badge_class="finnish-only",
    )
    assert problems == {
        "lang": (
            "not_translated",
            "badge class 'finnish-only' is not fully translated into English",
        )
    }


@pytest.mark.parametrize(
    ("url", "narrative", "items"),
    [
        (None, None, 0),
        ("", "", 0),
        ("  ", " \t\r\n ", 0),
        ("https://x.example", None, 1),
        (None, "Näyttö", 1),
        # Not blank: refused by validate, never dropped unseen.
        (None, "\x85", 1),
    ],
)
def test_a_flat_evidence_item_is_there_unless_both_fields_are_blank(
    url: str | None, narrative: str | None, items: int
) -> None:
    assert len(issue_input.flat_evidence(url, narrative)) == items


@pytest.mark.parametrize(
    ("valid_until", "message"),
    [
        ("2027-02-30", "valid_until must be a date YYYY-MM-DD"),
        ("2027-06-30T12:00:00", "needs a time zone"),
        ("tomorrow", "a date-time with a time zone"),
    ],
)
def test_valid_until_text_is_parsed_strictly(valid_until: str, message: str) -> None:
    [(code, text)] = _problems(
        IssueInput(email="a@b.fi", name="A", valid_until=valid_until)
    ).values()
    assert code == "invalid_date"
    assert message in text


def test_valid_until_with_an_offset_is_kept_in_utc() -> None:
    recipient = issue_input.validate(
        IssueInput(email="a@b.fi", name="A", valid_until="2027-06-30T23:00:00+03:00"), now=NOW
    )
    assert recipient.options.valid_until == datetime(2027, 6, 30, 20, 0, tzinfo=UTC)


def test_too_many_evidence_items() -> None:
    items = tuple(Evidence(url=f"https://x.example/{n}") for n in range(21))
    problems = _problems(IssueInput(email="a@b.fi", name="A", evidence=items))
    assert problems == {"evidence": ("too_many", "at most 20 evidence items")}
