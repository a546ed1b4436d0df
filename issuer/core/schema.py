"""OB 3.0 JSON Schema validation (OB 3.0 §"Verification" step 1: conformance).

The service carries the official ``ob_v3p0_achievementcredential_schema.json`` (JSON Schema
2019-09); it is loaded once and its validator reused. Nothing is fetched: every ``$ref`` in the
schema is internal.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator

ACHIEVEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_endorsementcredential_schema.json"


@cache
def _validator(name: str) -> Draft201909Validator:
    text = resources.files("issuer.core").joinpath("schemas", name).read_text("utf-8")
    schema = json.loads(text)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def schema_errors(document: Any, name: str = ACHIEVEMENT_CREDENTIAL_SCHEMA) -> list[str]:
    """Readable messages (``path: problem``) for every schema violation, best first."""
    validator = _validator(name)
    messages = []
    for error in sorted(validator.iter_errors(document), key=lambda e: (len(e.path), str(e.path))):
        path = "/".join(str(p) for p in error.absolute_path) or "(credential)"
        messages.append(f"{path}: {error.message[:300]}")
    return messages
