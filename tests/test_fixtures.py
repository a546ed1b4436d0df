"""The suite's shared set-up (tests/conftest.py) gives each test what building it afresh would:
the `app` fixture's database is a private copy of a database migrated to head, other tests'
databases are empty, and the memoized URL builders are the ones werkzeug compiles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask, url_for
from werkzeug.routing.rules import Rule

from issuer import create_app
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import Base, dispose, make_engine
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


def _builders(app: Flask) -> dict[tuple[str, str], tuple[Any, ...]]:
    found = {}
    for rule in app.url_map.iter_rules():
        codes = (rule._build.__func__.__code__, rule._build_unknown.__func__.__code__)  # type: ignore[attr-defined]
        found[(rule.endpoint, rule.rule)] = tuple(
            (code.co_code, code.co_consts, code.co_varnames, code.co_names) for code in codes
        )
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_memoized_url_builders_are_the_ones_werkzeug_compiles(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    memoized = create_app(app_config)
    monkeypatch.setattr(Rule, "_compile_builder", Rule._compile_builder.__wrapped__)  # type: ignore[attr-defined]
    compiled = create_app(app_config)
    try:
        assert len(_builders(compiled)) > 50
        assert _builders(memoized) == _builders(compiled)
        # And they build the same URLs (with a query string: the "unknown arguments" builder).
        urls: dict[str, list[str]] = {}
        for name, app in (("memoized", memoized), ("compiled", compiled)):
            with app.test_request_context():
                urls[name] = [
                    url_for(rule.endpoint, _external=True, page="2")
                    for rule in app.url_map.iter_rules()
                    if not rule.arguments and "GET" in (rule.methods or ())
                ]
        assert len(urls["compiled"]) > 10
        assert urls["memoized"] == urls["compiled"]
    finally:
        dispose(memoized)
        dispose(compiled)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shared_template_code_renders_what_a_fresh_compile_renders(
    app: Flask, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import SHARED_TEMPLATE_CODE

    pages = ("/", "/verify", "/catalog", "/staff/login", "/no-such-page")
    shared = app  # on the migrated database, which the second app shares
    monkeypatch.setattr(Flask, "jinja_options", {})
    fresh = create_app(app_config)
    try:
        assert shared.jinja_env.bytecode_cache is SHARED_TEMPLATE_CODE
        assert fresh.jinja_env.bytecode_cache is None
        answers = {}
        for name, app in (("shared", shared), ("fresh", fresh)):
            client = app.test_client()
            answers[name] = []
            for page in pages:
                response = client.get(page, headers={"Accept-Language": "fi"})
                # The CSP nonce and the CSRF token differ per request; the rest must not.
                text = re.sub(r'(nonce|value)="[^"]{16,}"', "", response.get_data(as_text=True))
                answers[name].append((response.status_code, text))
        assert [status for status, _ in answers["fresh"]][:4] == [200, 200, 200, 200]
        assert answers["shared"] == answers["fresh"]
        assert len(SHARED_TEMPLATE_CODE.code) > 5
    finally:
        dispose(fresh)


def test_parallel_groups_keep_shared_set_ups_together(request: pytest.FixtureRequest) -> None:
    # `pytest -n` hands each group to one worker (tests/conftest.py): the hostile-request tests
    # by the backend of their module-scoped deployment, the browser tests with their one live
    # server, whatever part of the suite was collected.
    from tests.conftest import _group_of

    for item in request.session.items:
        group = _group_of(item.nodeid)
        path = item.path.relative_to(Path(__file__).parent).as_posix()
        if path == "deployment/test_hostile_requests.py":
            assert group == f"hostile-{item.callspec.params['target']}", item.nodeid  # type: ignore[attr-defined]
        elif path.startswith("browser/"):
            assert group == "browser", item.nodeid
        elif path == "deployment/test_worker_balancing.py":
            assert group == "processes", item.nodeid
    assert _group_of("tests/test_urls.py::test_x[sqlite]") is None


def _row_counts(app: Flask) -> dict[str, int]:
    engine = make_engine(get_settings(app).database_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: int(
                    connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_restored_world_is_the_world_its_builder_made(
    request: pytest.FixtureRequest,
    app: Flask,
    app_config: dict[str, Any],
    keystore: KeyStore,
    keys_dir: Path,
    tmp_path: Path,
) -> None:
    # tests/snapshots.py: the first call builds (a name no other test uses); a later call for
    # an app whose database nothing was written to yet gets the snapshot's copies of the
    # database and keys folder; on a database with rows in it, the builder runs instead.
    from tests.snapshots import restore_or_build
    from tests.web.staff.support import bearer, make_world

    name = f"fixture test {request.node.callspec.id}"
    built = restore_or_build(request, app, name, lambda: make_world(app, keystore))
    counts = _row_counts(app)
    keys = sorted(p.relative_to(keys_dir).as_posix() for p in keys_dir.rglob("*"))
    assert counts["institution"] == 2
    assert counts["credential"] == 1

    def unused() -> Any:
        raise AssertionError("a call for an untouched database must restore, not build")

    # Another app of the same configuration, on an empty migrated database of its own.
    second_keys = tmp_path / "second-keys"
    if app_config["DATABASE_URL"].startswith("sqlite"):
        second_file = tmp_path / "second.sqlite3"
        second_file.write_bytes(request.getfixturevalue("migrated_sqlite_file").read_bytes())
        second_url = f"sqlite:///{second_file}"
    else:
        copies = request.getfixturevalue("postgres_template_copies")
        second_name = copies.take()
        request.addfinalizer(lambda: copies.give_back(second_name))
        second_url = copies.server.url(second_name)
    second = create_app({**app_config, "DATABASE_URL": second_url, "KEYS_DIR": second_keys})
    try:
        restored = restore_or_build(request, second, name, unused)
        assert restored == built
        assert _row_counts(second) == counts
        assert sorted(p.relative_to(second_keys).as_posix() for p in second_keys.rglob("*")) == keys
        # The restored world works: its token authenticates, its credential verifies.
        client = second.test_client()
        assert client.get("/api/v1/badge-classes", headers=bearer(built.b.token)).status_code == 200
        with second.app_context():
            from issuer.db import get_session
            from issuer.models import Credential

            stored = get_session().get(Credential, built.b.credential_id)
            assert stored is not None
            signed = stored.signed_json
        verdict = client.post("/api/v1/verify", data=signed, content_type="application/json")
        assert verdict.get_json()["verified"] is True, verdict.get_json()
    finally:
        dispose(second)

    # On the first app's database, which has the world in it now, the builder runs again.
    builds = []
    again = restore_or_build(request, app, name, lambda: builds.append(1) or "built again")
    assert (again, builds) == ("built again", [1])


def test_temporary_folders_are_in_ram_where_the_machine_allows(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # tests/scratch.py: the run's folders go to /dev/shm unless --basetemp names another.
    from tests.scratch import SCRATCH, scratch_dir

    if scratch_dir() is None or request.config.option.basetemp is None:
        pytest.skip("no RAM-backed folder on this machine")
    assert tmp_path.is_relative_to(SCRATCH)
