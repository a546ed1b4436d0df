"""The ``merkki`` command, one module per group of commands (``base``: the group and what the
commands share). Importing this package registers every command on ``main``."""

# Imported so that they register their commands.
from issuer.cli import (  # noqa: F401
    accounts,
    integrations,
    jobs,
    lti,
    oidc,
    publish,
    setup,
    status,
    wallet,
)
from issuer.cli.base import main

__all__ = ["main"]
