"""Worlds built once per test session and backend, and restored for every test that asks.

Many test folders start from the same rows: institutions with keys, staff, tokens, published
badge classes, an issued credential (``tests/web/staff/support.py``'s ``make_world``, the
learner tests' world). Building them signs, hashes and inserts for most of a second per test, on
each backend. ``restore_or_build`` builds a world the first time a test session needs it, then
keeps a copy of the database (a SQLite file; a PostgreSQL template database) and of the keys
folder, and gives every later test that asks for the same world a copy of both, with the same
ids, tokens and credentials the builder returned.

A world is restored only into a database nothing was written to yet; on anything already there
(another world, rows a fixture wrote first) it is built, as it would be without snapshots.

A copy is only taken where it is the same world: the key holds the builder's name, the backend,
the configuration the builder's rows depend on (base URL, secret key, key passphrase and store)
and the badge templates folder's contents. A test that changes any of these builds its own.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy import exists, select
from sqlalchemy.engine import make_url

from issuer.config import get_settings
from issuer.db import dispose, get_session
from issuer.models import BadgeClass, Credential, Institution
from issuer.models.accounts import StaffUser
from tests.db_servers import PostgresServer, TemplateCopies

T = TypeVar("T")


@dataclass
class _Snapshot:
    result: Any
    keys: Path
    sqlite_file: Path | None = None
    postgres_copies: TemplateCopies | None = None


class Snapshots:
    """The session's snapshots (one registry per test process: pytest-xdist workers each have
    their own temporary folders and PostgreSQL server)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: dict[tuple[Any, ...], _Snapshot] = {}

    def close(self) -> None:
        for snapshot in self.taken.values():
            copies = snapshot.postgres_copies
            if copies is None:
                continue
            # The session's own server may be stopped already (its data folder removed with
            # it); a shared server (MERKKI_TEST_POSTGRES_URL) still has them to drop.
            with contextlib.suppress(Exception):
                copies.close()
                copies.server.drop_database(copies.template)


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _key(name: str, app: Flask) -> tuple[Any, ...]:
    settings = get_settings(app)
    return (
        name,
        make_url(settings.database_url).get_backend_name(),
        settings.base_url,
        app.config.get("SECRET_KEY"),
        app.config.get("KEY_PASSPHRASE"),
        app.config.get("KEY_STORE"),
        _folder_digest(Path(app.config["BADGE_TEMPLATES_DIR"])),
    )


def _replace_keys(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    if source.exists():
        shutil.copytree(source, target)


def restore_or_build(
    request: pytest.FixtureRequest, app: Flask, name: str, build: Callable[[], T]
) -> T:
    """The world ``build()`` makes in ``app``'s (empty, migrated) database and keys folder:
    built now the first time, copied from the snapshot of that first build afterwards."""
    snapshots: Snapshots = request.getfixturevalue("world_snapshots")
    keys_dir = Path(app.config["KEYS_DIR"])
    url = make_url(get_settings(app).database_url)
    if not _untouched(app):
        # Something is already there (another world, or rows a fixture wrote first): the world
        # is built on it, as without snapshots, rather than replace it.
        return build()
    key = _key(name, app)
    snapshot = snapshots.taken.get(key)
    if snapshot is None:
        result = build()
        snapshots.taken[key] = _take(request, app, snapshots, keys_dir, url.database or "", result)
        return result
    # The app has only read its empty database so far (the builder was not called): its
    # connections are closed and the database under them replaced by the snapshot's copy.
    dispose(app)
    _replace_keys(snapshot.keys, keys_dir)
    if snapshot.sqlite_file is not None:
        database = Path(url.database or "")
        for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(snapshot.sqlite_file, database)
    else:
        assert snapshot.postgres_copies is not None
        server = snapshot.postgres_copies.server
        server.drop_database(url.database or "")
        server.rename_database(snapshot.postgres_copies.take(), url.database or "")
    return copy.deepcopy(snapshot.result)


#: Tables one of which every world writes to: institutions (with their keys), staff, badge
#: classes (loaded from the templates), credentials.
_WORLD_TABLES = (Institution, StaffUser, BadgeClass, Credential)


def _untouched(app: Flask) -> bool:
    """Whether nothing has been written to the app's database yet (as the template left it)."""
    with app.app_context():
        session = get_session()
        return not any(
            session.scalar(select(exists().select_from(model))) for model in _WORLD_TABLES
        )


def _take(
    request: pytest.FixtureRequest,
    app: Flask,
    snapshots: Snapshots,
    keys_dir: Path,
    database: str,
    result: Any,
) -> _Snapshot:
    dispose(app)  # SQLite checkpoints its write-ahead log into the file on the last close
    folder = snapshots.folder / uuid.uuid4().hex[:12]
    folder.mkdir()
    keys = folder / "keys"
    if keys_dir.exists():
        shutil.copytree(keys_dir, keys)
    snapshot = _Snapshot(result=copy.deepcopy(result), keys=keys)
    if get_settings(app).database_url.startswith("sqlite"):
        snapshot.sqlite_file = folder / "world.sqlite3"
        shutil.copyfile(database, snapshot.sqlite_file)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template = f"merkki_world_{uuid.uuid4().hex[:12]}"
        server.create_database(template, template=database)
        snapshot.postgres_copies = TemplateCopies(server, template, ahead=1)
    return snapshot
