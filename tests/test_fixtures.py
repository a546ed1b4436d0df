"""The suite's shared set-up (tests/conftest.py) gives each test what building it afresh would:
the `app` fixture's database is a private copy of a database migrated to head, other tests'
databases are empty."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from issuer.config import get_settings
from issuer.db import Base, make_engine
from issuer.services import migrate


def test_the_app_runs_on_a_database_at_head_with_no_rows(app: Flask) -> None:
    engine = make_engine(get_settings(app).database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert context.get_current_revision() == migrate.head_revision()
            assert list(compare_metadata(context, Base.metadata)) == []
            for table in Base.metadata.sorted_tables:
                count = connection.scalar(sa.select(sa.func.count()).select_from(table))
                assert count == 0, table.name
    finally:
        engine.dispose()


def test_each_app_has_its_own_database(app: Flask, database_url: str) -> None:
    # The copy is the test's own: what the test writes, no other test sees.
    assert get_settings(app).database_url == database_url
    assert "template" not in database_url


def test_without_the_app_the_database_is_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
