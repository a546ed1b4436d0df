"""Every user-visible string is translated into Finnish and Swedish (DESIGN.md "Languages")."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from issuer.services.translation import TRANSLATIONS_DIR, compile_catalogs
from issuer.web.i18n import normalize_language

ROOT = Path(__file__).resolve().parents[2]


def _source_messages() -> set[str]:
    method_map = [("issuer/**.py", "python"), ("issuer/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map={"issuer/templates/**.html": {}}
    ):
        msgids = message if isinstance(message, tuple) else (message,)
        found.update(m for m in msgids if m)
    return found


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_every_source_string_is_translated(lang: str) -> None:
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=lang)
    missing = []
    for msgid in sorted(_source_messages()):
        entry = catalog.get(msgid)
        string = entry.string if entry is not None else ""
        text = string[0] if isinstance(string, tuple) else string
        if entry is None or not text or entry.fuzzy:
            missing.append(msgid)
    assert missing == [], (
        f"untranslated in {lang} (run `make translations`, then translate): {missing}"
    )


def test_catalogs_compile(tmp_path: Path) -> None:
    for lang in ("fi", "sv", "en"):
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        (target / "messages.po").write_bytes(
            (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").read_bytes()
        )
    written = compile_catalogs(tmp_path)
    assert len(written) == 3
    assert compile_catalogs(tmp_path) == []  # up to date: nothing rewritten


@pytest.mark.parametrize(
    ("value", "expected"),
    [("fi", "fi"), ("sv-FI", "sv"), ("EN_gb", "en"), ("de", None), ("", None), (None, None)],
)
def test_normalize_language(value: str | None, expected: str | None) -> None:
    assert normalize_language(value) == expected
