"""The cohort's learner list as CSV: what a spreadsheet opens safely (issue 15)."""

from __future__ import annotations

import csv
import io

import pytest

from issuer.services import cohort

HEADER = ("Nimi", "Sähköposti", "Oppijan merkkisivu", "Yksityinen hallintalinkki")


def _learner(name: str, email: str = "liisa@example.fi") -> cohort.Learner:
    return cohort.Learner(
        line=2,
        name=name,
        email=email,
        page_url="http://127.0.0.1:5000/credentials/abc",
        manage_url="http://127.0.0.1:5000/credentials/abc/manage/t0k-en_",
        state="issued",
    )


def _rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_the_file_is_utf8_with_a_bom_separated_by_semicolons_with_crlf() -> None:
    data = cohort.learners_csv([_learner("Äijälä, Öövi")], HEADER)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    assert _rows(data) == [
        list(HEADER),
        [
            "Äijälä, Öövi",
            "liisa@example.fi",
            "http://127.0.0.1:5000/credentials/abc",
            "http://127.0.0.1:5000/credentials/abc/manage/t0k-en_",
        ],
    ]


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.example";"x")',
        "+358 40 123",
        "-1+1",
        "@SUM(A1)",
        "\tTab",
        "\rCarriage",
    ],
)
def test_a_cell_that_a_spreadsheet_would_take_for_a_formula_gets_an_apostrophe(
    name: str,
) -> None:
    [_header, row] = _rows(cohort.learners_csv([_learner(name)], HEADER))
    assert row[0] == "'" + name


def test_an_ordinary_cell_is_left_as_it_is() -> None:
    [_header, row] = _rows(cohort.learners_csv([_learner("Liisa Virtanen")], HEADER))
    assert row[0] == "Liisa Virtanen"
