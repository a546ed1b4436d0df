"""Rate limits (Flask-Limiter): sign-in, API token use and the public verification endpoints.

Limits are per client address (see ``ISSUER_PROXY_FIX`` behind a reverse proxy) and, for the
API, per bearer token. Counters live in ``ISSUER_RATE_LIMIT_STORAGE``: ``memory://`` by default
(per process: with N gunicorn workers a client gets up to N times the limit), or a shared
``redis://host:6379`` store. ``ISSUER_RATE_LIMITS=off`` switches every limit off (load tests).

Blueprints use the decorators below; the limit strings come from the configuration, so an
operator can tune them without code changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_LIMITS = {
    "RATE_LIMIT_LOGIN": "10 per minute; 50 per hour",
    "RATE_LIMIT_VERIFY": "120 per minute",
    "RATE_LIMIT_API": "3000 per minute",
}

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def _config_limit(key: str) -> Callable[[], str]:
    def value() -> str:
        return str(current_app.config.get(key) or DEFAULT_LIMITS[key])

    return value


def _token_or_address() -> str:
    integration = request.headers.get("Merkki-Integration", "")
    if integration:
        # A signed webhook call (``issuer.web.api.completions``): per integration.
        return "integration:" + hashlib.sha256(integration.strip().encode()).hexdigest()[:32]
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        # Key by a digest, never by the token itself (keys may end up in a shared store).
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "ip:" + get_remote_address()


def limit_login(view: F) -> F:
    """Sign-in attempts per client address (counted on POST only): slows password guessing
    against one account and credential stuffing across many."""
    decorated = limiter.limit(
        _config_limit("RATE_LIMIT_LOGIN"), methods=["POST"], error_message="too many attempts"
    )(view)
    return cast(F, decorated)


def limit_verify(view: F) -> F:
    """Public verification (page, upload, API) per client address."""
    return cast(F, limiter.limit(_config_limit("RATE_LIMIT_VERIFY"))(view))


def limit_api(view: F) -> F:
    """Authenticated API use per bearer token or integration (or address when there is
    none)."""
    decorated = limiter.limit(_config_limit("RATE_LIMIT_API"), key_func=_token_or_address)(view)
    return cast(F, decorated)


def init_app(app: Flask) -> None:
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config.get("RATE_LIMIT_STORAGE") or "memory://"
    )
    enabled = str(app.config.get("RATE_LIMITS", "on")).strip().lower()
    if enabled not in ("on", "off"):
        raise ValueError("ISSUER_RATE_LIMITS must be on or off")
    app.config["RATELIMIT_ENABLED"] = enabled == "on"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    if app.testing:
        # One limiter serves the process; tests create many apps, each starting from zero.
        limiter.reset()
