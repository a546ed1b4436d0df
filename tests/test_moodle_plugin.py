"""The Moodle plugin in integrations/moodle/local_merkki: its PHP is linted (``php -l``), and its
signing, mapping and retry rules are run against Merkki's own where ``php`` is installed (CI
without PHP skips these tests: the plugin is optional)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from issuer.config import get_settings
from issuer.core import webhook_signature
from issuer.core.keys import KeyStore
from issuer.db import unit_of_work
from issuer.services import badge_classes, institutions, integrations
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from tests.web.learner.support import issuing_app_config  # noqa: F401 - fixture

PLUGIN = Path(__file__).resolve().parents[1] / "integrations" / "moodle" / "local_merkki"
PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="no php on this machine")
#: What Moodle would have defined before loading the plugin's classes.
PRELUDE = (
    "namespace core\\task { abstract class scheduled_task {} }\n"
    "namespace { define('MOODLE_INTERNAL', 1); define('DAYSECS', 86400);\n"
    "foreach (['client', 'mapping', 'task/send_queue'] as $f) {\n"
    f"  require '{PLUGIN}/classes/' . $f . '.php';\n"
    "}\n"
)


def php(code: str, *args: str) -> Any:
    """Run ``code`` after the prelude; its JSON output."""
    assert PHP is not None
    result = subprocess.run(
        [PHP, "-r", PRELUDE + code + "\n}", "--", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(result.stdout)


def test_the_plugin_has_its_moodle_files() -> None:
    names = {path.relative_to(PLUGIN).as_posix() for path in PLUGIN.rglob("*") if path.is_file()}
    assert {
        "version.php",
        "settings.php",
        "db/events.php",
        "db/tasks.php",
        "db/install.xml",
        "classes/observer.php",
        "classes/client.php",
        "lang/en/local_merkki.php",
    } <= names
    events = (PLUGIN / "db" / "events.php").read_text(encoding="utf-8")
    for event in ("course_completed", "course_module_completion_updated", "user_graded"):
        assert f"\\core\\event\\{event}'" in events


@needs_php
@pytest.mark.parametrize(
    "path", sorted(PLUGIN.rglob("*.php")), ids=lambda path: path.relative_to(PLUGIN).as_posix()
)
def test_php_lint(path: Path) -> None:
    assert PHP is not None
    result = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_php
def test_the_plugin_signs_as_merkki_verifies() -> None:
    body = '{"event_id":"moodle.example.fi:course:42:user:7:x","learner":{"name":"Liisa \\\\ Ö"}}'
    header = php(
        "echo json_encode(\\local_merkki\\client::signature($argv[1], (int) $argv[2], $argv[3]));",
        "whsec_x",
        "1764856800",
        body,
    )
    assert header == webhook_signature.header_value("whsec_x", 1764856800, body.encode())


@needs_php
def test_the_plugins_mappings() -> None:
    text = "\n".join(
        [
            "# comment",
            "course:42 = pokot-ennakointiosaaminen",
            "cm:311 = valohub-mentorointi",
            "grade:88 >= 4 = valohub-digipedagogiikka",
            "grade:88 = missing-threshold",
            "course:43 >= 2 = threshold-on-a-course",
            "course:x = not-a-number",
            "course:44 = Not_A_Slug",
        ]
    )
    code = (
        "$r = \\local_merkki\\mapping::parse($argv[1]); echo json_encode(["
        "count($r), \\local_merkki\\mapping::slugs($r, 'course', 42),"
        " \\local_merkki\\mapping::slugs($r, 'cm', 42),"
        " \\local_merkki\\mapping::slugs($r, 'grade', 88, 3.9),"
        " \\local_merkki\\mapping::slugs($r, 'grade', 88, 4.0)]);"
    )
    assert php(code, text) == [
        3,
        ["pokot-ennakointiosaaminen"],
        [],
        [],
        ["valohub-digipedagogiikka"],
    ]


@needs_php
def test_the_plugin_retries_what_merkki_says_may_succeed_later() -> None:
    answers = [
        (0, ""),
        (429, ""),
        (503, '{"error":"busy"}'),
        (401, '{"error":"stale_signature"}'),
        (401, '{"error":"invalid_signature"}'),
        (409, '{"error":"event_id_reused"}'),
        (422, '{"error":"invalid_input"}'),
    ]
    code = (
        "$out = []; foreach (json_decode($argv[1]) as [$s, $b]) {"
        " $out[] = \\local_merkki\\task\\send_queue::retryable($s, $b); }"
        " echo json_encode([$out, \\local_merkki\\task\\send_queue::delay(1),"
        " \\local_merkki\\task\\send_queue::delay(30)]);"
    )
    assert php(code, json.dumps(answers)) == [
        [True, True, True, True, False, False, False],
        120,
        86400,
    ]


@needs_php
def test_a_payload_the_plugin_signs_is_issued(
    app: Flask, keystore: KeyStore, templates_dir: Path
) -> None:
    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, templates_dir)
        institution = institutions.create_institution(
            session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
        )
        created = integrations.create_integration(
            session,
            institution,
            name="Moodle",
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        )
        key_id, secret = integrations.key_id(created.integration), created.secret
    # Encoded as the observer does (json_encode with unescaped slashes and Unicode).
    payload = php(
        "echo json_encode(json_encode(['event_id' => 'moodle.example.fi:course:42:user:7:t',"
        " 'event_type' => '\\\\core\\\\event\\\\course_completed', 'badge_class' => 'test-badge',"
        " 'learner' => ['email' => 'liisa@example.fi', 'name' => 'Liisa Äijälä', 'lang' => 'sv'],"
        " 'course_id' => 42, 'platform_id' => 'https://moodle.example.fi'],"
        " JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));"
    )
    header = php(
        "echo json_encode(\\local_merkki\\client::signature($argv[1], (int) $argv[2], $argv[3]));",
        secret,
        str(int(time.time())),
        payload,
    )
    response = app.test_client().post(
        "/api/v1/completions",
        data=payload.encode("utf-8"),
        headers={
            "Content-Type": "application/json",
            "Merkki-Integration": key_id,
            "Merkki-Signature": header,
        },
    )
    assert response.status_code == 202, response.text
    assert response.get_json()["state"] == "pending"
    assert response.get_json()["event_id"] == "moodle.example.fi:course:42:user:7:t"
