"""The audit log: recording, filtering, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from issuer.core.keys import KeyStore
from issuer.models.audit import AuditEvent
from issuer.services import audit, institutions
from issuer.services.audit import AuditFilter, SystemActor
from issuer.services.errors import InvalidInputError
from issuer.services.institutions import InstitutionDetails

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _institution(session: Session, keystore: KeyStore, slug: str) -> int:
    return institutions.create_institution(
        session, InstitutionDetails(slug=slug, name_fi=slug.upper()), keystore
    ).id


def test_record_copies_the_actor_and_keeps_everything(session: Session, keystore: KeyStore) -> None:
    hamk = _institution(session, keystore, "hamk")
    actor = SystemActor(kind="token", id="12", label="token:moodle")

    event = audit.record(
        session,
        actor=actor,
        action="revoke",
        institution_id=hamk,
        target="a" * 32,
        reason="Väärä henkilö",
        details={"recipient": "Aino"},
        now=T0,
    )

    assert event.id is not None
    session.expire_all()
    [stored] = audit.list_events(session, hamk)
    assert (stored.actor_kind, stored.actor_id, stored.actor_label) == (
        "token",
        "12",
        "token:moodle",
    )
    assert (stored.action, stored.target, stored.reason) == ("revoke", "a" * 32, "Väärä henkilö")
    assert stored.details == {"recipient": "Aino"}
    assert stored.occurred_at == T0


def test_unknown_actions_are_refused(session: Session, keystore: KeyStore) -> None:
    hamk = _institution(session, keystore, "hamk")
    with pytest.raises(InvalidInputError):
        audit.record(session, actor=SystemActor(), action="delete", institution_id=hamk, target="x")


def test_long_values_are_clipped(session: Session, keystore: KeyStore) -> None:
    hamk = _institution(session, keystore, "hamk")
    event = audit.record(
        session,
        actor=SystemActor(label="x" * 1000),
        action="suspend",
        institution_id=hamk,
        target="t",
        reason="r" * 5000,
    )
    assert len(event.actor_label) == audit.MAX_LABEL_LENGTH
    assert event.reason is not None
    assert len(event.reason) == audit.MAX_REASON_LENGTH


def test_filters_and_institutions_are_kept_apart(session: Session, keystore: KeyStore) -> None:
    hamk = _institution(session, keystore, "hamk")
    oamk = _institution(session, keystore, "oamk")
    alice = SystemActor(kind="user", id="1", label="alice@hamk.fi")
    bob = SystemActor(kind="user", id="2", label="bob@hamk.fi")
    audit.record(session, actor=alice, action="issue", institution_id=hamk, target="c1", now=T0)
    audit.record(
        session,
        actor=bob,
        action="revoke",
        institution_id=hamk,
        target="c1",
        reason="r",
        now=T0 + timedelta(days=1),
    )
    audit.record(
        session,
        actor=alice,
        action="suspend",
        institution_id=hamk,
        target="c2_%",
        now=T0 + timedelta(days=2),
    )
    audit.record(session, actor=alice, action="issue", institution_id=oamk, target="c9", now=T0)

    def targets(filters: AuditFilter | None = None) -> list[tuple[str, str]]:
        return [(e.action, e.target) for e in audit.list_events(session, hamk, filters)]

    # Newest first, only HAMK's.
    assert targets() == [("suspend", "c2_%"), ("revoke", "c1"), ("issue", "c1")]
    assert targets(AuditFilter(action="revoke")) == [("revoke", "c1")]
    assert targets(AuditFilter(actor="alice")) == [("suspend", "c2_%"), ("issue", "c1")]
    assert targets(AuditFilter(target="c1")) == [("revoke", "c1"), ("issue", "c1")]
    # LIKE wildcards in the search are literal characters.
    assert targets(AuditFilter(target="_%")) == [("suspend", "c2_%")]
    assert targets(AuditFilter(since=T0 + timedelta(hours=1))) == [
        ("suspend", "c2_%"),
        ("revoke", "c1"),
    ]
    assert targets(AuditFilter(until=T0 + timedelta(hours=1))) == [("issue", "c1")]
    assert len(audit.list_events(session, hamk, limit=2)) == 2
    assert [e.target for e in audit.list_events(session, hamk, limit=2, offset=2)] == ["c1"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ('tavallinen syy, jossa "lainausmerkit"', 'tavallinen syy, jossa "lainausmerkit"'),
        ("rivi 1\nrivi 2", "rivi 1\nrivi 2"),
    ],
)
def test_csv_escapes_and_neutralizes_formulas(
    session: Session, keystore: KeyStore, value: str, cell: str
) -> None:
    hamk = _institution(session, keystore, "hamk")
    audit.record(
        session,
        actor=SystemActor(kind="user", label=value),
        action="revoke",
        institution_id=hamk,
        target="c1",
        reason=value,
        now=T0,
    )
    text = audit.export_csv(audit.list_events(session, hamk))

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(audit.CSV_COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["reason"] == cell
    assert row["actor"] == cell
    assert row["time"] == "2026-03-01T08:00:00Z"
    assert row["action"] == "revoke"
    assert text.endswith("\r\n")


def test_details_are_exported_as_json(session: Session, keystore: KeyStore) -> None:
    hamk = _institution(session, keystore, "hamk")
    audit.record(
        session,
        actor=SystemActor(),
        action="key.rotate",
        institution_id=hamk,
        target="k",
        details={"new_key": "z6Mk", "retired_key": None},
    )
    rows = list(csv.DictReader(io.StringIO(audit.export_csv(audit.list_events(session, hamk)))))
    assert rows[0]["details"] == '{"new_key": "z6Mk", "retired_key": null}'


# --- no formula whichever way the file is split (issue 13) ------------------------------------

#: What a spreadsheet takes as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _no_cell_starts_a_formula(text: str) -> None:
    """Parse ``text`` as a spreadsheet would with ``,`` and with ``;`` (Finnish Excel) as the
    separator, and as a reader that has lost track of quoting would: no cell may start a
    formula, even after the spaces some programs trim."""
    for delimiter in (",", ";"):
        for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
            reader = csv.reader(
                io.StringIO(text, newline=""),
                delimiter=delimiter,
                quoting=quoting,
                # No escape character: a spreadsheet has none, and any one chosen here (NUL
                # was) lets a value that holds it hide the next character from the check.
                escapechar=None,
            )
            for row in reader:
                for cell in row:
                    assert not cell.lstrip(" ").startswith(_FORMULA_START), (delimiter, cell)


def _event(value: str, details: dict[str, str] | None = None) -> AuditEvent:
    return AuditEvent(
        institution_id=1,
        occurred_at=T0,
        actor_kind="user",
        actor_id="7",
        actor_label=value,
        action="revoke",
        target=value,
        reason=value,
        details=details,
    )


HOSTILE = [
    "=1+1",
    "a,=1+1",
    "a;=1+1",
    'Väärä henkilö; =HYPERLINK("http://x","y")',
    "syy,@SUM(A1)",
    "x;\"=cmd|' /C calc'!A0\"",
    "x; -2+3",
    'x;""=1',
    "x;\t=1",
    "rivi 1\n=1+1",
    "rivi 1\r\n+1",
    "a;b,c\r-1",
    ";;=1",
    ",=1",
    '"=1"',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_no_cell_starts_a_formula_split_on_comma_or_semicolon(value: str) -> None:
    text = audit.export_csv([_event(value, {"note": value})])
    _no_cell_starts_a_formula(text)
    # Split on ",", as written, every cell still reads back; only ' marks were added.
    [header, row] = list(csv.reader(io.StringIO(text, newline="")))
    assert header == list(audit.CSV_COLUMNS)
    assert row[6].replace("'", "") == value.replace("'", "")


_hostile_text = st.text(
    alphabet=st.sampled_from(list("=+-@\t\r\n,;\" 'ax1(")) | st.characters(codec="utf-8"),
    max_size=30,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_hostile_text, min_size=1, max_size=3))
def test_no_generated_cell_starts_a_formula_whichever_way_the_file_is_split(
    values: list[str],
) -> None:
    events = [_event(value, {"v": value}) for value in values]
    _no_cell_starts_a_formula(audit.export_csv(events))


def test_neutralizing_adds_only_marks_and_is_needed_only_where_a_formula_starts() -> None:
    assert audit.neutralize_formula("tavallinen syy, jossa sanoja") == (
        "tavallinen syy, jossa sanoja"
    )
    assert audit.neutralize_formula("a;=1") == "a;'=1"
    assert audit.neutralize_formula('a, "-1') == "a,' \"-1"
