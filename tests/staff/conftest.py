"""Fixtures of the staff UI tests."""

from __future__ import annotations

import pytest
from flask import Flask

from issuer.core.keys import KeyStore
from tests.staff.support import World, make_world


@pytest.fixture
def world(app: Flask, keystore: KeyStore) -> World:
    return make_world(app, keystore)
