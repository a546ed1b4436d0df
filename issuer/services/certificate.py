"""The printable certificate of a credential: one A4 PDF in the credential's language.

What it shows (issue 15, "A printable certificate"): the institution's logo and facts, the
holder, the badge with its artwork, description and learning outcomes, the EU micro-credential
facts (Council Recommendation 2022/C 243/02, Annex I), the dates, and on every page a QR code
of the verification page with its address, so that a paper copy leads an employer to the same
verdict as the signed credential. The PDF is a convenience print-out, not the credential: it
carries no signature, and the QR code is what makes it checkable.

Pure (no Flask, no database): the web layer gathers the facts and the translated labels into a
``CertificateContent`` and gets the bytes from ``certificate_pdf``.

Choices, and why:

* **fpdf2** (pure Python, LGPL-3.0, maintained, on PyPI with only fontTools, Pillow and
  defusedxml beneath it): it embeds TrueType subsets, wraps text and places PNGs without any
  system library.
* **DejaVu Sans, shipped in ``issuer/fonts``** (Bitstream Vera licence, DejaVu changes in the
  public domain: ``issuer/fonts/LICENSE``): the 14 standard PDF fonts cover only Latin-1 (in
  fpdf2, cp1252), which lacks the letters of Sámi names (č, đ, ŋ, ŧ, ž) and much else that a
  name may hold. DejaVu Sans covers Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and
  Arabic in one file; only the glyphs used are embedded (the PDF stays small).
* **Text shaping with HarfBuzz** (``uharfbuzz``, binary wheels on PyPI): combining marks sit
  on their letters, Arabic letters join, and right-to-left names read right to left (Unicode
  bidi algorithm). Without it fpdf2 places each character's glyph in logical order, which
  misprints such names. Only texts that need it are shaped (``needs_shaping``). Texts are also
  NFC-normalized and stripped of control characters.
* **Bounded work**: every text is cut to a length (``LIMITS``), the learning outcomes and the
  facts each to a budget (``OUTCOMES_BUDGET``, ``FACTS_BUDGET``), at a word boundary with an
  ellipsis, and the certificate then says that the full texts are on the badge page. So a
  badge class or name of any size makes at most four pages (typically 0.15 s of one core; about
  1 s for the worst text measured, 2,000 combining marks shaped one by one). Images
  are scaled down to what 300 dpi needs at their printed size before embedding (a 1 MiB logo
  does not make a 1 MiB PDF).
* **Dates** in Europe/Helsinki (the institutions are Finnish: a credential issued at 00:30 on
  5 December Helsinki time is dated 5.12., not 4.12. as in UTC), in one format per language
  (``issuer.services.dates``, shared with the pages):
  fi ``4.12.2026``, sv ``4.12.2026`` (Finland-Swedish usage; CLDR sv_FI), en
  ``4 December 2026``.
* **Repeatable bytes**: the document's creation date is the credential's issue date and fpdf2
  derives the file identifier from the content, so the same credential gives the same bytes;
  ``certificate_pdf`` keeps recent certificates (``CACHE_ENTRIES``) by a digest of everything
  that goes into them, so asking again costs nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from issuer.core.lru import BoundedCache
from issuer.core.qr import qr_png
from issuer.paths import PACKAGE_DIR
from issuer.services.dates import format_date

if TYPE_CHECKING:
    from fpdf import FPDF

LOG = logging.getLogger(__name__)

FONT_DIR = PACKAGE_DIR / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FAMILY = "dejavu"


#: Longest text of each kind, in characters, before it is cut.
LIMITS = {
    "holder": 200,
    "badge_name": 300,
    "issuer_name": 300,
    "issuer_fact": 150,
    "description": 1200,
    "outcome": 400,
    "fact_label": 120,
    "fact_value": 600,
}
#: At most this many learning outcomes and fact rows are printed.
MAX_OUTCOMES = 25
MAX_FACTS = 25
MAX_ISSUER_FACTS = 6
#: The learning outcomes together, and the facts together, in characters (with the description,
#: the certificate is then at most about four pages); a piece shorter than ``MIN_PIECE`` is
#: left out rather than printed as a stub.
OUTCOMES_BUDGET = 3000
FACTS_BUDGET = 3000
MIN_PIECE = 40
#: Images are embedded at no more pixels than 300 dpi needs at their printed size.
IMAGE_DPI = 300
MM_PER_INCH = 25.4
#: Certificates kept (by a digest of their content): a PDF is 30-300 kB.
CACHE_ENTRIES = 32

# --- the page (millimetres) ----------------------------------------------------------------
MARGIN = 18.0
FOOTER_HEIGHT = 48.0
QR_SIZE = 32.0
LOGO_BOX = (50.0, 22.0)
BADGE_SIZE = 40.0
LABEL_WIDTH = 58.0
INK = (33, 37, 41)
MUTED = (90, 98, 106)
ACCENT = (0, 84, 147)
RULE = (200, 205, 210)


@dataclass(frozen=True)
class CertificateLabels:
    """The certificate's own words, translated by the caller into the credential's language."""

    title: str
    awarded_to: str
    badge: str
    issued_by: str
    date_of_issue: str
    valid_until: str
    learning_outcomes: str
    facts: str
    verify: str
    verify_hint: str
    credential_id: str
    page: str  # with %(page)s and %(pages)s
    shortened: str


@dataclass(frozen=True)
class CertificateContent:
    """Everything the certificate shows. ``issuer_facts`` and ``facts`` are (label, value)
    rows already in the credential's language; images are PNG or JPEG bytes, or None."""

    lang: str
    holder: str
    badge_name: str
    description: str
    issuer_name: str
    issued_at: datetime
    valid_until: datetime | None
    verify_url: str
    page_url: str
    credential_id: str
    labels: CertificateLabels
    learning_outcomes: Sequence[str] = ()
    issuer_facts: Sequence[tuple[str, str]] = ()
    facts: Sequence[tuple[str, str]] = ()
    badge_image: bytes | None = field(default=None, repr=False)
    logo: bytes | None = field(default=None, repr=False)


def clean_text(text: str) -> str:
    """NFC, without control or format characters that print as nothing or as boxes (line
    breaks and the bidi marks a right-to-left name may need are kept)."""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char == "\n" or char in "\u200e\u200f\u061c" or category not in ("Cc", "Cs", "Co"):
            kept.append(" " if category == "Zl" or category == "Zp" else char)
        elif char in "\t\r":
            kept.append(" ")
    return "".join(kept).strip()


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cleaned and cut to at most ``limit`` characters at a word boundary when there is
    one near the end, with an ellipsis; and whether it was cut."""
    cleaned = clean_text(text)
    if len(cleaned) <= limit:
        return cleaned, False
    cut = cleaned[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…", True


class _Budget:
    """The characters left for the long texts; remembers whether anything was cut."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.shortened = False

    def take(self, text: str, limit: int) -> str | None:
        """``text`` within both its own limit and what is left; None when too little is left
        for a useful piece (``MIN_PIECE``)."""
        if self.left < MIN_PIECE:
            if text.strip():
                self.shortened = True
            return None
        clipped, cut = clip(text, min(limit, self.left))
        self.left -= len(clipped)
        self.shortened |= cut
        return clipped


def _scaled_png(data: bytes | None, box_mm: tuple[float, float]) -> Image.Image | None:
    """The image fitted to what ``IMAGE_DPI`` needs for ``box_mm``, or None when it cannot be
    read (the certificate is printed without it rather than not at all)."""
    if not data:
        return None
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        limit = tuple(round(side / MM_PER_INCH * IMAGE_DPI) for side in box_mm)
        image.thumbnail((limit[0], limit[1]))
        image.load()
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        LOG.warning("certificate image left out: %s", error)
        return None
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    return image


def _fit(image: Image.Image, box: tuple[float, float]) -> tuple[float, float]:
    """Width and height in mm of ``image`` scaled to fit ``box``, keeping its aspect ratio."""
    width, height = image.size
    scale = min(box[0] / width, box[1] / height)
    return width * scale, height * scale


#: Bidi classes of right-to-left text (UAX #9).
_RTL_CLASSES = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI"})


def needs_shaping(text: str) -> bool:
    """Would placing one glyph per character misprint ``text``? Yes for right-to-left letters
    and for combining marks that NFC left uncomposed. Only such texts go through HarfBuzz:
    shaping costs about as much again as the rest of the text layout."""
    for char in text:
        if char < "\u0300":
            continue
        if unicodedata.bidirectional(char) in _RTL_CLASSES or unicodedata.combining(char):
            return True
    return False


def _lines(pdf: FPDF, w: float, h: float, text: str, **options: Any) -> Any:
    """``multi_cell`` with HarfBuzz shaping switched on only for the texts that need it, and
    ragged-right unless told otherwise (fpdf2 justifies by default, which spreads the words of
    a short label across its column). Below the text, at the left margin, unless told otherwise."""
    pdf.set_text_shaping(needs_shaping(text))
    options.setdefault("align", "L")
    options.setdefault("new_x", "LMARGIN")
    options.setdefault("new_y", "NEXT")
    return pdf.multi_cell(w, h, text, **options)


def _cell(pdf: FPDF, w: float, h: float, text: str, **options: Any) -> None:
    pdf.set_text_shaping(needs_shaping(text))
    pdf.cell(w, h, text, **options)


def _footer(pdf: FPDF, content: CertificateContent, qr: bytes, pages: int) -> None:
    """The verification block at the foot of the current page (drawn on every page once the
    content is laid out, when the number of pages is known)."""
    labels = content.labels
    top = pdf.h - FOOTER_HEIGHT + 4
    pdf.set_draw_color(*RULE)
    pdf.line(MARGIN, top - 3, pdf.w - MARGIN, top - 3)
    pdf.image(io.BytesIO(qr), x=MARGIN, y=top, w=QR_SIZE, h=QR_SIZE)
    text_x = MARGIN + QR_SIZE + 6
    width = pdf.w - MARGIN - text_x
    pdf.set_xy(text_x, top + 1)
    pdf.set_text_color(*INK)
    pdf.set_font(FAMILY, "B", 10)
    _lines(pdf, width, 5, labels.verify, new_x="LEFT")
    pdf.set_font(FAMILY, "", 8.5)
    pdf.set_text_color(*MUTED)
    _lines(pdf, width, 4.2, labels.verify_hint, new_x="LEFT")
    pdf.set_text_color(*ACCENT)
    _lines(pdf, width, 4.2, content.verify_url, link=content.verify_url, new_x="LEFT")
    pdf.set_text_color(*MUTED)
    pdf.set_font(FAMILY, "", 7.5)
    pdf.set_xy(text_x, top + QR_SIZE - 4)
    _cell(pdf, width / 2, 4, f"{labels.credential_id}: {content.credential_id}", align="L")
    _cell(pdf, width / 2, 4, labels.page % {"page": pdf.page, "pages": pages}, align="R")


def _header(pdf: FPDF, content: CertificateContent, logo: Image.Image | None) -> None:
    y = MARGIN
    text_x = MARGIN
    if logo is not None:
        width, height = _fit(logo, LOGO_BOX)
        pdf.image(logo, x=MARGIN, y=y, w=width, h=height)
        text_x = MARGIN + width + 6
    pdf.set_xy(text_x, y)
    width = pdf.w - MARGIN - text_x
    pdf.set_text_color(*INK)
    pdf.set_font(FAMILY, "B", 11)
    _lines(pdf, width, 5.5, clip(content.issuer_name, LIMITS["issuer_name"])[0])
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*MUTED)
    for label, value in content.issuer_facts[:MAX_ISSUER_FACTS]:
        line = clip(f"{label}: {value}" if label else value, LIMITS["issuer_fact"])[0]
        pdf.set_x(text_x)
        _lines(pdf, width, 4, line)
    bottom = max(pdf.get_y(), y + (LOGO_BOX[1] if logo is not None else 0))
    pdf.set_y(bottom + 6)


def _centre(pdf: FPDF, text: str, size: float, *, bold: bool = False, line: float) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    _lines(pdf, 0, line, text, align="C")


def _award(pdf: FPDF, content: CertificateContent, badge: Image.Image | None) -> None:
    labels = content.labels
    pdf.set_text_color(*ACCENT)
    _centre(pdf, labels.title, 22, bold=True, line=11)
    pdf.ln(3)
    if badge is not None:
        width, height = _fit(badge, (BADGE_SIZE, BADGE_SIZE))
        pdf.image(badge, x=(pdf.w - width) / 2, y=pdf.get_y(), w=width, h=height)
        pdf.set_y(pdf.get_y() + height + 4)
    pdf.set_text_color(*MUTED)
    _centre(pdf, labels.awarded_to, 10, line=5)
    pdf.set_text_color(*INK)
    _centre(pdf, clip(content.holder, LIMITS["holder"])[0], 20, bold=True, line=9)
    pdf.ln(2)
    pdf.set_text_color(*MUTED)
    _centre(pdf, labels.badge, 10, line=5)
    pdf.set_text_color(*INK)
    _centre(pdf, clip(content.badge_name, LIMITS["badge_name"])[0], 15, bold=True, line=7.5)
    pdf.ln(2)
    pdf.set_text_color(*MUTED)
    dates = f"{labels.date_of_issue}: {format_date(content.issued_at, content.lang)}"
    if content.valid_until is not None:
        dates += " · " + labels.valid_until % {
            "date": format_date(content.valid_until, content.lang)
        }
    _centre(pdf, f"{labels.issued_by}: {clip(content.issuer_name, 300)[0]}", 10, line=5)
    _centre(pdf, dates, 10, line=5)
    pdf.ln(5)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_text_color(*ACCENT)
    pdf.set_font(FAMILY, "B", 11)
    _lines(pdf, 0, 6, text)
    pdf.set_text_color(*INK)


def _details(pdf: FPDF, content: CertificateContent) -> bool:
    """Description, learning outcomes and facts, each within its budget; True when anything
    was shortened or left out."""
    labels = content.labels
    description, shortened = clip(content.description, LIMITS["description"])
    if description:
        pdf.set_font(FAMILY, "", 9.5)
        _lines(pdf, 0, 4.8, description)
    outcomes = _Budget(OUTCOMES_BUDGET)
    texts = [text for text in content.learning_outcomes if text.strip()]
    outcomes.shortened = len(texts) > MAX_OUTCOMES
    printed = [outcomes.take(text, LIMITS["outcome"]) for text in texts[:MAX_OUTCOMES]]
    if any(printed):
        _heading(pdf, labels.learning_outcomes)
        pdf.set_font(FAMILY, "", 9.5)
        for text in printed:
            if text:
                pdf.set_x(MARGIN + 2)
                _cell(pdf, 4, 4.8, "•")
                _lines(pdf, 0, 4.8, text)
    facts = _Budget(FACTS_BUDGET)
    rows = [(label, value) for label, value in content.facts if value.strip()]
    facts.shortened = len(rows) > MAX_FACTS
    kept = [(label, facts.take(value, LIMITS["fact_value"])) for label, value in rows[:MAX_FACTS]]
    if any(value for _, value in kept):
        _heading(pdf, labels.facts)
        for label, value in kept:
            if value:
                _fact_row(pdf, clip(label, LIMITS["fact_label"])[0], value)
    return shortened or outcomes.shortened or facts.shortened


def _fact_row(pdf: FPDF, label: str, value: str) -> None:
    """A label and a value side by side. A row starts a new page when it does not fit (a row is
    at most ``fact_label`` + ``fact_value`` characters, so it always fits on one)."""
    value_width = pdf.epw - LABEL_WIDTH - 3
    pdf.set_font(FAMILY, "B", 8.5)
    label_height = _lines(pdf, LABEL_WIDTH, 4.3, label, dry_run=True, output="HEIGHT")
    pdf.set_font(FAMILY, "", 8.5)
    value_height = _lines(pdf, value_width, 4.3, value, dry_run=True, output="HEIGHT")
    height = max(label_height, value_height)
    if pdf.will_page_break(height):
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_font(FAMILY, "B", 8.5)
    pdf.set_text_color(*MUTED)
    _lines(pdf, LABEL_WIDTH, 4.3, label)
    pdf.set_xy(MARGIN + LABEL_WIDTH + 3, top)
    pdf.set_font(FAMILY, "", 8.5)
    pdf.set_text_color(*INK)
    _lines(pdf, value_width, 4.3, value)
    pdf.set_y(top + height + 1.2)


def build_pdf(content: CertificateContent) -> bytes:
    """The certificate as PDF bytes (uncached; see ``certificate_pdf``)."""
    # Imported here: fpdf2 and the fontTools modules it loads take about a third of a second,
    # which every process that builds the application (each worker, each CLI command) would
    # otherwise pay for a page that few requests ask for.
    from fpdf import FPDF

    qr = qr_png(content.verify_url, scale=4)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=FOOTER_HEIGHT + 2)
    pdf.add_font(FAMILY, "", str(FONT_REGULAR))
    pdf.add_font(FAMILY, "B", str(FONT_BOLD))
    pdf.set_lang(content.lang)
    pdf.set_title(clip(f"{content.badge_name} – {content.holder}", 500)[0])
    pdf.set_author(clip(content.issuer_name, 300)[0])
    pdf.set_subject(content.labels.title)
    pdf.set_creator("Merkki")
    issued = content.issued_at
    pdf.set_creation_date(issued if issued.tzinfo else issued.replace(tzinfo=UTC))
    pdf.add_page()
    _header(pdf, content, _scaled_png(content.logo, LOGO_BOX))
    _award(pdf, content, _scaled_png(content.badge_image, (BADGE_SIZE, BADGE_SIZE)))
    if _details(pdf, content):
        pdf.ln(3)
        pdf.set_font(FAMILY, "", 8.5)
        pdf.set_text_color(*MUTED)
        _lines(pdf, 0, 4.3, f"{content.labels.shortened} {content.page_url}")
    # The verification block on every page, now that their number is known; inside the bottom
    # margin, so no page break may happen while it is drawn.
    pages = pdf.pages_count
    pdf.set_auto_page_break(False)
    for number in range(1, pages + 1):
        pdf.page = number
        _footer(pdf, content, qr, pages)
    return bytes(pdf.output())


_cache: BoundedCache[str, bytes] = BoundedCache(CACHE_ENTRIES)


def cache_key(content: CertificateContent) -> str:
    """A digest of everything the certificate is made of (images by their own digest)."""
    digest = hashlib.sha256(repr(content).encode("utf-8"))
    for image in (content.badge_image, content.logo):
        digest.update(hashlib.sha256(image or b"").digest())
    return digest.hexdigest()


def certificate_pdf(content: CertificateContent) -> bytes:
    """The certificate's PDF, built once per distinct content (``CACHE_ENTRIES`` kept)."""
    key = cache_key(content)
    found = _cache.get(key)
    if found is None:
        found = build_pdf(content)
        _cache.put(key, found)
    return found
