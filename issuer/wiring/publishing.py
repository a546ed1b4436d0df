"""Where an app's status lists are published: every session the app makes carries its base URL
and key store (``issuer.services.status_publishing.PUBLISHER``), so that status lists changed in
a transaction are signed before it commits without the service reading the app's settings."""

from __future__ import annotations

import functools

from flask import Flask

from issuer.config import get_settings
from issuer.core.keys import SigningKeyStore
from issuer.db import get_database
from issuer.services import keys
from issuer.services.status_publishing import PUBLISHER


def init_app(app: Flask) -> None:
    """Give the app's sessions their publisher (made on first use: the key store reads files)."""

    @functools.cache
    def publisher() -> tuple[str, SigningKeyStore]:
        settings = get_settings(app)
        return settings.base_url, keys.keystore_for(settings)

    get_database(app).sessionmaker.configure(info={PUBLISHER: publisher})
