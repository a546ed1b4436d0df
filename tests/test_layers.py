"""The layer contract ([tool.importlinter] in pyproject.toml) holds, and a back-arrow breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
    )


def test_the_layer_contract_is_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_service_importing_the_web_layer_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "issuer", tmp_path / "issuer", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    service = tmp_path / "issuer" / "services" / "texts.py"
    service.write_text(
        service.read_text("utf-8") + "\nfrom issuer.web import auth  # noqa\n", "utf-8"
    )
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "issuer.services.texts -> issuer.web.auth" in result.stdout


def test_a_service_importing_the_web_framework_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "issuer", tmp_path / "issuer", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    service = tmp_path / "issuer" / "services" / "texts.py"
    service.write_text(service.read_text("utf-8") + "\nimport flask  # noqa\n", "utf-8")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "issuer.services.texts -> flask" in result.stdout
