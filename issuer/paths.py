"""Where the repository's own folders are, independent of the working directory.

The package is installed in editable mode (``pip install -e .``), so ``issuer/`` sits inside the
checkout and the repository root is its parent. The CLI, the migrations and the default
configuration find ``keys/``, ``badge_templates/`` and ``migrations/`` from here, which is what
lets ``merkki`` run from any directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY_ROOT = PACKAGE_DIR.parent
KEYS_DIR = REPOSITORY_ROOT / "keys"
BADGE_TEMPLATES_DIR = REPOSITORY_ROOT / "badge_templates"
MIGRATIONS_DIR = REPOSITORY_ROOT / "migrations"


def migrations_dir() -> Path:
    """The Alembic script directory; a clear error when the package is not run from a checkout."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise FileNotFoundError(
            f"Alembic migrations not found at {MIGRATIONS_DIR}; install Merkki from its "
            "repository with `pip install -e .`"
        )
    return MIGRATIONS_DIR
