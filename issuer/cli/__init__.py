"""The ``merkki`` command, one module per group of commands (``base``: the group and what the
commands share). Importing this package registers every command on ``main``."""

from issuer.cli import accounts, integrations, jobs, setup, status  # noqa: F401 - they register
from issuer.cli.base import main

__all__ = ["main"]
