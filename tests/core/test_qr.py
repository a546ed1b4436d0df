"""QR codes: decoded back with zxing-cpp, an independent reader."""

from __future__ import annotations

import io
import re

import defusedxml.ElementTree as SafeET
import pytest
import zxingcpp
from PIL import Image

from issuer.core.qr import QrError, qr_png, qr_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
URLS = [
    "https://badges.example.fi/v/0f8fad5b-d9cb-469f-a165-70867728950e",
    "https://merkki.hamk.fi/credentials/urn:uuid:6e7a4f6c-3a27-4c5e-9f3a-1b2c3d4e5f60?lang=sv#top",
    "https://x.fi/" + "a" * 300,
    "HTTPS://EXAMPLE.FI/V/ABC123",
]


def _decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    found = list(zxingcpp.read_barcodes(image))
    assert all(b.format == zxingcpp.BarcodeFormat.QRCode for b in found)
    return found


@pytest.mark.parametrize("url", URLS)
def test_png_decodes_to_exactly_the_url(url: str) -> None:
    png = qr_png(url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        results = _decode(image)
    assert len(results) == 1
    assert results[0].text == url
    assert results[0].ec_level in ("M", "Q", "H")  # level M at least


def test_non_ascii_text_round_trips() -> None:
    text = "https://merkki.example.fi/tarkista/ääkköset?nimi=Åsa"
    with Image.open(io.BytesIO(qr_png(text))) as image:
        assert [r.text for r in _decode(image)] == [text]


def test_png_size_follows_scale_and_border() -> None:
    url = URLS[0]
    with Image.open(io.BytesIO(qr_png(url))) as default:
        width, height = default.size
        assert width == height
        assert round(default.info["dpi"][0]) == 300
    modules = width // 8  # symbol plus 2 x 4 quiet-zone modules
    assert width == modules * 8
    assert (modules - 8 - 17) % 4 == 0  # a QR symbol is 17 + 4 x version modules wide
    with Image.open(io.BytesIO(qr_png(url, scale=4, border=2))) as small:
        assert small.size == ((modules - 4) * 4, (modules - 4) * 4)
    with Image.open(io.BytesIO(qr_png(url, scale=3))) as image:
        assert [r.text for r in _decode(image)] == [url]  # still readable small


def test_quiet_zone_is_white() -> None:
    with Image.open(io.BytesIO(qr_png(URLS[0], scale=2, border=4))) as image:
        gray = image.convert("L")
        width, _ = gray.size
        band = [gray.getpixel((x, y)) for y in range(8) for x in range(width)]
        assert set(band) == {255}
        assert gray.getpixel((8, 8)) == 0  # finder pattern corner starts right after it


def _rasterize_segno_svg(svg: bytes) -> Image.Image:
    """Draw the single <path> of a segno SVG (M/m moves, h runs of dark modules on the line
    through the module centres) onto a bitmap, independently of segno, for zxing to read."""
    root = SafeET.fromstring(svg)
    view_box = [float(v) for v in root.get("viewBox", "").split()]
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    transform = re.fullmatch(r"scale\(([0-9.]+)\)", path.get("transform", "scale(1)"))
    assert transform is not None
    scale = float(transform.group(1))
    size = round(view_box[2] / scale)
    pixels = 6
    image = Image.new("L", (size * pixels, size * pixels), 255)
    x = y = 0.0
    for command, numbers in re.findall(r"([MmHh])([-0-9. ]+)", path.get("d", "")):
        values = [float(n) for n in numbers.split()]
        if command in "Mm":
            x, y = (values[0], values[1]) if command == "M" else (x + values[0], y + values[1])
        else:
            row = int(y - 0.5)
            for column in range(int(x), int(x + values[0])):
                for dy in range(pixels):
                    for dx in range(pixels):
                        image.putpixel((column * pixels + dx, row * pixels + dy), 0)
            x += values[0]
    return image


@pytest.mark.parametrize("url", URLS[:2])
def test_svg_draws_the_same_code(url: str) -> None:
    image = _rasterize_segno_svg(qr_svg(url))
    assert [r.text for r in _decode(image)] == [url]


def test_svg_is_well_formed_static_and_sized_in_millimetres() -> None:
    svg = qr_svg(URLS[0])
    root = SafeET.fromstring(svg)  # well-formed, no entities
    assert root.tag == f"{SVG_NS}svg"
    elements = list(root.iter())
    assert {e.tag for e in elements} <= {f"{SVG_NS}svg", f"{SVG_NS}path"}
    for element in elements:
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name  # no event handlers
            assert "href" not in name.lower(), name
            assert "javascript:" not in value.lower()
    assert b"<script" not in svg.lower()
    width, height = root.get("width", ""), root.get("height", "")
    assert width == height
    assert width.endswith("mm")
    modules = float(width[:-2]) / 0.8
    assert abs(modules - round(modules)) < 1e-6
    assert (round(modules) - 8 - 17) % 4 == 0
    assert root.get("viewBox") == f"0 0 {width[:-2]} {height[:-2]}"
    bigger = SafeET.fromstring(qr_svg(URLS[0], module_mm=1.0))
    assert float(bigger.get("width", "")[:-2]) == pytest.approx(round(modules))


@pytest.mark.parametrize("data", ["", "x" * 1025, None, b"https://x.fi"])
def test_bad_data(data: object) -> None:
    with pytest.raises(QrError):
        qr_png(data)  # type: ignore[arg-type]
    with pytest.raises(QrError):
        qr_svg(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(("scale", "border"), [(0, 4), (65, 4), (8, -1), (True, 4), (2.5, 4)])
def test_bad_png_options(scale: object, border: object) -> None:
    with pytest.raises(QrError):
        qr_png(URLS[0], scale=scale, border=border)  # type: ignore[arg-type]


@pytest.mark.parametrize(("module_mm", "border"), [(0.0, 4), (11, 4), ("1", 4), (0.8, 65)])
def test_bad_svg_options(module_mm: object, border: object) -> None:
    with pytest.raises(QrError):
        qr_svg(URLS[0], module_mm=module_mm, border=border)  # type: ignore[arg-type]
