"""Job runners: settings, takeover of abandoned jobs, and a runner that lost its job stopping."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from issuer import create_app
from issuer.cli import main
from issuer.config import ConfigError, from_environment
from issuer.db import get_database, unit_of_work
from issuer.models import Credential
from issuer.models.issuing import BulkJob, JobState
from issuer.services import badge_classes, bulk, bulk_csv, institutions, jobs
from issuer.services.audit import SystemActor
from issuer.wiring.jobs import job_host
from tests.db_errors import lost_race
from tests.redis_server import closed_port_url
from tests.services.job_workers import job_state
from tests.web.learner.support import (
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

# --- settings (no database) -------------------------------------------------------------------


def test_defaults_are_the_thread_runner_and_two_minutes() -> None:
    settings = jobs.load_job_settings({})
    assert settings == jobs.JobSettings(
        runner="thread",
        stale_after=timedelta(minutes=2),
        batch_size=bulk.BATCH_SIZE,
        redis_url=None,
    )


def test_the_environment_variables_set_the_job_settings() -> None:
    config = from_environment(
        {
            "ISSUER_REDIS_URL": "redis://:secret@127.0.0.1:6379/2",
            "ISSUER_JOB_STALE_SECONDS": "2.5",
            "ISSUER_JOB_BATCH_SIZE": "7",
        }
    )
    settings = jobs.load_job_settings(config)
    assert settings.runner == "rq"  # a Redis URL alone selects the queue
    assert settings.redis_url == "redis://:secret@127.0.0.1:6379/2"
    assert settings.stale_after == timedelta(seconds=2.5)
    assert settings.batch_size == 7
    # ... and the thread runner can still be chosen explicitly.
    config = from_environment({"ISSUER_REDIS_URL": "redis://h", "ISSUER_JOB_RUNNER": "THREAD"})
    assert jobs.load_job_settings(config).runner == "thread"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"JOB_RUNNER": "celery"}, "ISSUER_JOB_RUNNER 'celery' must be one of thread, inline, rq"),
        ({"JOB_RUNNER": "rq"}, "ISSUER_JOB_RUNNER=rq needs ISSUER_REDIS_URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "ISSUER_REDIS_URL must be a redis://"),
        ({"JOB_STALE_SECONDS": "soon"}, "ISSUER_JOB_STALE_SECONDS 'soon' is not a number"),
        ({"JOB_STALE_SECONDS": "0"}, "ISSUER_JOB_STALE_SECONDS must be a number of seconds"),
        ({"JOB_STALE_SECONDS": "-5"}, "ISSUER_JOB_STALE_SECONDS must be a number of seconds"),
        ({"JOB_BATCH_SIZE": "2.5"}, "ISSUER_JOB_BATCH_SIZE '2.5' is not a whole number"),
        ({"JOB_BATCH_SIZE": "0"}, "ISSUER_JOB_BATCH_SIZE must be a whole number, 1 to 10000"),
        ({"JOB_BATCH_SIZE": "10001"}, "ISSUER_JOB_BATCH_SIZE must be a whole number, 1 to"),
    ],
)
def test_bad_job_settings_are_refused_naming_the_variable(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        jobs.load_job_settings(config)
    assert str(caught.value).startswith(message)


def _bare_app(tmp_path: Path, **config: Any) -> Flask:
    """An app whose database is never touched (configuration and CLI refusals)."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "KEYS_DIR": tmp_path / "keys",
            "KEY_PASSPHRASE": "x" * 20,
            "SECRET_KEY": "s",
            **config,
        }
    )


def test_a_bad_job_setting_stops_the_app_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ISSUER_JOB_RUNNER=rq needs ISSUER_REDIS_URL"):
        _bare_app(tmp_path, JOB_RUNNER="rq")


def test_jobs_worker_refuses_without_redis_or_with_redis_away(tmp_path: Path) -> None:
    result = _bare_app(tmp_path).test_cli_runner().invoke(main, ["jobs", "worker"])
    assert result.exit_code == 1
    assert "ISSUER_REDIS_URL is not set" in result.output

    app = _bare_app(tmp_path, REDIS_URL=closed_port_url().replace("//", "//:pw@", 1))
    started = time.monotonic()
    result = app.test_cli_runner().invoke(main, ["jobs", "worker"])
    assert result.exit_code == 1
    assert "Error: cannot reach Redis at redis://:***@127.0.0.1:" in result.output
    assert "pw" not in result.output  # the password is never printed
    assert time.monotonic() - started < 15


# --- runners on the database (SQLite and PostgreSQL) -------------------------------------------


def _job(app: Flask, size: int) -> int:
    text = "email,name\n" + "".join(f"j{n}@example.fi,Learner {n}\n" for n in range(size))
    with app.app_context(), unit_of_work() as session:
        job = bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            bulk_csv.parse_csv(text.encode()),
            actor=SystemActor(),
        )
        return job.id


def _credentials(app: Flask) -> int:
    session = get_database(app).sessionmaker()
    try:
        return int(session.scalar(select(func.count()).select_from(Credential)) or 0)
    finally:
        session.close()


@pytest.fixture(name="app_config")
def quick_app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Jobs go stale after half a second and run in batches of two (as the variables would
    set them); nothing runs in the background unless a test starts it."""
    return {
        **app_config,
        "JOB_RUNNER": "inline",
        "MAIL_DELIVERY": "sync",
        "JOB_STALE_SECONDS": "0.5",
        "JOB_BATCH_SIZE": "2",
    }


@pytest.mark.usefixtures("world")
def test_the_configured_batch_size_is_one_transaction_each(app: Flask) -> None:
    job_id = _job(app, 5)
    seen: list[int] = []
    assert jobs.run_job(job_host(app), job_id, progress=lambda job: seen.append(job.issued))
    assert seen[:3] == [2, 4, 5]
    assert job_state(app, job_id).state is JobState.DONE


@pytest.mark.usefixtures("world")
def test_a_runner_that_lost_its_job_stops_before_its_next_batch(app: Flask) -> None:
    """A runner taken for dead (a long pause) but still alive must not go on issuing next to
    the runner that took its job over: its next batch starts with a conditional heartbeat
    renewal that fails."""
    job_id = _job(app, 6)

    def taken_over(job: BulkJob) -> None:
        if job.issued == 2:  # after the first batch, another runner takes the job over
            with app.app_context(), unit_of_work() as session:
                other = session.get(BulkJob, job_id)
                assert other is not None
                other.worker = "usurper"
                other.heartbeat_at = datetime.now(UTC)

    assert not jobs.run_job(job_host(app), job_id, worker="slow", progress=taken_over)
    job = job_state(app, job_id)
    assert (job.state, job.worker, job.issued) == (JobState.RUNNING, "usurper", 2)
    assert _credentials(app) == 2
    # The new runner finishes it: no duplicate, none missing.
    assert jobs.run_job(job_host(app), job_id, worker="usurper")
    job = job_state(app, job_id)
    assert (job.state, job.issued, job.skipped) == (JobState.DONE, 6, 0)
    assert _credentials(app) == 6


@pytest.mark.usefixtures("world")
def test_jobs_run_wait_takes_over_a_job_once_its_heartbeat_is_stale(app: Flask) -> None:
    job_id = _job(app, 3)
    session = get_database(app).sessionmaker()
    try:
        assert jobs.claim(session, job_id, "worker-that-died")
    finally:
        session.close()
    # Without --wait nothing is runnable yet: the heartbeat is fresh.
    assert jobs.work_off(job_host(app)) == []
    started = time.monotonic()
    finished: list[int] = []
    assert jobs.work_off(job_host(app), wait=True, finished=finished.append) == [job_id] == finished
    # It waited for the stale threshold (0.5 s since the claim), not a moment less.
    assert time.monotonic() - started >= 0.3
    job = job_state(app, job_id)
    assert (job.state, job.issued) == (JobState.DONE, 3)
    assert job.worker != "worker-that-died"
    assert jobs.work_off(job_host(app), wait=True) == []  # nothing left: returns at once


@pytest.mark.usefixtures("world")
def test_the_thread_runner_uses_the_configured_stale_threshold(app: Flask) -> None:
    job_id = _job(app, 2)
    session = get_database(app).sessionmaker()
    try:
        assert jobs.claim(session, job_id, "worker-that-died")
        stale = datetime.now(UTC) + timedelta(seconds=0.6)
        assert jobs.runnable_jobs(session, stale_after=job_host(app).settings.stale_after) == []
        assert jobs.runnable_jobs(
            session, stale, stale_after=job_host(app).settings.stale_after
        ) == [job_id]
    finally:
        session.close()
    runner = jobs.ThreadRunner(job_host(app))
    deadline = time.monotonic() + 30
    while job_state(app, job_id).state is not JobState.DONE:
        assert time.monotonic() < deadline, "the thread runner did not take the job over"
        runner.submit(job_id)
        runner.wait(5)
        time.sleep(0.1)
    assert job_state(app, job_id).issued == 2


@pytest.mark.usefixtures("world")
def test_a_runner_asked_to_stop_hands_the_job_back_after_its_batch(app: Flask) -> None:
    job_id = _job(app, 5)
    assert not jobs.run_job(job_host(app), job_id, worker="leaving", stop=lambda: True)
    job = job_state(app, job_id)
    # One batch committed; the job is pending again, free for any runner at once.
    assert (job.state, job.worker, job.heartbeat_at, job.issued) == (
        JobState.PENDING,
        None,
        None,
        2,
    )
    assert jobs.work_off(job_host(app)) == [job_id]
    job = job_state(app, job_id)
    assert (job.state, job.issued) == (JobState.DONE, 5)
    assert _credentials(app) == 5


@pytest.mark.usefixtures("world")
def test_a_batch_aborted_by_a_concurrent_transaction_runs_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _job(app, 5)
    real_batch = bulk.process_batch
    calls = 0

    def losing_once(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        done = real_batch(*args, **kwargs)  # the batch's rows are written (flushed), then lost
        if calls == 2:
            raise lost_race(app)
        return done

    monkeypatch.setattr(bulk, "process_batch", losing_once)
    monkeypatch.setattr(jobs, "TRANSIENT_PAUSE_S", 0.0)
    assert jobs.run_job(job_host(app), job_id)
    # Rows 1-2, 3-4 (lost, run again), 5, then the call that finds no pending row left.
    assert calls == 5
    state = job_state(app, job_id)
    assert state.state is JobState.DONE
    assert state.error is None
    assert _credentials(app) == 5


@pytest.mark.usefixtures("world")
def test_a_batch_that_keeps_losing_or_breaks_fails_the_job(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def losing(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        raise lost_race(app)

    monkeypatch.setattr(bulk, "process_batch", losing)
    monkeypatch.setattr(jobs, "TRANSIENT_PAUSE_S", 0.0)
    job_id = _job(app, 3)
    with pytest.raises(OperationalError):
        jobs.run_job(job_host(app), job_id)
    assert calls == jobs.TRANSIENT_RETRIES + 1
    assert job_state(app, job_id).state is JobState.FAILED

    def broken(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(bulk, "process_batch", broken)
    calls = 0
    other = _job(app, 3)
    with pytest.raises(OperationalError):
        jobs.run_job(job_host(app), other)
    assert calls == 1  # not a lost race: no second attempt
    assert job_state(app, other).state is JobState.FAILED
    assert _credentials(app) == 0
