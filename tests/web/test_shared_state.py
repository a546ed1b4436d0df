"""Start-up warnings about per-host state when ``ISSUER_HOSTS`` says several app servers run
(issuer/web/shared_state.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from issuer import create_app
from issuer.config import ConfigError
from issuer.db import dispose
from issuer.web import shared_state
from tests.conftest import PASSPHRASE

SHARED_DATABASE = "postgresql+psycopg://merkki@127.0.0.1:1/merkki"


def config(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    """Everything shared, as an operator of several hosts sets it; ``changes`` on top."""
    base: dict[str, Any] = {
        # Not TESTING: a test app resets the rate limiter's store, which would connect to Redis.
        "TESTING": False,
        "DATABASE_URL": SHARED_DATABASE,
        "KEYS_DIR": tmp_path / "keys",
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "the same on every host",
        "RATE_LIMIT_STORAGE": "redis://127.0.0.1:1/0",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "HOSTS": "3",
    }
    return {**base, **changes}


def warnings(caplog: pytest.LogCaptureFixture, settings: dict[str, Any]) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="issuer.web.shared_state"):
        app = create_app(settings)
    dispose(app)
    return [r.getMessage() for r in caplog.records if r.name == "issuer.web.shared_state"]


def test_nothing_is_said_when_everything_is_shared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert warnings(caplog, config(tmp_path)) == []


def test_memory_rate_limits_with_several_hosts_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    said = warnings(caplog, config(tmp_path, RATE_LIMIT_STORAGE=None))
    assert len(said) == 1
    assert "memory://" in said[0]
    assert "ISSUER_HOSTS=3" in said[0]
    assert "ISSUER_RATE_LIMIT_STORAGE" in said[0]
    # One host (the default), or rate limits switched off: nothing to share.
    assert warnings(caplog, config(tmp_path, RATE_LIMIT_STORAGE=None, HOSTS=None)) == []
    assert warnings(caplog, config(tmp_path, RATE_LIMIT_STORAGE=None, RATE_LIMITS="off")) == []


def test_every_per_host_piece_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    said = warnings(
        caplog,
        config(
            tmp_path,
            RATE_LIMIT_STORAGE=None,
            SECRET_KEY=None,
            DATABASE_URL=f"sqlite:///{tmp_path / 'one-host.sqlite3'}",
            REDIS_URL=None,
            HOSTS="2",
        ),
    )
    joined = "\n".join(said)
    assert len(said) == 4
    for variable in (
        "ISSUER_RATE_LIMIT_STORAGE",
        "ISSUER_SECRET_KEY",
        "ISSUER_DATABASE_URL",
        "ISSUER_REDIS_URL",
    ):
        assert variable in joined
    assert "the same on every host" not in joined


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_number_of_hosts_stops_the_start(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="ISSUER_HOSTS"):
        create_app(config(tmp_path, HOSTS=value))


def test_configured_hosts_defaults_to_one(tmp_path: Path) -> None:
    app = create_app(config(tmp_path, HOSTS=""))
    try:
        assert shared_state.configured_hosts(app) == 1
        assert shared_state.problems(app) == []
    finally:
        dispose(app)


def test_the_files_key_store_with_several_hosts_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    said = warnings(caplog, config(tmp_path, KEY_STORE="files"))
    assert len(said) == 1
    assert "ISSUER_KEY_STORE=database" in said[0]
    assert "merkki key migrate --to database" in said[0]
    assert warnings(caplog, config(tmp_path, KEY_STORE="files", HOSTS=None)) == []
    assert warnings(caplog, config(tmp_path, KEY_STORE="database")) == []
