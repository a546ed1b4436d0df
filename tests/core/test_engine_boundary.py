"""The engine stays free of the web framework and the ORM (DESIGN.md "Shape of the code")."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import issuer.core


def test_importing_the_engine_imports_neither_flask_nor_sqlalchemy() -> None:
    modules = [f"issuer.core.{m.name}" for m in pkgutil.iter_modules(issuer.core.__path__)]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "roots = ('flask', 'sqlalchemy', 'werkzeug')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"issuer.core pulled in: {result.stdout.strip()}"
    assert len(modules) >= 5
