"""Python side of the bridge to the Digital Bazaar JavaScript VC stack (``js/dbvc.mjs``).

``ensure_node_modules()`` installs the pinned JavaScript packages (``npm ci`` from the committed
lock file, ``tests/npm_packages.py``) when ``js/node_modules`` is missing or was installed from
other package files; ``run_js(request)`` sends one JSON request to ``dbvc.mjs`` and returns its
JSON answer.

Every request gets ``contexts``: the URL -> absolute file map of the JSON-LD contexts Merkki
carries (``issuer.core.contexts.CONTEXT_FILES``), so both implementations canonicalize against
byte-identical context documents and the JavaScript side never needs the network.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import issuer.core
from issuer.core.contexts import CONTEXT_FILES
from tests import npm_packages

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "dbvc.mjs"
CONTEXTS_DIR = Path(issuer.core.__file__).resolve().parent / "contexts"

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


def ensure_node_modules() -> None:
    """Install the pinned packages unless ``node_modules`` already matches the lock file."""
    npm_packages.ensure_node_modules(JS_DIR, "the Digital Bazaar interop tests")


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
