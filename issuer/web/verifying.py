"""Verification in a web request: the service's verification (``issuer.services.verification``)
handed what it needs from the app, namely the request's session, the configured base URL and the
app's guarded fetcher for other issuers' DID documents and status lists.

The page (``issuer.web.verify``) and ``POST /api/v1/verify`` both call these, so they verify
alike. The CLI builds its own fetcher (one verification per process); the warm-up verifies one
of our own credentials, which needs none.
"""

from __future__ import annotations

from flask import Flask, current_app

from issuer.config import get_settings
from issuer.core.safe_fetch import SafeFetcher
from issuer.db import get_session
from issuer.services import verification
from issuer.services.key_resolution import RemoteFetcher

REMOTE_FETCHER_EXTENSION = "issuer.remote_fetcher"


def remote_fetcher(app: Flask | None = None) -> RemoteFetcher:
    """The app's guarded fetcher for other issuers' DID documents and status lists (one per
    app, so its cache is shared by the requests); refuses everything when
    ``ISSUER_REMOTE_FETCH=off``.

    Tests replace it with ``app.extensions[REMOTE_FETCHER_EXTENSION] = ...``.
    """
    target = app if app is not None else current_app
    fetcher = target.extensions.get(REMOTE_FETCHER_EXTENSION)
    if fetcher is None:
        fetcher = SafeFetcher(enabled=get_settings(target).remote_fetch)
        target.extensions[REMOTE_FETCHER_EXTENSION] = fetcher
    assert callable(fetcher)
    return fetcher


def verify_stored_for_request(credential_id: str) -> verification.VerificationResult:
    """``verification.verify_stored`` in the current request: its session, base URL and
    guarded fetcher.

    Writes nothing and commits nothing (status lists are signed when they change, not when
    read); the request's session is rolled back when closed (``issuer.db.close_session``)."""
    return verification.verify_stored(
        get_session(), credential_id, base_url=get_settings().base_url, fetch=remote_fetcher()
    )


def verify_submission_for_request(data: bytes | str) -> verification.VerificationResult:
    """``verification.verify_submission`` in the current request (see
    ``verify_stored_for_request``)."""
    return verification.verify_submission(
        get_session(), data, base_url=get_settings().base_url, fetch=remote_fetcher()
    )
