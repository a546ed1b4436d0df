"""Free text that goes into a credential, normalised once on the way in.

Every text a person types that ends up in a signed credential (badge-class and institution
texts, evidence, grades, recipient names) passes ``normalize_text`` before it is stored or
signed, so that the credential verifies in every verifier, not only in Merkki:

* a tab becomes a space: LearnCard's DIDKit and older JSON-LD canonicalizers write a raw tab
  into the N-Quads where RDFC-1.0 §4 (RDF 1.2 N-Quads canonical form) writes ``\\t``, so the
  signature over such a text fails there;
* CR LF and a lone CR become LF (the one line break every canonicalizer escapes alike);
* every other control character (C0 except LF, DEL U+007F, C1 U+0080-U+009F) is refused with
  ``TextError`` naming the field: PyLD-based verifiers escape backspace, form feed and DEL
  differently from RDFC-1.0, and nobody means to put them in a badge.

Single-line texts (names, titles) turn a line break into a space; multi-line texts
(descriptions, narratives) keep it. Only input is normalised: stored credentials are served
and verified as they were signed.
"""

from __future__ import annotations

import re

from issuer.core.errors import EngineError

#: What no normalised text contains: C0 controls but LF, DEL, C1 controls.
REFUSED = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_REFUSED_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class TextError(EngineError):
    """A text holds a control character that cannot be normalised."""

    code = "control_character"

    def __init__(self, field: str, character: str) -> None:
        self.field = field
        self.character = character
        super().__init__(
            f"{field}: contains the control character U+{ord(character):04X}; remove it"
        )


def normalize_text(value: str, field: str, *, multiline: bool, strict: bool = True) -> str:
    """``value`` with tabs as spaces and line breaks as LF (single-line: as spaces); raises
    ``TextError`` naming ``field`` for any other control character. Idempotent; does not trim
    (callers strip and check lengths as before).

    ``strict=False`` is for texts stored before this rule (a badge-class version read back):
    they are normalised the same way, but a control character accepted then is kept, not
    refused, so that what was saved stays usable."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in value:
        value = value.replace("\t", " ")
    if not multiline and "\n" in value:
        value = value.replace("\n", " ")
    found = REFUSED.search(value) if strict else None
    if found is not None:
        raise TextError(field, found.group())
    return value


def is_normalized(value: str, *, multiline: bool) -> bool:
    """True when ``value`` holds no character ``normalize_text`` would change or refuse."""
    pattern = REFUSED if multiline else _REFUSED_SINGLE_LINE
    return pattern.search(value) is None and "\r" not in value and "\t" not in value
