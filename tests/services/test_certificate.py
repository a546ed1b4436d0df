"""The printable certificate PDF (issuer.services.certificate), read back as a reader would: its
text through pypdf's extraction, its QR code decoded with zxing-cpp from the embedded image."""

from __future__ import annotations

import io
import time
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from issuer.core.lru import clear_all
from issuer.services import certificate
from issuer.services.certificate import (
    CertificateContent,
    CertificateLabels,
    build_pdf,
    certificate_pdf,
    clip,
    needs_shaping,
)
from issuer.services.dates import format_date

CREDENTIAL_ID = "0123456789abcdef0123456789abcdef"
VERIFY_URL = f"http://127.0.0.1:5000/verify/{CREDENTIAL_ID}"
PAGE_URL = f"http://127.0.0.1:5000/credentials/{CREDENTIAL_ID}"
#: 4 December 2026, 12:00 in Helsinki.
ISSUED = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
LABELS = {
    "fi": CertificateLabels(
        title="Todistus",
        awarded_to="Myönnetty",
        badge="Merkki",
        issued_by="Myöntäjä",
        date_of_issue="Myöntämispäivä",
        valid_until="Voimassa %(date)s asti",
        learning_outcomes="Oppimistulokset",
        facts="Pienen osaamiskokonaisuuden tiedot",
        verify="Tarkista tämä merkki",
        verify_hint="Lue koodi tai avaa linkki:",
        credential_id="Merkin tunniste",
        page="Sivu %(page)s/%(pages)s",
        shortened="Joitakin tekstejä on lyhennetty:",
    ),
    "sv": CertificateLabels(
        title="Intyg",
        awarded_to="Beviljat",
        badge="Märke",
        issued_by="Utfärdare",
        date_of_issue="Utfärdandedatum",
        valid_until="Giltigt till %(date)s",
        learning_outcomes="Läranderesultat",
        facts="Uppgifter om mikromeriten",
        verify="Verifiera det här märket",
        verify_hint="Skanna koden eller öppna länken:",
        credential_id="Märkets identifierare",
        page="Sida %(page)s av %(pages)s",
        shortened="Några texter har förkortats:",
    ),
}


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _content(lang: str = "fi", **changes: object) -> CertificateContent:
    base = CertificateContent(
        lang=lang,
        holder="Áile Čuđđe Ŋuolla-Šaddi",
        badge_name={"fi": "Tietoturvan perusteet", "sv": "Grunderna i datasäkerhet"}[lang],
        description="Merkin saanut osaa toimia tietoturvallisesti.",
        issuer_name={"fi": "Hämeen ammattikorkeakoulu", "sv": "Tavastlands yrkeshögskola"}[lang],
        issued_at=ISSUED,
        valid_until=datetime(2028, 12, 4, 10, 0, tzinfo=UTC),
        verify_url=VERIFY_URL,
        page_url=PAGE_URL,
        credential_id=CREDENTIAL_ID,
        labels=LABELS[lang],
        learning_outcomes=("Tunnistaa tietoturvauhkia", "Suojaa omat tunnuksensa"),
        issuer_facts=(("", "https://www.hamk.fi"), ("Y-tunnus", "1234567-1")),
        facts=(("Taso", "EQF 5\nNQF 5"), ("Laskennallinen työmäärä", "3 opintopistettä")),
        badge_image=_png((512, 512), (0, 84, 147)),
        logo=_png((1200, 400), (200, 30, 40)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


def _decoded_qr_codes(pdf: bytes) -> list[str]:
    """Every QR code found in the images of the first page (the badge and the logo have none)."""
    found = []
    for image in PdfReader(io.BytesIO(pdf)).pages[0].images:
        found.extend(
            result.text
            for result in zxingcpp.read_barcodes(image.image)
            if result.format == zxingcpp.BarcodeFormat.QRCode
        )
    return found


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_all()


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_the_certificate_names_holder_badge_issuer_and_date_and_its_qr_code_verifies(
    lang: str,
) -> None:
    content = _content(lang)
    pdf = certificate_pdf(content)

    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    text = _text(pdf)
    for expected in (
        content.holder,
        content.badge_name,
        content.issuer_name,
        "4.12.2026",  # Finnish and Finland-Swedish usage alike
        "4.12.2028",
        content.labels.title,
        "Tunnistaa tietoturvauhkia",
        "EQF 5",
        "1234567-1",
        "https://www.hamk.fi",
        VERIFY_URL,
        CREDENTIAL_ID,
    ):
        assert expected in text, expected
    assert _decoded_qr_codes(pdf) == [VERIFY_URL]
    assert reader.metadata is not None
    assert reader.metadata.title == f"{content.badge_name} – {content.holder}"


@pytest.mark.parametrize(
    ("moment", "lang", "expected"),
    [
        (ISSUED, "fi", "4.12.2026"),
        (ISSUED, "sv", "4.12.2026"),
        (ISSUED, "en", "4 December 2026"),
        # 22:30 UTC on 4 December is already 5 December in Helsinki (UTC+2 in winter) ...
        (datetime(2026, 12, 4, 22, 30, tzinfo=UTC), "fi", "5.12.2026"),
        # ... and 21:30 UTC on 30 June is 1 July (UTC+3 in summer).
        (datetime(2026, 6, 30, 21, 30, tzinfo=UTC), "en", "1 July 2026"),
        # A naive time is taken as UTC, as the database stores it.
        (datetime(2026, 6, 30, 21, 30), "sv", "1.7.2026"),
    ],
)
def test_dates_are_helsinki_dates_in_one_format_per_language(
    moment: datetime, lang: str, expected: str
) -> None:
    assert format_date(moment, lang) == expected


def test_the_certificate_prints_sami_letters_and_other_unicode_names() -> None:
    names = [
        "Máret Ánde Ŋuvdnil-Čuđđe Šaŋŋe Žiŧŧá",  # North Sámi: č đ ŋ š ŧ ž
        "Åsa Öhman-Ärlig",
        "محمد بن سلمان",  # Arabic (right to left, joined)
        "שרה כהן",  # Hebrew (right to left)
        "Zoe\u0308 Ma\u0304ori",  # combining marks NFC composes
        "Ŋ\u0331u\u0306\u0323",  # combining marks NFC cannot compose
        "Ελένη Παπαδοπούλου",
        "Анна Иванова",
    ]
    for name in names:
        pdf = build_pdf(_content(holder=name))
        assert unicodedata.normalize("NFC", name) in _text(pdf), name


def test_hostile_values_give_a_bounded_certificate() -> None:
    """A name of thousands of characters without a space, right-to-left and combining text,
    control and bidi-override characters, characters no font has: a certificate of a few pages
    comes back quickly, with the QR code intact."""
    hostile = [
        "A" * 5000,
        "x\u0301" * 2000,
        "محمد " * 1000,
        "\u202eevil\u202c\x00\x07\x1b[31m name\ud7ff\ud800",  # ends in a lone surrogate
        "名前 😀 \U0010fffd",
        "",
    ]
    for value in hostile:
        content = _content(
            holder=value,
            badge_name=value or "-",
            description=value * 3,
            learning_outcomes=(value,) * 200,
            facts=((value, value),) * 200,
            issuer_facts=((value, value),) * 20,
        )
        started = time.monotonic()
        pdf = build_pdf(content)
        assert time.monotonic() - started < 20
        reader = PdfReader(io.BytesIO(pdf))
        assert 1 <= len(reader.pages) <= 4
        assert _decoded_qr_codes(pdf) == [VERIFY_URL]
        text = _text(pdf)
        assert "\x00" not in text
        assert "\x1b" not in text
        if len(value) > certificate.LIMITS["holder"]:
            assert LABELS["fi"].shortened in text


def test_long_texts_are_cut_at_word_boundaries_and_the_certificate_says_so() -> None:
    outcomes = tuple(f"Oppimistulos {number} " + "sana " * 150 for number in range(60))
    pdf = build_pdf(_content(learning_outcomes=outcomes))
    text = _text(pdf)
    assert "Oppimistulos 0 " in text
    assert "Oppimistulos 59 " not in text  # past MAX_OUTCOMES and the budget
    assert "…" in text
    assert f"{LABELS['fi'].shortened} {PAGE_URL}" in text.replace("\n", " ")
    assert "Joitakin" not in _text(build_pdf(_content()))


def test_clip_cuts_at_a_word_and_cleans() -> None:
    assert clip("short", 10) == ("short", False)
    assert clip("one two three four five six", 20) == ("one two three four…", True)
    assert clip("x" * 30, 10) == ("x" * 9 + "…", True)
    assert clip(" a\x00b\tc\r\nd ", 50) == ("ab c \nd", False)
    assert clip("Zoe\u0308", 10) == ("Zoë", False)


def test_only_right_to_left_and_uncomposed_combining_text_is_shaped() -> None:
    assert not needs_shaping("Áile Čuđđe Ŋuolla Šaddi Åsa Öhman Ελένη Анна")
    assert needs_shaping("שרה")
    assert needs_shaping("محمد")
    assert needs_shaping("Ŋ\u0331")


def test_unreadable_images_leave_the_certificate_without_them() -> None:
    pdf = build_pdf(_content(badge_image=b"not an image", logo=b"\x89PNG\r\n\x1a\nbroken"))
    assert _decoded_qr_codes(pdf) == [VERIFY_URL]
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the QR code only


def test_big_images_are_scaled_down_before_embedding() -> None:
    big = _png((4000, 4000), (1, 2, 3))
    pdf = build_pdf(_content(badge_image=big, logo=big))
    sizes = sorted(image.image.size for image in PdfReader(io.BytesIO(pdf)).pages[0].images)
    assert max(width for width, _ in sizes) <= 600  # 300 dpi at 50 mm


def test_the_same_content_gives_the_same_bytes_and_is_built_once() -> None:
    content = _content()
    first = certificate_pdf(content)
    assert build_pdf(content) == first  # repeatable: no clock, no random file id
    assert certificate_pdf(replace(content)) is first  # from the cache
    other = certificate_pdf(replace(content, holder="Toinen Henkilö"))
    assert other != first
    assert certificate_pdf(replace(content, logo=None)) != first  # images are part of the key
