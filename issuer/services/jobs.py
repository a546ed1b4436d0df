"""Running bulk jobs: a pluggable runner, and the loop that works a job off batch by batch.

* ``Runner`` is what the web layer hands a job to (``submit``). The embedded default is
  ``ThreadRunner``: one background thread per process. ``InlineRunner`` runs the job before
  ``submit`` returns (tests, the CLI). A queue-based runner (RQ/Redis) plugs in by calling
  ``run_job`` in its worker.
* ``run_job`` claims the job (``pending``, or ``running`` with a heartbeat older than
  ``STALE_AFTER``: its process died), then processes batches, each in its own transaction
  (``bulk.process_batch``), renewing the heartbeat. A job interrupted anywhere (crash, restart,
  SIGKILL) keeps every batch it committed; the rest is still ``pending`` and the next runner
  that claims the job continues there. Two runners never work on one job: claiming is one
  conditional UPDATE, and a runner that finds the job claimed by another stops.
* Jobs survive a restart: the web process resumes unfinished jobs on its first request
  (``init_app``); ``merkki jobs run`` works them off from the command line.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from issuer.models_issuing import BulkJob, JobState
from issuer.services import bulk, issuing

#: Flask config key: "thread" (default) or "inline".
RUNNER_CONFIG = "JOB_RUNNER"
#: A running job whose heartbeat is older than this is taken over by another runner.
STALE_AFTER = timedelta(minutes=2)
_EXTENSION = "issuer.jobs"

Progress = Callable[[BulkJob], None]


class Runner(Protocol):
    """Something that gets a stored job done, sooner or later."""

    def submit(self, job_id: int) -> None: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(session: Session, job_id: int, worker: str, now: datetime | None = None) -> bool:
    """Make ``worker`` the job's runner if nobody (alive) runs it; commits."""
    moment = now or datetime.now(UTC)
    result = session.execute(
        update(BulkJob)
        .where(
            BulkJob.id == job_id,
            or_(
                BulkJob.state == JobState.PENDING,
                (BulkJob.state == JobState.RUNNING)
                & (
                    (BulkJob.heartbeat_at.is_(None))
                    | (BulkJob.heartbeat_at < moment - STALE_AFTER)
                    | (BulkJob.worker == worker)
                ),
            ),
        )
        .values(state=JobState.RUNNING, worker=worker, heartbeat_at=moment)
        .execution_options(synchronize_session=False)
    )
    claimed = bool(getattr(result, "rowcount", 0))
    if claimed:
        job = session.get(BulkJob, job_id)
        assert job is not None
        session.refresh(job)
        if job.started_at is None:
            job.started_at = moment
    session.commit()
    return claimed


def runnable_jobs(session: Session, now: datetime | None = None) -> list[int]:
    """Jobs a runner may take: pending ones, and running ones whose runner went quiet."""
    moment = now or datetime.now(UTC)
    return list(
        session.scalars(
            select(BulkJob.id)
            .where(
                or_(
                    BulkJob.state == JobState.PENDING,
                    (BulkJob.state == JobState.RUNNING)
                    & (
                        BulkJob.heartbeat_at.is_(None)
                        | (BulkJob.heartbeat_at < moment - STALE_AFTER)
                    ),
                )
            )
            .order_by(BulkJob.id)
        )
    )


def run_job(
    app: Flask,
    job_id: int,
    *,
    worker: str | None = None,
    batch_size: int = bulk.BATCH_SIZE,
    progress: Progress | None = None,
) -> bool:
    """Work job ``job_id`` off (module docstring). Returns False when another runner has it."""
    from issuer.db import get_database

    me = worker or worker_name()
    with app.app_context():
        ctx = issuing.IssuingContext.from_settings()
        session = get_database(app).sessionmaker()
        try:
            if not claim(session, job_id, me):
                return False
            while True:
                job = session.get(BulkJob, job_id)
                if job is None or job.worker != me or job.state is not JobState.RUNNING:
                    session.rollback()
                    return job is not None and job.state is JobState.DONE
                try:
                    done = bulk.process_batch(session, ctx, job, batch_size=batch_size)
                    session.commit()
                except Exception as error:
                    session.rollback()
                    _fail(session, job_id, me, error)
                    raise
                if progress is not None:
                    progress(job)
                if done:
                    return True
        finally:
            session.close()


def _fail(session: Session, job_id: int, worker: str, error: Exception) -> None:
    """Record an unexpected error; the job stays resumable (``merkki jobs run``) but is marked
    failed so staff see it."""
    try:
        job = session.get(BulkJob, job_id)
        if job is not None and job.worker == worker:
            job.state = JobState.FAILED
            job.error = f"{type(error).__name__}: {error}"[:2000]
            job.finished_at = datetime.now(UTC)
            session.commit()
    except SQLAlchemyError:
        session.rollback()


class InlineRunner:
    """Runs the job to the end inside ``submit`` (tests, the CLI)."""

    def __init__(self, app: Flask, progress: Progress | None = None) -> None:
        self.app = app
        self.progress = progress

    def submit(self, job_id: int) -> None:
        run_job(self.app, job_id, progress=self.progress)


class ThreadRunner:
    """One background thread per process works off submitted and resumable jobs, then stops
    (it is started again by the next submission). A daemon thread: a server that stops
    interrupts the job, which resumes on the next start."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self.worker = worker_name()

    def submit(self, job_id: int) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._thread = threading.Thread(target=self._loop, name="merkki-jobs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        from issuer.db import get_database

        while True:
            with self.app.app_context():
                session = get_database(self.app).sessionmaker()
                try:
                    job_ids = runnable_jobs(session)
                finally:
                    session.close()
            for job_id in job_ids:
                try:
                    run_job(self.app, job_id, worker=self.worker)
                except Exception:
                    self.app.logger.exception("bulk job %s failed", job_id)
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def wait(self, timeout: float = 60.0) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def runner(app: Flask) -> Runner:
    """The app's runner (``JOB_RUNNER`` config: ``thread`` or ``inline``)."""
    found: Runner | None = app.extensions.get(_EXTENSION)
    if found is None:
        if app.config.get(RUNNER_CONFIG) == "inline":
            found = InlineRunner(app)
        else:
            found = ThreadRunner(app)
        app.extensions[_EXTENSION] = found
    return found


def init_app(app: Flask) -> None:
    """Resume unfinished jobs when the process serves its first request."""
    state = {"checked": False}

    @app.before_request
    def _resume_jobs() -> None:
        if state["checked"]:
            return
        state["checked"] = True
        if app.config.get(RUNNER_CONFIG, "thread") != "thread":
            return
        from issuer.db import get_database

        session = get_database(app).sessionmaker()
        try:
            pending = runnable_jobs(session)
        except SQLAlchemyError:  # not migrated yet
            pending = []
        finally:
            session.close()
        if pending:
            runner(app).submit(pending[0])
