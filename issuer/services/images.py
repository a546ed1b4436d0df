"""Uploaded artwork (badge images, institution logos): checked, cleaned, size-capped.

What is stored is never the bytes as uploaded:

* **PNG** is decoded with Pillow after its header dimensions are checked against a pixel
  ceiling (a decompression-bomb guard: a tiny file can declare a gigantic canvas), then
  re-encoded. The re-encoded file holds pixels only, so no metadata chunk (and no baked
  credential of somebody else) travels along.
* **SVG** is parsed with defusedxml, which refuses a DOCTYPE, entity declarations and external
  references (billion laughs, XXE), then cleaned: only elements in the SVG namespace are kept
  (an XHTML ``<script>`` runs inside SVG too), minus ``<script>``, ``<foreignObject>`` and the
  animation elements (``<set attributeName="href" to="javascript:...">``); event-handler
  attributes (``on*``) go, and so does any reference that leaves the document: ``href`` /
  ``xlink:href`` other than ``#fragment`` or an embedded PNG/JPEG/GIF ``data:`` URL, and any
  ``url(...)`` or ``@import`` in styles that is not ``url(#fragment)``. The removals are
  reported so that the person uploading can be told.

* **JPEG and WebP** (photos and exports from drawing tools; only where the caller asks for it,
  ``convert=True``: the staff badge-class form) are decoded within the same pixel ceiling,
  turned upright by their EXIF orientation, scaled down to at most ``CONVERTED_SIDE`` pixels a
  side and stored as PNG: OB 3.0 bakes credentials into PNG and SVG only (Baking, §5.3), and a
  photo's metadata (GPS position, camera) does not travel along. A truncated file is refused,
  not padded with grey.

A file whose bytes are not the type its name or media type claims is refused, as is one over
``MAX_IMAGE_BYTES``. The public routes serve SVG with a restrictive Content-Security-Policy as a
second line of defence (``issuer.web.public``).
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from PIL import Image, ImageOps, UnidentifiedImageError

from issuer.core.badgeclass.model import COMPETENCE_AREAS
from issuer.services.errors import InvalidInputError

MAX_IMAGE_BYTES = 1024 * 1024
#: Largest canvas accepted (pixels); a 512 x 512 badge needs a quarter of a million.
MAX_PIXELS = 4096 * 4096
MAX_SIDE = 4096

#: Converted artwork fits in this square: ample for a badge (shown at 160 px, baked at 512).
CONVERTED_SIDE = 1024

PNG = "image/png"
SVG = "image/svg+xml"
JPEG = "image/jpeg"
WEBP = "image/webp"
MEDIA_TYPES = {"png": PNG, "svg": SVG}
#: Accepted with ``convert=True`` only, and stored as PNG.
CONVERTED_MEDIA_TYPES = {"jpg": JPEG, "jpeg": JPEG, "jpe": JPEG, "webp": WEBP}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
#: Raster formats that are never accepted; recognised so that the refusal names the real reason.
_OTHER_RASTER_SIGNATURES = (
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",
)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: SVG elements removed with everything inside them.
FORBIDDEN_ELEMENTS = frozenset(
    {
        "script",
        "foreignObject",
        "set",
        "animate",
        "animateMotion",
        "animateTransform",
        "animateColor",
        "discard",
        "handler",
        "listener",
        "iframe",
        "embed",
        "object",
        "audio",
        "video",
    }
)
_SAFE_DATA_URL = re.compile(r"data:image/(?:png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
# url(...) whose target is not a fragment of this document; @import; legacy script hooks.
_EXTERNAL_STYLE = re.compile(
    r"url\s*\(\s*(?!['\"]?\s*#)|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding",
    re.IGNORECASE,
)
_SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|data)\s*:", re.IGNORECASE)


class ImageError(InvalidInputError):
    """An upload that is not an acceptable image; the message says why."""

    code = "invalid_image"


class ImageTooLargeError(ImageError):
    code = "image_too_large"


class UnsupportedImageTypeError(ImageError):
    code = "unsupported_image_type"


class ImageDimensionsError(ImageError):
    """More pixels than ``MAX_PIXELS`` (or a side over ``MAX_SIDE``): a decompression bomb or
    simply too big."""

    code = "image_too_many_pixels"


@dataclass(frozen=True, slots=True)
class CleanImage:
    """The image to store: its bytes, media type, and what cleaning removed (SVG)."""

    data: bytes
    media_type: str
    removed: tuple[str, ...] = field(default=())

    @property
    def extension(self) -> str:
        return "svg" if self.media_type == SVG else "png"


def claimed_type(
    filename: str | None, content_type: str | None, *, convert: bool = False
) -> str | None:
    """The media type an upload claims, from its file name (preferred) or its Content-Type.
    JPEG and WebP are claims only with ``convert``."""
    accepted = {**MEDIA_TYPES, **(CONVERTED_MEDIA_TYPES if convert else {})}
    names = (
        "PNG (.png), JPEG (.jpg), WebP (.webp) and SVG (.svg)"
        if convert
        else ("PNG (.png) and SVG (.svg)")
    )
    if filename and "." in filename:
        extension = filename.rsplit(".", 1)[1].lower()
        if extension not in accepted:
            raise UnsupportedImageTypeError(f"{filename!r}: only {names} images are accepted")
        return accepted[extension]
    if content_type:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in set(accepted.values()):
            if convert:
                raise UnsupportedImageTypeError(f"{media_type!r}: only {names} images are accepted")
            raise UnsupportedImageTypeError(
                f"{media_type!r}: only image/png and image/svg+xml are accepted"
            )
        return media_type
    return None


def sniffed_type(data: bytes) -> str | None:
    """The media type the bytes are (PNG, JPEG, WebP), SVG for anything else (the SVG parser
    decides), or None for another raster format (GIF, BMP, TIFF, ICO), which is never taken."""
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data.startswith(JPEG_SIGNATURE):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(_OTHER_RASTER_SIGNATURES):
        return None
    return SVG


_LABELS = {PNG: "PNG", SVG: "SVG", JPEG: "JPEG", WEBP: "WebP"}


def check_image(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    convert: bool = False,
) -> CleanImage:
    """Check and clean an upload. ``ImageTooLargeError`` over the cap,
    ``UnsupportedImageTypeError`` for another type, ``ImageDimensionsError`` for too many
    pixels, ``ImageError`` when the bytes are not the image they claim to be or cannot be read.
    With ``convert``, JPEG and WebP are accepted too and stored as PNG."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLargeError(
            f"the image is {len(data)} bytes; at most {MAX_IMAGE_BYTES // 1024} KiB is accepted"
        )
    if not data:
        raise ImageError("the image file is empty")
    claimed = claimed_type(filename, content_type, convert=convert)
    if convert:
        actual = sniffed_type(data)
        if actual is None:
            raise UnsupportedImageTypeError(
                "the file is a GIF, BMP, TIFF or ICO image; only PNG, JPEG, WebP and SVG are "
                "accepted"
            )
    else:
        actual = PNG if data.startswith(PNG_SIGNATURE) else SVG
    if claimed is not None and claimed != actual:
        label = _LABELS[claimed]
        raise ImageError(f"the file is called a {label} image but its content is not {label}")
    if actual == PNG:
        return CleanImage(clean_png(data), PNG)
    if actual in (JPEG, WEBP):
        return CleanImage(convert_to_png(data, actual), PNG)
    cleaned, removed = clean_svg(data)
    return CleanImage(cleaned, SVG, tuple(removed))


# --- PNG ---------------------------------------------------------------------------------------


def _decode(data: bytes, pil_format: str, *, label: str, upright: bool = False) -> Image.Image:
    """The image decoded within the pixel ceiling (checked on the header before any pixel is
    decoded: a tiny file can declare a gigantic canvas); damage of any kind is an
    ``ImageError``."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS and refuses above twice that; our
            # ceiling is far lower and checked before decoding, the warning becomes an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise ImageDimensionsError(
                        f"the image is {width} x {height} pixels; at most {MAX_SIDE} x "
                        f"{MAX_SIDE} is accepted"
                    )
                image.load()
                # A copy: the image the ``with`` block opened is closed when it ends.
                return ImageOps.exif_transpose(image) if upright else image.copy()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageDimensionsError(
            f"the image declares too many pixels; at most {MAX_SIDE} x {MAX_SIDE} is accepted"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ImageError(f"the {label} image is damaged or cannot be read") from None


def _png_bytes(image: Image.Image) -> bytes:
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def clean_png(data: bytes) -> bytes:
    """The PNG decoded within limits and re-encoded (pixels only)."""
    return _png_bytes(_decode(data, "PNG", label="PNG"))


def convert_to_png(data: bytes, media_type: str) -> bytes:
    """A JPEG or WebP image as PNG: upright (EXIF orientation), at most ``CONVERTED_SIDE``
    pixels a side, pixels only (no EXIF, no ICC profile, no XMP)."""
    pil_format, label = {JPEG: ("JPEG", "JPEG"), WEBP: ("WEBP", "WebP")}[media_type]
    upright = _decode(data, pil_format, label=label, upright=True)
    try:
        if upright.mode not in ("L", "LA", "RGB", "RGBA"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        upright.thumbnail((CONVERTED_SIDE, CONVERTED_SIDE))
        return _png_bytes(upright)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"the {label} image is damaged or cannot be read") from error


# --- SVG ---------------------------------------------------------------------------------------


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return None, name


def _parse_svg(data: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise ImageError("SVG with a DOCTYPE is not accepted") from None
    except defusedxml.DefusedXmlException:
        raise ImageError("SVG with entity declarations or external references is refused") from None
    except (ParseError, ValueError):
        raise ImageError("the file is not a well-formed SVG image") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ImageError("the file is not an SVG image (no <svg> root element)")
    assert isinstance(root, ET.Element)
    return root


def _reference_is_safe(value: str) -> bool:
    value = value.strip()
    return value.startswith("#") or bool(_SAFE_DATA_URL.fullmatch(value))


def _clean_attributes(element: ET.Element, removed: list[str]) -> None:
    _, element_name = _local(element.tag)
    for name, value in list(element.attrib.items()):
        namespace, local = _local(name)
        reason = None
        if local.lower().startswith("on"):
            reason = f"event handler {local!r}"
        elif local == "href" and namespace in (None, XLINK_NS):
            if not _reference_is_safe(value):
                reason = f"external reference on <{element_name}>"
        elif _EXTERNAL_STYLE.search(value) or _SCRIPT_URL.match(value):
            reason = f"external or script reference in {local!r}"
        if reason is not None:
            del element.attrib[name]
            removed.append(reason)


def _clean_children(parent: ET.Element, removed: list[str]) -> None:
    for child in list(parent):
        namespace, local = _local(str(child.tag))
        if namespace != SVG_NS:
            parent.remove(child)
            removed.append(f"non-SVG element <{local}>")
            continue
        if local in FORBIDDEN_ELEMENTS:
            parent.remove(child)
            removed.append(f"<{local}> element")
            continue
        if local == "style" and _EXTERNAL_STYLE.search("".join(child.itertext())):
            parent.remove(child)
            removed.append("<style> with an external reference")
            continue
        _clean_attributes(child, removed)
        _clean_children(child, removed)


def clean_svg(data: bytes) -> tuple[bytes, list[str]]:
    """The sanitised SVG, and a description of each removal."""
    root = _parse_svg(data)
    removed: list[str] = []
    _clean_attributes(root, removed)
    _clean_children(root, removed)
    uses_xlink = _plain_names(root)
    root.set("xmlns", SVG_NS)
    if uses_xlink:
        root.set("xmlns:xlink", XLINK_NS)
    text = ET.tostring(root, encoding="unicode")
    return text.encode("utf-8"), removed


def _plain_names(root: ET.Element) -> bool:
    """Write the SVG namespace as the default one (``<svg xmlns=...>``, as every SVG tool
    does, rather than ElementTree's ``ns0:`` prefixes): element names lose the namespace and
    ``xlink:`` attributes get their usual prefix. Attributes of other namespaces (editor
    metadata, not worth reporting) are dropped. Returns whether an ``xlink:`` attribute remains."""
    uses_xlink = False
    for element in root.iter():
        element.tag = _local(str(element.tag))[1]
        for name, value in list(element.attrib.items()):
            namespace, local = _local(name)
            if namespace is None or namespace == XML_NS:
                continue
            del element.attrib[name]
            if namespace == XLINK_NS:
                element.set(f"xlink:{local}", value)
                uses_xlink = True
    return uses_xlink


# --- default artwork ---------------------------------------------------------------------------

#: Colours of the shipped artwork by competence area (badge_templates/README.md "Artwork").
AREA_COLOURS = {
    "foresight": ("#1f4e9c", "#2f6fd6"),
    "customer-partnership": ("#0d6b66", "#149e96"),
    "pedagogical-development": ("#8f4a10", "#d0701c"),
    "strategy-and-process": ("#4b2a83", "#6d43b8"),
    "renewal-and-innovation": ("#8a1559", "#c2257e"),
}
DEFAULT_COLOURS = ("#33475b", "#4f6d8a")


def default_artwork(competence_areas: tuple[str, ...] = ()) -> CleanImage:
    """Plain artwork for a badge class without an upload: a circle in the colour of its first
    competence area, with a white tick. No text, so it suits every language."""
    area = next((a for a in competence_areas if a in COMPETENCE_AREAS), None)
    outer, inner = AREA_COLOURS.get(area or "", DEFAULT_COLOURS)
    svg = (
        f'<svg xmlns="{SVG_NS}" width="512" height="512" viewBox="0 0 512 512">'
        f'<circle cx="256" cy="256" r="244" fill="{outer}"/>'
        f'<circle cx="256" cy="256" r="214" fill="{inner}"/>'
        '<path d="M168 262L230 324L348 196" fill="none" stroke="#ffffff" stroke-width="28" '
        'stroke-linecap="round" stroke-linejoin="round"/>'
        "</svg>"
    )
    return CleanImage(svg.encode("utf-8"), SVG)
