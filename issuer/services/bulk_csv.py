"""The cohort CSV file of bulk issuing: ``parse_csv`` reads and checks the whole file first.

Encoding (UTF-8, with or without BOM; anything else is refused with advice), delimiter (``,`` or
``;`` — Excel in Finland writes ``;``), header names (case-insensitive), and every row. Every bad
row is reported with its line number and reason; a file with any bad row issues nothing
(``issuer.services.bulk`` then stores and issues the rows as a job).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from issuer.services import issue_input
from issuer.services.errors import InvalidInputError
from issuer.services.translation import N_, for_reader

#: Largest file accepted (10,000 rows take well under 2 MB).
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
#: At most this many row errors are listed (the count is always given).
MAX_REPORTED_ERRORS = 1000
#: At most this many problems of the header line are named.
MAX_HEADER_PROBLEMS = 10

REQUIRED_COLUMNS = ("email", "name")
OPTIONAL_COLUMNS = ("lang", "evidence_url", "evidence_narrative", "grade", "valid_until")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DELIMITERS = (",", ";")

# The file's problems, in the language of whoever reads them (``translation.for_reader``: the
# staff member's or API client's, English for the CLI).
_PROBLEMS = N_("the CSV file has %(count)s problem(s): %(first)s%(more)s")
_ON_LINE = N_("line %(line)s: %(message)s")
_AND_MORE = N_(" (and %(count)s more)")
_TOO_LARGE = N_("the file is larger than %(size)s MB")
_UTF16 = N_("the file is UTF-16 text; save it as CSV UTF-8 (in Excel: 'CSV UTF-8')")
_NOT_UTF8 = N_(
    "is not UTF-8 text (the file looks like Windows-1252/Latin-1); save the file as CSV UTF-8 "
    "(in Excel: 'CSV UTF-8 (comma delimited)')"
)
_NO_HEADER = N_(
    "the first line must be a header naming the columns, separated by ',' or ';': at least "
    "%(columns)s"
)
_NAMELESS_COLUMN = N_("column %(number)s has no name")
_UNKNOWN_COLUMN = N_("unknown column %(name)s (known: %(known)s)")
_TWICE = N_("column %(name)s appears twice")
_MISSING_COLUMNS = N_("missing column(s) %(columns)s")
_MORE_IN_HEADER = N_("and %(count)s more problem(s) in the header")
_EMPTY = N_("the file is empty")
_TOO_MANY_ROWS = N_("the file has more than %(count)s rows")
_FIELD_COUNT = N_("has %(count)s fields, the header has %(header)s")
_SAME_ADDRESS = N_("the same e-mail address as line %(line)s")
_NOT_CSV = N_("is not valid CSV: %(error)s")
_NO_ROWS = N_("the file has a header but no rows")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    email: str
    name: str
    lang: str
    evidence_url: str | None = None
    evidence_narrative: str | None = None
    grade: str | None = None
    valid_until: datetime | None = None


class CsvError(InvalidInputError):
    """The file cannot be issued: ``errors`` names every bad line (line 0: the file itself)."""

    code = "invalid_csv"

    def __init__(self, errors: list[RowError], total_errors: int | None = None) -> None:
        count = total_errors if total_errors is not None else len(errors)
        first = "; ".join(
            for_reader(_ON_LINE, line=error.line, message=error.message)
            if error.line
            else error.message
            for error in errors[:3]
        )
        more = for_reader(_AND_MORE, count=count - 3) if count > 3 else ""
        super().__init__(for_reader(_PROBLEMS, count=count, first=first, more=more))
        self.errors = errors
        self.total_errors = count


@dataclass
class ParsedCsv:
    rows: list[CsvRow] = field(default_factory=list)
    delimiter: str = ","
    sha256: str = ""


def _decode(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise CsvError([RowError(0, for_reader(_TOO_LARGE, size=MAX_CSV_BYTES // (1024 * 1024)))])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError([RowError(0, for_reader(_UTF16))])
    try:
        # utf-8-sig drops the byte order mark Excel writes at the start of "CSV UTF-8" files.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CsvError([RowError(line, for_reader(_NOT_UTF8))]) from None


def _delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    if counts[best] == 0:
        raise CsvError([RowError(1, for_reader(_NO_HEADER, columns=", ".join(REQUIRED_COLUMNS)))])
    return best


def _header(names: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    errors: list[str] = []
    for position, raw in enumerate(names):
        name = raw.strip().lower().replace("-", "_").replace(" ", "_")
        if name == "e_mail":
            name = "email"
        if not name:
            errors.append(for_reader(_NAMELESS_COLUMN, number=position + 1))
        elif name not in COLUMNS:
            errors.append(
                for_reader(_UNKNOWN_COLUMN, name=repr(raw.strip()), known=", ".join(COLUMNS))
            )
        elif name in columns:
            errors.append(for_reader(_TWICE, name=repr(name)))
        else:
            columns[name] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        errors.append(for_reader(_MISSING_COLUMNS, columns=", ".join(missing)))
    if len(errors) > MAX_HEADER_PROBLEMS:
        # A header of 60,000 made-up names must not become a 10 MB error message.
        more = len(errors) - MAX_HEADER_PROBLEMS
        errors = [*errors[:MAX_HEADER_PROBLEMS], for_reader(_MORE_IN_HEADER, count=more)]
    if errors:
        raise CsvError([RowError(1, "; ".join(errors))])
    return columns


def _cell(values: list[str], columns: dict[str, int], name: str) -> str | None:
    """The cell as written (``None`` when the row has no such column). Free texts and the
    address go to ``issue_input.validate`` untrimmed, so that a control or invisible character
    at either end is refused, not trimmed away unseen; the other cells lose the spaces and tabs
    around them (``a@b.fi ; Liisa ; sv``: ``_trimmed``), and nothing else (``lang`` is checked
    as exactly as the API checks it)."""
    position = columns.get(name)
    if position is None or position >= len(values):
        return None
    return values[position]


def _trimmed(values: list[str], columns: dict[str, int], name: str) -> str | None:
    raw = _cell(values, columns, name)
    return None if raw is None else raw.strip(" \t") or None


def _row(
    values: list[str],
    columns: dict[str, int],
    line: int,
    default_lang: str,
    languages: list[str],
    now: datetime,
    missing: Mapping[str, Sequence[str]],
) -> tuple[CsvRow | None, list[str]]:
    """The row checked by the rules every front end shares (``issue_input``), or its problems."""
    raw = issue_input.IssueInput(
        email=_cell(values, columns, "email"),
        name=_cell(values, columns, "name"),
        lang=_trimmed(values, columns, "lang") or default_lang,
        evidence=issue_input.flat_evidence(
            _trimmed(values, columns, "evidence_url"),
            _cell(values, columns, "evidence_narrative"),
        ),
        grade=_cell(values, columns, "grade"),
        valid_until=_trimmed(values, columns, "valid_until"),
    )
    try:
        checked = issue_input.validate(
            raw, now=now, languages=languages, names=issue_input.FLAT_NAMES, missing=missing
        )
    except issue_input.FieldErrors as error:
        return None, [problem.text for problem in error.errors]
    options = checked.options
    [evidence] = options.evidence or [issue_input.Evidence()]
    return (
        CsvRow(
            line=line,
            email=checked.email,
            name=checked.name,
            lang=options.lang,
            evidence_url=evidence.url,
            evidence_narrative=evidence.narrative,
            grade=options.grade,
            valid_until=options.valid_until,
        ),
        [],
    )


def parse_csv(
    data: bytes,
    *,
    default_lang: str = "fi",
    languages: list[str] | None = None,
    now: datetime | None = None,
    missing: Mapping[str, Sequence[str]] | None = None,
) -> ParsedCsv:
    """Read and check the whole file; ``CsvError`` lists every bad line (see the module doc).

    ``languages``: the languages the badge class is fully translated into (default: all);
    ``missing``: language -> the fields that lack it (``issue_input.missing_fields``), named
    when a row asks for such a language.
    """
    moment = now or datetime.now(UTC)
    allowed = list(languages) if languages is not None else list(issue_input.LANGUAGES)
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    total_errors = 0
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}

    def report(line: int, message: str) -> None:
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(RowError(line, message))

    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise CsvError([RowError(0, for_reader(_EMPTY))]) from None
    columns = _header(header)
    line = reader.line_num + 1
    try:
        for values in reader:
            start, line = line, reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if len(rows) + total_errors >= MAX_ROWS:
                raise CsvError([RowError(start, for_reader(_TOO_MANY_ROWS, count=MAX_ROWS))])
            if len(values) != len(header):
                report(start, for_reader(_FIELD_COUNT, count=len(values), header=len(header)))
                continue
            row, problems = _row(
                values, columns, start, default_lang, allowed, moment, missing or {}
            )
            if row is None:
                report(start, "; ".join(problems))
                continue
            earlier = seen.get(row.email)
            if earlier is not None:
                report(start, for_reader(_SAME_ADDRESS, line=earlier))
                continue
            seen[row.email] = start
            rows.append(row)
    except csv.Error as error:
        report(reader.line_num, for_reader(_NOT_CSV, error=str(error)))
    if total_errors:
        raise CsvError(errors, total_errors)
    if not rows:
        raise CsvError([RowError(0, for_reader(_NO_ROWS))])
    return ParsedCsv(rows=rows, delimiter=delimiter, sha256=hashlib.sha256(data).hexdigest())
