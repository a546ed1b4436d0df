"""Bulk jobs on an RQ queue (Redis), when ``ISSUER_REDIS_URL`` is set.

The database stays the single source of truth about jobs: the queue only carries job ids, so
nothing is lost when Redis or a worker is lost.

* ``RqRunner.submit`` (the web process) puts the job id on the queue ``merkki-jobs``. If Redis
  is unreachable the request still succeeds: the job is stored, ``pending``, and a warning is
  logged; a worker's sweep enqueues it once Redis answers again.
* The RQ job function is the app wiring's (``JobHost.rq_function``:
  ``issuer.wiring.worker.perform``), named by its import path: it holds the app factory, which
  no service imports. It calls ``perform`` here with that factory, which creates the app from
  the ``ISSUER_*`` environment (once per worker process; ``merkki jobs worker`` hands in its own
  app instead), and ``jobs.run_job`` claims the job in the database, so a job enqueued twice is
  still run once.
* ``run_worker`` (``merkki jobs worker``) runs an RQ worker on the queue plus a sweeper
  thread: every few seconds it enqueues the jobs the database says are runnable (pending, or
  running with a stale heartbeat: their worker died) and that are not on the queue. A worker
  killed mid-job is therefore finished by any worker started later, at most one stale
  threshold plus one sweep interval after it died.

The worker is RQ's ``SimpleWorker`` (``MerkkiWorker``): jobs run in the worker process itself,
with the app (keys, contexts, database engine) loaded once; a job's crash safety comes from the
database (one transaction per batch, heartbeat takeover), not from forking. SIGTERM stops the
worker after the current batch and hands the job back (``jobs.release``), re-enqueued for the
next worker.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from sqlalchemy.exc import SQLAlchemyError

from issuer.services import jobs

QUEUE_NAME = "merkki-jobs"
#: Prefix of RQ job ids; the bulk job id follows it (``merkki-bulk-<id>-<random>``).
RQ_JOB_PREFIX = "merkki-bulk-"
#: RQ must never kill a job for taking long: liveness is the job's heartbeat in the database.
NO_TIMEOUT = -1
#: How long RQ keeps finished and failed RQ job records (the job itself is in the database).
RESULT_TTL = 24 * 3600
#: A web request never waits long for an unreachable Redis.
CONNECT_TIMEOUT_SECONDS = 2.0
#: Longest pause between two sweeps (shorter when the stale threshold is short).
MAX_SWEEP_SECONDS = 30.0

#: The app jobs run in, in this worker process (``worker_host``).
_host: jobs.JobHost | None = None
_host_lock = threading.Lock()
#: Set when ``merkki jobs worker`` is asked to stop (SIGTERM, SIGINT): the running job is handed
#: back after its current batch instead of being worked to its end.
_stopping = threading.Event()


def redacted(url: str) -> str:
    """``url`` with any password hidden, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def connect(url: str, *, for_worker: bool = False) -> Redis:
    """A Redis client. The web side gets short timeouts; the worker none on reads, because RQ
    blocks on the queue for minutes at a time."""
    if for_worker:
        return Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=CONNECT_TIMEOUT_SECONDS * 2,
    )


def queue(connection: Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=connection)


def enqueue(connection: Redis, job_id: int, function: str) -> str:
    """Put bulk job ``job_id`` on the queue for the RQ job function at import path ``function``
    (``JobHost.rq_function``); returns the RQ job id. Raises ``RedisError``."""
    rq_job = queue(connection).enqueue_call(
        function,
        args=(job_id,),
        timeout=NO_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=RESULT_TTL,
        job_id=f"{RQ_JOB_PREFIX}{job_id}-{uuid.uuid4().hex[:12]}",
        description=f"merkki bulk job {job_id}",
    )
    return str(rq_job.id)


def queued_jobs(connection: Redis) -> set[int]:
    """The bulk job ids waiting on the queue."""
    found: set[int] = set()
    for rq_id in queue(connection).get_job_ids():
        if rq_id.startswith(RQ_JOB_PREFIX):
            number = rq_id[len(RQ_JOB_PREFIX) :].split("-", 1)[0]
            if number.isdigit():
                found.add(int(number))
    return found


def sweep(host: jobs.JobHost, connection: Redis) -> list[int]:
    """Enqueue every runnable job (pending, or abandoned by a dead worker) not already waiting
    on the queue; returns the ids enqueued. Raises ``RedisError`` or ``SQLAlchemyError``."""
    session = host.open_session()
    try:
        runnable = jobs.runnable_jobs(session, stale_after=host.settings.stale_after)
    finally:
        session.close()
    if not runnable:
        return []
    waiting = queued_jobs(connection)
    enqueued = [job_id for job_id in runnable if job_id not in waiting]
    for job_id in enqueued:
        enqueue(connection, job_id, host.rq_function)
    return enqueued


def sweep_quietly(host: jobs.JobHost, connection: Redis | None = None) -> list[int]:
    """``sweep``, logging instead of raising when Redis or the database is not there (yet)."""
    url = host.settings.redis_url
    if url is None:
        return []
    try:
        enqueued = sweep(host, connection or connect(url))
    except RedisError as error:
        host.log.warning(
            "bulk jobs: Redis at %s is unreachable (%s); unfinished jobs are enqueued later",
            redacted(url),
            error,
        )
        return []
    except SQLAlchemyError as error:  # not migrated yet, or the database is away for a moment
        host.log.warning("bulk jobs: cannot list unfinished jobs: %s", error)
        return []
    if enqueued:
        host.log.info("bulk jobs: enqueued unfinished job(s) %s", enqueued)
    return enqueued


class RqRunner:
    """Hands jobs to RQ workers (``merkki jobs worker``) through Redis."""

    def __init__(self, host: jobs.JobHost, url: str) -> None:
        self.host = host
        self.url = url
        self._connection: Redis | None = None

    def connection(self) -> Redis:
        if self._connection is None:
            self._connection = connect(self.url)
        return self._connection

    def submit(self, job_id: int) -> None:
        """Enqueue the job. Never raises for an unreachable Redis: the job is stored in the
        database as pending and a worker's sweep enqueues it later (module docstring)."""
        try:
            enqueue(self.connection(), job_id, self.host.rq_function)
        except RedisError as error:
            self.host.log.warning(
                "bulk job %s stays pending: Redis at %s is unreachable (%s); a job worker "
                "enqueues it when Redis answers again",
                job_id,
                redacted(self.url),
                error,
            )


# --- the worker side -------------------------------------------------------------------------


def worker_host(factory: Callable[[], jobs.JobHost]) -> jobs.JobHost:
    """The app jobs run in: the one ``run_worker`` was given, else the one ``factory`` makes
    from the ``ISSUER_*`` environment (a plain ``rq worker``), once per process."""
    global _host
    with _host_lock:
        if _host is None:
            _host = factory()
        return _host


def perform(job_id: int, factory: Callable[[], jobs.JobHost]) -> bool:
    """Work bulk job ``job_id`` off (``jobs.run_job``) for the RQ job function, which hands in
    the app ``factory`` (module docstring). Returns whether this call finished it (False:
    another runner holds it, it was done already, or this worker is stopping and handed it
    back, in which case it is put on the queue again for the next worker)."""
    host = worker_host(factory)
    done = jobs.run_job(host, job_id, stop=_stopping.is_set)
    if not done and _stopping.is_set():
        sweep_quietly(host)
    return done


#: How long the worker's command-channel thread waits for a message at a time (``subscribe``).
PUBSUB_POLL_SECONDS = 0.5


class MerkkiWorker(SimpleWorker):
    """RQ's ``SimpleWorker`` (no fork), whose warm shutdown (the first SIGTERM or SIGINT) also
    stops the running bulk job after its current batch, handing it back: a deploy does not
    wait for a whole cohort, and the next worker continues at once."""

    def request_stop(self, signum: Any, frame: Any) -> None:
        _stopping.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def subscribe(self) -> None:
        """RQ's subscription to the worker's command channel, read in a thread that waits at
        most ``PUBSUB_POLL_SECONDS`` for a message instead of RQ's 60 s. On shutdown RQ joins
        that thread for one second and then closes the connection it may still be reading: on
        a busy machine the thread missed that second and the close waited out the 60 s read, so
        a warm shutdown took a minute (seen in CI)."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_POLL_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )


class Sweeper:
    """A thread that calls ``sweep`` every ``interval`` seconds until stopped."""

    def __init__(self, host: jobs.JobHost, connection: Redis, interval: float) -> None:
        self.host = host
        self.connection = connection
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="merkki-jobs-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sweep_quietly(self.host, self.connection)
            except Exception:  # the sweeper must outlive any surprise; the worker goes on
                self.host.log.exception("bulk jobs: sweep failed")


def sweep_interval(host: jobs.JobHost) -> float:
    """Half the stale threshold, between 0.5 and ``MAX_SWEEP_SECONDS`` seconds."""
    stale = host.settings.stale_after.total_seconds()
    return max(0.5, min(MAX_SWEEP_SECONDS, stale / 2))


def run_worker(host: jobs.JobHost, *, burst: bool = False, **worker_options: Any) -> bool:
    """Run an RQ worker on the queue in this process until it is stopped (SIGTERM/SIGINT: the
    running job is handed back after its current batch, ``MerkkiWorker``), or, with ``burst``,
    until the queue is empty.
    Sweeps once before starting and then every ``sweep_interval`` seconds. Raises
    ``RedisError`` when Redis cannot be reached at start."""
    global _host
    url = host.settings.redis_url
    if url is None:
        raise ValueError("ISSUER_REDIS_URL is not set")
    connection = connect(url, for_worker=True)
    connection.ping()  # fail now, with the caller's clear message, if Redis is not there
    with _host_lock:
        _host = host
    sweep_quietly(host, connection)
    _stopping.clear()
    worker = MerkkiWorker([queue(connection)], connection=connection, **worker_options)
    sweeper = Sweeper(host, connection, sweep_interval(host))
    if not burst:
        sweeper.start()
    try:
        return bool(worker.work(burst=burst, with_scheduler=False))
    finally:
        if not burst:
            sweeper.stop()
