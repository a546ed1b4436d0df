"""QR codes for verification links (DESIGN.md: employers "scan a QR code ... one scan, no app").

Made with segno (ISO/IEC 18004 QR Code 2015). Choices, and why:

* Error correction level M (15 % of codewords recoverable) at least; segno's ``boost_error``
  raises it to Q or H whenever that fits in the same symbol version, so a printed certificate
  with a fold, a scuff or a stamp over the code still scans. Never Micro QR: phone camera apps
  do not read it.
* Quiet zone (``border``) of 4 modules, the minimum ISO/IEC 18004 §6.3.8 asks for.
* Module size. A verification URL of 60-80 characters needs version 4-5 at level M, i.e. 33-37
  modules plus 8 of quiet zone = 41-45 modules across.

  - PNG: 8 pixels per module (``scale=8``) and 300 dpi metadata, so a 45-module code is 360 px
    on screen and prints 30.5 mm wide with 0.68 mm modules when placed at its natural size.
  - SVG: 0.8 mm per module with width/height in millimetres (and a viewBox, so a page can still
    scale it); 45 modules = 36 mm. Phone cameras resolve modules of 0.4 mm and larger at normal
    reading distance; a code about 3 cm wide scans from roughly 30 cm (the usual rule of thumb
    is distance ≈ 10 × code width), which suits certificates and posters alike.
"""

from __future__ import annotations

import io

import segno

from issuer.core.errors import EngineError

#: Pixels per module in PNGs, and the print resolution written into the PNG (see module doc).
PNG_SCALE = 8
PNG_DPI = 300
#: Millimetres per module in SVGs (see module doc).
SVG_MODULE_MM = 0.8
#: ISO/IEC 18004 minimum quiet zone, in modules.
QUIET_ZONE = 4
#: Longest text accepted: a verification URL is far shorter; beyond this codes get too dense.
MAX_DATA_LENGTH = 1024


class QrError(EngineError):
    """The QR code could not be made (empty or too long data, bad size options)."""

    code = "qr_error"


def _make(data: str) -> segno.QRCode:
    if not isinstance(data, str) or not data:
        raise QrError("QR code data must be a non-empty string")
    if len(data) > MAX_DATA_LENGTH:
        raise QrError(f"QR code data is longer than {MAX_DATA_LENGTH} characters")
    try:
        # micro=False: full QR only. boost_error: M is the floor, never the ceiling.
        return segno.make_qr(data, error="m", boost_error=True)
    except segno.DataOverflowError as exc:  # pragma: no cover - MAX_DATA_LENGTH comes first
        raise QrError(f"data does not fit in a QR code: {exc}") from exc


def _check_border(border: int) -> None:
    if isinstance(border, bool) or not isinstance(border, int) or not 0 <= border <= 64:
        raise QrError(f"border must be 0-64 modules (4 recommended), got {border!r}")


def qr_png(data: str, *, scale: int = PNG_SCALE, border: int = QUIET_ZONE) -> bytes:
    """A black-on-white 1-bit PNG of ``data``; ``scale`` pixels per module, 300 dpi metadata.
    A ``border`` below 4 is only safe where the page itself leaves white space around it."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 64:
        raise QrError(f"scale must be 1-64 pixels per module, got {scale!r}")
    _check_border(border)
    out = io.BytesIO()
    _make(data).save(out, kind="png", scale=scale, border=border, dpi=PNG_DPI)
    return out.getvalue()


def qr_svg(data: str, *, border: int = QUIET_ZONE, module_mm: float = SVG_MODULE_MM) -> bytes:
    """A standalone SVG of ``data``: one ``<path>``, sized in millimetres (``module_mm`` per
    module) with a viewBox, no classes, scripts or external references."""
    _check_border(border)
    if isinstance(module_mm, bool) or not isinstance(module_mm, int | float):
        raise QrError(f"module size must be a number of millimetres, got {module_mm!r}")
    if not 0.1 <= module_mm <= 10:
        raise QrError(f"module size must be 0.1-10 mm, got {module_mm!r}")
    out = io.BytesIO()
    _make(data).save(
        out,
        kind="svg",
        scale=module_mm,
        unit="mm",
        border=border,
        xmldecl=True,
        svgclass=None,
        lineclass=None,
        encoding="utf-8",
    )
    return out.getvalue()
