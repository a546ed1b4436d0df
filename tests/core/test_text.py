"""Free text normalised on the way in (issuer.core.text; issue 13): tab -> space, CR LF and CR
-> LF, every other control character refused naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.core.text import REFUSED, TextError, is_normalized, normalize_text

# Every C0 control, DEL and every C1 control, mixed with ordinary text.
_CONTROLS = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]]
_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(_CONTROLS),
    max_size=40,
)


def _allowed(character: str, multiline: bool) -> bool:
    code = ord(character)
    if character == "\n":
        return multiline
    return not (code < 0x20 or 0x7F <= code <= 0x9F)


def _first_refused(text: str) -> str | None:
    """The first character normalising cannot turn into an allowed one."""
    return next((c for c in text if c not in "\t\r\n" and not _allowed(c, True)), None)


@settings(max_examples=1000, deadline=None)
@given(_texts, st.booleans())
def test_normalised_text_holds_only_allowed_characters_and_is_a_fixed_point(
    text: str, multiline: bool
) -> None:
    refused = _first_refused(text)
    if refused is not None:
        # Refused exactly for a character that normalising cannot turn into an allowed one.
        with pytest.raises(TextError) as caught:
            normalize_text(text, "field", multiline=multiline)
        assert (caught.value.field, caught.value.character) == ("field", refused)
        return
    normalized = normalize_text(text, "field", multiline=multiline)
    assert all(_allowed(character, multiline) for character in normalized)
    assert is_normalized(normalized, multiline=multiline)
    assert normalize_text(normalized, "field", multiline=multiline) == normalized
    # Nothing but tabs and line breaks changed: the length shrinks only by CR LF pairs.
    assert len(normalized) == len(text) - text.count("\r\n")


@pytest.mark.parametrize(
    ("text", "multiline", "expected"),
    [
        ("a\tb", True, "a b"),
        ("a\r\nb\rc\nd", True, "a\nb\nc\nd"),
        ("a\r\nb\rc\nd", False, "a b c d"),
        ("Liisa\t\tVirtanen", False, "Liisa  Virtanen"),
        ("ääkköset — ok\u00a0\u2028", True, "ääkköset — ok\u00a0\u2028"),
    ],
)
def test_tabs_and_line_breaks(text: str, multiline: bool, expected: str) -> None:
    assert normalize_text(text, "f", multiline=multiline) == expected


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85"])
def test_other_control_characters_are_refused_naming_the_field(character: str) -> None:
    with pytest.raises(TextError) as caught:
        normalize_text(f"a{character}b", "evidence.0.narrative", multiline=True)
    assert caught.value.field == "evidence.0.narrative"
    assert caught.value.code == "control_character"
    assert f"U+{ord(character):04X}" in caught.value.message
    assert "evidence.0.narrative" in caught.value.message


def test_not_strict_keeps_what_was_stored_before_the_rule() -> None:
    assert normalize_text("a\x85b\tc", "f", multiline=True, strict=False) == "a\x85b c"
    assert REFUSED.search("a\x85b") is not None
