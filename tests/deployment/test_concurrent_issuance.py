"""Issue 7 acceptance: many API clients issuing at once against gunicorn with several workers.

8 concurrent clients (one thread and one keep-alive connection each) issue 30 credentials
each through ``POST /api/v1/credentials`` against gunicorn with 4 workers on PostgreSQL:
240 credentials, every answer 201, 240 distinct status-list positions in the answers and in
the database, every stored credential complete, every worker did a fair share, no 5xx and no
traceback in the server log. (The test once issued 500 per client; the properties are the same
at 30, which keeps all 8 clients and all 4 workers busy at once: 500 took 11 minutes, and
60 a minute of every run of the suite.)
Then the same again with ``Idempotency-Key``s: every request is sent twice, and pairs of
clients send some keys at the same moment (a barrier releases both): one credential per key,
the same answer for every repeat, exactly one first (not replayed) answer per key.

The same runs on SQLite with fewer requests (SQLite has one writer at a time: the test shows
that the workers queue for it without errors).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any

import pytest

from tests.deployment.conftest import Deploy
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
#: Keys that two clients (a pair) send at the same moment: every SHARED_EVERY-th request
#: (24 such races on PostgreSQL, 12 on SQLite).
SHARED_EVERY = 5
#: No run may take longer than this (each request also has its own timeout).
RUN_TIMEOUT = 900.0
#: Clients reconnect after this many requests, so that every worker gets connections
#: (tests/deployment/server.py ``Client``): 3 connections per client and run at 30 requests.
REQUESTS_PER_CONNECTION = 10


def _plain_run(deployment: Deployment, per_client: int) -> list[IssueOutcome]:
    def client_work(number: int) -> list[IssueOutcome]:
        with deployment.client(requests_per_connection=REQUESTS_PER_CONNECTION) as client:
            return [
                post_issue(client, deployment, f"plain-{number}-{n}") for n in range(per_client)
            ]

    return [o for outcomes in in_threads(client_work, CLIENTS, RUN_TIMEOUT) for o in outcomes]


def _idempotent_run(deployment: Deployment, per_client: int) -> tuple[list[IssueOutcome], int]:
    """Every request twice; every SHARED_EVERY-th key sent by both clients of a pair at once.
    Returns the outcomes and the number of distinct keys."""
    barriers = [threading.Barrier(2, timeout=120) for _ in range(CLIENTS // 2)]

    def client_work(number: int) -> list[IssueOutcome]:
        pair = number // 2
        outcomes = []
        with deployment.client(requests_per_connection=REQUESTS_PER_CONNECTION) as client:
            for n in range(per_client):
                if n % SHARED_EVERY == 0:
                    tag = f"shared-{pair}-{n}"
                    barriers[pair].wait()
                else:
                    tag = f"own-{number}-{n}"
                key = f"key-{tag}"
                outcomes.append(post_issue(client, deployment, tag, key))
                outcomes.append(post_issue(client, deployment, tag, key))
        return outcomes

    outcomes = [o for found in in_threads(client_work, CLIENTS, RUN_TIMEOUT) for o in found]
    shared = len(range(0, per_client, SHARED_EVERY)) * (CLIENTS // 2)
    return outcomes, CLIENTS * per_client - shared


def _check_plain(deployment: Deployment, outcomes: list[IssueOutcome], expected: int) -> None:
    assert len(outcomes) == expected
    assert all(o.status == 201 for o in outcomes), describe_failures(outcomes)
    assert len({o.credential_id for o in outcomes}) == expected
    assert len({o.position for o in outcomes}) == expected
    assert not any(o.replayed for o in outcomes)


def _check_idempotent(outcomes: list[IssueOutcome], distinct_keys: int) -> set[str]:
    """Per key: all 201, one credential, identical bodies, exactly one first answer. Returns
    the credential ids."""
    assert all(o.status == 201 for o in outcomes), describe_failures(outcomes)
    by_key: dict[str | None, list[IssueOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_key[outcome.key].append(outcome)
    assert len(by_key) == distinct_keys
    for key, answers in by_key.items():
        assert len({o.credential_id for o in answers}) == 1, (key, answers)
        assert len({o.body for o in answers}) == 1, key
        assert sum(not o.replayed for o in answers) == 1, (key, [o.replayed for o in answers])
    ids = {o.credential_id for o in outcomes if o.credential_id is not None}
    assert len(ids) == distinct_keys
    assert len({o.position for o in outcomes}) == distinct_keys
    return ids


def _check_every_worker_issued(deployment: Deployment, before: dict[int, float]) -> list[float]:
    """Every worker used a fair share of the processor time of a run (they all issued)."""
    after = deployment.worker_cpu_seconds()
    assert set(after) == set(before), "a worker was replaced during the run"
    used = [after[pid] - before[pid] for pid in before]
    assert min(used) > 0.1 * sum(used) / len(used), used
    return used


def _run_both(deployment: Deployment, per_client: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    cpu = deployment.worker_cpu_seconds()
    started = time.monotonic()
    plain = _plain_run(deployment, per_client)
    figures["plain_s"] = round(time.monotonic() - started, 1)
    figures["plain_worker_cpu_s"] = [
        round(x, 1) for x in _check_every_worker_issued(deployment, cpu)
    ]
    expected = CLIENTS * per_client
    _check_plain(deployment, plain, expected)
    state = database_state(deployment)
    check_consistent(deployment, state)
    assert set(state.credentials) == {o.credential_id for o in plain}
    # What each client received is what is stored (and served).
    for outcome in plain:
        stored = state.credentials[outcome.credential_id or ""]
        assert json.loads(outcome.body)["credential"] == stored.signed
    with deployment.client(token=False) as client:
        verify_sample(
            client,
            [state.credentials[o.credential_id or ""].signed for o in plain[:: len(plain) // 8]],
        )

    cpu = deployment.worker_cpu_seconds()
    started = time.monotonic()
    repeated, distinct_keys = _idempotent_run(deployment, per_client)
    figures["idempotent_s"] = round(time.monotonic() - started, 1)
    figures["idempotent_worker_cpu_s"] = [
        round(x, 1) for x in _check_every_worker_issued(deployment, cpu)
    ]
    new_ids = _check_idempotent(repeated, distinct_keys)
    state = database_state(deployment)
    check_consistent(deployment, state)
    assert len(state.credentials) == expected + distinct_keys
    assert set(state.credentials) == {o.credential_id for o in plain} | new_ids
    assert state.idempotency_keys == distinct_keys

    log = deployment.log()
    assert not server_errors(log), server_errors(log)[:5]
    deployment.assert_clean_log()
    return figures


@pytest.mark.slow
def test_8_clients_on_postgresql_with_4_workers(deploy: Deploy) -> None:
    deployment = deploy("postgresql", workers=4, rate_limits=False)
    figures = _run_both(deployment, per_client=30)
    print(f"8 x 30 issues on PostgreSQL, 4 workers: {figures}")


@pytest.mark.slow
def test_8_clients_on_sqlite_with_2_workers(deploy: Deploy) -> None:
    deployment = deploy("sqlite", workers=2, rate_limits=False)
    figures = _run_both(deployment, per_client=15)
    print(f"8 x 15 issues on SQLite, 2 workers: {figures}")
