"""Deployments' instances set up once per test process and copied (``PreparedInstances``)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.db_servers import PostgresServer


@dataclass(frozen=True)
class SetUp:
    """What the operator's set-up commands printed that the tests use."""

    token: str
    badge_class_id: int
    badge_class_slug: str


class PreparedInstances:
    """Instances set up once per test process and copied for every later deployment set up
    the same way (backend, institution, badge class, ``ISSUER_*`` options).

    Setting an instance up runs four ``merkki`` commands, each starting Python and the app:
    seconds of processor time that the deployment tests, which are about serving, paid a dozen
    times over. The first deployment of each kind still goes through those commands. Nothing of
    the set-up depends on the port: the database holds no base URL (the institution's DID is
    derived from it, ``did_web_for``), and the keys are in the database or the keys folder,
    both copied. ``postgres`` gives the suite's PostgreSQL server when a copy is made there.
    """

    def __init__(self, folder: Path, postgres: Callable[[], PostgresServer]) -> None:
        self.folder = folder
        self.postgres = postgres
        self.kept: dict[tuple[Any, ...], tuple[SetUp, Path, str]] = {}

    def keep(self, key: tuple[Any, ...], folder: Path, database_url: str, set_up: SetUp) -> None:
        """Keep a copy of the instance just set up in ``folder`` on ``database_url``."""
        copy = self.folder / uuid.uuid4().hex[:12]
        copy.mkdir()
        if (folder / "keys").exists():
            shutil.copytree(folder / "keys", copy / "keys")
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            # The commands have exited: their last connection checkpointed the write-ahead
            # log into the file.
            shutil.copyfile(url.database or "", copy / "instance.sqlite3")
            database = str(copy / "instance.sqlite3")
        else:
            database = f"merkki_instance_{uuid.uuid4().hex[:12]}"
            self.postgres().create_database(database, template=url.database)
        self.kept[key] = (set_up, copy, database)

    def restore(self, key: tuple[Any, ...], folder: Path, database_url: str) -> SetUp | None:
        """Copy the instance kept under ``key`` into ``folder`` and ``database_url`` (an empty
        database); None when there is none yet."""
        if key not in self.kept:
            return None
        set_up, copy, database = self.kept[key]
        if (copy / "keys").exists():
            shutil.copytree(copy / "keys", folder / "keys")
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            shutil.copyfile(database, url.database or "")
        else:
            server = self.postgres()
            server.drop_database(url.database or "")
            server.create_database(url.database or "", template=database)
        return set_up
