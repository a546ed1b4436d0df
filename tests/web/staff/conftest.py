"""Fixtures of the staff UI tests."""

from __future__ import annotations

import pytest
from flask import Flask

from issuer.core.keys import KeyStore
from tests.snapshots import restore_or_build
from tests.web.staff.support import World, fast_password_hashing, make_world


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    app: Flask,
    keystore: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    fast_password_hashing(monkeypatch)
    return restore_or_build(request, app, "make_world", lambda: make_world(app, keystore))
