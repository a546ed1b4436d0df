"""Fixtures for the Digital Bazaar interop tests (see ``dbvc.py`` and ``js/dbvc.mjs``)."""

from __future__ import annotations

import pytest

from tests.interop.dbvc import RunJs, ensure_node_modules, run_js


@pytest.fixture(scope="session")
def dbvc() -> RunJs:
    """``run_js`` once the pinned JavaScript packages are installed.

    Installs with ``npm ci`` when ``node_modules`` is missing or stale; fails in CI and skips
    elsewhere when node/npm are absent or the install fails."""
    ensure_node_modules()
    return run_js
