"""Service messages in people's languages, without the web framework (DESIGN.md "Languages").

Source strings are English; the catalogues are ``issuer/translations/<lang>/LC_MESSAGES/
messages.po``, compiled to ``.mo`` when missing or older than the ``.po`` (``compile_catalogs``:
a fresh checkout works without a build step). Two readers:

* A learner's mail is written in the credential's language, whoever sends it (a web request,
  a job, the CLI): ``translator(lang)`` reads the same catalogues as the web pages, with
  Babel's own ``Translations``.
* A refusal (``emails.EmailError``, ``texts.ControlCharacterError``) is in the language of
  whoever reads it: ``for_reader`` calls the translator the web layer installs
  (``use_reader_translator``, from ``issuer.web.i18n``), which knows the request's language.
  Without one, and for the CLI and background jobs, it stays English, the source language.
"""

from __future__ import annotations

import gettext
import threading
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from issuer.paths import PACKAGE_DIR

TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
DOMAIN = "messages"


class Translator(Protocol):
    """``message`` (a source string) translated, then ``%``-formatted with ``values``, as
    Flask-Babel's ``gettext`` does."""

    def __call__(self, message: str, /, **values: object) -> str: ...


def english(message: str, /, **values: object) -> str:
    """The source string itself, formatted: what a reader without a language gets."""
    return message % values if values else message


def N_(message: str) -> str:
    """Marks ``message`` for extraction (``make translations``); it is translated where it is
    shown."""
    return message


def compile_catalogs(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or stale; return what was written."""
    written = []
    for po_path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


_catalogues: dict[str, gettext.NullTranslations] = {}
_catalogues_lock = threading.Lock()


def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (loaded once per process); for a language without
    one, the source strings (``NullTranslations``), as Flask-Babel falls back."""
    found = _catalogues.get(lang)
    if found is None:
        with _catalogues_lock:
            found = _catalogues.get(lang)
            if found is None:
                compile_catalogs()
                found = Translations.load(str(TRANSLATIONS_DIR), [lang], domain=DOMAIN)
                _catalogues[lang] = found
    return found


def translator(lang: str) -> Translator:
    """A translator into ``lang`` (the language of a learner's mail)."""
    translations = catalogue(lang)

    def translate(message: str, /, **values: object) -> str:
        text = translations.gettext(message)
        return text % values if values else text

    return translate


_reader: Translator = english


def use_reader_translator(reader: Translator) -> None:
    """Install the translator into the reader's language (the web layer's, which knows the
    request; it answers English outside a request). Called when an app is set up."""
    global _reader
    _reader = reader


def for_reader(message: str, /, **values: object) -> str:
    """``message`` in the language of whoever reads it (module docstring)."""
    return _reader(message, **values)
