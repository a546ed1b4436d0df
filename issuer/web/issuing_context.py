"""The issuing context of a web request (``issuer.services.issuing_context``), made from the
app's settings."""

from __future__ import annotations

import threading

from flask import current_app

from issuer.config import get_settings
from issuer.services.issuing_context import IssuingContext

#: Flask extension key: per-thread status-list knowledge kept across requests.
_KNOWN_LISTS = "issuer.issuing.known_lists"


def for_request() -> IssuingContext:
    """A fresh context for one web request, which keeps from this worker thread's earlier
    requests only what they learnt about the status lists (``IssuingContext.from_settings``,
    ``known_lists``). Per thread, because allocators change it in place."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    local = app.extensions.setdefault(_KNOWN_LISTS, threading.local())
    if not hasattr(local, "lists"):
        local.lists = {}
    return IssuingContext.from_settings(get_settings(app), known_lists=local.lists)
