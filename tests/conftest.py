from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy.orm import Session

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session
from issuer.services import accounts, migrate
from issuer.services.translation import compile_catalogs
from tests.db_servers import (
    PostgresServer,
    PostgresUnavailable,
    TemplateCopies,
    start_postgres,
)
from tests.scratch import scratch_dir
from tests.snapshots import Snapshots
from tests.spec_files import require_spec_dir

BASE_URL = "http://127.0.0.1:5000"
PASSPHRASE = "correct horse battery staple"

#: Hypothesis draws new examples on every run, and a developer's runs keep exploring. In CI
#: (CI=true) it draws the same examples on every run (``derandomize``: seeded from each test),
#: so that whether a submission lands does not depend on which examples came up, nor on a
#: chance find's minutes of shrinking; what a developer's run finds becomes a fixed test case.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


#: Staff passwords are hashed with argon2id at argon2-cffi's default cost (about 0.1 s and
#: 64 MiB a hash, ``issuer.services.accounts``): that cost is what makes guessing slow, not what
#: the tests check. The suite creates and signs in thousands of accounts, and at that cost
#: hashing alone took a sixth of the staff tests' time, so the test processes hash with the same
#: algorithm at its smallest cost. tests/services/test_accounts.py checks the production cost;
#: servers and commands the tests start in their own processes hash at it.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PRODUCTION_HASHER = accounts._hasher
accounts._hasher = FAST_HASHER


def _memoize_url_builders() -> None:
    """Reuse werkzeug's compiled URL builders across the suite's many apps.

    Nine tenths of ``create_app`` is werkzeug compiling, for each of the app's ~70 routes, two
    URL-builder functions from generated Python source (``Rule._compile_builder``), and nearly
    every test creates an app. A builder depends only on the rule's text and defaults (which
    the key holds) and reads the converters from the rule it is bound to when called, so the
    function compiled for one app's rule is the one another app's identical rule would compile.
    Without that private method (another werkzeug) the suite just runs slower.
    """
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None:
        return
    builders: dict[object, Any] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        defaults = self.defaults or {}
        key = (
            self.rule,
            self.subdomain,
            self.host,
            self.merge_slashes,
            append_unknown,
            tuple(self._trace),
            tuple(
                sorted(
                    (str(name), type(self._converters.get(name)).__qualname__, repr(value))
                    for name, value in defaults.items()
                )
            ),
        )
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = original(self, append_unknown)
        return builder

    compile_builder.__wrapped__ = original  # type: ignore[attr-defined]  # tests/test_fixtures.py
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


_memoize_url_builders()


class SharedTemplateCode(BytecodeCache):
    """Jinja's compiled templates, kept in memory and shared by the suite's many apps.

    Each app has its own Jinja environment, which parses and compiles every template it renders
    the first time: a few tenths of a second per test, in thousands of tests. Jinja's bytecode
    cache (``Environment(bytecode_cache=...)``, "Bytecode Cache" in Jinja's API docs) keys a
    compiled template by its name and file and checks it against the source's checksum, so a
    changed template is compiled again. Every app of the suite has the same Jinja options
    (``Flask.jinja_options``, the i18n extension), so the code one compiled is the code another
    would. Code objects are kept as they are rather than marshalled to bytes.
    """

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, Any]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        hit = self.code.get(bucket.key)
        if hit is not None and hit[0] == bucket.checksum:
            bucket.code = hit[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


SHARED_TEMPLATE_CODE = SharedTemplateCode()
Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SHARED_TEMPLATE_CODE}


# --- parallel runs (pytest-xdist) --------------------------------------------------------------
# `make test` runs the tests in one process per core (`pytest -n auto`). Each worker process has
# its own temporary folders and its own session fixtures: PostgreSQL server and template
# database, SQLite template, Redis server, each in a fresh folder on a free port. The tests that
# share something more are kept together in a group, which one worker runs one test after
# another; the largest groups are handed out first, then the other tests one by one.

#: Test modules (under tests/) whose tests share one expensive set-up of the module or package,
#: or that start many processes each and time them.
_GROUPED_MODULES = {
    # One live server and one Chromium for the package; the modules' fixtures issue
    # credentials on that server for their tests.
    "browser/": "browser",
    # gunicorn deployments, job workers and the HTTP benchmark run one at a time: they time
    # workers, kill them and load the server with many clients; two of them at once on two
    # cores would eat into each other's bounds (and make the figures they print meaningless).
    # test_worker_balancing.py's tests also share one deployment (a module fixture).
    "benchmarks/test_http.py": "processes",
    "deployment/test_concurrent_issuance.py": "processes",
    "deployment/test_crash_safety.py": "processes",
    "deployment/test_server.py": "processes",
    # Two hosts (gunicorn and a job worker each) on one PostgreSQL and Redis (issue 16).
    "deployment/test_two_hosts.py": "processes",
    "deployment/test_worker_balancing.py": "processes",
    "services/test_jobs_crash.py": "processes",
    # RQ workers in subprocesses, stopped with signals and timed.
    "services/test_jobs_rq.py": "processes",
    # One app (and for the wallet client, one live server and one node run) per module.
    "interop/test_oid4vci_wallet.py": "oid4vci-wallet",
    "web/oid4vci/": "oid4vci-web",
}
#: One gunicorn deployment per backend for the module (its module-scoped `target` fixture): the
#: SQLite half and the PostgreSQL half are a group each.
_HOSTILE = "deployment/test_hostile_requests.py"


def _group_of(nodeid: str) -> str | None:
    """The group of the test ``nodeid`` (``tests/...py::name[params]``), or None."""
    path, _, name = nodeid.partition("::")
    relative = path.removeprefix("tests/")
    if relative == _HOSTILE:
        params = name.partition("[")[2].rstrip("]").split("-")
        backends = [param for param in params if param in ("sqlite", "postgresql")]
        return f"hostile-{backends[0]}" if backends else "hostile"
    for prefix, group in _GROUPED_MODULES.items():
        if relative.startswith(prefix):
            return group
    return None


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: the suite also runs without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N``'s default distribution (``load``), with the groups above kept together.

    pytest-xdist's own ``--dist loadgroup`` (``xdist_group`` marks) renames test ids in a way
    pytest 9.2 ignores, so its groups get split; grouping by id here needs no renaming.
    """
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = _group_of(nodeid)
            return f"group:{group}" if group else nodeid

    return GroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the main process, before any worker starts
        # Every app compiles the translation catalogs when they are missing or stale, as on a
        # fresh clone; two worker processes doing it at once would race on the same files.
        compile_catalogs()
        # The temporary folders of the run in RAM where the machine allows (tests/scratch.py),
        # unless --basetemp names one; pytest-xdist gives each worker a folder inside it.
        scratch = scratch_dir()
        if config.option.basetemp is None and scratch is not None:
            config.option.basetemp = tempfile.mkdtemp(prefix="merkki-tests-", dir=scratch)
            config.stash[_SCRATCH_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    # A --basetemp folder is not removed by pytest; the one made above holds RAM.
    made = config.stash.get(_SCRATCH_BASETEMP, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


_SCRATCH_BASETEMP = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    """``../shared/spec``; skips outside CI when absent, fails in CI."""
    return require_spec_dir()


# --- badge templates ---------------------------------------------------------------------------

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b'<rect width="8" height="8"/></svg>'
)


def badge_template(slug: str, **changes: Any) -> dict[str, Any]:
    """A valid badge class in the badge.json format, fully translated."""
    data: dict[str, Any] = {
        "slug": slug,
        "version": "1.0",
        "achievement_type": "Badge",
        "name": {"fi": f"Merkki {slug}", "sv": f"Märke {slug}", "en": f"Badge {slug}"},
        "description": {"fi": "Kuvaus.", "sv": "Beskrivning.", "en": "Description."},
        "criteria_narrative": {"fi": "Kriteerit.", "sv": "Kriterier.", "en": "Criteria."},
        "image": "image.svg",
    }
    data.update(changes)
    return data


def write_template(root: Path, data: dict[str, Any], image: bytes = SVG) -> Path:
    folder = root / str(data["slug"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "badge.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    (folder / str(data.get("image", "image.svg"))).write_bytes(image)
    return folder


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """Two national badge classes: one valid for 24 months, one in Finnish only."""
    root = tmp_path / "badge_templates"
    write_template(root, badge_template("test-badge", validity_months=24))
    write_template(
        root,
        badge_template(
            "finnish-only",
            name={"fi": "Vain suomeksi"},
            description={"fi": "Kuvaus."},
            criteria_narrative={"fi": "Kriteerit."},
        ),
    )
    return root


# --- databases: every database test runs on SQLite and on PostgreSQL (DESIGN.md) --------------


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must not skip the PostgreSQL tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the session (``tests/db_servers.py``)."""
    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        _unavailable(str(error))
    yield server
    server.stop()


# The schema is built once per session and backend, then copied for every test that gets the
# `app` fixture: running all Alembic migrations for each of ~2,600 database tests was most of the
# suite's time. A PostgreSQL database is created from a migrated template database
# (CREATE DATABASE ... TEMPLATE, PostgreSQL "Template Databases"); a SQLite file is copied from a
# migrated file. tests/test_migrations.py still migrates an empty database to head itself.
TEMPLATE_DATABASE = "merkki_template"

# The URLs of the databases that were copied from a migrated template in this session: the `app`
# fixture skips migrating them again.
_MIGRATED_COPIES: set[str] = set()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "merkki-template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    # The migration's engine is disposed: the last connection's close checkpointed the
    # write-ahead log into the file and removed it, so the file alone is the whole database.
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"SQLite template not checkpointed: {leftovers}"
    return path


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per session, the template of the tests'
    databases. Nobody connects to it after the migration (CREATE DATABASE ... TEMPLATE needs
    that)."""
    # A private server is this session's alone; on a shared MERKKI_TEST_POSTGRES_URL server,
    # another session's template must not be overwritten.
    name = TEMPLATE_DATABASE
    if postgres_server.data_dir is None:
        name = f"{TEMPLATE_DATABASE}_{uuid.uuid4().hex[:16]}"
    postgres_server.drop_database(name)
    postgres_server.create_database(name)
    migrate.upgrade(postgres_server.url(name))
    yield name
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_template_copies(
    postgres_server: PostgresServer, migrated_postgres_template: str
) -> Iterator[TemplateCopies]:
    """Copies of the migrated template, created ahead of the tests that take them."""
    copies = TemplateCopies(postgres_server, migrated_postgres_template)
    yield copies
    copies.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database for the test, on SQLite and on PostgreSQL: a SQLite file, or a database on
    the test PostgreSQL server.

    It is empty, unless the test uses the `app` fixture (which would migrate it before the test
    runs anyway): then it is a copy of the session's migrated database.
    """
    migrated = "app" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "merkki-test.sqlite3"
        url = f"sqlite:///{path}"
        if migrated:
            template: Path = request.getfixturevalue("migrated_sqlite_file")
            shutil.copyfile(template, path)
            _MIGRATED_COPIES.add(url)
        yield url
        _MIGRATED_COPIES.discard(url)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if not migrated:
        name = f"merkki_test_{uuid.uuid4().hex[:16]}"
        server.create_database(name)
        yield server.url(name)
        server.drop_database(name)
        return
    copies: TemplateCopies = request.getfixturevalue("postgres_template_copies")
    name = copies.take()
    _MIGRATED_COPIES.add(server.url(name))
    yield server.url(name)
    _MIGRATED_COPIES.discard(server.url(name))
    copies.give_back(name)


@pytest.fixture(scope="session")
def world_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshots]:
    """The worlds built once per session and backend (``tests/snapshots.py``)."""
    snapshots = Snapshots(tmp_path_factory.mktemp("worlds"))
    yield snapshots
    snapshots.close()


def migrated_database(request: pytest.FixtureRequest, folder: Path) -> str:
    """A migrated, empty database for a module-scoped fixture parametrized with the backends
    (``params=BACKENDS``): a copy of the session's migrated SQLite file in ``folder``, or a copy
    of the migrated PostgreSQL template, dropped when the fixture's scope ends."""
    if request.param == "sqlite":
        path = folder / "merkki.sqlite3"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    copies: TemplateCopies = request.getfixturevalue("postgres_template_copies")
    name = copies.take()
    request.addfinalizer(lambda: copies.give_back(name))
    return server.url(name)


BACKENDS = ["sqlite", "postgresql"]


# --- the app -----------------------------------------------------------------------------------


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def key_store() -> str:
    """The app's ``ISSUER_KEY_STORE``: the default, ``database``, which also reads the keys
    that the ``keystore`` fixture (the files store) makes; tests about the files store itself
    override this fixture."""
    return "database"


@pytest.fixture
def app_config(
    database_url: str, keys_dir: Path, templates_dir: Path, key_store: str
) -> dict[str, Any]:
    return {
        "TESTING": True,
        "BASE_URL": BASE_URL,
        "DATABASE_URL": database_url,
        "KEYS_DIR": keys_dir,
        "KEY_PASSPHRASE": PASSPHRASE,
        "KEY_STORE": key_store,
        "SECRET_KEY": "test secret key",
        "BADGE_TEMPLATES_DIR": templates_dir,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app on a migrated, empty database, with a temporary keys folder."""
    app = create_app(app_config)
    if app_config["DATABASE_URL"] not in _MIGRATED_COPIES:
        migrate.upgrade(app_config["DATABASE_URL"])
    yield app
    dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The session of an app context, for service tests (no requests inside it)."""
    with app.app_context():
        yield get_session()


@pytest.fixture
def keystore(keys_dir: Path) -> KeyStore:
    return KeyStore(keys_dir, PASSPHRASE)
