"""Badge artwork in both baking formats, and the baked images of a credential.

OB 3.0 bakes into PNG or SVG (ob3-facts §3); a badge class has one artwork file, either.

* **PNG from SVG artwork**: rendered with resvg (``resvg-py``, a self-contained wheel: no system
  library, no network). Rendering happens on first request and is cached per badge-class
  version in the process (artwork of a version never changes). Before rendering, every
  reference that is not a fragment (``#id``) or a ``data:`` URI is removed, so that an uploaded
  SVG cannot make the renderer read files of the server into the picture.
* **SVG from PNG artwork**: an SVG document of the PNG's pixel size holding the PNG as a
  ``data:`` URI ``<image>``, so that the SVG download exists for every badge. Pure Python.

The baked image carries the exact signed JSON text that was issued (``bake_png``/``bake_svg``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import threading
from collections import OrderedDict
from xml.etree.ElementTree import tostring

import defusedxml.ElementTree as SafeET
import resvg_py

from issuer.core.baking import PNG_SIGNATURE, bake_png, bake_svg
from issuer.models import BadgeClassVersion

#: Width of the PNG rendered from SVG artwork: 512 px is what LinkedIn and most badge
#: backpacks display at most; larger only adds bytes to every download.
RENDER_WIDTH = 512
#: Rendered PNGs kept per process (a few tens of kilobytes each).
CACHE_SIZE = 256
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_SAFE_REFERENCE = re.compile(r"\s*(#|data:)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#|data:)[^)]*\)", re.IGNORECASE)

_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


class ArtworkError(ValueError):
    """The artwork cannot be turned into the requested format."""


def _without_external_references(svg: bytes) -> str:
    """The SVG as text with every external reference (href to a file or URL, CSS url())
    removed; parsing with defusedxml refuses entities and external DTDs."""
    try:
        root = SafeET.fromstring(svg)
    except Exception as error:  # defusedxml raises several kinds; all mean "not usable"
        raise ArtworkError(f"the SVG artwork cannot be read: {error}") from None
    for element in root.iter():
        for name in ("href", _XLINK_HREF):
            value = element.get(name)
            if value is not None and not _SAFE_REFERENCE.match(value):
                del element.attrib[name]
        style = element.get("style")
        if style is not None:
            element.set("style", _CSS_URL.sub("none", style))
        if element.tag == f"{{{_SVG_NAMESPACE}}}style" and element.text:
            element.text = _CSS_URL.sub("none", element.text)
    return tostring(root, encoding="unicode")


def render_png(svg: bytes, width: int = RENDER_WIDTH) -> bytes:
    """A PNG rendering of ``svg``, ``width`` pixels wide (cached by content)."""
    digest = hashlib.sha256(svg).hexdigest() + f":{width}"
    with _cache_lock:
        cached = _cache.get(digest)
        if cached is not None:
            _cache.move_to_end(digest)
            return cached
    text = _without_external_references(svg)
    try:
        # dpi: CSS pixels per inch, so that artwork sized in mm or cm has a size at all.
        png = bytes(resvg_py.svg_to_bytes(svg_string=text, width=width, dpi=96.0))
    except Exception as error:  # resvg reports unusable SVG as a generic exception
        raise ArtworkError(f"the SVG artwork cannot be rendered: {error}") from None
    if not png.startswith(PNG_SIGNATURE):
        raise ArtworkError("the SVG renderer did not produce a PNG")
    with _cache_lock:
        _cache[digest] = png
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ArtworkError("the PNG artwork has no IHDR chunk")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def wrap_png_in_svg(png: bytes) -> bytes:
    """An SVG document showing ``png`` at its pixel size."""
    width, height = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><image width="{width}" height="{height}" '
        f'href="data:image/png;base64,{data}"/></svg>'
    ).encode()


def artwork_png(version: BadgeClassVersion) -> bytes:
    if version.image_media_type == "image/png":
        return version.image
    return render_png(version.image)


def artwork_svg(version: BadgeClassVersion) -> bytes:
    if version.image_media_type == "image/svg+xml":
        return version.image
    return wrap_png_in_svg(version.image)


def baked_png(version: BadgeClassVersion, signed_json: str) -> bytes:
    """The badge artwork as PNG carrying ``signed_json`` (OB 3.0 iTXt ``openbadgecredential``)."""
    return bake_png(artwork_png(version), signed_json)


def baked_svg(version: BadgeClassVersion, signed_json: str) -> bytes:
    """The badge artwork as SVG carrying ``signed_json`` (OB 3.0 ``<openbadges:credential>``)."""
    return bake_svg(artwork_svg(version), signed_json)
