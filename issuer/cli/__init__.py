"""The ``merkki`` command, one module per group of commands (``base``: the group and what the
commands share). Importing this package registers every command on ``main``."""

# Imported so that they register their commands.
from issuer.cli import accounts, integrations, jobs, lti, publish, setup, status  # noqa: F401
from issuer.cli.base import main

__all__ = ["main"]
