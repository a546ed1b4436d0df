"""E-mail addresses, validated and normalised once for every entry point (issue 13).

Every address that comes in (a recipient through the API, the staff form, a CSV row or
``merkki issue``; a staff account; an institution's contact address) passes ``check_email``
before it is hashed, stored or sent to, so that the learner's key (``issuing.recipient_key``)
and the SMTP envelope recipient (``issuer.services.mail``) are exactly the one validated
address. The syntax check is the well-kept ``email-validator`` library (RFC 5321/5322 and
internationalised addresses; no DNS lookups). Refused with a message in the reader's language:
a display-name form (``Liisa <liisa@example.fi>``), several addresses (commas, semicolons),
control and format characters (zero-width U+200B, bidi overrides U+202E and the like), and
anything else that is not one plain address.
"""

from __future__ import annotations

import functools
import unicodedata

from email_validator import EmailNotValidError, validate_email

from issuer.core.credential import normalize_email
from issuer.services.errors import InvalidInputError
from issuer.services.translation import N_, for_reader

#: RFC 5321 §4.5.3.1.3: a path (and so an address) is at most 256 octets with its brackets.
MAX_LENGTH = 254

#: Unicode categories no typed address contains: controls (Cc), format characters (Cf: zero
#: width spaces and joiners, bidi marks and overrides, the BOM), line and paragraph separators,
#: unassigned and private-use code points, lone surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})


_NOT_AN_ADDRESS = N_("%(address)s is not an e-mail address.")
_DISPLAY_NAME = N_(
    "Give only the e-mail address, without a name or angle brackets "
    "(liisa@example.fi, not Liisa <liisa@example.fi>)."
)
_SEVERAL = N_("Give one e-mail address only: commas and semicolons are not allowed.")
_HIDDEN = N_(
    "The e-mail address contains an invisible or control character (U+%(code)s). "
    "Type the address again."
)
_REQUIRED = N_("An e-mail address is required.")


class EmailError(InvalidInputError):
    """``value`` is not one plain e-mail address; the message says why."""


def _message(message: str, **values: str) -> str:
    """``message`` in the reader's language (English outside a request: the CLI speaks it;
    ``translation.for_reader``)."""
    return for_reader(message, **values)


def check_email(value: str) -> str:
    """``value`` as one validated address, normalised as it is hashed and sent to (trimmed,
    NFC, lower-cased: ``issuer.core.credential.normalize_email``); ``EmailError`` otherwise."""
    # Spaces and a line end around a pasted address are trimmed; any other invisible or
    # control character, wherever it is, is refused (str.strip would drop U+2028 and U+0085).
    text = value.strip(" \t\r\n")
    for character in text:
        if unicodedata.category(character) in _HIDDEN_CATEGORIES:
            raise EmailError(_message(_HIDDEN, code=f"{ord(character):04X}"))
    text = text.strip()
    if not text:
        raise EmailError(_message(_REQUIRED))
    if "<" in text or ">" in text:
        raise EmailError(_message(_DISPLAY_NAME))
    if "," in text or ";" in text:
        raise EmailError(_message(_SEVERAL))
    # Over-long text is refused before the library (and its cache) sees it.
    if len(text) > MAX_LENGTH or not _library_accepts(text):
        raise EmailError(_message(_NOT_AN_ADDRESS, address=repr(_shortened(text))))
    # The address as typed, trimmed, NFC and lower-cased, exactly as Merkki has always hashed
    # it (learners' keys stay the same), once the library has accepted it. Not the library's
    # own normalisation, which would turn a punycode domain into Unicode and so change a key.
    return normalize_email(text)


def _shortened(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"


#: A cohort file's addresses are checked when it is uploaded and again when its job issues:
#: remembering the library's verdict halves the cost (~70 µs an address) for a 50,000-row file.
@functools.lru_cache(maxsize=65_536)
def _library_accepts(text: str) -> bool:
    """Does ``email-validator`` accept ``text`` as one address (syntax only, no network)?"""
    try:
        validate_email(
            text,
            check_deliverability=False,  # no network: syntax only
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            strict=True,  # the RFC 5321 length limits too (64 octets before the @)
            # The reserved .test domain (RFC 2606) is accepted: the demo admin of `make run`
            # is demo@merkki.test. Other special-use names (.local, .invalid, ...) are not.
            test_environment=True,
        )
    except EmailNotValidError:
        return False
    return True


def check_optional_email(value: str | None) -> str | None:
    """``check_email`` for an optional address (an institution's contact address)."""
    if value is None or not value.strip():
        return None
    return check_email(value)
