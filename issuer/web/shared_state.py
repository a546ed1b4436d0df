"""Several app servers: what must be shared between them, checked at start-up.

``ISSUER_HOSTS`` tells the app how many app servers (hosts) run behind the load balancer; it is
1 by default and only used for these checks (docs/operations.md "Several app servers"). With
more than one, every piece of state that lives in one process or on one host breaks something
that a client of another host sees:

* rate-limit counters in ``memory://``: each host (and each gunicorn worker) counts on its
  own, so a client gets the limits once per process; ``ISSUER_RATE_LIMIT_STORAGE=redis://...``
  shares them;
* a random ``ISSUER_SECRET_KEY``: a session or a form token made on one host is refused by the
  others (every host needs the same key);
* an SQLite database: a file on one host, so every host would issue into a database of its own;
* bulk jobs without Redis (``ISSUER_JOB_RUNNER`` ``thread`` or ``inline``): a job runs only in
  the process that started it and stops with it, instead of on any host's RQ worker;
* the ``files`` key store (``ISSUER_KEY_STORE=files``): a key made on one host is a file in
  that host's keys folder, so the other hosts cannot sign with it (issue 16's report).

Each is a warning in the log, not a refusal to start: the operator may be moving a deployment
step by step. ``problems`` returns them for tests and for ``init_app``'s log lines.
"""

from __future__ import annotations

import logging

from flask import Flask

from issuer.config import ConfigError, get_settings
from issuer.services import jobs

__all__ = ["HOSTS_CONFIG", "configured_hosts", "init_app", "problems"]

log = logging.getLogger("issuer.web.shared_state")

#: Flask config key of ``ISSUER_HOSTS``.
HOSTS_CONFIG = "HOSTS"


def configured_hosts(app: Flask) -> int:
    """``ISSUER_HOSTS`` as a number of app servers (1 when unset)."""
    value = app.config.get(HOSTS_CONFIG)
    if value is None or value == "":
        return 1
    try:
        hosts = int(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"ISSUER_HOSTS must be a whole number of app servers, not {value!r}"
        ) from None
    if hosts < 1:
        raise ConfigError(f"ISSUER_HOSTS must be at least 1, not {hosts}")
    return hosts


def problems(app: Flask) -> list[str]:
    """What is kept per process or per host although ``ISSUER_HOSTS`` says several run."""
    hosts = configured_hosts(app)
    if hosts < 2:
        return []
    found: list[str] = []
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if app.config.get("RATELIMIT_ENABLED", True) and storage.startswith("memory://"):
        found.append(
            f"rate limits count in memory:// while ISSUER_HOSTS={hosts}: every host and worker "
            "counts on its own, so a client gets the limits once per process; set "
            "ISSUER_RATE_LIMIT_STORAGE=redis://... (the Redis every host shares)"
        )
    settings = get_settings(app)
    if settings.secret_key_is_random:
        found.append(
            f"ISSUER_SECRET_KEY is not set while ISSUER_HOSTS={hosts}: sessions and form tokens "
            "made on one host are refused by the others; give every host the same key"
        )
    if settings.database_url.startswith("sqlite"):
        found.append(
            f"the database is an SQLite file while ISSUER_HOSTS={hosts}: every host would use "
            "a database of its own; set ISSUER_DATABASE_URL to the shared PostgreSQL"
        )
    runner = jobs.load_job_settings(app.config).runner
    if runner != "rq":
        found.append(
            f"bulk jobs run in-process (ISSUER_JOB_RUNNER={runner}) while ISSUER_HOSTS={hosts}: "
            "a job stops with the process that started it; set ISSUER_REDIS_URL so that any "
            "host's worker can run and finish it"
        )
    if settings.key_store == "files":
        found.append(
            f"private keys are files in this host's ISSUER_KEYS_DIR (ISSUER_KEY_STORE=files) "
            f"while ISSUER_HOSTS={hosts}: a key made or rotated on one host cannot sign on the "
            "others; set ISSUER_KEY_STORE=database (after `merkki key migrate --to database`)"
        )
    return found


def init_app(app: Flask) -> None:
    """Log a warning for each of ``problems`` (after the rate limiter is configured)."""
    for problem in problems(app):
        log.warning("several app servers: %s", problem)
