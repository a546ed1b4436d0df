"""Issue 7 acceptance: "a request killed mid-issue leaves no half-written credential or
allocated-but-unused index that breaks later issues".

* Through the real server: clients issue continuously (each request with its own
  ``Idempotency-Key``) against gunicorn while gunicorn workers are SIGKILLed one after another;
  the master starts replacements. Requests in flight in a killed worker get no answer; they are
  retried with the same key afterwards. In the end every key has exactly one credential, every
  stored credential is complete (signed, one position per status purpose, its
  ``credentialStatus`` naming its revocation position), no two share a position, no allocation
  lacks its credential, everything a client received is what is stored and verifies, and
  issues after the kills all succeed with fresh positions. On PostgreSQL the victim is a worker
  caught with an uncommitted transaction that has already written (``pg_stat_activity``
  ``backend_xid``, matched to the worker through its socket ports).
* Deterministically: a process issuing through the service layer is SIGKILLed while it holds
  the issuing transaction open (tests/deployment/hold_issue.py), once right after its status
  positions were written and once just before the commit. Nothing of it remains; on
  PostgreSQL the server keeps issuing while the transaction is held; afterwards the very
  position the killed process had drawn can be allocated again, and the server issues on.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from issuer import paths
from tests.deployment.conftest import Deploy
from tests.deployment.hold_issue import HOLD_AFTER_ALLOCATION, HOLD_BEFORE_COMMIT, ISSUE_AT
from tests.deployment.issuing_load import (
    IssueOutcome,
    check_consistent,
    database_state,
    describe_failures,
    in_threads,
    post_issue,
    server_errors,
    verify_sample,
)
from tests.deployment.server import Deployment

CLIENTS = 8
KILLS = 3
#: Successful issues between two kills (and after the last one, before the clients stop): the
#: 8 clients are all issuing by then, so each kill cuts requests in flight.
ISSUES_BETWEEN_KILLS = 20
MAX_PER_CLIENT = 400
WAIT = 120.0


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


def _issue_after(deployment: Deployment, prefix: str, per_client: int) -> list[IssueOutcome]:
    def client_work(number: int) -> list[IssueOutcome]:
        with deployment.client() as client:
            return [
                post_issue(
                    client, deployment, f"{prefix}-{number}-{n}", f"key-{prefix}-{number}-{n}"
                )
                for n in range(per_client)
            ]

    outcomes = [o for found in in_threads(client_work, CLIENTS, WAIT) for o in found]
    assert all(o.status == 201 for o in outcomes), describe_failures(outcomes)
    return outcomes


def _tcp_sockets(pid: int) -> set[tuple[int, str]]:
    """(local TCP port, state) of the sockets ``pid`` has open (from /proc; state 01 is
    ESTABLISHED, 0A LISTEN)."""
    inodes = set()
    for link in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(link)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    sockets.add((int(fields[1].rsplit(":", 1)[1], 16), fields[3]))
    return sockets


def _local_ports(pid: int) -> set[int]:
    """Local TCP ports of the sockets ``pid`` has open."""
    return {port for port, _state in _tcp_sockets(pid)}


def _serving_workers(deployment: Deployment) -> set[int]:
    """Workers holding a client connection (an ESTABLISHED socket on the server's port): with
    the clients issuing without pause, killing one of them cuts requests. gunicorn's workers
    race to accept and keep-alive connections stay put, so one worker may hold them all."""
    server_port = int(deployment.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    serving = set()
    for pid in deployment.worker_pids():
        with contextlib.suppress(OSError):
            if (server_port, "01") in _tcp_sockets(pid):
                serving.add(pid)
    return serving


def _writing_workers(deployment: Deployment) -> set[int]:
    """Workers whose PostgreSQL transaction has written something and is not committed yet:
    ``backend_xid`` is only assigned at a transaction's first write."""
    engine = create_engine(deployment.database_url)
    try:
        with engine.connect() as connection:
            ports = set(
                connection.scalars(
                    text(
                        "SELECT client_port FROM pg_stat_activity WHERE datname = "
                        "current_database() AND backend_xid IS NOT NULL "
                        "AND pid <> pg_backend_pid()"
                    )
                )
            )
    finally:
        engine.dispose()
    writing = set()
    for pid in deployment.worker_pids():
        with contextlib.suppress(OSError):
            if _local_ports(pid) & ports:
                writing.add(pid)
    return writing


def _check_final(deployment: Deployment, outcomes: list[IssueOutcome]) -> None:
    """Every key has one credential; what clients hold is what is stored; the database is
    consistent; a sample verifies."""
    answered: dict[str, IssueOutcome] = {}
    for outcome in outcomes:
        if outcome.status != 201:
            continue
        assert outcome.key is not None
        first = answered.setdefault(outcome.key, outcome)
        assert first.credential_id == outcome.credential_id, outcome.key
    state = database_state(deployment)
    check_consistent(deployment, state)
    assert set(state.credentials) == {o.credential_id for o in answered.values()}
    assert state.idempotency_keys == len(answered)
    for outcome in answered.values():
        stored = state.credentials[outcome.credential_id or ""]
        assert json.loads(outcome.body)["credential"] == stored.signed
    sample = random.Random(3).sample(sorted(answered), min(12, len(answered)))
    with deployment.client(token=False) as client:
        verify_sample(
            client, [state.credentials[answered[key].credential_id or ""].signed for key in sample]
        )


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_workers_killed_while_issuing(deploy: Deploy, database: str) -> None:
    deployment = deploy(database, workers=2, rate_limits=False)
    stop = threading.Event()
    progress: list[IssueOutcome] = []  # appended by every client thread

    def client_work(number: int) -> list[IssueOutcome]:
        outcomes = []
        with deployment.client(timeout=60) as client:
            for n in range(MAX_PER_CLIENT):
                if stop.is_set():
                    break
                tag = f"kill-{number}-{n}"
                outcome = post_issue(client, deployment, tag, f"key-{tag}")
                outcomes.append(outcome)
                progress.append(outcome)
        return outcomes

    def issued() -> int:
        return sum(1 for o in list(progress) if o.status == 201)

    killed: set[int] = set()
    killed_writing = 0
    results: list[list[IssueOutcome]] = []
    load = threading.Thread(
        target=lambda: results.extend(in_threads(client_work, CLIENTS, 600)), daemon=True
    )
    load.start()
    try:
        for kill in range(KILLS):
            target = (kill + 1) * ISSUES_BETWEEN_KILLS
            _wait_until(lambda target=target: issued() >= target, f"{target} issued")  # type: ignore[misc]
            serving = _serving_workers(deployment)
            victim = random.choice(sorted(serving) or deployment.worker_pids())
            if database == "postgresql":
                # Kill a worker while its issuing transaction has written and not committed.
                deadline, writing = time.monotonic() + 10, set()
                while time.monotonic() < deadline and not (writing := _writing_workers(deployment)):
                    time.sleep(0.01)
                if writing:
                    victim = random.choice(sorted(writing))
                    killed_writing += 1
            os.kill(victim, signal.SIGKILL)
            killed.add(victim)
            deployment.wait_for_workers(exclude=killed, timeout=WAIT)
        target = (KILLS + 1) * ISSUES_BETWEEN_KILLS
        _wait_until(lambda: issued() >= target, f"{target} issued after the last kill")
    finally:
        stop.set()
        load.join(timeout=WAIT)
    assert not load.is_alive()
    outcomes = [o for found in results for o in found]
    assert len(outcomes) == len(progress)

    # Killed requests got no answer; nothing got an error answer.
    cut = [o for o in outcomes if o.status != 201]
    assert cut, "no request was in flight in a killed worker"
    assert all(o.error is not None for o in cut), describe_failures(cut)
    if database == "postgresql":
        assert killed_writing >= 1, "no worker was caught inside a writing transaction"
    log = deployment.log()
    for victim in killed:
        assert f"pid:{victim}" in log  # the master saw it die (and replaced it)

    # A client that got no answer retries with the same key: the credential the killed worker
    # may have committed is replayed, otherwise one is issued now; never both.
    with deployment.client() as client:
        retried = [post_issue(client, deployment, o.tag, o.key) for o in cut]
    assert all(o.status == 201 for o in retried), describe_failures(retried)

    before = {o.position for o in outcomes + retried if o.position is not None}
    after = _issue_after(deployment, "after", per_client=4)
    assert len({o.position for o in after}) == len(after)
    assert not {o.position for o in after} & before
    assert not any(o.replayed for o in after)

    _check_final(deployment, outcomes + retried + after)
    assert not server_errors(deployment.log())
    print(
        f"{database}: {issued()} issued, {len(killed)} workers killed, {len(cut)} requests cut, "
        f"{sum(o.replayed for o in retried)} of them had committed; "
        f"{killed_writing} kills inside a writing transaction"
    )


# --- deterministic: a process killed while it holds the issuing transaction ----------------


class Holder:
    """``tests/deployment/hold_issue.py`` in a subprocess with the deployment's environment."""

    def __init__(self, deployment: Deployment, *args: str) -> None:
        self.errors = deployment.folder / f"holder-{args[0]}-{time.monotonic_ns()}.log"
        with self.errors.open("wb") as errors:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.deployment.hold_issue",
                    *args[:1],
                    deployment.institution,
                    deployment.badge_class_slug,
                    *args[1:],
                ],
                cwd=paths.REPOSITORY_ROOT,
                env=deployment.environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )

    def event(self, timeout: float = WAIT) -> dict[str, Any]:
        """The line the process announces (bounded wait)."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.kill()
                raise AssertionError(f"nothing announced in {timeout} s: {self.stderr()}")
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=WAIT)
            raise AssertionError(f"exited with {self.process.returncode}: {self.stderr()}")
        event: dict[str, Any] = json.loads(line)
        return event

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def stderr(self) -> str:
        return self.errors.read_text("utf-8", errors="replace")


def _open_transactions(deployment: Deployment) -> int:
    """PostgreSQL backends of the deployment's database inside a transaction that waits for
    its client (what a paused issuer looks like)."""
    engine = create_engine(deployment.database_url)
    try:
        with engine.connect() as connection:
            found = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
    finally:
        engine.dispose()
    return int(found or 0)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_process_killed_inside_the_issuing_transaction(deploy: Deploy, database: str) -> None:
    deployment = deploy(database, workers=2, rate_limits=False)
    # The lists exist before anything is held (the first issue creates them).
    outcomes = _issue_after(deployment, "first", per_client=1)

    for mode in (HOLD_AFTER_ALLOCATION, HOLD_BEFORE_COMMIT):
        holder = Holder(deployment, mode, f"held-{mode}")
        try:
            held = holder.event()
            assert held["event"] == mode, held
            if database == "postgresql":
                assert _open_transactions(deployment) == 1
                # Other issuers do not wait for the held transaction.
                outcomes += _issue_after(deployment, f"during-{mode}", per_client=1)
        finally:
            holder.kill()
        assert holder.process.returncode == -signal.SIGKILL
        if database == "postgresql":
            _wait_until(
                lambda: _open_transactions(deployment) == 0, "the server ended the transaction"
            )
        state = database_state(deployment)
        check_consistent(deployment, state)  # e.g. no allocation without its credential
        assert held["credential_id"] not in state.credentials

        # The position the killed process had drawn is free: a new issue may take it.
        again = Holder(deployment, ISSUE_AT, f"again-{mode}", str(held["index"]))
        try:
            issued = again.event()
        finally:
            again.kill()
        assert issued["event"] == "issued", issued
        assert issued["index"] == held["index"], "hold_issue.py no longer forces the draw"
        assert issued["credential_id"] in database_state(deployment).credentials
        outcomes += _issue_after(deployment, f"after-{mode}", per_client=2)

    state = database_state(deployment)
    check_consistent(deployment, state)
    assert len(state.credentials) == len(outcomes) + 2  # + the two issue-at credentials
    assert not server_errors(deployment.log())
