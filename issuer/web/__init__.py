"""The web layer: app-wide pieces (sign-in, errors, languages, security headers, rate limits,
logs and metrics, health, what several app servers must share) and one sub-package per area of
the site.

Dependencies run one way: this package uses services, models and the engine; nothing below it
imports it back (the import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Install the app-wide hooks, then the areas' blueprints."""
    from issuer.web import (
        api,
        auth,
        catalog,
        errors,
        i18n,
        learner,
        lti,
        observability,
        oid4vci,
        pages,
        public,
        ratelimit,
        security,
        shared_state,
        staff,
        vcapi,
        verify,
        wallet,
    )
    from issuer.web.staff import credentials, issuing

    errors.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    shared_state.init_app(app)
    observability.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(vcapi.bp)
    app.register_blueprint(oid4vci.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(credentials.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(wallet.bp)
    learner.init_app(app)
    issuing.init_app(app)
    lti.init_app(app)
    # Last: it exempts the API blueprints, registered above, from CSRF checks.
    auth.init_app(app)
