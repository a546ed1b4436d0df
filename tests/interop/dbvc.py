"""Python side of the bridge to the Digital Bazaar JavaScript VC stack (``js/dbvc.mjs``).

``ensure_node_modules()`` installs the pinned JavaScript packages (``npm ci`` from the committed
lock file) when ``js/node_modules`` is missing or was installed from another lock file;
``run_js(request)`` sends one JSON request to ``dbvc.mjs`` and returns its JSON answer.

Every request gets ``contexts``: the URL -> absolute file map of the JSON-LD contexts Merkki
carries (``issuer.core.contexts.CONTEXT_FILES``), so both implementations canonicalize against
byte-identical context documents and the JavaScript side never needs the network.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import issuer.core
from issuer.core.contexts import CONTEXT_FILES

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "dbvc.mjs"
NODE_MODULES = JS_DIR / "node_modules"
# Written after a successful install: the hash of the package files it was installed from.
STAMP = NODE_MODULES / ".merkki-installed-from"
# Held while checking and installing: the test processes of a parallel run (pytest-xdist) each
# ask for the packages, and only one of them may run `npm ci` in the folder at a time.
INSTALL_LOCK = JS_DIR / ".install.lock"
CONTEXTS_DIR = Path(issuer.core.__file__).resolve().parent / "contexts"

NPM_TIMEOUT_S = 300
RUN_TIMEOUT_S = 60

#: The type of ``run_js`` (what the ``dbvc`` fixture gives a test).
RunJs = Callable[[dict[str, Any]], dict[str, Any]]


class JsError(RuntimeError):
    """``dbvc.mjs`` answered with an error (exit code 1); ``error`` is its description."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        self.error = dict(error)
        super().__init__(_flatten_messages(self.error))


def _flatten_messages(error: Mapping[str, Any]) -> str:
    parts = [f"{error.get('name')}: {error.get('message')}"]
    if error.get("code"):
        parts.append(f"({error['code']})")
    parts.extend(_flatten_messages(inner) for inner in error.get("errors") or [])
    return " | ".join(parts)


def error_text(answer: Mapping[str, Any]) -> str:
    """All messages of a verify answer's ``error``, for assertions and failure output."""
    error = answer.get("error")
    return _flatten_messages(error) if error else ""


def context_paths() -> dict[str, str]:
    """URL -> absolute path of every context document Merkki carries."""
    return {url: str(CONTEXTS_DIR / name) for url, name in CONTEXT_FILES.items()}


def _package_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = JS_DIR / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def _unavailable(reason: str) -> None:
    """Fail in CI (the interop tests are acceptance criteria there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the interop tests", pytrace=False)
    pytest.skip(reason)


def ensure_node_modules() -> None:
    """Install the pinned packages unless ``node_modules`` already matches the lock file."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node and npm are needed for the Digital Bazaar interop tests")
    # Released when the file is closed. The file stays (git-ignored): removing it would let a
    # process holding the old one and a process opening a new one both go ahead.
    with INSTALL_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install_node_modules()


def _install_node_modules() -> None:
    expected = _package_hash()
    if STAMP.exists() and STAMP.read_text("utf-8") == expected:
        return
    # ``npm ci`` installs exactly the committed lock file; ``npm install`` only bootstraps one.
    command = ["npm", "ci"] if (JS_DIR / "package-lock.json").exists() else ["npm", "install"]
    try:
        result = subprocess.run(
            # No package needs an install script; refusing them keeps the install inert.
            [*command, "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` in {JS_DIR} took over {NPM_TIMEOUT_S} s", pytrace=False)
    if result.returncode != 0:
        message = (
            f"`{' '.join(command)}` in {JS_DIR} failed (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    STAMP.write_text(_package_hash(), "utf-8")


def run_js(request: dict[str, Any]) -> dict[str, Any]:
    """Run one ``dbvc.mjs`` request; raise ``JsError`` when the script reports an error."""
    payload = {**request, "contexts": {**context_paths(), **request.get("contexts", {})}}
    result = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(payload, ensure_ascii=False),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(
            f"dbvc.mjs exit {result.returncode}, unreadable output {result.stdout[:500]!r}, "
            f"stderr: {result.stderr[-2000:]}"
        ) from error
    if result.returncode != 0:
        raise JsError(answer.get("error") or {"name": "Error", "message": result.stderr})
    return answer
