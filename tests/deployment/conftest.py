"""Fixtures for tests against a real gunicorn deployment (tests/deployment/server.py).

``deploy(database="sqlite" | "postgresql", workers=2, **options)`` prepares an instance in the
test's temporary folder (a copy of one set up the same way before in the session, when there is
one: ``prepared_instances``) and serves it; every server it started is stopped, every PostgreSQL
database it created is dropped, and the server log is checked for tracebacks when the test
ends (``check_log=False`` opts out, for a test that asserts on the log itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.db_servers import PostgresServer
from tests.deployment.instances import PreparedInstances
from tests.deployment.server import Deployment, serve


class Deploy(Protocol):
    def __call__(
        self, database: str = "sqlite", workers: int = 2, *, check_log: bool = True, **options: Any
    ) -> Deployment: ...


def database_url(
    request: pytest.FixtureRequest, stack: ExitStack, database: str, folder: Path
) -> str:
    """A new empty database: a SQLite file in ``folder``, or a database on the suite's
    throwaway PostgreSQL server (dropped when ``stack`` closes)."""
    if database == "sqlite":
        return f"sqlite:///{folder / 'merkki.sqlite3'}"
    if database != "postgresql":
        raise ValueError(f"database must be sqlite or postgresql, not {database!r}")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"merkki_deploy_{uuid.uuid4().hex[:16]}"
    server.create_database(name)
    stack.callback(server.drop_database, name)
    return server.url(name)


@pytest.fixture(scope="session")
def prepared_instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> PreparedInstances:
    """The instances the session's deployments copy (tests/deployment/instances.py)."""
    return PreparedInstances(
        tmp_path_factory.mktemp("instances"), lambda: request.getfixturevalue("postgres_server")
    )


@pytest.fixture
def deploy(
    request: pytest.FixtureRequest, tmp_path: Path, prepared_instances: PreparedInstances
) -> Iterator[Deploy]:
    checked: list[Deployment] = []
    started = 0
    with ExitStack() as stack:

        def start(
            database: str = "sqlite", workers: int = 2, *, check_log: bool = True, **options: Any
        ) -> Deployment:
            nonlocal started
            started += 1
            folder = tmp_path / f"deployment-{started}"
            folder.mkdir()
            url = database_url(request, stack, database, folder)
            deployment = stack.enter_context(
                serve(folder, url, workers, instances=prepared_instances, **options)
            )
            if check_log:
                checked.append(deployment)
            return deployment

        yield start
    # After the servers stopped: their last words are in the logs too.
    for deployment in checked:
        deployment.assert_clean_log()
