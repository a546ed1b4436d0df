"""An app's bulk jobs (``issuer.services.jobs``): what the runners need of the app, its runner,
and the resumption of unfinished jobs when a web process serves its first request.

The web layer submits jobs through ``runner(app)``; the CLI runs them with ``job_host(app)``.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from issuer.config import get_settings
from issuer.db import get_database
from issuer.services import jobs, jobs_rq
from issuer.services.issuing_context import IssuingContext

#: The RQ job function, by import path (``issuer/wiring/worker.py``): it holds the app factory,
#: which the CLI (which imports this module) must not import, so it is named, not imported.
RQ_FUNCTION = "issuer.wiring.worker.perform"
_HOST = "issuer.jobs.host"
_RUNNER = "issuer.jobs"


def job_host(app: Flask) -> jobs.JobHost:
    """What running ``app``'s jobs needs of it; the job settings are checked on the first call
    (``init_app``: when the app is created)."""
    found = app.extensions.get(_HOST)
    if not isinstance(found, jobs.JobHost):
        found = jobs.JobHost(
            settings=jobs.load_job_settings(app.config),
            open_session=get_database(app).sessionmaker,
            context=app.app_context,
            issuing_context=lambda: IssuingContext.from_settings(get_settings(app)),
            log=app.logger,
            rq_function=RQ_FUNCTION,
        )
        app.extensions[_HOST] = found
    return found


def runner(app: Flask) -> jobs.Runner:
    """The app's runner (``ISSUER_JOB_RUNNER``: ``thread``, ``inline`` or ``rq``)."""
    found: jobs.Runner | None = app.extensions.get(_RUNNER)
    if found is None:
        host = job_host(app)
        if host.settings.runner == "inline":
            found = jobs.InlineRunner(host)
        elif host.settings.runner == "rq":
            assert host.settings.redis_url is not None  # load_job_settings refuses rq without it
            found = jobs_rq.RqRunner(host, host.settings.redis_url)
        else:
            found = jobs.ThreadRunner(host)
        app.extensions[_RUNNER] = found
    return found


def init_app(app: Flask) -> None:
    """Check the job settings now (a bad value stops start-up with a clear message), and
    resume or re-enqueue unfinished jobs when the process serves its first request."""
    host = job_host(app)
    settings = host.settings
    state = {"checked": False}

    @app.before_request
    def _resume_jobs() -> None:
        if state["checked"]:
            return
        state["checked"] = True
        if settings.runner == "inline":
            return
        if settings.runner == "rq":
            jobs_rq.sweep_quietly(host)
            return
        session = host.open_session()
        try:
            pending = jobs.runnable_jobs(session, stale_after=settings.stale_after)
        except SQLAlchemyError:  # not migrated yet
            pending = []
        finally:
            session.close()
        if pending:
            runner(app).submit(pending[0])
