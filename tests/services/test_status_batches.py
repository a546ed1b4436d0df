"""Status positions for a batch (``Allocator.allocate_many``): one statement per purpose,
indexes held by other transactions drawn again, what a job's earlier transactions learnt reused
without trusting it, and batches racing single issuers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.db import get_database, unit_of_work
from issuer.models import Institution
from issuer.models.issuing import StatusAllocation
from issuer.services import badge_classes, institutions, issue_input, issue_many, status
from issuer.services.audit import SystemActor
from issuer.services.errors import InvalidInputError
from issuer.services.issuing_context import IssuingContext
from tests.conftest import BASE_URL
from tests.services.test_issue_many import _issue_many, inserts
from tests.web.learner.support import (
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


@pytest.fixture
def transaction(app: Flask, world: World) -> Iterator[tuple[Session, Institution]]:
    """A session whose transaction is rolled back at the end (allocations need their
    credentials at commit: the foreign key is deferred)."""
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            yield session, institutions.get_institution(session, "hamk")
        finally:
            session.rollback()
            session.close()


def _ids(count: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{n:031d}"[:32] for n in range(count)]


def _positions(session: Session, purpose: str) -> list[tuple[int, int]]:
    rows = session.execute(
        select(StatusAllocation.status_list_id, StatusAllocation.index).where(
            StatusAllocation.purpose == purpose
        )
    )
    return [(list_id, index) for list_id, index in rows]


def test_a_batch_gets_distinct_random_positions_in_one_statement_per_purpose(
    app: Flask, transaction: tuple[Session, Institution]
) -> None:
    session, institution = transaction
    allocator = status.Allocator(session, institution, BASE_URL)
    with inserts(app) as counts:
        entries = allocator.allocate_many(_ids(300))
    assert counts["status_allocation"] == 2
    assert len(entries) == 300
    indexes = [int(entry["statusListIndex"]) for entry in entries.values()]
    assert len(set(indexes)) == 300
    assert max(indexes) - min(indexes) > 10_000  # random over 131,072, not a run
    for purpose in status.PURPOSES:
        positions = _positions(session, purpose)
        assert len(positions) == len(set(positions)) == 300


def test_indexes_held_elsewhere_are_drawn_again(
    transaction: tuple[Session, Institution], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes another transaction holds (here: rows the allocator does not know about) are
    refused by the UNIQUE constraint and drawn again; the batch gets the rest as drawn."""
    session, institution = transaction
    status.Allocator(session, institution, BASE_URL).allocate_many(["x" * 32, "y" * 32])
    held = {
        index
        for (index,) in session.execute(
            select(StatusAllocation.index).where(StatusAllocation.purpose == "revocation")
        )
    }
    first, second = sorted(held)
    # The draws of a new allocator that ignores what is taken: a batch of three draws two held
    # indexes and a free one, then (after re-reading the list) two free ones.
    draws = iter([first, 5, second, 6, 7, 100, 101, 102])
    monkeypatch.setattr(status, "random_free_index", lambda is_taken, length: next(draws))
    entries = status.Allocator(session, institution, BASE_URL).allocate_many(_ids(3))
    assert sorted(int(e["statusListIndex"]) for e in entries.values()) == [5, 6, 7]
    positions = _positions(session, "revocation")
    assert len(positions) == len(set(positions)) == 5


@pytest.mark.parametrize("upsert", [True, False], ids=["on-conflict", "savepoints"])
def test_a_credential_placed_already_is_refused(
    transaction: tuple[Session, Institution], monkeypatch: pytest.MonkeyPatch, upsert: bool
) -> None:
    session, institution = transaction
    if not upsert:  # the path of databases without INSERT ... ON CONFLICT
        monkeypatch.setattr(status, "_UPSERT_INSERTS", {})
    allocator = status.Allocator(session, institution, BASE_URL)
    allocator.allocate("a" * 32)
    with pytest.raises(InvalidInputError, match="already has a revocation status"):
        allocator.allocate_many(["b" * 32, "a" * 32])
    with pytest.raises(InvalidInputError, match="only one position"):
        allocator.allocate_many(["c" * 32, "c" * 32])


def test_without_on_conflict_positions_go_in_one_by_one(
    app: Flask, transaction: tuple[Session, Institution], monkeypatch: pytest.MonkeyPatch
) -> None:
    session, institution = transaction
    monkeypatch.setattr(status, "_UPSERT_INSERTS", {})
    status.Allocator(session, institution, BASE_URL).allocate("a" * 32)
    taken = session.scalar(
        select(StatusAllocation.index).where(StatusAllocation.purpose == "revocation")
    )
    draws = iter([taken, 9, 10, 11, 12])
    monkeypatch.setattr(status, "random_free_index", lambda is_taken, length: next(draws))
    with inserts(app) as counts:
        entries = status.Allocator(session, institution, BASE_URL).allocate_many(_ids(2))
    assert sorted(int(e["statusListIndex"]) for e in entries.values()) == [9, 10]
    assert counts["status_allocation"] == 5  # one refused, two + two placed


def _batch(app: Flask, ctx: IssuingContext, emails: list[str]) -> list[str]:
    with app.app_context(), unit_of_work() as session:
        ctx.new_transaction()  # as process_batch does for every batch
        issued = issue_many.issue_many(
            session,
            ctx,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            [issue_input.Recipient(email, "Learner") for email in emails],
            actor=SystemActor(),
        )
        return [one.credential_id for one in issued]


def test_what_a_job_learnt_is_reused_and_checked_in_its_next_transaction(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's issuing context keeps its lists' taken indexes between batches and reads only
    what was added since; an index another transaction took in between that it failed to
    learn is still refused by the database and drawn again."""
    with app.app_context():
        ctx = IssuingContext.from_settings(get_settings())
    _batch(app, ctx, [f"first{n}@example.fi" for n in range(3)])
    [lists] = ctx._lists.values()
    assert len(lists["revocation"].taken) == 3
    seen = lists["revocation"].seen_up_to

    other = issue(app, email="meanwhile@example.fi")  # another transaction allocates
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            held = session.scalar(
                select(StatusAllocation.index).where(
                    StatusAllocation.credential_id == other.id,
                    StatusAllocation.purpose == "revocation",
                )
            )
        finally:
            session.close()
    assert held is not None
    _batch(app, ctx, ["second@example.fi"])
    assert held in lists["revocation"].taken  # read incrementally in the next transaction
    assert lists["revocation"].seen_up_to > seen

    # Had it been missed (another writer's row id below what was read), the UNIQUE
    # constraint refuses the draw and the list is read again in full.
    lists["revocation"].taken.discard(held)
    draws = iter([held, 77, 78])
    monkeypatch.setattr(status, "random_free_index", lambda is_taken, length: next(draws))
    [third] = _batch(app, ctx, ["third@example.fi"])
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            rows = session.execute(
                select(StatusAllocation.purpose, StatusAllocation.index).where(
                    StatusAllocation.credential_id == third
                )
            )
            mine = {str(purpose): int(index) for purpose, index in rows}
        finally:
            session.close()
    assert mine == {"revocation": 77, "suspension": 78}
    assert {held, 77} <= lists["revocation"].taken  # re-read, and what it drew


def test_batches_and_single_issuers_at_once_never_share_an_index(app: Flask, world: World) -> None:
    """Threads with their own connections: two issue batches, two issue one by one (on
    PostgreSQL they really run concurrently; SQLite serializes the writers)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def batches(number: int) -> None:
        try:
            barrier.wait()
            for round_ in range(3):
                with app.app_context(), unit_of_work() as session:
                    _issue_many(session, 20, start=1000 * number + 100 * round_)
        except BaseException as error:  # reported below
            errors.append(error)

    def singles(number: int) -> None:
        try:
            barrier.wait()
            for n in range(6):
                issue(app, email=f"single{number}-{n}@example.fi")
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [
        threading.Thread(target=batches, args=(1,)),
        threading.Thread(target=batches, args=(2,)),
        threading.Thread(target=singles, args=(1,)),
        threading.Thread(target=singles, args=(2,)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    assert not errors, errors
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            for purpose in status.PURPOSES:
                positions = _positions(session, purpose)
                assert len(positions) == len(set(positions)) == 2 * 60 + 2 * 6
            assert session.scalar(select(func.count()).select_from(StatusAllocation)) == 264
        finally:
            session.close()


def test_batches_waiting_for_the_same_indexes_do_not_deadlock(
    app: Flask, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches drew the same indexes in opposite orders, and each also one that a third
    transaction holds. Drawn order, each would take one of the shared indexes, wait for the
    third, then wait for the other batch: a deadlock (PostgreSQL breaks it by failing one).
    Positions are inserted in index order, so the second batch waits behind the first."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: transactions never wait for rows")
    issue(app, email="opens-the-lists@example.fi")
    draws = {
        "first": iter([1001, 1500, 2002, *range(31, 40)]),
        "second": iter([2002, 1600, 1001, *range(41, 50)]),
    }
    monkeypatch.setattr(
        status,
        "random_free_index",
        lambda is_taken, length: next(draws[threading.current_thread().name]),
    )
    errors: list[BaseException] = []
    got: dict[str, dict[str, dict[str, str]]] = {}

    def batch(name: str) -> None:
        with app.app_context():
            session = get_database(app).sessionmaker()
            try:
                institution = institutions.get_institution(session, "hamk")
                got[name] = status.Allocator(session, institution, BASE_URL).allocate_many(
                    _ids(3, name[0])
                )
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                session.rollback()
                session.close()

    def waiting_for_locks() -> int:
        with get_database(app).engine.connect() as probe:
            return int(
                probe.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                )
                or 0
            )

    with app.app_context():
        holder = get_database(app).sessionmaker()
        workers = [threading.Thread(target=batch, args=(n,), name=n) for n in draws]
        try:
            list_id = holder.scalar(
                select(StatusAllocation.status_list_id)
                .where(StatusAllocation.purpose == "revocation")
                .limit(1)
            )
            for number, index in enumerate((1500, 1600)):
                holder.add(
                    StatusAllocation(
                        status_list_id=list_id,
                        index=index,
                        credential_id=f"h{number}".ljust(32, "0"),
                        purpose="revocation",
                    )
                )
            holder.flush()  # holds 1500 and 1600, uncommitted
            for worker in workers:
                worker.start()
                deadline = time.monotonic() + 20
                while waiting_for_locks() < workers.index(worker) + 1:
                    assert time.monotonic() < deadline, "the batch should wait for a row lock"
                    time.sleep(0.02)
        finally:
            holder.rollback()
            holder.close()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    assert set(got) == {"first", "second"}
