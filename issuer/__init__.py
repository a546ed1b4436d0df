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

    from issuer import config, db, web, wiring

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
    web.init_app(app)
    wiring.init_app(app)
    return app
