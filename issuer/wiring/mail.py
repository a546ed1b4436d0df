"""Delivering an app's learner mail after the commit that queued it (``issuer.services.mail``).

The service only flags the session and calls the notifier installed here; this module knows the
app: its SMTP settings, its database, its context and its ``MAIL_DELIVERY`` mode ("thread",
the default: one sender thread per app; "sync": before ``commit()`` returns, for tests; "off":
mails wait for ``merkki`` or staff).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, has_app_context

from issuer.config import get_settings
from issuer.db import get_database
from issuer.services import mail

#: Flask config key: "thread" (default), "sync" or "off" (see the module docstring).
DELIVERY_CONFIG = "MAIL_DELIVERY"

_sender_lock = threading.Lock()
_sender_threads: dict[int, threading.Thread] = {}
_rerun: dict[int, bool] = {}


def init_app(app: Flask) -> None:
    """Deliver after commits: the mail belongs to the app whose context the commit ran in (a
    request, a command, a job); a commit outside any app context sends nothing."""
    mail.set_notifier(_notify_current_app)


def _notify_current_app() -> None:
    if has_app_context():
        notify(current_app._get_current_object())  # type: ignore[attr-defined]


def _deliver_with_app(app: Flask) -> int:
    settings = get_settings(app)
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            return mail.deliver_pending(session, settings.smtp_url, settings.base_url)
        finally:
            session.close()


def _sender_loop(app: Flask) -> None:
    key = id(app)
    while True:
        try:
            _deliver_with_app(app)
        except Exception:  # a sender must not die silently; the mails stay pending/failed
            app.logger.exception("mail delivery failed")
        with _sender_lock:
            if not _rerun.pop(key, False):
                _sender_threads.pop(key, None)
                return


def notify(app: Flask) -> None:
    """Mail was queued and committed: deliver it as ``MAIL_DELIVERY`` says."""
    if not get_settings(app).smtp_url:
        return
    mode = app.config.get(DELIVERY_CONFIG, "thread")
    if mode == "off":
        return
    if mode == "sync":
        _deliver_with_app(app)
        return
    key = id(app)
    with _sender_lock:
        if key in _sender_threads:
            _rerun[key] = True
            return
        # Not a daemon: a `merkki` command waits for its mails before the process exits.
        thread = threading.Thread(target=_sender_loop, args=(app,), name="merkki-mail")
        _sender_threads[key] = thread
        thread.start()


def wait_idle(app: Flask, timeout: float = 30.0) -> None:
    """Wait for this app's sender thread (tests, shutdown)."""
    with _sender_lock:
        thread = _sender_threads.get(id(app))
    if thread is not None:
        thread.join(timeout)
