"""A throwaway Redis server for the job-queue tests (``issuer/services/jobs_rq.py``).

Started from Debian's ``redis-server`` binary (``.ci/run`` installs the package when it is
missing) on 127.0.0.1 and a free port, in a temporary folder, with persistence off; stopped and
its folder removed whatever happens. Without the binary the tests that need it skip with the
reason, except in CI (``CI`` set), where they fail: CI must not skip them.

Import the fixtures into a test module: ``from tests.redis_server import redis_server_fixture,
redis_url_fixture``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Longest wait for the server to answer after start.
START_SECONDS = 20.0
#: Tries to start the server, each on a new free port.
START_ATTEMPTS = 3


class RedisUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start a private ``redis-server``; raises ``RedisUnavailable`` with the reason."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable(
            "redis-server not found; install the Debian package redis-server (.ci/run does)"
        )
    # A free port is free only until someone binds it: another test process of a parallel run
    # (pytest-xdist) may pick the same one at the same moment. The server that loses says so
    # and exits; it is tried again on another port.
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_redis(binary)
        except RedisUnavailable as error:
            if attempt == START_ATTEMPTS or "Address already in use" not in str(error):
                raise
    raise AssertionError("unreachable")


def _start_redis(binary: str) -> RedisServer:
    folder = Path(tempfile.mkdtemp(prefix="merkki-redis-"))
    port = _free_port()
    log = folder / "redis.log"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(log),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port, folder, process)
    try:
        _wait_until_answering(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_answering(server: RedisServer) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    deadline = time.monotonic() + START_SECONDS
    client = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=1)
    try:
        while True:
            if server.process.poll() is not None:
                log = server.folder / "redis.log"
                detail = log.read_text("utf-8", "replace")[-2000:] if log.exists() else ""
                raise RedisUnavailable(f"redis-server exited at start: {detail.strip()}")
            try:
                if client.ping():
                    return
            except RedisError:
                pass
            if time.monotonic() > deadline:
                raise RedisUnavailable(f"redis-server did not answer within {START_SECONDS} s")
            time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture(name="redis_server", scope="session")
def redis_server_fixture() -> Iterator[RedisServer]:
    """One Redis server for the test session."""
    try:
        server = start_redis()
    except RedisUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}; CI must not skip the job-queue tests", pytrace=False)
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, its database emptied before and after the test."""
    from redis import Redis

    client = Redis.from_url(redis_server.url)
    try:
        client.flushdb()
        yield redis_server.url
        client.flushdb()
    finally:
        client.close()


def closed_port_url() -> str:
    """A Redis URL nobody listens on (a port just freed)."""
    return f"redis://127.0.0.1:{_free_port()}/0"
