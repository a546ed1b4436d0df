"""Warming a server process up before it forks its workers (gunicorn ``preload_app``).

A fresh process spends its first verifications compiling what every later one reuses: the
JSON-LD contexts of the fast canonicalization path, the OB 3.0 JSON Schema validator, the
verification page's templates and message catalogs, SQLAlchemy's statement cache. In a worker
that costs seconds of processor time on its first requests, and again whenever gunicorn
replaces a worker (``max_requests``). Done once in the master, before it forks, every worker
starts warm (the pages are shared copy-on-write) and a replaced worker is ready at once.

``warm_up`` verifies one stored credential (the QR target's code path) and renders its page in
each language, inside a request context but not as a request: no request hook runs (the jobs
runner's resume-on-first-request stays for the workers), no access log line or metric is
written, nothing is committed. A database without credentials warms less; a failure is
logged and never stops the server (the workers then warm up on their own, as before).
"""

from __future__ import annotations

import gc
import logging
import time

from flask import Flask, render_template
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import get_database, get_session
from issuer.models import Credential
from issuer.services import accounts, verification
from issuer.web.i18n import SUPPORTED_LANGUAGES
from issuer.web.verify.presentation import build_view

logger = logging.getLogger("issuer.web.warmup")


def warm_up(app: Flask) -> bool:
    """Verify one stored credential and render its page in every language, and make the sign-in
    dummy hash (``accounts.dummy_password_hash``); True when done.

    Leaves no database connection open (the pool is emptied: connections must not be shared
    with forked workers) and moves what the process holds now out of the garbage collector's
    reach (``gc.freeze``, as the ``gc`` documentation advises before forking), so the workers'
    collections do not walk, and copy, the shared pages.
    """
    started = time.perf_counter()
    done = False
    try:
        accounts.dummy_password_hash()  # sign-in with an unknown address: see its docstring
        done = _verify_one(app)
    except Exception:  # warming up is an optimization: never a reason not to serve
        logger.warning("warm-up failed; the workers will warm up on their own", exc_info=True)
    finally:
        get_database(app).engine.dispose()
        gc.collect()
        gc.freeze()
    if done:
        logger.info("warmed up in %.2f s", time.perf_counter() - started)
    return done


def _verify_one(app: Flask) -> bool:
    base_url = get_settings(app).base_url
    with app.app_context():
        session = get_session()
        credential_id = session.scalar(select(Credential.id).limit(1))
        if credential_id is None:
            return False
        result = verification.verify_stored(session, credential_id, base_url=base_url)
        session.rollback()  # it wrote nothing: end its read transaction
    for lang in SUPPORTED_LANGUAGES:
        with app.test_request_context(f"/verify/{credential_id}?lang={lang}"):
            render_template("verify/result.html", view=build_view(result, lang))
    return True


def forget_inherited_connections(app: Flask) -> None:
    """In a forked worker: drop the pool inherited from the master without closing its
    connections, which belong to the master (SQLAlchemy "Using Connection Pools with
    Multiprocessing or os.fork()")."""
    get_database(app).engine.dispose(close=False)
