"""Access to the official specification files in ``../shared/spec`` (read in place, never copied).

Tests that need them take the ``spec_dir`` fixture. Where the folder is absent (a clone outside
the workplace) they skip with a clear reason; when the ``CI`` environment variable is set they
fail instead, so CI can never skip them silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SPEC_DIR = Path(
    os.environ.get(
        "MERKKI_SHARED_SPEC", Path(__file__).resolve().parents[1] / ".." / "shared" / "spec"
    )
).resolve()


def require_spec_dir() -> Path:
    if SPEC_DIR.is_dir():
        return SPEC_DIR
    reason = (
        f"official spec files not found at {SPEC_DIR} "
        "(expected ../shared/spec beside the repository)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must not skip these tests", pytrace=False)
    pytest.skip(reason)


def load_json(relative: str) -> Any:
    return json.loads((require_spec_dir() / relative).read_text("utf-8"))


def read_text(relative: str) -> str:
    return (require_spec_dir() / relative).read_text("utf-8")


def example_contexts() -> dict[str, Any]:
    """Contexts the W3C vectors use that the product does not carry (examples, undefined-terms)."""
    base = require_spec_dir() / "contexts"
    return {
        "https://www.w3.org/ns/credentials/examples/v2": json.loads(
            (base / "credentials-examples-v2.jsonld").read_text("utf-8")
        ),
        "https://www.w3.org/ns/credentials/undefined-terms/v2": json.loads(
            (base / "credentials-undefined-terms-v2.jsonld").read_text("utf-8")
        ),
    }
