"""The RQ job function (``rq worker`` and ``merkki jobs worker`` run it; ``jobs.JobHost``'s
``rq_function`` names it): the app factory handed to the job queue.

A plain ``rq worker`` has no app: the first job it runs creates one from the ``ISSUER_*``
environment with ``create_app``; ``merkki jobs worker`` has handed in its own app already
(``jobs_rq.run_worker``). Nothing imports this module but RQ, by the path: the factory brings
in the web layer, which the CLI and the services stay independent of.
"""

from __future__ import annotations

from issuer import create_app
from issuer.services import jobs, jobs_rq
from issuer.wiring.jobs import job_host


def host_from_environment() -> jobs.JobHost:
    """The app of this worker process, from the ``ISSUER_*`` environment."""
    return job_host(create_app())


def perform(job_id: int) -> bool:
    """Work bulk job ``job_id`` off (``jobs_rq.perform``)."""
    return jobs_rq.perform(job_id, host_from_environment)
