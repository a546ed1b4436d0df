"""A throwaway Merkki deployment served by the production server, for tests through the whole
HTTP stack.

``serve(folder, database_url, workers=...)`` does what an operator does (README "Install and
run", "Command line"): sets the ``ISSUER_*`` variables, runs ``merkki init``, creates an
institution and an API token with the installed ``merkki`` script, picks a shipped badge class,
and starts ``gunicorn -c gunicorn.conf.py wsgi:app`` from the repository root on a free loopback
port with N workers. Given ``instances`` (tests/deployment/instances.py), only the first instance
of each kind in a test process is set up with those commands; later ones are copies of it. It
waits (bounded, polling ``/healthz``) until the server answers and until all workers are up,
yields a ``Deployment``, and always stops the server (SIGTERM, then SIGKILL of its process
group after a bounded wait), also when the test fails.

Everything the server writes to stderr (gunicorn's log and the app's JSON log) goes to a file in
the folder; ``Deployment.log()`` reads it and ``assert_clean_log()`` fails on a ``Traceback``.

``Client`` is a small keep-alive HTTP client on ``http.client`` (no third-party client is
installed), one per thread, with a timeout on every request.

The pytest fixture ``deploy`` (tests/deployment/conftest.py) wraps ``serve`` and provides the
database: a SQLite file in the test's folder, or a fresh database on the suite's throwaway
PostgreSQL server (tests/db_servers.py).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from issuer import paths
from issuer.core.did import did_web_for
from tests.deployment.instances import PreparedInstances, SetUp

BIN = Path(sys.executable).parent
PASSPHRASE = "deployment test passphrase"
SECRET_KEY = "deployment test secret key"
#: A shipped national micro-credential, fully translated, not a package.
DEFAULT_BADGE = "pokot-ennakointiosaaminen"
DEFAULT_INSTITUTION = "deploy-test"
CLI_TIMEOUT = 180.0
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
REQUEST_TIMEOUT = 60.0


class DeploymentError(RuntimeError):
    """The deployment could not be prepared or started; the message carries the output."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(
    folder: Path,
    database_url: str,
    port: int,
    *,
    rate_limits: bool = True,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The process environment of the CLI and the server: this process's environment without
    any ``ISSUER_*`` variable, plus the deployment's (README "Configuration")."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
    environment.update(
        ISSUER_BASE_URL=f"http://127.0.0.1:{port}",
        ISSUER_DATABASE_URL=database_url,
        ISSUER_KEYS_DIR=str(folder / "keys"),
        ISSUER_KEY_PASSPHRASE=PASSPHRASE,
        ISSUER_SECRET_KEY=SECRET_KEY,
        ISSUER_RATE_LIMITS="on" if rate_limits else "off",
        ISSUER_LOG_FORMAT="json",
    )
    environment.update(extra or {})
    return environment


def run_merkki(environment: Mapping[str, str], *args: str, cwd: Path | None = None) -> str:
    """Run the installed ``merkki`` script; its stdout. Fails on a non-zero exit or a
    traceback."""
    result = subprocess.run(
        [str(BIN / "merkki"), *args],
        cwd=cwd,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    if result.returncode != 0 or "Traceback" in result.stderr:
        raise DeploymentError(
            f"merkki {' '.join(args)} exited with {result.returncode}:\n{result.stderr}"
        )
    return result.stdout


# --- processes --------------------------------------------------------------------------------


def _parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` from /proc (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie no longer serves
        return None
    return int(fields[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system processor time of ``pid`` (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5) (utime, stime), counted from "state" as field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Living child processes of ``pid``."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent_pid(int(entry.name)) == pid:
            children.append(int(entry.name))
    return sorted(children)


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Client:
    """A keep-alive HTTP/1.1 connection to the deployment (use one per thread).

    A connection idle for longer than ``max_idle`` seconds is replaced before the next request:
    gunicorn closes idle keep-alive connections after its ``keepalive`` (5 s in
    gunicorn.conf.py), and a request written to a closed connection would fail without having
    reached the server. Any other connection error is raised to the caller (the request may or
    may not have been processed), and the next request opens a new connection.

    ``requests_per_connection`` opens a new connection after that many requests: gunicorn's
    workers each accept connections and keep them, so a few long-lived connections may all be
    served by one worker; reconnecting now and then spreads a load over all of them.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT,
        max_idle: float = 2.0,
        requests_per_connection: int | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.timeout = timeout
        self.max_idle = max_idle
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0
        self.requests_per_connection = requests_per_connection
        self._served = 0

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        json_body: Any = None,
    ) -> Response:
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if self._connection is not None and (
            time.monotonic() - self._last_used > self.max_idle
            or (
                self.requests_per_connection is not None
                and self._served >= self.requests_per_connection
            )
        ):
            self.close()
        if self._connection is None:
            self._served = 0
            self._connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
        try:
            self._connection.request(method, path, body=body, headers=sent)
            answer = self._connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        self._last_used = time.monotonic()
        self._served += 1
        if answer.will_close:
            self.close()
        return Response(
            answer.status, {name.lower(): value for name, value in answer.getheaders()}, data
        )

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_json(
        self, path: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        return self.request("POST", path, headers=headers, json_body=payload)


# --- the deployment ----------------------------------------------------------------------------


@dataclass
class Deployment:
    """A prepared instance and its running gunicorn master."""

    folder: Path
    database_url: str
    #: ``ISSUER_BASE_URL``: the public URL the app builds ids and DIDs from.
    base_url: str
    #: Where this server listens (``http://127.0.0.1:PORT``): the base URL, unless the instance
    #: stands behind a load balancer whose URL is the base URL (tests/deployment/test_two_hosts.py).
    address: str
    environment: dict[str, str]
    institution: str
    institution_did: str
    token: str
    badge_class_id: int
    badge_class_slug: str
    workers: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_offset: int = field(default=0, repr=False)

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The gunicorn workers alive now (children of the master)."""
        return child_pids(self.master_pid)

    def wait_for_workers(
        self,
        count: int | None = None,
        *,
        exclude: set[int] | frozenset[int] = frozenset(),
        timeout: float = READY_TIMEOUT,
    ) -> list[int]:
        """Poll until ``count`` (default: all) workers are alive, none of them in ``exclude``
        (e.g. killed ones the master must replace); their pids."""
        wanted = self.workers if count is None else count
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            pids = self.worker_pids()
            if len(pids) == wanted and not set(pids) & set(exclude):
                return pids
            if time.monotonic() > deadline:
                raise DeploymentError(
                    f"expected {wanted} workers (not {sorted(exclude)}), have {pids} after "
                    f"{timeout} s:\n{self.log()[-4000:]}"
                )
            time.sleep(0.1)

    def check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise DeploymentError(
                f"gunicorn exited with {self.process.returncode}:\n{self.log()[-4000:]}"
            )

    def client(
        self,
        *,
        token: bool = True,
        timeout: float = REQUEST_TIMEOUT,
        requests_per_connection: int | None = None,
    ) -> Client:
        """A new keep-alive client, with the API token as bearer unless ``token=False``."""
        return Client(
            self.address,
            self.token if token else None,
            timeout=timeout,
            requests_per_connection=requests_per_connection,
        )

    def worker_cpu_seconds(self) -> dict[int, float]:
        """Processor time (user + system) each living worker has used so far."""
        return {pid: cpu for pid in self.worker_pids() if (cpu := cpu_seconds(pid)) is not None}

    def merkki(self, *args: str) -> str:
        """Run a ``merkki`` command against this instance's database and keys; its stdout."""
        return run_merkki(self.environment, *args, cwd=self.folder)

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def mark_log(self) -> None:
        """Start ``new_log()`` here."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def new_log(self) -> str:
        """What the server wrote since ``mark_log()``."""
        with self.log_path.open("rb") as stream:
            stream.seek(self._log_offset)
            return stream.read().decode("utf-8", errors="replace")

    def assert_clean_log(self) -> None:
        text = self.log()
        assert "Traceback" not in text, text[text.index("Traceback") - 2000 :][:8000]


def prepare(
    folder: Path,
    database_url: str,
    *,
    port: int | None = None,
    rate_limits: bool = True,
    institution: str = DEFAULT_INSTITUTION,
    badge: str = DEFAULT_BADGE,
    environment: Mapping[str, str] | None = None,
    workers: int = 2,
    instances: PreparedInstances | None = None,
) -> Deployment:
    """Set up the instance (database, keys, institution, token); no server yet.

    With ``instances``, an instance set up the same way before in this test process is copied
    instead of set up again (``PreparedInstances``)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = server_environment(folder, database_url, port, rate_limits=rate_limits, extra=environment)
    key = (
        make_url(database_url).get_backend_name(),
        institution,
        badge,
        tuple(sorted((k, v) for k, v in (environment or {}).items() if k.startswith("ISSUER_"))),
    )
    set_up = instances.restore(key, folder, database_url) if instances is not None else None
    if set_up is None:
        set_up = _set_up(env, folder, institution, badge)
        if instances is not None:
            instances.keep(key, folder, database_url, set_up)
    return Deployment(
        folder=folder,
        database_url=database_url,
        base_url=env["ISSUER_BASE_URL"],
        address=f"http://127.0.0.1:{port}",
        environment=env,
        institution=institution,
        institution_did=did_web_for(env["ISSUER_BASE_URL"], institution),
        token=set_up.token,
        badge_class_id=set_up.badge_class_id,
        badge_class_slug=set_up.badge_class_slug,
        workers=workers,
        log_path=folder / "server.log",
    )


def _set_up(env: Mapping[str, str], folder: Path, institution: str, badge: str) -> SetUp:
    """What an operator does before the first start (README "Install and run"): ``merkki
    init``, an institution, an API token, and a shipped badge class picked from the list."""
    run_merkki(env, "init", cwd=folder)
    # Each command starts the app (seconds); the listing runs beside the other two.
    with ThreadPoolExecutor(max_workers=1) as beside:
        listing = beside.submit(run_merkki, env, "badge", "list", "--json", cwd=folder)
        created = json.loads(
            run_merkki(
                env, "institution", "create", institution, "--name", "Testiopisto", cwd=folder
            )
        )
        token = run_merkki(
            env,
            "token",
            "create",
            "--institution",
            institution,
            "--name",
            "deployment-test",
            cwd=folder,
        ).strip()
        listed = json.loads(listing.result(timeout=CLI_TIMEOUT))
    # The DID is the base URL's (did:web), not stored: a copied instance is the same issuer
    # under its own port.
    assert created["did"] == did_web_for(env["ISSUER_BASE_URL"], institution), created
    [badge_class] = [row for row in listed if badge in (row["slug"], str(row["id"]))]
    return SetUp(token, int(badge_class["id"]), badge_class["slug"])


def _wait_until_answering(deployment: Deployment, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        deployment.check_running()
        try:
            with Client(deployment.address, timeout=5) as probe:
                if probe.get("/healthz").status == 200:
                    return
        except (OSError, http.client.HTTPException) as error:
            last_error = error
        time.sleep(0.2)
    raise DeploymentError(
        f"no answer from {deployment.address}/healthz in {timeout} s ({last_error!r}):\n"
        f"{deployment.log()[-4000:]}"
    )


def stop(deployment: Deployment, timeout: float = STOP_TIMEOUT) -> None:
    """Stop gunicorn: SIGTERM (graceful), then SIGKILL of its process group (the master and its
    workers, which ``start`` put in a session of their own) when it takes too long."""
    process = deployment.process
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # Workers orphaned by a killed master would keep the port; they share its process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def start(
    deployment: Deployment,
    *,
    threads: int | None = None,
    gunicorn_args: tuple[str, ...] = (),
    ready_timeout: float = READY_TIMEOUT,
) -> None:
    """Start ``gunicorn -c gunicorn.conf.py wsgi:app`` for ``deployment`` and wait until it
    answers and all its workers are up. Stops it again when that fails."""
    port = urlsplit(deployment.address).port
    command = [
        str(BIN / "gunicorn"),
        "-c",
        str(paths.REPOSITORY_ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(deployment.workers),
        *(("--threads", str(threads)) if threads is not None else ()),
        *gunicorn_args,
        "wsgi:app",
    ]
    # gunicorn.conf.py makes (and removes at exit) a metrics folder when this is unset; ours
    # stays inside the test's folder, also when the master is killed (unless the test gave one).
    environment = {
        "PROMETHEUS_MULTIPROC_DIR": str(deployment.folder / "metrics"),
        **deployment.environment,
    }
    with deployment.log_path.open("ab") as log:
        deployment.process = subprocess.Popen(
            command,
            cwd=paths.REPOSITORY_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        _wait_until_answering(deployment, ready_timeout)
        deployment.wait_for_workers(timeout=ready_timeout)
    except BaseException:
        stop(deployment)
        raise


@contextlib.contextmanager
def serve(
    folder: Path,
    database_url: str,
    workers: int = 2,
    *,
    threads: int | None = None,
    rate_limits: bool = True,
    institution: str = DEFAULT_INSTITUTION,
    badge: str = DEFAULT_BADGE,
    environment: Mapping[str, str] | None = None,
    gunicorn_args: tuple[str, ...] = (),
    ready_timeout: float = READY_TIMEOUT,
    instances: PreparedInstances | None = None,
) -> Iterator[Deployment]:
    """Prepare an instance in ``folder`` on ``database_url`` and serve it with gunicorn (module
    docstring); the server is stopped when the block ends, however it ends."""
    deployment = prepare(
        folder,
        database_url,
        rate_limits=rate_limits,
        institution=institution,
        badge=badge,
        environment=environment,
        workers=workers,
        instances=instances,
    )
    start(deployment, threads=threads, gunicorn_args=gunicorn_args, ready_timeout=ready_timeout)
    try:
        yield deployment
    finally:
        stop(deployment)
