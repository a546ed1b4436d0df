"""Issue 16 acceptance: two app servers ("hosts") behind one public URL, on one PostgreSQL and
one Redis.

Each host is what docs/operations.md "Several app servers" describes: gunicorn and a
``merkki jobs worker``, its own working directory and its own (empty) ``ISSUER_KEYS_DIR``, and
the settings every host shares: ``ISSUER_BASE_URL`` (the load balancer's URL, so both hosts
build the same ids and DIDs), ``ISSUER_HOSTS=2``, the same ``ISSUER_SECRET_KEY`` and
``ISSUER_KEY_PASSPHRASE``, the ``database`` key store, the PostgreSQL database, and Redis for the
bulk-job queue (``ISSUER_REDIS_URL``) and the rate-limit counters
(``ISSUER_RATE_LIMIT_STORAGE``). Institution ``alpha`` is created through host A's command line,
``beta`` through host B's.

One pair of hosts serves the module (a module fixture; starting them is most of the cost). The
cases run in file order and build on each other: the last one kills host A.

* neither host warns about state kept on one host;
* keys created and rotated through either host sign on both, and what one host signed verifies
  on the other;
* 4 clients x 200 issues, each client alternating between the hosts: 800 distinct credentials
  and status positions, the database consistent;
* a key marked compromised through host A: host B refuses what it signed within the documented
  bound (the status list's ``ttl``, docs/operations.md "How fast a change on one host reaches
  the others");
* a cohort job submitted to host A and taken by host A's worker; host A (gunicorn and worker)
  is SIGKILLed half-way; host B's worker takes the job over once its heartbeat is stale and
  finishes it: every row issued once, no credential twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis import Redis
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from issuer.models import BadgeClass, Credential, Institution
from issuer.models.issuing import BulkJob, BulkJobRow, JobState, RowState
from issuer.services.status_publishing import TTL_MS
from tests.db_servers import PostgresServer
from tests.deployment.issuing_load import (
    IssueOutcome,
    check_consistent,
    database_state,
    describe_failures,
    in_threads,
    post_issue,
    server_errors,
)
from tests.deployment.server import (
    DEFAULT_BADGE,
    Client,
    Deployment,
    free_port,
    run_merkki,
    server_environment,
    start,
    stop,
)
from tests.redis_server import RedisServer, redis_server_fixture
from tests.services.job_workers import WorkerProcess, merkki_process, wait_for

__all__ = ["redis_server_fixture"]  # the session's Redis server (a fixture)

#: The load balancer's URL: ``ISSUER_BASE_URL`` of both hosts. Nothing ever connects to it; the
#: clients talk to each host's own address.
PUBLIC_URL = "http://badges.merkki.test"
CLIENTS = 4
PER_CLIENT = 200
#: Rows of the cohort job, one per transaction: half of them are committed when host A dies.
COHORT = 40
#: ``ISSUER_JOB_STALE_SECONDS``: a job whose worker is silent this long is taken over.
STALE_SECONDS = 1
#: The documented bound for a change on one host to reach the others' answers.
BOUND_SECONDS = TTL_MS / 1000
WAIT = 120.0
T = TypeVar("T")


@dataclass
class Hosts:
    a: Deployment
    b: Deployment
    worker_a: WorkerProcess
    worker_b: WorkerProcess
    engine: Engine
    redis: Redis

    def token(self, institution: str) -> str:
        """The API token of ``alpha`` (made through A) or ``beta`` (made through B)."""
        return {self.a.institution: self.a.token, self.b.institution: self.b.token}[institution]


def _wait_until(condition: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.005)


@pytest.fixture(scope="module")
def hosts(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hosts]:
    folder: Path = tmp_path_factory.mktemp("two-hosts")
    database = f"merkki_hosts_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(database)
    redis = Redis.from_url(redis_server.url)
    redis.flushdb()
    shared = {
        "ISSUER_BASE_URL": PUBLIC_URL,
        "ISSUER_HOSTS": "2",
        "ISSUER_KEY_STORE": "database",
        "ISSUER_REDIS_URL": redis_server.url,
        "ISSUER_RATE_LIMIT_STORAGE": redis_server.url,
        "ISSUER_JOB_STALE_SECONDS": str(STALE_SECONDS),
        "ISSUER_JOB_BATCH_SIZE": "1",
    }
    url = postgres_server.url(database)
    with ExitStack() as stack:
        stack.callback(postgres_server.drop_database, database)
        stack.callback(redis.close)
        stack.callback(redis.flushdb)
        engine = create_engine(url)
        stack.callback(engine.dispose)
        # `merkki init` once, through host A (docs/operations.md "Upgrades": from any host);
        # then each host makes its institution and token, and starts, beside the other.
        ports = {"a": free_port(), "b": free_port()}
        environments = {
            name: server_environment(folder / f"host-{name}", url, port, extra=shared)
            for name, port in ports.items()
        }
        (folder / "host-a").mkdir()
        run_merkki(environments["a"], "init", cwd=folder / "host-a")
        with Session(engine) as session:
            found = session.scalar(select(BadgeClass.id).where(BadgeClass.slug == DEFAULT_BADGE))
        assert found is not None
        badge_class_id: int = found

        def serve_host(name: str, institution: str) -> Deployment:
            home = folder / f"host-{name}"
            made = _host(home, environments[name], ports[name], institution, badge_class_id)
            stack.callback(stop, made)
            start(made)
            return made

        with ThreadPoolExecutor(max_workers=2) as both:
            made = [both.submit(serve_host, "a", "alpha"), both.submit(serve_host, "b", "beta")]
            a, b = (future.result(timeout=WAIT * 2) for future in made)
        worker_a, worker_b = (
            stack.enter_context(
                merkki_process(
                    host.environment,
                    host.folder / "jobs-worker.log",
                    "jobs",
                    "worker",
                    cwd=host.folder,
                )
            )
            for host in (a, b)
        )
        for worker in (worker_a, worker_b):
            wait_for(
                lambda worker=worker: "Listening on merkki-jobs" in worker.output(),  # type: ignore[misc]
                WAIT,
                "a job worker listening on the queue",
                worker=worker,
            )
        yield Hosts(a, b, worker_a, worker_b, engine, redis)
    for host in (a, b):
        host.assert_clean_log()
        assert not server_errors(host.log())
    for worker in (worker_a, worker_b):
        assert "Traceback" not in worker.output(), worker.output()[-4000:]


def _host(
    folder: Path, environment: dict[str, str], port: int, institution: str, badge_class_id: int
) -> Deployment:
    """A host of the deployment (no server yet): its own folder and keys folder, listening on
    ``port``; ``institution`` and its API token made through its own command line."""
    folder.mkdir(exist_ok=True)
    created = json.loads(
        run_merkki(environment, "institution", "create", institution, "--name", "O", cwd=folder)
    )
    token = run_merkki(
        environment, "token", "create", "--institution", institution, "--name", "api", cwd=folder
    ).strip()
    return Deployment(
        folder=folder,
        database_url=environment["ISSUER_DATABASE_URL"],
        base_url=environment["ISSUER_BASE_URL"],
        address=f"http://127.0.0.1:{port}",
        environment=environment,
        institution=institution,
        institution_did=created["did"],
        token=token,
        badge_class_id=badge_class_id,
        badge_class_slug=DEFAULT_BADGE,
        # One gunicorn worker (two threads on PostgreSQL) per host: the hosts are the point.
        workers=1,
        log_path=folder / "server.log",
    )


def _issue(host: Deployment, token: str, tag: str) -> dict[str, Any]:
    """A credential issued through ``host`` with ``token``'s institution; the signed JSON."""
    with Client(host.address, token) as client:
        outcome = post_issue(client, host, tag)
    assert outcome.status == 201, (outcome.status, outcome.error, outcome.body[:500])
    credential: dict[str, Any] = json.loads(outcome.body)["credential"]
    return credential


def _verdict(host: Deployment, credential: dict[str, Any]) -> str | None:
    """``POST /api/v1/verify`` on ``host``: the verdict (None when rate-limited)."""
    with Client(host.address) as client:
        answer = client.post_json("/api/v1/verify", credential)
    if answer.status == 429:
        return None
    assert answer.status == 200, answer.body[:500]
    verdict: str = answer.json()["verdict"]
    return verdict


def _method(credential: dict[str, Any]) -> str:
    [proof] = credential["proof"]
    method: str = proof["verificationMethod"]
    return method


def _active_method(rows: list[dict[str, Any]]) -> str:
    [active] = [row for row in rows if row["status"] == "active"]
    method: str = active["verification_method"]
    return method


@pytest.mark.slow
def test_the_hosts_share_their_state_and_warn_about_none(hosts: Hosts) -> None:
    for host in (hosts.a, hosts.b):
        with Client(host.address) as client:
            health = client.get("/healthz")
        assert health.status == 200, health.body
        # ISSUER_HOSTS=2 and every setting docs/operations.md asks of several hosts: no
        # "several app servers" warning from the web app (issuer.web.shared_state).
        assert "several app servers" not in host.log()
    for worker in (hosts.worker_a, hosts.worker_b):
        assert worker.alive()
        assert "several app servers" not in worker.output()
    assert hosts.a.base_url == hosts.b.base_url == PUBLIC_URL
    assert hosts.a.address != hosts.b.address
    assert hosts.a.environment["ISSUER_KEYS_DIR"] != hosts.b.environment["ISSUER_KEYS_DIR"]


@pytest.mark.slow
def test_keys_made_and_rotated_through_either_host_sign_on_both(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    signed = []
    for institution in ("alpha", "beta"):
        for name, host in (("a", a), ("b", b)):
            signed.append(_issue(host, hosts.token(institution), f"keys-{institution}-{name}"))
    # A key lives in its database row, not in the keys folder of the host that made it.
    for host in (a, b):
        assert not any(Path(host.environment["ISSUER_KEYS_DIR"]).glob("*"))

    # Each institution's key rotated through the host it was not created on.
    with ThreadPoolExecutor(max_workers=2) as both:
        rotating = {
            institution: both.submit(host.merkki, "key", "rotate", "--institution", institution)
            for institution, host in (("alpha", b), ("beta", a))
        }
        rotated = {
            institution: _active_method(json.loads(future.result(timeout=WAIT)))
            for institution, future in rotating.items()
        }
    for institution in ("alpha", "beta"):
        for name, host in (("a", a), ("b", b)):
            credential = _issue(host, hosts.token(institution), f"rotated-{institution}-{name}")
            # Both hosts sign with the new key at once.
            assert _method(credential) == rotated[institution]
            signed.append(credential)
    assert len({_method(credential) for credential in signed}) == 4

    # What one host signed verifies on the other (alternating, so each host checks both).
    for number, credential in enumerate(signed):
        assert _verdict((a, b)[number % 2], credential) == "valid", credential["id"]
    # The hosts count their rate limits in the shared Redis (the limits library's keys), not
    # each in its own memory.
    assert list(hosts.redis.scan_iter("LIMITS*"))


@pytest.mark.slow
def test_four_clients_issue_800_credentials_spread_over_both_hosts(hosts: Hosts) -> None:
    token = hosts.token("alpha")

    def client_work(number: int) -> list[tuple[str, IssueOutcome]]:
        outcomes = []
        with Client(hosts.a.address, token) as on_a, Client(hosts.b.address, token) as on_b:
            for n in range(PER_CLIENT):
                name, client = (("a", on_a), ("b", on_b))[(number + n) % 2]
                outcomes.append((name, post_issue(client, hosts.a, f"load-{number}-{n}")))
        return outcomes

    served = [found for per_client in in_threads(client_work, CLIENTS, 600) for found in per_client]
    outcomes = [outcome for _, outcome in served]
    total = CLIENTS * PER_CLIENT
    assert all(o.status == 201 for o in outcomes), describe_failures(outcomes)
    assert [name for name, _ in served].count("b") == total // 2
    ids = {o.credential_id for o in outcomes}
    assert len(ids) == total
    assert len({o.position for o in outcomes}) == total
    state = database_state(hosts.a)
    check_consistent(hosts.a, state)  # no position held twice, every credential complete
    assert ids <= set(state.credentials)


@pytest.mark.slow
def test_a_key_compromised_through_host_a_is_refused_by_host_b_within_the_bound(
    hosts: Hosts,
) -> None:
    a, b = hosts.a, hosts.b
    credential = _issue(a, hosts.token("alpha"), "compromised")
    method = _method(credential)
    multibase = method.rpartition("#")[2]
    assert _verdict(b, credential) == "valid"
    assert _verdict(b, credential) == "valid"  # and remembered by B's caches

    rows = json.loads(
        a.merkki("key", "compromised", "--institution", "alpha", multibase, "--reason", "test")
    )
    withdrawn_at = time.monotonic()
    verdict = None
    while verdict in (None, "valid") and time.monotonic() - withdrawn_at <= BOUND_SECONDS:
        verdict = _verdict(b, credential)
        if verdict in (None, "valid"):
            time.sleep(0.5)
    took = time.monotonic() - withdrawn_at
    assert verdict == "not_genuine", f"host B still says {verdict!r} after {took:.1f} s"
    print(f"host B refused the withdrawn key's credential {took:.2f} s after the withdrawal")
    with Client(b.address) as client:
        document = client.get(f"/issuers/{a.institution}/did.json")
    assert document.status == 200
    assert multibase not in document.body.decode()
    # The new active key the withdrawal made signs on B and verifies on A.
    after = _issue(b, hosts.token("alpha"), "after-compromise")
    assert _method(after) == _active_method(rows) != method
    assert _verdict(a, after) == "valid"


def _cohort(size: int) -> bytes:
    rows = "".join(f"cohort-{n}@example.fi,Kohortti {n}\n" for n in range(size))
    return ("email,name\n" + rows).encode("utf-8")


def _job(hosts: Hosts, job_id: int) -> BulkJob:
    with Session(hosts.engine, expire_on_commit=False) as session:
        job = session.get(BulkJob, job_id)
        assert job is not None
        return job


def _committed_rows(hosts: Hosts, job_id: int) -> dict[int, str | None]:
    """line -> credential id of the rows committed as issued."""
    with Session(hosts.engine) as session:
        found = session.execute(
            select(BulkJobRow.line, BulkJobRow.credential_id).where(
                BulkJobRow.job_id == job_id, BulkJobRow.state == RowState.ISSUED
            )
        )
        return {row.line: row.credential_id for row in found}


def _credentials_of(hosts: Hosts, slug: str) -> int:
    with Session(hosts.engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Credential)
                .join(Institution, Institution.id == Credential.institution_id)
                .where(Institution.slug == slug)
            )
            or 0
        )


@pytest.mark.slow
def test_a_cohort_job_survives_the_death_of_its_host(hosts: Hosts) -> None:
    a, b = hosts.a, hosts.b
    before = _credentials_of(hosts, b.institution)
    # B's worker is paused while the job is submitted, so that A's worker is the one to take it
    # from the queue. (Should Redis hand the job to B's paused worker, blocked in its read of
    # the queue, A's worker's sweep enqueues it again: it is pending and no longer on the
    # queue. B's copy, run once B resumes, finds the job held or done: the claim decides.)
    os.kill(hosts.worker_b.pid, signal.SIGSTOP)
    try:
        with Client(a.address, hosts.token("beta")) as client:
            answer = client.request(
                "POST",
                f"/api/v1/credentials/bulk?badge_class={b.badge_class_slug}",
                _cohort(COHORT),
                {"Content-Type": "text/csv"},
            )
        assert answer.status == 202, answer.body[:1000]
        job_id = int(answer.json()["id"])
        _wait_until(
            lambda: len(_committed_rows(hosts, job_id)) >= COHORT // 2, "half the cohort issued"
        )
        # Host A dies: its gunicorn (master and workers, one process group) and its job worker.
        os.killpg(a.master_pid, signal.SIGKILL)
        hosts.worker_a.kill()
        assert a.process is not None
        a.process.wait(timeout=10)
        at_death = _committed_rows(hosts, job_id)
        job = _job(hosts, job_id)
        assert f":{hosts.worker_a.pid}:" in (job.worker or ""), job.worker
        assert job.state is JobState.RUNNING
        assert COHORT // 2 <= len(at_death) < COHORT, "the job was not half-way when A died"
        print(f"host A died with {len(at_death)} of {COHORT} rows of the job committed")
    finally:
        os.kill(hosts.worker_b.pid, signal.SIGCONT)

    def finished() -> BulkJob | None:
        job = _job(hosts, job_id)
        return job if job.state is JobState.DONE else None

    done = _wait_until(finished, "host B's worker finished the job")
    assert f":{hosts.worker_b.pid}:" in (done.worker or ""), done.worker
    assert (done.total, done.issued, done.skipped, done.failed) == (COHORT, COHORT, 0, 0)
    rows = _committed_rows(hosts, job_id)
    assert len(rows) == COHORT
    assert {line: rows[line] for line in at_death} == at_death  # A's rows were not redone
    assert None not in rows.values()
    assert len(set(rows.values())) == COHORT
    assert _credentials_of(hosts, b.institution) == before + COHORT  # none issued twice
    check_consistent(b, database_state(b))
    b.check_running()  # host B served on throughout
    # The last row, issued by B's worker, verifies on B.
    with Session(hosts.engine) as session:
        stored = session.get(Credential, rows[max(rows)])
        assert stored is not None
        assert _verdict(b, json.loads(stored.signed_json)) == "valid"
