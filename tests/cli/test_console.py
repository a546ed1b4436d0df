"""``make run`` in miniature: the installed ``merkki`` script from another working directory,
then the real server (``flask --app wsgi run`` / ``gunicorn wsgi:app``) serving the demo DID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from issuer import paths

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(tmp_path: Path, port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
    environment.update(
        ISSUER_BASE_URL=f"http://127.0.0.1:{port}",
        ISSUER_DATABASE_URL=f"sqlite:///{tmp_path / 'merkki.sqlite3'}",
        ISSUER_KEYS_DIR=str(tmp_path / "keys"),
        # The files store: the test looks for the demo key's file.
        ISSUER_KEY_STORE="files",
        ISSUER_KEY_PASSPHRASE="console test passphrase",
        ISSUER_SECRET_KEY="console test secret",
    )
    return environment


def _merkki(environment: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "merkki"), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test server
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize(
    "server",
    [
        ["flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", "{port}"],
        ["gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
    ],
    ids=["flask-run", "gunicorn"],
)
def test_demo_did_document_is_served_after_ensure_demo(tmp_path: Path, server: list[str]) -> None:
    port = _free_port()
    environment = _environment(tmp_path, port)
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()

    _merkki(environment, elsewhere, "init")
    did = _merkki(environment, elsewhere, "institution", "ensure-demo").strip()
    assert did == f"did:web:127.0.0.1%3A{port}:issuers:demo"
    assert _merkki(environment, elsewhere, "institution", "ensure-demo").strip() == did
    assert (tmp_path / "merkki.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing depends on the working directory
    assert sum(1 for _ in (tmp_path / "keys").glob("demo-*.pem")) == 1

    command = [str(BIN / server[0]), *(part.format(port=port) for part in server[1:])]
    process = subprocess.Popen(
        command,
        cwd=paths.REPOSITORY_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = _get(f"http://127.0.0.1:{port}/issuers/demo/did.json", time.monotonic() + 30)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    document = json.loads(body)
    assert document["id"] == did
    [method] = document["verificationMethod"]
    assert method["controller"] == did
    assert document["assertionMethod"] == [f"{did}#{method['publicKeyMultibase']}"]
    assert b"Traceback" not in stderr
