"""Fixtures of the staff UI tests."""

from __future__ import annotations

import pytest
from flask import Flask

from issuer.core.keys import KeyStore
from tests.web.staff.support import World, fast_password_hashing, make_world


@pytest.fixture
def world(app: Flask, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch) -> World:
    fast_password_hashing(monkeypatch)
    return make_world(app, keystore)
