"""The text a signed credential is stored and served as: UTF-8 JSON, readable, exactly
``json.dumps(document, ensure_ascii=False, indent=2)``, written faster than the standard library
writes it (``serialize``), and with the parts shared by a batch of credentials (the achievement,
the issuer profile) written once and spliced in (``serialize_reusing``)."""

from __future__ import annotations

import json
import secrets
from typing import Any


def serialize(document: dict[str, Any]) -> str:
    """The text a signed credential is stored and served as (UTF-8 JSON, readable): exactly
    ``json.dumps(document, ensure_ascii=False, indent=2)``.

    Written by a direct walk (``_write``), several times faster than the standard library,
    whose C encoder cannot indent and whose pure-Python one is slow; strings go through the same
    C string encoder ``json.dumps`` uses. A value the walk does not handle (a float, a tuple, a
    key that is not a string) leaves the whole document to ``json.dumps``.
    """
    out: list[str] = []
    try:
        _write(document, out, "\n")
    except _NotPlainJson:
        return json.dumps(document, ensure_ascii=False, indent=2)
    return "".join(out)


#: What ``json.dumps(..., ensure_ascii=False)`` writes strings with (its C version).
_encode_string = json.encoder.encode_basestring


class _NotPlainJson(Exception):
    """A value ``_write`` leaves to the standard library."""


def _write(value: Any, out: list[str], newline: str) -> None:
    """Append ``value`` as ``json.dumps(indent=2)`` writes it at the depth ``newline`` (a line
    break and the current indentation) says."""
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlainJson
            out.append(separator)
            out.append(_encode_string(key))
            out.append(": ")
            _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif type(value) is int:
        out.append(int.__repr__(value))
    else:
        raise _NotPlainJson


#: Stand-in written where a value made once per batch goes. Private-use characters and a random
#: part per process: no input can contain it by accident or design.
_MARK = f"\ue000merkki-{secrets.token_hex(8)}-"


def _replace_at(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``document`` (only the dicts on ``path`` are copied) with ``value`` at ``path``."""
    head, rest = path[0], path[1:]
    copy = dict(document)
    copy[head] = _replace_at(document[head], rest, value) if rest else value
    return copy


def serialize_reusing(document: dict[str, Any], texts: dict[tuple[str, ...], str]) -> str:
    """``serialize(document)``, byte for byte, with the values at the given paths (through
    objects only) written as ``texts[path]``, their ``serialize`` text made beforehand.

    ``json.dumps`` (and ``serialize``) writes an indented value nested at depth ``d`` exactly
    as it writes the value alone, with every line after the first indented by ``d`` more
    levels (JSON strings never hold a raw line break), so a text made once per batch (the
    achievement, the issuer profile: most of a credential) is spliced in instead of encoded
    again for every credential. Falls back to plain ``serialize`` if a mark is not found once.
    """
    marked = document
    quoted: list[tuple[str, str]] = []
    for number, (path, text) in enumerate(texts.items()):
        mark = f"{_MARK}{number}\ue000"
        marked = _replace_at(marked, path, mark)
        quoted.append((json.dumps(mark, ensure_ascii=False), text))
    out = serialize(marked)
    spans: list[tuple[int, int, str]] = []
    for mark_text, text in quoted:
        at = out.find(mark_text)
        if at < 0 or out.find(mark_text, at + 1) >= 0:
            return serialize(document)
        line_start = out.rfind("\n", 0, at) + 1
        line = out[line_start:at]
        indent = len(line) - len(line.lstrip(" "))
        spans.append((at, at + len(mark_text), text.replace("\n", "\n" + " " * indent)))
    for start, end, text in sorted(spans, reverse=True):
        out = out[:start] + text + out[end:]
    return out
