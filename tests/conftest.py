from __future__ import annotations

from pathlib import Path

import pytest

from tests.spec_files import require_spec_dir


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    """``../shared/spec``; skips outside CI when absent, fails in CI."""
    return require_spec_dir()
