"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden on the command line or with GUNICORN_* / WEB_CONCURRENCY
environment variables. Kept deliberately small; see the README's operations guide.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Signing is CPU-bound: one worker per core.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
_embedded_database = os.environ.get("ISSUER_DATABASE_URL", "sqlite").startswith("sqlite")
# On the embedded SQLite there is no database server to wait for: a worker serves one request
# at a time with gunicorn's sync worker, which takes a connection from the shared listening
# socket only when it is free, so requests always go to an idle worker (no keep-alive: behind
# the reverse proxy each request is a connection of its own anyway, nginx's default upstream
# is HTTP/1.0). With gthread, a worker also accepts while busy and keeps the connection:
# requests queue behind a busy worker while the other idles (measured on 2 cores, GET
# /verify/<id> at 16 connections, runs alternated: gthread 518 and 593 req/s, p99 60 and 45
# ms; sync 631 and 808 req/s, p99 36 and 32 ms; 2026-11-23).
# On PostgreSQL a second thread overlaps a worker's waits on the database server; there the
# gthread worker of issuer.web.gunicorn_worker closes a keep-alive connection after
# GUNICORN_KEEPALIVE_REQUESTS (100) requests so that connections do not all stay on the worker
# that accepted them. (Two threads on SQLite only took turns on the GIL: 628 -> 670 and
# 332 -> 413 req/s with one.) GUNICORN_THREADS overrides; more than one means gthread.
threads = int(os.environ.get("GUNICORN_THREADS", "1" if _embedded_database else "2"))
worker_class = "sync" if threads == 1 else "issuer.web.gunicorn_worker.BalancingThreadWorker"
# Not on by default: SO_REUSEPORT (``--reuse-port``, e.g. GUNICORN_CMD_ARGS="--reuse-port").
# With it each worker listens on a socket of its own (gunicorn >= 23 opens it in the worker)
# and the kernel spreads connections over the workers by address hash: wrk's 16 keep-alive
# connections split 50/50 instead of often all landing on one worker, and GET /verify/<id>
# went from ~180 to 442 req/s (2026-11-23). But a worker restarting (max_requests) resets the
# connections queued on its own socket: 3-11 errors per benchmark run with restarts, where
# the shared socket has none (Linux can hand them over with net.ipv4.tcp_migrate_req=1).
# Unix-socket binds and inherited sockets always keep the shared socket (``on_starting``).
reuse_port = False
# The app is loaded and warmed up once in the master, then forked (``when_ready``,
# ``issuer.web.warmup``): a worker starts ready, also when it replaces one (max_requests), instead
# of spending seconds of processor time compiling contexts, schema and templates on its first
# requests while the other worker takes over every connection opened meanwhile (keep-alive
# connections then stay there). Code changes need a restart, not a HUP.
preload_app = True
timeout = 60
graceful_timeout = 30
keepalive = 5
# Restart workers now and then so a slow leak can never grow without bound.
max_requests = 20000
max_requests_jitter = 2000
# Behind a reverse proxy (set ISSUER_PROXY_FIX too): trust the proxy on this host only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access logs come from the app itself (structured, with request ids).
accesslog = None
errorlog = "-"

# Prometheus metrics from several worker processes are combined through a shared folder
# (prometheus_client's multiprocess mode: the folder must exist before the app imports the
# client, and be emptied between runs, or the files of processes from an earlier run are counted
# again). Without PROMETHEUS_MULTIPROC_DIR a temporary folder is made and removed at exit; an
# operator's folder is created when missing and emptied once when the master starts (this file
# is read again on a HUP reload, which must not drop the running workers' files), never removed.
_OWN_METRICS_DIR = "MERKKI_GUNICORN_OWN_METRICS_DIR"
_METRICS_PREPARED_BY = "MERKKI_GUNICORN_METRICS_PREPARED_BY"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="merkki-metrics-")
    os.environ[_OWN_METRICS_DIR] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
elif os.environ.get(_METRICS_PREPARED_BY) != str(os.getpid()):
    _metrics = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    _metrics.mkdir(parents=True, exist_ok=True)
    for _stale in _metrics.glob("*.db"):
        _stale.unlink(missing_ok=True)
os.environ[_METRICS_PREPARED_BY] = str(os.getpid())


def on_starting(server: Any) -> None:
    # Runs before the listening sockets are made, with --bind from the command line applied. A
    # unix socket file cannot be bound once per worker, and sockets handed over by systemd or
    # a re-executed master must be used as they are: those keep one shared socket.
    inherited = "LISTEN_FDS" in os.environ or "GUNICORN_FD" in os.environ
    if inherited or any(address.startswith(("unix:", "fd://")) for address in server.cfg.bind):
        server.cfg.set("reuse_port", False)


def on_exit(server: Any) -> None:
    own = os.environ.get(_OWN_METRICS_DIR)
    if own and own == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(own, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def when_ready(server: Any) -> None:
    # Runs in the master after the app was loaded (preload_app) and before any worker forks.
    from issuer.web.warmup import warm_up

    warm_up(server.app.wsgi())


def post_fork(server: Any, worker: Any) -> None:
    from issuer.web.warmup import forget_inherited_connections

    forget_inherited_connections(server.app.wsgi())
