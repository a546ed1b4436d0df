"""E-mail addresses validated and normalised once (issuer.services.emails; issue 13)."""

from __future__ import annotations

import pytest
from flask import Flask

from issuer.core.credential import normalize_email
from issuer.services import emails
from issuer.services.errors import InvalidInputError


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("liisa@example.fi", "liisa@example.fi"),
        ("  Liisa.Virtanen@Example.FI ", "liisa.virtanen@example.fi"),
        ("first.last+tag@sub.example.fi", "first.last+tag@sub.example.fi"),
        ("Åsa@exempel.fi", "åsa@exempel.fi"),
        ("demo@merkki.test", "demo@merkki.test"),
    ],
)
def test_a_plain_address_is_normalised_as_it_has_always_been_hashed(
    typed: str, normalized: str
) -> None:
    assert emails.check_email(typed) == normalized
    # The learner's key is the HMAC of this form: unchanged for every address accepted before.
    assert normalize_email(typed) == normalized


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("Liisa Virtanen <liisa@example.fi>", "without a name"),
        ("<liisa@example.fi>", "without a name"),
        ('"Liisa" <liisa@example.fi>', "without a name"),
        ("liisa@example.fi, matti@example.fi", "one e-mail address only"),
        ("liisa@example.fi;matti@example.fi", "one e-mail address only"),
        ("liisa@example.fi,", "one e-mail address only"),
        ("lii\u200bsa@example.fi", "U+200B"),  # zero-width space
        ("liisa@example.fi\u202e", "U+202E"),  # right-to-left override
        ("\u2066liisa@example.fi", "U+2066"),  # left-to-right isolate
        ("liisa\u00ad@example.fi", "U+00AD"),  # soft hyphen
        ("liisa@exam\ufeffple.fi", "U+FEFF"),  # byte order mark
        ("liisa@example.fi\r\nBcc: x@evil.example", "U+000D"),
        ("liisa\x00@example.fi", "U+0000"),
        ("liisa\x85@example.fi", "U+0085"),
        ("liisa@example.fi\u2028", "U+2028"),
        ("liisa", "is not an e-mail address"),
        ("liisa@example", "is not an e-mail address"),
        ("liisa@@example.fi", "is not an e-mail address"),
        ("liisa matti@example.fi", "is not an e-mail address"),
        ('"liisa matti"@example.fi', "is not an e-mail address"),
        ("liisa@[192.0.2.1]", "is not an e-mail address"),
        ("liisa..v@example.fi", "is not an e-mail address"),
        ("liisa@example.local", "is not an e-mail address"),
        ("a" * 65 + "@example.fi", "is not an e-mail address"),
        ("", "required"),
        ("   ", "required"),
    ],
)
def test_anything_but_one_plain_address_is_refused_saying_why(typed: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        emails.check_email(typed)
    assert reason in caught.value.message


def test_the_refusal_is_in_the_readers_language(app: Flask) -> None:
    for lang, words in (
        ("fi", "vain yksi sähköpostiosoite"),
        ("sv", "endast en e-postadress"),
        ("en", "one e-mail address only"),
    ):
        with app.test_request_context(f"/?lang={lang}"):
            with pytest.raises(InvalidInputError) as caught:
                emails.check_email("a@example.fi, b@example.fi")
            assert words in caught.value.message
