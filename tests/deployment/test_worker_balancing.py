"""How gunicorn.conf.py spreads requests over the workers.

On the embedded SQLite each worker is gunicorn's sync worker: it takes a connection from the
shared listening socket only when it is free, so a worker that is stuck with one request (here
a client that sends its headers and never its body) does not hold anyone else's request; the
other worker answers them all. A threaded worker with one thread would also accept while stuck
and queue the connections it took behind the stuck request.

On PostgreSQL (two threads, ``issuer.web.gunicorn_worker.BalancingThreadWorker``) a keep-alive
connection is closed after ``GUNICORN_KEEPALIVE_REQUESTS`` requests, so that a client's
connections do not all stay on one worker.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.deployment.conftest import Deploy
from tests.deployment.instances import PreparedInstances
from tests.deployment.server import Deployment, serve

#: A free worker answers /healthz in milliseconds; a request queued behind the stuck one would
#: wait for the stuck client (gunicorn's timeout is 60 s).
ANSWER_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def sqlite_deployment(
    tmp_path_factory: pytest.TempPathFactory, prepared_instances: PreparedInstances
) -> Iterator[Deployment]:
    """One SQLite deployment with gunicorn's default configuration for this module's SQLite
    tests: they only read (/healthz), and the stuck client is gone when its test ends."""
    folder: Path = tmp_path_factory.mktemp("balancing-sqlite")
    database = f"sqlite:///{folder / 'merkki.sqlite3'}"
    with serve(folder / "deployment", database, 2, instances=prepared_instances) as deployment:
        yield deployment
    deployment.assert_clean_log()


def _address(deployment: Deployment) -> tuple[str, int]:
    parts = urlsplit(deployment.base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


@contextlib.contextmanager
def _stuck_request(deployment: Deployment) -> Iterator[None]:
    """A client that sends a request's headers, announces a body and never sends it: the
    worker that took it waits, reading."""
    with socket.create_connection(_address(deployment), timeout=10) as stuck:
        host, port = _address(deployment)
        stuck.sendall(
            (
                "POST /api/v1/verify HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{"
            ).encode("ascii")
        )
        time.sleep(0.5)  # a worker has taken it and is reading the body
        yield


def _health_on_a_new_connection(deployment: Deployment) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection(*_address(deployment), timeout=ANSWER_WITHIN_S)
    try:
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.monotonic() - started
    except TimeoutError:
        return 0, time.monotonic() - started  # queued behind the stuck request
    finally:
        connection.close()


@pytest.mark.slow
def test_a_stuck_request_holds_no_other_request_on_sqlite(sqlite_deployment: Deployment) -> None:
    deployment = sqlite_deployment
    with _stuck_request(deployment):
        answers = [_health_on_a_new_connection(deployment) for _ in range(20)]
    slowest = max(seconds for _, seconds in answers)
    assert slowest < ANSWER_WITHIN_S, f"a request waited {slowest:.1f} s behind a stuck one"
    assert [status for status, _ in answers] == [200] * 20


@pytest.mark.slow
def test_sqlite_answers_close_the_connection(sqlite_deployment: Deployment) -> None:
    # The sync worker serves one request per connection: the answer says so, and a client
    # (or the reverse proxy) opens the next connection on the shared socket.
    deployment = sqlite_deployment
    connection = http.client.HTTPConnection(*_address(deployment), timeout=10)
    try:
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert answer.status == 200
    assert answer.getheader("Connection", "").lower() == "close"


@pytest.mark.slow
def test_keep_alive_connection_closed_after_its_request_limit_on_postgresql(
    deploy: Deploy,
) -> None:
    deployment = deploy("postgresql", workers=2, environment={"GUNICORN_KEEPALIVE_REQUESTS": "5"})
    connection = http.client.HTTPConnection(*_address(deployment), timeout=10)
    headers = []
    try:
        for _ in range(5):
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
            headers.append(answer.getheader("Connection", "").lower())
    finally:
        connection.close()
    assert "close" not in headers[:4], headers
    assert headers[4] == "close", headers
