"""Run the Alembic migrations from code (``merkki init``, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from issuer import paths


def alembic_config(database_url: str) -> Config:
    """Alembic configuration for ``database_url``, with the repository's ``migrations/``
    (located from the installed package, so the working directory does not matter)."""
    config = Config()
    config.set_main_option("script_location", str(paths.migrations_dir()))
    # ConfigParser interpolation treats "%" specially; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the database schema to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest revision the code knows."""
    config = alembic_config("sqlite://")
    return ScriptDirectory.from_config(config).get_current_head()


def downgrade(database_url: str, revision: str) -> None:
    """Step the schema back to ``revision`` (``"base"``: nothing)."""
    command.downgrade(alembic_config(database_url), revision)
