"""Pinned npm packages for the tests that run JavaScript: the Digital Bazaar interop tests
(``tests/interop/js``) and the accessibility checker of the browser tests (``tests/browser/js``).

Each folder commits a ``package.json`` with exact versions and the ``package-lock.json`` npm
wrote for it; ``ensure_node_modules`` installs exactly that lock file (``npm ci``) when the
folder's ``node_modules`` is missing or was installed from other package files, so a test session
installs at most once. Where node or npm are missing, or the install fails, the tests skip,
except in CI (``CI`` set), where they fail: there they are acceptance criteria.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

NPM_TIMEOUT_S = 300
#: Written into ``node_modules`` after a successful install: the hash of the package files it
#: was installed from.
STAMP_NAME = ".merkki-installed-from"


def _package_hash(js_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = js_dir / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def unavailable(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run these tests", pytrace=False)
    pytest.skip(reason)


def ensure_node_modules(js_dir: Path, purpose: str) -> Path:
    """Install the pinned packages of ``js_dir`` unless its ``node_modules`` already matches the
    lock file; the ``node_modules`` folder. ``purpose`` names the tests in skip messages."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable(f"node and npm are needed for {purpose}")
    # Held while checking and installing: the test processes of a parallel run (pytest-xdist)
    # each ask for the packages, and only one of them may run `npm ci` in the folder at a time.
    # The lock file stays (git-ignored): removing it would let a process holding the old one and
    # a process opening a new one both go ahead. Released when the file is closed.
    with (js_dir / ".install.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(js_dir, purpose)


def _install(js_dir: Path, purpose: str) -> Path:
    node_modules = js_dir / "node_modules"
    stamp = node_modules / STAMP_NAME
    expected = _package_hash(js_dir)
    if stamp.exists() and stamp.read_text("utf-8") == expected:
        return node_modules
    # ``npm ci`` installs exactly the committed lock file; ``npm install`` only bootstraps one.
    command = ["npm", "ci"] if (js_dir / "package-lock.json").exists() else ["npm", "install"]
    try:
        result = subprocess.run(
            # No package needs an install script; refusing them keeps the install inert.
            [*command, "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=js_dir,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` in {js_dir} took over {NPM_TIMEOUT_S} s", pytrace=False)
    if result.returncode != 0:
        unavailable(
            f"`{' '.join(command)}` in {js_dir} failed (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    stamp.write_text(expected, "utf-8")
    return node_modules
