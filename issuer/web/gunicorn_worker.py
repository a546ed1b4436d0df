"""The gunicorn worker class of ``gunicorn.conf.py`` when workers have more than one thread (the
default on PostgreSQL): gthread, with keep-alive connections that do not stay on one worker for
ever. (With one thread, the default on SQLite, the sync worker is used: it accepts only when
free, which balances by itself.)

gunicorn's workers share one listening socket and race to accept; a keep-alive connection
then stays with the worker that won it for as long as the client keeps it open. Whichever
worker happened to be polling when a client opened its pool gets all of it: wrk's 16
connections regularly landed 16/0 (one worker saturated, the other idle, half the machine's
throughput: 205 instead of ~500 verifications per second in the HTTP benchmark). An LMS or a
reverse proxy with a connection pool does the same in production.

Like nginx's ``keepalive_requests``, a connection is closed after ``KEEPALIVE_REQUESTS``
requests (the answer says ``Connection: close``, and the client opens a new one): the race is
run again, and a worker that is behind on its work is slower to win it, so connections drift
toward the less busy worker. Reconnecting costs a TCP handshake per hundred requests.
``reuse_port`` (kernel balancing) is the alternative with its own trade-off, see
``gunicorn.conf.py``.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

#: Requests served on one keep-alive connection before it is closed (nginx's default was 100
#: until 1.19.10, now 1000; lower re-balances sooner). ``GUNICORN_KEEPALIVE_REQUESTS``.
KEEPALIVE_REQUESTS = int(os.environ.get("GUNICORN_KEEPALIVE_REQUESTS", "100"))

_SERVED = "merkki_requests_served"


class BalancingThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gthread with ``KEEPALIVE_REQUESTS``."""

    def handle_request(self, req: Any, conn: Any) -> Any:
        served = getattr(conn, _SERVED, 0) + 1
        setattr(conn, _SERVED, served)
        if served >= KEEPALIVE_REQUESTS > 0:
            # gunicorn answers "Connection: close" and closes once the response is sent.
            req.must_close = True
        return super().handle_request(req, conn)
