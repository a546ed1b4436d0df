"""The compiled schema validator (jsonschema-rs) names the same problems at the same paths as the
pure-Python ``jsonschema`` it replaced, on every credential in the spec files and on mutated
copies of one, and odd input never crashes it."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from issuer.core.schema import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA,
    ENDORSEMENT_CREDENTIAL_SCHEMA,
    _schema,
    reference_schema_errors,
    schema_errors,
)
from tests.spec_files import load_json, require_spec_dir

SIMPLE = "samples/1edtech-validator-ob30/simple.json"
SCHEMAS = (ACHIEVEMENT_CREDENTIAL_SCHEMA, ENDORSEMENT_CREDENTIAL_SCHEMA)
REQUIRED = re.compile(r"""^["'](.+)["'] is a required property$""")


def _problems(messages: list[str]) -> Counter[tuple[str, str]]:
    """(path, kind of problem) of each message: a missing property is named by its name, other
    problems by the path alone (the two libraries quote the offending value differently)."""
    found: Counter[tuple[str, str]] = Counter()
    for message in messages:
        path, _, problem = message.partition(": ")
        missing = REQUIRED.match(problem)
        found[(path, f"missing {missing.group(1)}" if missing else "invalid")] += 1
    return found


def _spec_credentials() -> list[str]:
    base = require_spec_dir()
    names = []
    for path in sorted(base.rglob("*.json")):
        try:
            document = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(document, dict) and "credentialSubject" in document:
            names.append(str(path.relative_to(base)))
    return names


@pytest.mark.parametrize("schema", SCHEMAS)
def test_same_problems_as_jsonschema_on_every_spec_credential(schema: str) -> None:
    names = _spec_credentials()
    assert len(names) > 50
    invalid = 0
    for name in names:
        document = load_json(name)
        fast = schema_errors(document, schema)
        assert _problems(fast) == _problems(reference_schema_errors(document, schema)), name
        invalid += bool(fast)
    assert invalid > 10  # the comparison covers failures, not only passes


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    if path:
        yield path


def _replace(document: Any, path: tuple[str | int, ...], new: Any) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    if new is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return changed


_DELETE = object()


def test_same_problems_as_jsonschema_on_mutated_credentials() -> None:
    """Every node of a valid credential deleted, or replaced by a number, null, an empty list,
    an empty object or a bad date: the same problems at the same paths."""
    document = load_json(SIMPLE)
    assert schema_errors(document) == []
    compared = failing = 0
    for path in _leaves(document):
        for new in (_DELETE, 7, None, [], {}, "not-a-date"):
            changed = _replace(document, path, new)
            fast = schema_errors(changed)
            assert _problems(fast) == _problems(reference_schema_errors(changed)), (path, new)
            compared += 1
            failing += bool(fast)
    assert compared > 100
    assert failing > 50


def test_messages_name_path_and_problem() -> None:
    document = load_json(SIMPLE)
    del document["credentialSubject"]["achievement"]
    document["issuer"] = 5
    errors = schema_errors(document)
    assert errors[0] == 'credentialSubject: "achievement" is a required property'
    assert any(e.startswith("issuer: 5 ") for e in errors)
    missing = copy.deepcopy(load_json(SIMPLE))
    del missing["issuer"]
    assert schema_errors(missing)[0] == '(credential): "issuer" is a required property'


def test_odd_values_are_judged_not_crashed() -> None:
    document = load_json(SIMPLE)
    huge = _replace(document, ("name",), 10**40)
    assert [e.split(":")[0] for e in schema_errors(huge)] == ["name"]
    nested: list[Any] = []
    cursor = nested
    for _ in range(5000):
        cursor.append([])
        cursor = cursor[0]
    assert schema_errors(_replace(document, ("credentialSubject", "extra"), nested)) == []
    # Not JSON data (a non-string key): the pure-Python validator judges it.
    odd = _replace(document, ("credentialSubject",), {1: 2})
    assert _problems(schema_errors(odd)) == _problems(reference_schema_errors(odd))
    assert schema_errors(odd)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_carried_schemas_are_valid_2019_09_schemas(schema: str) -> None:
    Draft201909Validator.check_schema(_schema(schema))
