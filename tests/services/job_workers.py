"""Real job-worker processes for the job tests: ``merkki jobs worker`` (RQ) and
``merkki jobs run --wait`` (in-process runner), started with the test app's configuration in
their environment, always stopped (their whole process group) when the test ends, and polls of
the database with deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import func, select

from issuer.db import get_database
from issuer.models.issuing import BulkJob, BulkJobRow, RowState

BIN = Path(sys.executable).parent
T = TypeVar("T")


def worker_environment(app_config: dict[str, Any], **variables: str) -> dict[str, str]:
    """The environment of a ``merkki`` process that works on the test app's database with its
    keys and secrets (no ``ISSUER_*`` variable of the test run leaks in)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
    environment.update(
        {
            "ISSUER_BASE_URL": str(app_config["BASE_URL"]),
            "ISSUER_DATABASE_URL": str(app_config["DATABASE_URL"]),
            "ISSUER_KEYS_DIR": str(app_config["KEYS_DIR"]),
            "ISSUER_KEY_STORE": str(app_config.get("KEY_STORE", "database")),
            "ISSUER_KEY_PASSPHRASE": str(app_config["KEY_PASSPHRASE"]),
            "ISSUER_SECRET_KEY": str(app_config["SECRET_KEY"]),
            "ISSUER_LOG_FORMAT": "text",
        }
    )
    environment.update(variables)
    return environment


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the worker."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown), SIGKILL after 10 s. The workers do not fork, so the
        process is all there is to stop."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


@contextmanager
def merkki_process(
    environment: dict[str, str], log: Path, *args: str, cwd: Path | None = None
) -> Iterator[WorkerProcess]:
    """``merkki ARGS`` in its own process group (in ``cwd``, default this process's working
    directory), output to ``log``; stopped on exit."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(BIN / "merkki"), *args],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, log)
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.02,
    worker: WorkerProcess | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds
    (or at once when ``worker`` has exited), naming ``what`` and the worker's output."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if worker is not None and not worker.alive():
            raise AssertionError(
                f"the worker exited ({worker.process.returncode}) before {what}:\n"
                f"{worker.output()[-4000:]}"
            )
        if time.monotonic() > deadline:
            output = worker.output()[-4000:] if worker is not None else ""
            raise AssertionError(f"no {what} within {timeout} s\n{output}")
        time.sleep(interval)


def processed_rows(app: Flask, job_id: int) -> int:
    """Rows of the job committed as processed (issued, skipped or failed), read afresh."""
    session = get_database(app).sessionmaker()
    try:
        return int(
            session.scalar(
                select(func.count())
                .select_from(BulkJobRow)
                .where(BulkJobRow.job_id == job_id, BulkJobRow.state != RowState.PENDING)
            )
            or 0
        )
    finally:
        session.close()


def job_state(app: Flask, job_id: int) -> BulkJob:
    """The job row, read afresh (detached)."""
    session = get_database(app).sessionmaker(expire_on_commit=False)
    try:
        job = session.get(BulkJob, job_id)
        assert job is not None
        session.expunge(job)
        return job
    finally:
        session.close()
