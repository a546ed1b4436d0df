"""Structured logs, request ids and Prometheus metrics.

* Logs: with ``ISSUER_LOG_FORMAT=json`` (the default) every record is one JSON object per line
  (time, level, logger, message, request id, and the request's method/path/status/duration
  for access records) — what log shippers expect. ``text`` gives plain lines for development.
* Every response carries ``X-Request-ID`` (the caller's, if it sent a sane one, else a new one),
  and the id is in every log record written while serving that request.
* ``/metrics`` serves Prometheus metrics: request counts and latencies by endpoint and status,
  plus the service counters below. It answers only to a bearer token equal to
  ``ISSUER_METRICS_TOKEN``, or to loopback clients when no token is configured. Under gunicorn
  with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` so the workers' metrics are combined.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, abort, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

#: Path segments that are secrets: the token of a learner's manage link
#: (``/credentials/<id>/manage/<token>``), a wallet offer's interaction token
#: (``/wallet/<token>``) and its OpenID4VCI pre-authorized code (``/oid4vci/offers/<code>``).
#: Matched on the path itself, not on the route, so that a request no route accepts (wrong
#: method, extra segments) is redacted as well.
_SECRET_SEGMENT = re.compile(r"(/credentials/[^/]*/manage/|^/wallet/|^/oid4vci/offers/)[^/]+")
REDACTED = "[redacted]"

REQUESTS = Counter(
    "merkki_http_requests_total", "HTTP requests served", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "merkki_http_request_duration_seconds",
    "HTTP request duration",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CREDENTIALS_ISSUED = Counter("merkki_credentials_issued_total", "Credentials issued")
VERIFICATIONS = Counter("merkki_verifications_total", "Verifications run", ["verdict"])

access_log = logging.getLogger("merkki.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key in ("method", "path", "status", "duration_ms", "remote_addr"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


JsonFormatter.converter = time.gmtime


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger("merkki")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    issuer_logger = logging.getLogger("issuer")
    issuer_logger.handlers[:] = [handler]
    issuer_logger.setLevel(level)
    issuer_logger.propagate = False


def loggable_path(path: str | None = None) -> str:
    """``path`` (default: this request's) as it may be written to a log: secrets in it, such as
    a manage-link token, replaced by ``[redacted]``. Every log line naming a request path uses
    this; the query string is never logged."""
    if path is None:
        path = request.path if has_request_context() else ""
    return _SECRET_SEGMENT.sub(lambda match: match.group(1) + REDACTED, path)


def path_holds_secret(path: str) -> bool:
    return _SECRET_SEGMENT.search(path) is not None


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    started = g.get("request_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.endpoint or "unmatched"
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(duration)
    response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
    if endpoint != "observability.metrics":
        path = loggable_path()
        access_log.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
                "remote_addr": request.remote_addr,
            },
        )
    return response


def _metrics_allowed(token: str | None) -> bool:
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token)
    return request.remote_addr in ("127.0.0.1", "::1")


def metrics_response() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    fmt = str(app.config.get("LOG_FORMAT") or "json").strip().lower()
    if fmt not in ("json", "text"):
        raise ValueError("ISSUER_LOG_FORMAT must be json or text")
    configure_logging(str(app.config.get("LOG_LEVEL") or "INFO").upper(), fmt)
    # First of all before-request functions: a request refused up front (the 413 of
    # issuer.web.security, a rate limit) still gets its id, its timing and its access-log line.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    token = app.config.get("METRICS_TOKEN") or None

    def metrics() -> Response:
        if not _metrics_allowed(token):
            abort(404)
        return metrics_response()

    app.add_url_rule("/metrics", "observability.metrics", metrics, methods=["GET"])
