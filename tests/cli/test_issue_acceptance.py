"""Issue 2 acceptance, end to end through the CLI with a shipped national micro-credential:
the issued credential validates against the official OB 3.0 JSON Schemas, verifies with
``merkki verify``, and fails after ANY single field is changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from jsonschema import Draft201909Validator

from issuer import paths
from issuer.core.resolver import standard_resolver
from issuer.core.verifier import VerificationReport, verify_credential
from tests.cli.test_cli import ok, run
from tests.spec_files import load_json

SHIPPED_MICROCREDENTIAL = "pokot-ennakointiosaaminen"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "BADGE_TEMPLATES_DIR": paths.BADGE_TEMPLATES_DIR}


@pytest.fixture
def issued(runner: FlaskCliRunner, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    ok(runner, "init")
    ok(runner, "institution", "create", "tamk", "--name", "Tampereen ammattikorkeakoulu")
    slugs = [b["slug"] for b in json.loads(ok(runner, "badge", "list", "--json").stdout)]
    slug = SHIPPED_MICROCREDENTIAL if SHIPPED_MICROCREDENTIAL in slugs else slugs[0]
    result = ok(
        runner,
        "issue",
        "--institution",
        "tamk",
        "--badge",
        slug,
        "--email",
        "Aino.Järvinen@example.fi",
        "--name",
        'Aino "Ansku" Järvinen 🎓',
        "--lang",
        "fi",
    )
    path = tmp_path / "credential.json"
    path.write_text(result.stdout, "utf-8")
    return json.loads(result.stdout), path


@pytest.mark.parametrize(
    "schema",
    [
        "schemas/ob-v3p0-json/ob_v3p0_achievementcredential_schema.json",
        "schemas/ob-v3p0-json-ld/ob_v3p0_achievementcredential_schema.json",
    ],
)
def test_issued_credential_validates_against_official_schema(
    issued: tuple[dict[str, Any], Path], schema: str
) -> None:
    credential, _ = issued
    errors = [e.message for e in Draft201909Validator(load_json(schema)).iter_errors(credential)]
    assert errors == []
    assert credential["credentialSubject"]["achievement"]["achievementType"] == "MicroCredential"


def test_issued_credential_verifies_with_the_cli(
    runner: FlaskCliRunner, issued: tuple[dict[str, Any], Path]
) -> None:
    _, path = issued
    report = json.loads(ok(runner, "verify", str(path)).stdout)
    assert report["verified"] is True


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        # Keep URLs and dates well-formed so the proof check, not a parser, must catch it.
        if value.endswith("Z") and value[:4].isdigit():
            return value.replace(value[:4], str(int(value[:4]) - 1), 1)
        return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
    return "changed"


def _verifier(app: Flask) -> Any:
    """Verify as an outside verifier would: our did:web DID documents and status lists come
    from the public routes (through the test client instead of HTTPS)."""
    client = app.test_client()

    def fetch(url: str) -> Any:
        path = "/" + url.split("/", 3)[3]
        response = client.get(path)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_json()

    resolver = standard_resolver(did_web_fetch=fetch)

    def verify(document: dict[str, Any]) -> VerificationReport:
        # Status lists come from the public /status/... route, like DID documents.
        return verify_credential(document, resolver=resolver, status_fetcher=fetch)

    return verify


def test_any_single_changed_field_fails_verification(
    app: Flask, issued: tuple[dict[str, Any], Path]
) -> None:
    credential, _ = issued
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    paths_checked = 0
    verify = _verifier(app)
    report = verify(credential)
    assert report.verified, report.to_dict()
    for path, value in _leaves(unsecured):
        if path[0] == "@context":
            continue  # a changed context URL is a different (unknown) document: own test below
        tampered = copy.deepcopy(credential)
        target = tampered
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = _changed(value)
        assert not verify(tampered).verified, f"change at {path} went unnoticed"
        paths_checked += 1
    assert paths_checked > 40  # a realistic micro-credential has many fields


def test_changed_context_fails(app: Flask, issued: tuple[dict[str, Any], Path]) -> None:
    credential, _ = issued
    tampered = copy.deepcopy(credential)
    tampered["@context"][1] = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"
    assert not _verifier(app)(tampered).verified


def test_tampered_file_fails_in_the_cli(
    runner: FlaskCliRunner, issued: tuple[dict[str, Any], Path]
) -> None:
    credential, path = issued
    credential["credentialSubject"]["achievement"]["name"] += "!"
    path.write_text(json.dumps(credential, ensure_ascii=False), "utf-8")
    result = run(runner, "verify", str(path))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verified"] is False
