"""Free text from people, normalised once for every entry point (``issuer.core.text``), with
the refusal in the reader's language."""

from __future__ import annotations

from issuer.core.text import TextError, normalize_text
from issuer.services.errors import InvalidInputError
from issuer.services.translation import N_, for_reader


class ControlCharacterError(InvalidInputError):
    """A text holds a control character (``issuer.core.text``); ``field`` names it."""

    code = "control_character"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def control_message(error: TextError) -> str:
    """The refusal of ``error``, naming its field, in the reader's language (English outside
    a request: the CLI and background jobs speak English; ``translation.for_reader``)."""
    return for_reader(_CONTROL_MESSAGE, field=error.field, code=f"{ord(error.character):04X}")


_CONTROL_MESSAGE = N_(
    "%(field)s contains a control character (U+%(code)s) that cannot be in a credential. Remove it."
)


def clean(value: str, field: str, *, multiline: bool) -> str:
    """``value`` normalised and trimmed; ``ControlCharacterError`` naming ``field`` otherwise."""
    try:
        return normalize_text(value, field, multiline=multiline).strip()
    except TextError as error:
        raise ControlCharacterError(field, control_message(error)) from None


def clean_optional(value: str | None, field: str, *, multiline: bool) -> str | None:
    """``clean`` for an optional text: None when absent or blank."""
    if value is None:
        return None
    return clean(value, field, multiline=multiline) or None
