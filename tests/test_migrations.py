"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from issuer import models
from issuer.db import Base, make_engine
from issuer.services import migrate


def _differences(database_url: str) -> list[object]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_of_an_empty_database_matches_the_models(database_url: str) -> None:
    # Truly empty (the suite's other tests get copies of a migrated database): the migrations
    # themselves build the whole schema here.
    assert _tables(database_url) == set()
    migrate.upgrade(database_url)

    assert _differences(database_url) == []
    assert {table.name for table in Base.metadata.sorted_tables} <= _tables(database_url)


def test_an_empty_database_differs_from_the_models(database_url: str) -> None:
    # The comparison above can fail: without the migrations, every table is reported missing.
    added = {diff[1].name for diff in _differences(database_url) if diff[0] == "add_table"}  # type: ignore[index]
    assert added == {table.name for table in Base.metadata.sorted_tables}


def test_upgrade_twice_is_harmless_and_downgrade_removes_everything(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    assert models.Credential.__tablename__ in _tables(database_url)

    migrate.downgrade(database_url, "base")

    assert _tables(database_url) <= {"alembic_version"}


def test_the_head_revision_is_known() -> None:
    assert migrate.head_revision() == "0011"
