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
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

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


# --- messages shown later ------------------------------------------------------------------------


class Message:
    """A message kept to be shown later, in the language of whoever reads it then: its source
    string (marked with ``N_``) and its values, some of which may be messages themselves.

    A cohort row that fails in a background job (English, ``for_reader``) is shown later on a
    staff page in Finnish or Swedish, in the API in the client's language: the row keeps the
    ``Message`` (``dumps``) rather than its English text (issue 15)."""

    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, /, **values: MessageValue) -> None:
        self.msgid = msgid
        self.values = values

    def render(self, translate: Translator | None = None) -> str:
        """The message in ``translate``'s language (default: the reader's, ``for_reader``)."""
        translate = translate or for_reader
        return translate(self.msgid, **{k: _render(v, translate) for k, v in self.values.items()})

    def to_json(self) -> dict[str, Any]:
        return {"msgid": self.msgid, "values": {k: _to_json(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        return cls(str(data["msgid"]), **{k: _from_json(v) for k, v in data["values"].items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.msgid, self.values) == (
            other.msgid,
            other.values,
        )

    def __hash__(self) -> int:
        return hash(self.msgid)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.values!r})"


#: What a ``Message`` value may be: a text or number shown as it is, another message, or a list
#: of them (shown joined by ", ", each once, as ``field_labels.labels`` lists fields).
MessageValue = str | int | Message | tuple[str | Message, ...]


def _render(value: MessageValue, translate: Translator) -> str | int:
    if isinstance(value, Message):
        return value.render(translate)
    if isinstance(value, tuple):
        return ", ".join(dict.fromkeys(str(_render(part, translate)) for part in value))
    return value


def _to_json(value: MessageValue) -> Any:
    if isinstance(value, Message):
        return value.to_json()
    if isinstance(value, tuple):
        return [_to_json(part) for part in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return Message.from_json(value)
    if isinstance(value, list):
        return tuple(_from_json(part) for part in value)
    return value


#: How ``dumps`` marks its text, so that ``loads`` tells it from the plain English text older
#: versions stored.
_STORED = '{"messages": '


def dumps(parts: Sequence[str | Message]) -> str:
    """``parts`` (messages, or texts shown as they are) as text for a database column."""
    return json.dumps(
        {"messages": [part.to_json() if isinstance(part, Message) else part for part in parts]},
        ensure_ascii=False,
    )


def loads(stored: str, translate: Translator | None = None) -> str:
    """What ``dumps`` stored, in ``translate``'s language (default: the reader's), the parts
    joined by "; "; a text stored before messages were kept is shown as it is."""
    if not stored.startswith(_STORED):
        return stored
    try:
        parts = json.loads(stored)["messages"]
        return "; ".join(
            Message.from_json(part).render(translate) if isinstance(part, dict) else str(part)
            for part in parts
        )
    except (ValueError, KeyError, TypeError):
        return stored
