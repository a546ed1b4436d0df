"""Running bulk jobs: a pluggable runner, and the loop that works a job off batch by batch.

* ``Runner`` is what the web layer hands a job to (``submit``). The embedded default is
  ``ThreadRunner``: one background thread per process. ``InlineRunner`` runs the job before
  ``submit`` returns (tests, the CLI). ``RqRunner`` (``issuer.services.jobs_rq``) puts the job
  id on a Redis queue when ``ISSUER_REDIS_URL`` is set; ``merkki jobs worker`` runs it. The app
  wiring (``issuer.wiring.jobs``) chooses the app's runner.
* ``JobHost`` is what running jobs needs of the app, handed in by the app wiring: the checked
  settings, new database sessions, the app's context (issuing and the mail sender read it) and
  the log. Nothing here knows the web framework.
* ``run_job`` claims the job (``pending``, or ``running`` with a heartbeat older than the stale
  threshold, ``ISSUER_JOB_STALE_SECONDS``: its process died), then processes batches, each in
  its own transaction (``bulk.process_batch``). Every batch transaction starts by renewing the
  heartbeat with a conditional UPDATE that names this runner: it fails once another runner
  took the job over, and (PostgreSQL) it locks the job row until the batch commits, so a
  takeover waits for the batch in flight and then sees its rows issued. A job interrupted
  anywhere (crash, restart, SIGKILL) keeps every batch it committed; the rest is still
  ``pending`` and the next runner that claims the job continues there.
* Jobs survive a restart: the web process resumes (thread runner) or re-enqueues (RQ runner)
  unfinished jobs on its first request (``issuer.wiring.jobs``); ``merkki jobs run`` works them
  off from the command line, ``merkki jobs run --wait`` also waits for jobs another process
  holds and takes them over once their heartbeat is stale.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from issuer.config import ConfigError
from issuer.db import is_transient_conflict
from issuer.models.issuing import BulkJob, JobState
from issuer.services import bulk
from issuer.services.issuing_context import IssuingContext

#: Flask config key (``ISSUER_JOB_RUNNER``): "thread", "inline" or "rq"; the default is "rq"
#: when ``ISSUER_REDIS_URL`` is set, "thread" otherwise.
RUNNER_CONFIG = "JOB_RUNNER"
RUNNERS = ("thread", "inline", "rq")
#: Flask config key (``ISSUER_REDIS_URL``): the Redis server of the RQ queue.
REDIS_URL_CONFIG = "REDIS_URL"
#: Flask config key (``ISSUER_JOB_STALE_SECONDS``).
STALE_CONFIG = "JOB_STALE_SECONDS"
#: Flask config key (``ISSUER_JOB_BATCH_SIZE``): rows per transaction.
BATCH_SIZE_CONFIG = "JOB_BATCH_SIZE"
#: A running job whose heartbeat is older than this is taken over by another runner (default
#: of ``ISSUER_JOB_STALE_SECONDS``). It must be longer than one batch takes: the heartbeat is
#: renewed once per batch.
STALE_AFTER = timedelta(minutes=2)
MAX_BATCH_SIZE = 10_000
#: A batch aborted by a concurrent transaction is run again this many times before the job is
#: marked failed (``_run_batch``), pausing TRANSIENT_PAUSE_S, then twice that, and so on.
TRANSIENT_RETRIES = 5
TRANSIENT_PAUSE_S = 0.05

Progress = Callable[[BulkJob], None]


@dataclass(frozen=True, slots=True)
class JobSettings:
    """The checked job configuration of one app."""

    runner: str
    stale_after: timedelta
    batch_size: int
    redis_url: str | None


def load_job_settings(config: Mapping[str, Any]) -> JobSettings:
    """Check the job variables; ``ConfigError`` names the one that is wrong."""
    redis_url = str(config.get(REDIS_URL_CONFIG) or "").strip() or None
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "ISSUER_REDIS_URL must be a redis://, rediss:// or unix:// URL "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    runner = str(config.get(RUNNER_CONFIG) or ("rq" if redis_url else "thread")).strip().lower()
    if runner not in RUNNERS:
        raise ConfigError(f"ISSUER_JOB_RUNNER {runner!r} must be one of {', '.join(RUNNERS)}")
    if runner == "rq" and redis_url is None:
        raise ConfigError("ISSUER_JOB_RUNNER=rq needs ISSUER_REDIS_URL (the queue's Redis server)")
    stale = _number(config.get(STALE_CONFIG), "ISSUER_JOB_STALE_SECONDS", float)
    if stale is not None and not 0 < stale <= 86_400:
        raise ConfigError("ISSUER_JOB_STALE_SECONDS must be a number of seconds, 0 < s <= 86400")
    batch = _number(config.get(BATCH_SIZE_CONFIG), "ISSUER_JOB_BATCH_SIZE", int)
    if batch is not None and not 1 <= batch <= MAX_BATCH_SIZE:
        raise ConfigError(f"ISSUER_JOB_BATCH_SIZE must be a whole number, 1 to {MAX_BATCH_SIZE}")
    return JobSettings(
        runner=runner,
        stale_after=timedelta(seconds=stale) if stale is not None else STALE_AFTER,
        batch_size=batch if batch is not None else bulk.BATCH_SIZE,
        redis_url=redis_url,
    )


def _number(value: object, name: str, kind: type[int] | type[float]) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return kind(str(value).strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} {value!r} is not {what}") from None


@dataclass(frozen=True, slots=True)
class JobHost:
    """What running an app's jobs needs of the app (module docstring); the app wiring makes it
    (``issuer.wiring.jobs.job_host``)."""

    settings: JobSettings
    #: A new session on the app's database (the caller closes it).
    open_session: Callable[[], Session]
    #: The app's context, entered around each job: issuing and the mail sender read it.
    context: Callable[[], AbstractContextManager[object]]
    #: The issuing context (keys, base URL, recipient secret), made inside ``context``.
    issuing_context: Callable[[], IssuingContext]
    log: logging.Logger
    #: Import path of the RQ job function (``issuer.wiring.worker.perform``): a path, because it
    #: builds the app with the factory, which a service (and the CLI) must not import.
    rq_function: str


class Runner(Protocol):
    """Something that gets a stored job done, sooner or later."""

    def submit(self, job_id: int) -> None: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _stale_before(moment: datetime, stale_after: timedelta) -> Any:
    """The condition "its runner went quiet": no heartbeat, or one older than the threshold."""
    return BulkJob.heartbeat_at.is_(None) | (BulkJob.heartbeat_at < moment - stale_after)


def claim(
    session: Session,
    job_id: int,
    worker: str,
    now: datetime | None = None,
    *,
    stale_after: timedelta = STALE_AFTER,
) -> bool:
    """Make ``worker`` the job's runner if nobody (alive) runs it; commits."""
    moment = now or datetime.now(UTC)
    result = session.execute(
        update(BulkJob)
        .where(
            BulkJob.id == job_id,
            or_(
                BulkJob.state == JobState.PENDING,
                (BulkJob.state == JobState.RUNNING)
                & (_stale_before(moment, stale_after) | (BulkJob.worker == worker)),
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


def _renew(session: Session, job_id: int, worker: str) -> bool:
    """Renew the heartbeat if ``worker`` still holds the job: the first statement of every batch
    transaction (module docstring). Does not commit."""
    result = session.execute(
        update(BulkJob)
        .where(
            BulkJob.id == job_id,
            BulkJob.worker == worker,
            BulkJob.state == JobState.RUNNING,
        )
        .values(heartbeat_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def runnable_jobs(
    session: Session, now: datetime | None = None, *, stale_after: timedelta = STALE_AFTER
) -> list[int]:
    """Jobs a runner may take: pending ones, and running ones whose runner went quiet."""
    moment = now or datetime.now(UTC)
    return list(
        session.scalars(
            select(BulkJob.id)
            .where(
                or_(
                    BulkJob.state == JobState.PENDING,
                    (BulkJob.state == JobState.RUNNING) & _stale_before(moment, stale_after),
                )
            )
            .order_by(BulkJob.id)
        )
    )


def unfinished_jobs(session: Session) -> list[int]:
    """Jobs not done yet: pending, or running here or in another process (alive or not)."""
    return list(
        session.scalars(
            select(BulkJob.id)
            .where(BulkJob.state.in_((JobState.PENDING, JobState.RUNNING)))
            .order_by(BulkJob.id)
        )
    )


def run_job(
    host: JobHost,
    job_id: int,
    *,
    worker: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> bool:
    """Work job ``job_id`` off (module docstring). Returns False when another runner has it
    (or took it over meanwhile), True when the job is done.

    ``stop``: asked after every committed batch; when it says yes (the worker was asked to shut
    down), the job is handed back as ``pending`` so that any runner can continue it at once,
    without waiting for the stale threshold, and False is returned."""
    me = worker or worker_name()
    settings = host.settings
    size = batch_size or settings.batch_size
    with host.context():
        ctx = host.issuing_context()
        session = host.open_session()
        try:
            if not claim(session, job_id, me, stale_after=settings.stale_after):
                return False
            while True:
                if not _renew(session, job_id, me):
                    session.rollback()
                    job = session.get(BulkJob, job_id)
                    return job is not None and job.state is JobState.DONE
                job, done = _run_batch(host.log, session, ctx, job_id, me, size)
                if progress is not None:
                    progress(job)
                if done:
                    return True
                if stop is not None and stop():
                    release(session, job_id, me)
                    return False
        finally:
            session.close()


def _run_batch(
    log: logging.Logger,
    session: Session,
    ctx: IssuingContext,
    job_id: int,
    worker: str,
    size: int,
) -> tuple[BulkJob, bool]:
    """One batch in one transaction: the job row as committed and whether the job is done.

    A batch the database aborted only because of a concurrent transaction (a deadlock with
    another issuer drawing status indexes on PostgreSQL, SQLite's lock held past the busy
    timeout: ``is_transient_conflict``) left nothing behind and is run again, at most
    ``TRANSIENT_RETRIES`` times, after a short, growing pause. Any other error marks the job
    failed (it stays resumable) and is raised."""
    for attempt in range(TRANSIENT_RETRIES + 1):
        job = session.get(BulkJob, job_id, populate_existing=True)
        assert job is not None  # we hold it: the row exists
        try:
            done = bulk.process_batch(session, ctx, job, batch_size=size)
            session.commit()
        except Exception as error:
            session.rollback()
            if attempt < TRANSIENT_RETRIES and is_transient_conflict(error):
                log.warning(
                    "bulk job %s: batch aborted by a concurrent transaction, running it again: %s",
                    job_id,
                    getattr(error, "orig", error),
                )
                time.sleep(TRANSIENT_PAUSE_S * (attempt + 1))
                continue
            _fail(session, job_id, worker, error)
            raise
        return job, done
    raise AssertionError("unreachable: the last attempt returns or raises")


def release(session: Session, job_id: int, worker: str) -> bool:
    """Hand a job ``worker`` holds back as ``pending`` (a clean stop between batches); commits.
    Returns False when ``worker`` did not hold it."""
    result = session.execute(
        update(BulkJob)
        .where(
            BulkJob.id == job_id,
            BulkJob.worker == worker,
            BulkJob.state == JobState.RUNNING,
        )
        .values(state=JobState.PENDING, worker=None, heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


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


def work_off(
    host: JobHost,
    *,
    wait: bool = False,
    finished: Callable[[int], None] | None = None,
    poll_seconds: float | None = None,
) -> list[int]:
    """Run every runnable job in this process (``merkki jobs run``); returns the ids of the jobs
    it finished. With ``wait``, keep going until no job is pending or running anywhere: a job
    another process holds is waited for, and taken over once its heartbeat is stale (its
    process died)."""
    settings = host.settings
    poll = poll_seconds or min(1.0, settings.stale_after.total_seconds() / 4)
    me = worker_name()
    done: list[int] = []
    while True:
        session = host.open_session()
        try:
            job_ids = runnable_jobs(session, stale_after=settings.stale_after)
        finally:
            session.close()
        for job_id in job_ids:
            if run_job(host, job_id, worker=me):
                done.append(job_id)
                if finished is not None:
                    finished(job_id)
        if not wait:
            return done
        session = host.open_session()
        try:
            left = unfinished_jobs(session)
        finally:
            session.close()
        if not left:
            return done
        if not job_ids:
            time.sleep(poll)  # the jobs left are held by other processes: look again soon


class InlineRunner:
    """Runs the job to the end inside ``submit`` (tests, the CLI)."""

    def __init__(self, host: JobHost, progress: Progress | None = None) -> None:
        self.host = host
        self.progress = progress

    def submit(self, job_id: int) -> None:
        run_job(self.host, job_id, progress=self.progress)


class ThreadRunner:
    """One background thread per process works off submitted and resumable jobs, then stops
    (it is started again by the next submission). A daemon thread: a server that stops
    interrupts the job, which resumes on the next start."""

    def __init__(self, host: JobHost) -> None:
        self.host = host
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
        stale_after = self.host.settings.stale_after
        while True:
            with self.host.context():
                session = self.host.open_session()
                try:
                    job_ids = runnable_jobs(session, stale_after=stale_after)
                finally:
                    session.close()
            for job_id in job_ids:
                try:
                    run_job(self.host, job_id, worker=self.worker)
                except Exception:
                    self.host.log.exception("bulk job %s failed", job_id)
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def wait(self, timeout: float = 60.0) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
