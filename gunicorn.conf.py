"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden on the command line or with GUNICORN_* / WEB_CONCURRENCY
environment variables. Kept deliberately small; see the README's operations guide.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Signing is CPU-bound: one worker per core; threads let a worker overlap database waits.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
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

# Prometheus metrics from several worker processes are combined through a shared folder.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _metrics_dir = tempfile.mkdtemp(prefix="merkki-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_exit(server: Any) -> None:
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
