"""The app's wiring: what connects the services to the app that runs them, for the web layer
and the CLI alike (both create the app with ``issuer.create_app``, which calls ``init_app``).

The services never see the app; here it is turned into what they take: the job runners' host
and runner (``jobs``), the notifier that delivers mail after a commit (``mail``), where status
lists are published (``publishing``), and the RQ job function that holds the app factory
(``worker``, named by its path, never imported).
"""

from __future__ import annotations

from flask import Flask

from issuer.wiring import jobs, mail, publishing


def init_app(app: Flask) -> None:
    """Check the job settings, resume unfinished jobs on the first request, and deliver mail
    after the commits that queue it."""
    jobs.init_app(app)
    mail.init_app(app)
    publishing.init_app(app)
