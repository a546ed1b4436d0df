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
from pyld import jsonld

from issuer.core.contexts import DocumentLoader, default_document_loader
from issuer.core.dataintegrity.caches import SourceKey
from issuer.core.lru import BoundedCache

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


#: Schema messages of documents that arrived as JSON text, by (``SourceKey.derive``, schema):
#: the verdict is a pure function of the text and the (built-in) schema.
SCHEMA_VERDICTS: BoundedCache[tuple[bytes, str], tuple[str, ...]] = BoundedCache(4096)


def url_contexts(context: Any) -> bool:
    """Is ``context`` context URLs only (no embedded context)?"""
    contexts = context if isinstance(context, list) else [context]
    return all(isinstance(c, str) for c in contexts)


def _is_plain(document: dict[str, Any]) -> bool:
    """Is the document written the usual way: context URLs only, and every key a term of them
    (no keywords, compact or absolute IRIs as keys, no embedded contexts)? Then its JSON shape
    is what the contexts say it means, and the JSON Schema can judge the JSON as it is."""
    if not url_contexts(document.get("@context")):
        return False
    stack: list[Any] = [v for k, v in document.items() if k != "@context"]
    if any(k != "@context" and (k[:1] == "@" or ":" in k) for k in document):
        return False
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "@context" and url_contexts(item):
                    # An embedded credential (an endorsement) carries its own context URLs.
                    continue
                if key[:1] == "@" or ":" in key:
                    return False
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return True


def _schema_document(credential: dict[str, Any], loader: DocumentLoader | None) -> Any:
    """The JSON the OB 3.0 JSON Schema judges. A credential written the usual way is judged
    as it is; any other spelling of the same signed data (aliases, keywords, IRIs as keys) is
    first compacted with its own context URLs (JSON-LD 1.1 §"Compaction"), so that two
    documents with the same signed graph get the same schema verdict."""
    if _is_plain(credential):
        return credential
    context = credential.get("@context")
    urls = [c for c in (context if isinstance(context, list) else [context]) if isinstance(c, str)]
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    compacted = jsonld.compact(
        unsecured,
        {"@context": urls},
        {"documentLoader": loader or default_document_loader, "base": None},
    )
    compacted["@context"] = urls
    if "proof" in credential:
        compacted["proof"] = credential["proof"]
    return compacted


def credential_schema_errors(
    credential: dict[str, Any],
    schema: str,
    source: SourceKey | None,
    loader: DocumentLoader | None,
) -> tuple[str, ...]:
    """The OB 3.0 JSON Schema's messages for ``credential`` (``schema``: which one), remembered
    by the source text when there is one."""
    if source is not None:
        key = (source.derive("schema"), schema)
        known = SCHEMA_VERDICTS.get(key)
        if known is not None:
            return known
    try:
        found = tuple(schema_errors(_schema_document(credential, loader), schema))
    except Exception as error:  # compaction of odd JSON-LD: reported, never raised
        found = (f"the credential could not be read for the schema check: {error}",)
    if source is not None:
        SCHEMA_VERDICTS.put((source.derive("schema"), schema), found)
    return found
