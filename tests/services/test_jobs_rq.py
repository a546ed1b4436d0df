"""Bulk jobs on an RQ queue: a real Redis server (tests/redis_server.py) and real
``merkki jobs worker`` processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq.utils import import_attribute
from sqlalchemy import func, select

from issuer.db import get_database, unit_of_work
from issuer.models import Credential
from issuer.models.issuing import BulkJob, JobState
from issuer.services import badge_classes, bulk, bulk_csv, institutions, jobs, jobs_rq
from issuer.services.audit import SystemActor
from issuer.wiring import jobs as app_jobs
from issuer.wiring import worker
from tests.redis_server import (
    closed_port_url,
    redis_server_fixture,  # noqa: F401 - fixture
    redis_url_fixture,  # noqa: F401 - fixture
)
from tests.services.job_workers import (
    BIN,
    job_state,
    merkki_process,
    processed_rows,
    wait_for,
    worker_environment,
)
from tests.web.learner.support import (
    World,
    auth,
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


@pytest.fixture(name="app_config")
def rq_app_config(app_config: dict[str, Any], redis_url: str) -> dict[str, Any]:
    """The web side enqueues on the test Redis (``ISSUER_REDIS_URL`` alone selects RQ)."""
    return {**app_config, "REDIS_URL": redis_url, "MAIL_DELIVERY": "sync"}


def _cohort(size: int, offset: int = 0) -> bytes:
    rows = "".join(f"r{n}@example.fi,Learner {n}\n" for n in range(offset, offset + size))
    return ("email,name\n" + rows).encode("utf-8")


def _post_cohort(app: Flask, world: World, size: int) -> int:
    response = app.test_client().post(
        "/api/v1/credentials/bulk?badge_class=test-badge",
        data=_cohort(size),
        content_type="text/csv",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 202, response.text
    body = response.get_json()
    assert body["state"] == "pending"  # nobody ran it in the web process
    return int(body["id"])


def _stored_job(app: Flask, size: int, offset: int = 0) -> int:
    """A job stored without being handed to any runner."""
    with app.app_context(), unit_of_work() as session:
        job = bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            bulk_csv.parse_csv(_cohort(size, offset)),
            actor=SystemActor(),
        )
        return job.id


def _done(app: Flask, job_id: int) -> BulkJob | None:
    job = job_state(app, job_id)
    return job if job.state is JobState.DONE else None


@pytest.mark.slow
def test_the_api_enqueues_and_a_worker_process_issues_the_job(
    app: Flask, world: World, app_config: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    assert isinstance(app_jobs.runner(app), jobs_rq.RqRunner)
    job_id = _post_cohort(app, world, 12)
    connection = Redis.from_url(redis_url)
    assert jobs_rq.queued_jobs(connection) == {job_id}
    assert job_state(app, job_id).state is JobState.PENDING

    environment = worker_environment(app_config, ISSUER_REDIS_URL=redis_url)
    with merkki_process(environment, tmp_path / "worker.log", "jobs", "worker") as worker:
        job = wait_for(lambda: _done(app, job_id), 120, "finished job", worker=worker)
        assert (job.total, job.issued, job.skipped, job.failed) == (12, 12, 0, 0)
        assert jobs_rq.queued_jobs(connection) == set()
        assert worker.alive()  # a worker keeps serving the queue
        # The same file again: a second job, done by the same worker, issues nothing new.
        again = _post_cohort(app, world, 12)
        job = wait_for(lambda: _done(app, again), 120, "second job", worker=worker)
        assert (job.issued, job.skipped) == (0, 12)
    assert "Traceback" not in worker.output()


@pytest.mark.slow
def test_a_job_submitted_while_redis_is_down_is_done_once_a_worker_runs(
    app_config: dict[str, Any],
    redis_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # The web side's Redis is unreachable; the job must still be stored and answered with 202.
    app_config["REDIS_URL"] = closed_port_url()
    app: Flask = request.getfixturevalue("app")
    world: World = request.getfixturevalue("world")
    capsys.readouterr()
    job_id = _post_cohort(app, world, 3)
    [warning] = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and "stays pending" in line
    ]
    assert warning["level"] == "WARNING"
    assert warning["message"].startswith(f"bulk job {job_id} stays pending: Redis at redis://")
    assert "unreachable" in warning["message"]
    assert job_state(app, job_id).state is JobState.PENDING

    # A worker on the (reachable) Redis finds it in the database at start and does it.
    environment = worker_environment(app_config, ISSUER_REDIS_URL=redis_url)
    with merkki_process(environment, tmp_path / "worker.log", "jobs", "worker") as worker:
        job = wait_for(lambda: _done(app, job_id), 120, "finished job", worker=worker)
        assert (job.issued, job.skipped, job.failed) == (3, 0, 0)


@pytest.mark.slow
def test_a_worker_started_after_its_jobs_were_stored_does_them_in_burst_mode(
    app: Flask, world: World, app_config: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    first, second = _stored_job(app, 2), _stored_job(app, 3, offset=2)
    environment = worker_environment(app_config, ISSUER_REDIS_URL=redis_url)
    with merkki_process(
        environment, tmp_path / "worker.log", "jobs", "worker", "--burst"
    ) as worker:
        assert worker.wait(120) == 0, worker.output()
    assert (job_state(app, first).state, job_state(app, first).issued) == (JobState.DONE, 2)
    assert (job_state(app, second).state, job_state(app, second).issued) == (JobState.DONE, 3)


def test_sweep_enqueues_pending_and_abandoned_jobs_once(
    app: Flask, world: World, redis_url: str
) -> None:
    connection = Redis.from_url(redis_url)
    host = app_jobs.job_host(app)
    job_id = _stored_job(app, 2)
    assert jobs_rq.sweep(host, connection) == [job_id]
    assert jobs_rq.sweep(host, connection) == []  # already waiting on the queue
    assert jobs_rq.queued_jobs(connection) == {job_id}

    # A worker takes it from the queue and claims it ... then dies (its heartbeat stays).
    connection.flushdb()
    session = get_database(app).sessionmaker()
    try:
        assert jobs.claim(session, job_id, "worker-that-dies")
    finally:
        session.close()
    assert jobs_rq.sweep(host, connection) == []  # its heartbeat is fresh: maybe alive

    # Once the heartbeat is older than the stale threshold, the job is enqueued again.
    with app.app_context(), unit_of_work() as write:
        job = write.get(BulkJob, job_id)
        assert job is not None
        assert job.heartbeat_at is not None
        job.heartbeat_at = job.heartbeat_at - host.settings.stale_after * 2
    assert jobs_rq.sweep(host, connection) == [job_id]
    assert jobs_rq.queued_jobs(connection) == {job_id}


def test_the_web_process_enqueues_unfinished_jobs_on_its_first_request(
    app: Flask, world: World, redis_url: str
) -> None:
    job_id = _stored_job(app, 2)  # e.g. submitted while Redis was down, before a restart
    connection = Redis.from_url(redis_url)
    assert jobs_rq.queued_jobs(connection) == set()
    app.test_client().get("/")
    assert jobs_rq.queued_jobs(connection) == {job_id}
    app.test_client().get("/")  # only the first request looks
    assert jobs_rq.queue(connection).count == 1


@pytest.mark.slow
def test_a_plain_rq_worker_runs_the_job_function_too(
    app: Flask, world: World, app_config: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    """The README's alternative: RQ's own ``rq worker`` (forking) on the queue, with the app
    created from the environment in the job function."""
    job_id = _post_cohort(app, world, 3)
    environment = worker_environment(app_config)
    log_path = tmp_path / "rq.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "rq"), "worker", "--url", redis_url, "--burst", jobs_rq.QUEUE_NAME],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # RQ's own worker ends a burst by joining the thread that reads its command channel,
        # and that read can sit out a 60-second timeout (redis-py's get_message once the
        # channel is gone) before the process exits; MerkkiWorker polls every 0.5 s instead.
        # So the test waits for RQ's own words that the burst ended cleanly ("Job OK", then
        # "done, quitting" when the queue is empty), not for the exit.
        def burst_ended() -> bool:
            output = log_path.read_text(errors="replace")
            if process.poll() is not None:
                return True
            return "Job OK" in output and "done, quitting" in output

        wait_for(burst_ended, 120, "the end of the rq worker's burst")
        output = log_path.read_text(errors="replace")
        assert process.poll() in (None, 0), output
        assert "Job OK" in output, output
        assert "done, quitting" in output, output
        assert "Traceback" not in output, output
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    job = job_state(app, job_id)
    assert (job.state, job.issued) == (JobState.DONE, 3)


@pytest.mark.slow
def test_sigterm_hands_the_job_back_after_a_batch_and_the_next_worker_finishes_it(
    app: Flask, world: World, app_config: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    size = 150
    job_id = _post_cohort(app, world, size)
    environment = worker_environment(
        app_config, ISSUER_REDIS_URL=redis_url, ISSUER_JOB_BATCH_SIZE="5"
    )
    with merkki_process(environment, tmp_path / "first.log", "jobs", "worker") as first:
        wait_for(lambda: processed_rows(app, job_id) >= 10, 120, "10 rows", worker=first)
        first.process.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0, first.output()  # after one batch, not the whole job
    stopped = job_state(app, job_id)
    assert stopped.state is JobState.PENDING
    assert stopped.worker is None
    assert 10 <= stopped.issued < size
    assert jobs_rq.queued_jobs(Redis.from_url(redis_url)) == {job_id}  # handed on at once
    with merkki_process(environment, tmp_path / "second.log", "jobs", "worker") as second:
        job = wait_for(lambda: _done(app, job_id), 120, "finished job", worker=second)
    assert (job.issued, job.skipped, job.failed) == (size, 0, 0)
    session = get_database(app).sessionmaker()
    try:
        assert session.scalar(select(func.count(func.distinct(Credential.id)))) == size
        assert session.scalar(select(func.count()).select_from(Credential)) == size
    finally:
        session.close()


def test_the_queue_names_the_wirings_job_function_which_holds_the_app_factory() -> None:
    """Jobs are enqueued by import path (no service imports the app factory); the path must be
    the function a plain ``rq worker`` can import and run."""
    assert import_attribute(app_jobs.RQ_FUNCTION) is worker.perform
