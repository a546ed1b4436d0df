"""Upload checks: size cap, type sniffing, PNG decoding limits, SVG cleaning."""

from __future__ import annotations

import io
import struct
import zlib

import defusedxml.ElementTree as SafeET
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from issuer.services import images
from issuer.services.images import (
    ImageError,
    ImageTooLargeError,
    UnsupportedImageTypeError,
    check_image,
    clean_svg,
)

SVG_NS = "{http://www.w3.org/2000/svg}"


def png_bytes(width: int = 8, height: int = 8, **info: str) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGBA", (width, height), (10, 20, 30, 255))
    meta = PngInfo()
    for key, value in info.items():
        meta.add_itxt(key, value)
    image.save(out, format="PNG", pnginfo=meta)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def huge_canvas_png(width: int, height: int) -> bytes:
    """A tiny file that declares a huge canvas (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        images.PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def parse(svg: bytes) -> list[str]:
    root = SafeET.fromstring(svg)
    return [element.tag for element in root.iter()]


# --- size and type -----------------------------------------------------------------------------


def test_oversized_upload_is_refused_before_parsing() -> None:
    data = png_bytes() + b"\x00" * images.MAX_IMAGE_BYTES
    with pytest.raises(ImageTooLargeError, match="KiB"):
        check_image(data, filename="big.png")


def test_empty_upload_is_refused() -> None:
    with pytest.raises(ImageError, match="empty"):
        check_image(b"", filename="x.png")


@pytest.mark.parametrize("filename", ["logo.gif", "logo.jpg", "logo.svgz", "logo.html"])
def test_other_types_are_refused(filename: str) -> None:
    with pytest.raises(UnsupportedImageTypeError):
        check_image(png_bytes(), filename=filename)


def test_unsupported_content_type_is_refused() -> None:
    with pytest.raises(UnsupportedImageTypeError):
        check_image(png_bytes(), content_type="image/jpeg")


def test_png_named_svg_is_refused_as_mislabelled() -> None:
    with pytest.raises(ImageError, match="not SVG"):
        check_image(png_bytes(), filename="artwork.svg")


def test_svg_named_png_is_refused_as_mislabelled() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    with pytest.raises(ImageError, match="not PNG"):
        check_image(svg, filename="artwork.png")
    with pytest.raises(ImageError, match="not PNG"):
        check_image(svg, content_type="image/png")


def test_text_claiming_to_be_svg_is_refused() -> None:
    with pytest.raises(ImageError, match="not a well-formed SVG"):
        check_image(b"hello, not xml", filename="x.svg")
    with pytest.raises(ImageError, match="no <svg> root"):
        check_image(b"<html><body/></html>", filename="x.svg")


# --- PNG ---------------------------------------------------------------------------------------


def test_png_is_decoded_and_reencoded_without_metadata() -> None:
    original = png_bytes(16, 16, openbadgecredential='{"id": "someone else"}')
    cleaned = check_image(original, filename="badge.png")
    assert cleaned.media_type == "image/png"
    assert b"openbadgecredential" in original
    assert b"openbadgecredential" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert image.size == (16, 16)
        assert image.getpixel((3, 3)) == (10, 20, 30, 255)


@pytest.mark.parametrize(("width", "height"), [(60000, 60000), (5000, 5000), (8000, 16)])
def test_png_with_a_huge_declared_canvas_is_refused_without_decoding(
    width: int, height: int
) -> None:
    # 60000 x 60000 is past Pillow's own bomb limit; the others only past Merkki's ceiling.
    bomb = huge_canvas_png(width, height)
    assert len(bomb) < 200
    with pytest.raises(ImageError, match="pixels"):
        check_image(bomb, filename="bomb.png")


def test_damaged_png_is_refused() -> None:
    data = bytearray(png_bytes(32, 32))
    data[40:60] = b"\xff" * 20
    with pytest.raises(ImageError, match="damaged"):
        check_image(bytes(data), filename="broken.png")
    with pytest.raises(ImageError):
        check_image(images.PNG_SIGNATURE + b"garbage", filename="broken.png")


# --- SVG ---------------------------------------------------------------------------------------


def test_clean_svg_keeps_ordinary_artwork() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        b'<defs><linearGradient id="g"><stop offset="0"/></linearGradient></defs>'
        b'<circle cx="5" cy="5" r="4" fill="url(#g)" style="stroke: url(#g)"/>'
        b'<use href="#g"/></svg>'
    )
    cleaned, removed = clean_svg(svg)
    assert removed == []
    tags = parse(cleaned)
    assert f"{SVG_NS}circle" in tags
    assert b'fill="url(#g)"' in cleaned
    assert b'href="#g"' in cleaned


def test_script_and_event_handlers_are_removed() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(2)</script>"
        b'<rect width="5" height="5" onclick="alert(3)" ONMOUSEOVER="alert(4)"/>'
        b'<set attributeName="href" to="javascript:alert(5)"/>'
        b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        b'<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(6)</html:script>'
        b"</svg>"
    )
    cleaned = check_image(svg, filename="bad.svg")
    text = cleaned.data.decode()
    assert "alert" not in text
    assert "script" not in text.lower()
    assert "foreignObject" not in text
    assert f"{SVG_NS}rect" in parse(cleaned.data)
    assert any("script" in reason for reason in cleaned.removed)
    assert any("event handler" in reason for reason in cleaned.removed)


@pytest.mark.parametrize(
    "reference",
    [
        "https://evil.example/tracker.png",
        "//evil.example/x.svg#a",
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
    ],
)
def test_external_references_are_removed(reference: str) -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        f'<image href="{reference}" width="4" height="4"/>'
        f'<use xlink:href="{reference}"/>'
        f'<a href="{reference}"><rect width="2" height="2"/></a>'
        "</svg>"
    ).encode()
    cleaned, removed = clean_svg(svg)
    assert reference.encode() not in cleaned
    assert len(removed) == 3


def test_embedded_png_data_urls_are_kept() -> None:
    data_url = "data:image/png;base64,iVBORw0KGgo="
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{data_url}"/></svg>').encode()
    cleaned, removed = clean_svg(svg)
    assert removed == []
    assert data_url.encode() in cleaned


def test_styles_with_external_urls_are_removed() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg">'
        b"<style>@import url(https://evil.example/a.css);</style>"
        b"<style>rect { fill: red; }</style>"
        b'<rect style="fill: url(http://evil.example/p#x)" width="1" height="1"/>'
        b'<circle fill="url(https://evil.example/#g)" r="1"/>'
        b"</svg>"
    )
    cleaned, removed = clean_svg(svg)
    assert b"evil.example" not in cleaned
    assert b"fill: red" in cleaned  # the harmless style stays
    assert len(removed) == 3


def test_doctype_and_entities_are_refused() -> None:
    billion_laughs = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    )
    with pytest.raises(ImageError, match="DOCTYPE"):
        check_image(billion_laughs, filename="laughs.svg")
    external = (
        b'<!DOCTYPE svg SYSTEM "http://evil.example/svg.dtd">'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    )
    with pytest.raises(ImageError):
        check_image(external, filename="x.svg")


def test_processing_instructions_are_dropped() -> None:
    svg = (
        b'<?xml-stylesheet href="https://evil.example/x.css"?>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    )
    cleaned = check_image(svg, filename="x.svg")
    assert b"evil" not in cleaned.data


def test_default_artwork_is_clean_svg_coloured_by_area() -> None:
    foresight = images.default_artwork(("foresight",))
    plain = images.default_artwork(())
    assert foresight.data != plain.data
    for artwork in (foresight, plain):
        assert clean_svg(artwork.data)[1] == []
