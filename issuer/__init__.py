"""Merkki, an Open Badges 3.0 issuing service.

``create_app`` is the app factory (Flask tutorial shape). Flask is imported inside it, not at
module level: ``import issuer.core`` runs this file first, and the engine must stay importable
without the web framework (DESIGN.md "Shape of the code").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the WSGI app.

    Configuration: ``issuer.config.defaults()``, then the ``ISSUER_*`` environment variables,
    or, when ``test_config`` is given, ``test_config`` instead of the environment (tests never
    pick up a developer's settings by accident).
    """
    from flask import Flask

    from issuer import api, config, db, errors, i18n, observability, public, ratelimit, security

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.defaults(app.instance_path))
    if test_config is None:
        app.config.from_mapping(config.from_environment(os.environ))
    else:
        app.config.from_mapping(test_config)
        app.testing = bool(test_config.get("TESTING", True))

    # The default SQLite database lives in the instance folder.
    os.makedirs(app.instance_path, exist_ok=True)

    config.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    observability.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    from issuer import staff_credentials, verify  # issue 5: verification pages, credentials UI

    app.register_blueprint(verify.bp)
    app.register_blueprint(staff_credentials.bp)
    from issuer import catalog, staff  # issue 3: staff UI, public catalogue

    app.register_blueprint(staff.bp)
    app.register_blueprint(catalog.bp)
    from issuer import learner, staff_issuing  # issue 4: learner pages, issuing UI, jobs

    learner.init_app(app)
    staff_issuing.init_app(app)
    from issuer import auth  # after the blueprints: it exempts the API ones from CSRF checks

    auth.init_app(app)
    return app
