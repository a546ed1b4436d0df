"""OB 3.0 JSON Schema validation (OB 3.0 §"Verification" step 1: conformance).

The service carries the official ``ob_v3p0_achievementcredential_schema.json`` (JSON Schema
2019-09); it is compiled once and its validator reused. Nothing is fetched: every ``$ref`` in the
schema is internal.

Validation runs in ``jsonschema-rs`` (a compiled 2019-09 validator, about 400 times faster than
the pure-Python ``jsonschema`` on an OB 3.0 credential, which made the schema check 84 % of a
verification). It reports the same problems at the same paths (tests/core/test_schema.py compares
both on every credential in the spec files and on mutated ones). A document ``jsonschema-rs``
cannot take in (a Python object that is not JSON data, such as a non-string key) is validated by
the pure-Python ``jsonschema`` instead, so odd input is judged, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft201909Validator

ACHIEVEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_endorsementcredential_schema.json"

#: Longest problem text kept per message (a message quotes the offending value).
MAX_MESSAGE_CHARS = 300


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("issuer.core").joinpath("schemas", name).read_text("utf-8")
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


@cache
def _validator(name: str) -> jsonschema_rs.Draft201909Validator:
    # The carried schemas are checked against the 2019-09 meta-schema by the tests
    # (tests/core/test_schema.py), not on every process's first verification.
    return jsonschema_rs.Draft201909Validator(_schema(name))


@cache
def _reference_validator(name: str) -> Draft201909Validator:
    return Draft201909Validator(_schema(name))


def _messages(problems: Iterable[tuple[Sequence[str | int], str]]) -> list[str]:
    """``path: problem`` lines, shallowest path first (then by path and text, so the first
    message, the one a report shows, does not depend on the validator's walk order)."""
    ordered = sorted(problems, key=lambda p: (len(p[0]), [str(s) for s in p[0]], p[1]))
    return [
        f"{'/'.join(str(s) for s in path) or '(credential)'}: {message[:MAX_MESSAGE_CHARS]}"
        for path, message in ordered
    ]


def reference_schema_errors(document: Any, name: str = ACHIEVEMENT_CREDENTIAL_SCHEMA) -> list[str]:
    """The same as ``schema_errors``, by the pure-Python ``jsonschema`` (the fallback, and what
    the tests compare the compiled validator with)."""
    validator = _reference_validator(name)
    return _messages((list(e.absolute_path), e.message) for e in validator.iter_errors(document))


def schema_errors(document: Any, name: str = ACHIEVEMENT_CREDENTIAL_SCHEMA) -> list[str]:
    """Readable messages (``path: problem``) for every schema violation, best first."""
    validator = _validator(name)
    try:
        if validator.is_valid(document):
            return []
        problems = [(list(e.instance_path), e.message) for e in validator.iter_errors(document)]
    except (ValueError, TypeError, OverflowError, RecursionError):
        # Not JSON data jsonschema-rs can take in: the pure-Python validator judges it.
        return reference_schema_errors(document, name)
    return _messages(problems)
