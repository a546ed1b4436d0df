"""Badge artwork in both baking formats, and the baked images of a credential.

OB 3.0 bakes into PNG or SVG (ob3-facts §3); a badge class has one artwork file, either.

* **PNG from SVG artwork**: rendered with resvg (``resvg-py``, a self-contained wheel: no system
  library, no network). Before rendering, every reference that is not a fragment (``#id``) or a
  ``data:`` URI is removed, so that an uploaded SVG cannot make the renderer read files of the
  server into the picture.
* **A fixed pixel budget**: the rendering fits inside ``RENDER_SIZE`` x ``RENDER_SIZE`` pixels
  whatever the SVG declares (resvg scales to fit when given both a width and a height, keeping
  the aspect ratio), so an SVG of ``width="1" height="100000"``, an extreme ``viewBox`` or huge
  sizes costs what a square badge costs. Asked for a width only, resvg would follow the aspect
  ratio: 1 x 100000 at 512 px wide is a 26-gigapixel canvas.
* **A fixed time and memory budget**: the rendering runs in a child process (the interpreter
  with only ``resvg_py`` imported) limited to ``RENDER_TIMEOUT_S`` seconds and
  ``RENDER_MEMORY_BYTES`` of address space, at most ``MAX_CONCURRENT_RENDERS`` at a time per
  process. The pixel budget alone does not bound time: 1.7 kB of nested ``<use>`` took resvg
  3.7 s, and 100 blurred rectangles with a large filter region 41 s.
* **Rendered once**: the PNG of each artwork (by SHA-256 of its bytes and the size) is kept in
  a ``RenderCache`` bounded in entries and bytes, one per application (``app.extensions``);
  concurrent first requests for the same artwork wait for one rendering, and artwork that cannot
  be rendered is remembered as such. No anonymous request renders what was rendered before.
* **SVG from PNG artwork**: an SVG document of the PNG's pixel size holding the PNG as a
  ``data:`` URI ``<image>``, so that the SVG download exists for every badge. Pure Python.

The baked image carries the exact signed JSON text that was issued (``bake_png``/``bake_svg``).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from xml.etree.ElementTree import tostring

import defusedxml.ElementTree as SafeET
from flask import Flask, current_app, has_app_context

from issuer.core.baking import PNG_SIGNATURE, bake_png, bake_svg
from issuer.models import BadgeClassVersion

#: The box the PNG rendered from SVG artwork fits in: 512 px is what LinkedIn and most badge
#: backpacks display at most; larger only adds bytes to every download. A square badge fills it.
RENDER_SIZE = 512
#: Rendered PNGs kept per application: at most this many, and at most this many bytes (a
#: rendering is a few kilobytes to ~1 MiB for 512 x 512 pixels of noise).
CACHE_ENTRIES = 256
CACHE_BYTES = 32 * 1024 * 1024
#: Budget of one rendering (a badge renders in about 10 ms, plus ~100 ms to start the child).
RENDER_TIMEOUT_S = 5.0
RENDER_MEMORY_BYTES = 1024 * 1024 * 1024
MAX_CONCURRENT_RENDERS = 2
#: Where the application's cache lives (``init_app``).
EXTENSION = "merkki.artwork_renders"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_SAFE_REFERENCE = re.compile(r"\s*(#|data:)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#|data:)[^)]*\)", re.IGNORECASE)


class ArtworkError(ValueError):
    """The artwork cannot be turned into the requested format."""


class RenderUnavailableError(ArtworkError):
    """The renderer could not be started (no process could be made): try again later. Not
    remembered as a property of the artwork."""


class RenderCache:
    """Rendered PNGs by key, least recently used first out, bounded by ``max_entries`` and
    ``max_bytes``. ``get_or_render`` renders a key once however many threads ask at the same
    time, and remembers a failure (the message) as well as a success."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes | ArtworkError] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _get(self, key: str) -> bytes | ArtworkError | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def _put(self, key: str, value: bytes | ArtworkError) -> None:
        size = len(value) if isinstance(value, bytes) else 0
        if size > self.max_bytes:
            return
        with self._lock:
            self._entries[key] = value
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped) if isinstance(dropped, bytes) else 0

    def get_or_render(self, key: str, render: Callable[[], bytes]) -> bytes:
        found = self._get(key)
        if found is None:
            with self._lock:
                pending = self._pending.setdefault(key, threading.Lock())
            with pending:
                # Whoever held the lock before may have rendered it meanwhile.
                found = self._get(key)
                if found is None:
                    try:
                        try:
                            found = render()
                        except RenderUnavailableError:
                            raise
                        except ArtworkError as error:
                            found = error
                        # Stored before the pending lock goes: a later thread finds one or
                        # the other, never neither.
                        self._put(key, found)
                    finally:
                        with self._lock:
                            self._pending.pop(key, None)
        if isinstance(found, ArtworkError):
            raise ArtworkError(str(found))
        return found


#: For rendering outside an application (scripts, the benchmarks).
_fallback_cache = RenderCache()


def render_cache() -> RenderCache:
    """The current application's cache (``init_app``), else the process-wide one."""
    if has_app_context():
        registered = current_app.extensions.get(EXTENSION)
        if isinstance(registered, RenderCache):
            return registered
    return _fallback_cache


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = RenderCache()


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


def render_png(svg: bytes, size: int = RENDER_SIZE) -> bytes:
    """A PNG rendering of ``svg`` fitting in ``size`` x ``size`` pixels (at most
    ``RENDER_SIZE``), rendered once per artwork (``RenderCache``)."""
    size = max(1, min(size, RENDER_SIZE))
    key = f"{hashlib.sha256(svg).hexdigest()}:{size}"
    return render_cache().get_or_render(key, lambda: _render(svg, size))


#: The child process: limits first, then resvg; SVG text on stdin, PNG on stdout. Both a width
#: and a height: resvg scales the drawing to fit the box, keeping its aspect ratio (the pixel
#: budget). dpi: CSS pixels per inch, so that artwork sized in mm or cm has a size at all.
_RENDERER = """
import resource, sys
size, memory, cpu = (int(value) for value in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
import resvg_py
text = sys.stdin.buffer.read().decode("utf-8")
try:
    png = resvg_py.svg_to_bytes(svg_string=text, width=size, height=size, dpi=96.0)
except Exception as error:
    sys.stderr.write(str(error)[:500])
    sys.exit(2)
sys.stdout.buffer.write(bytes(png))
"""
_render_slots = threading.BoundedSemaphore(MAX_CONCURRENT_RENDERS)


def _run_renderer(text: str, size: int) -> bytes:
    """The PNG resvg draws of ``text`` in ``size`` x ``size``, within the time and memory
    budget."""
    command = [
        sys.executable,
        "-I",  # isolated: no environment variables, no current directory on the path
        "-c",
        _RENDERER,
        str(size),
        str(RENDER_MEMORY_BYTES),
        str(math.ceil(RENDER_TIMEOUT_S) + 1),
    ]
    with _render_slots:
        try:
            completed = subprocess.run(  # noqa: S603 - our interpreter and script; SVG on stdin
                command,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=RENDER_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ArtworkError(
                f"the SVG artwork takes more than {RENDER_TIMEOUT_S:g} s to render"
            ) from None
        except OSError as error:
            raise RenderUnavailableError(f"the SVG renderer cannot start: {error}") from None
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip()[-200:]
        raise ArtworkError(
            f"the SVG artwork cannot be rendered: {detail or f'exit {completed.returncode}'}"
        )
    return completed.stdout


def _render(svg: bytes, size: int) -> bytes:
    png = _run_renderer(_without_external_references(svg), size)
    if not png.startswith(PNG_SIGNATURE):
        raise ArtworkError("the SVG renderer did not produce a PNG")
    width, height = png_size(png)
    if width > size or height > size:  # resvg's contract, checked: the budget is ours
        raise ArtworkError(f"the SVG renderer produced {width} x {height} pixels")
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
