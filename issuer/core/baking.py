"""Baking: carrying an Open Badges credential inside its PNG or SVG image, and reading it back.

Spec: OB 3.0 §"Baked Badge" / docformat (``shared/reference/ob3-facts.md`` §3), OB 2.0 "Baking
Specification" for the legacy formats we still read.

* PNG [OB 3.0 "PNG"]: one ``iTXt`` chunk, keyword ``openbadgecredential``, compression flag 0,
  empty language tag and translated keyword, text = the credential JSON or its compact JWS.
  The chunk reader/writer is our own (a few dozen lines): Pillow would decode and re-encode the
  image, changing bytes we have no reason to touch.
* SVG [OB 3.0 "SVG"]: ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` on ``<svg>``
  and, directly after its start tag, one ``<openbadges:credential>`` holding the JSON in CDATA
  (or, for a VC-JWT, an empty element with ``verify="<compact JWS>"``). The document is edited
  as text, located with expat byte offsets, so the artwork, its DOCTYPE and comments stay as
  they were; reading uses defusedxml, which refuses entity declarations (billion laughs) and
  external references (XXE).

Leading and trailing whitespace around a baked credential is not part of it: unbaking strips it
(the official samples pad the CDATA with newlines). Any credential without surrounding
whitespace round-trips exactly.
"""

from __future__ import annotations

import json
import re
import struct
import xml.parsers.expat
import zlib
from dataclasses import dataclass
from typing import Literal, NamedTuple, NoReturn
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from issuer.core.errors import EngineError

CredentialFormat = Literal["ob3-json", "ob3-jwt", "ob2"]

#: Largest image we read or write. Badge artwork is typically well under 1 MiB.
MAX_IMAGE_BYTES = 16 * 1024 * 1024
#: Largest number of PNG chunks; a 16 MiB image in 8 KiB IDAT chunks has about 2,000.
MAX_PNG_CHUNKS = 10_000
#: Largest credential text (also the cap when inflating someone else's compressed iTXt).
MAX_CREDENTIAL_BYTES = 8 * 1024 * 1024

OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OB2_NAMESPACE = "http://openbadges.org"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_OB3_TAG = f"{{{OB3_NAMESPACE}}}credential"
_OB2_TAG = f"{{{OB2_NAMESPACE}}}assertion"
_SVG_TAG = f"{{{SVG_NAMESPACE}}}svg"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB3_PNG_KEYWORD = b"openbadgecredential"
OB2_PNG_KEYWORD = b"openbadges"

# A compact JWS (RFC 7515 §7.1): three base64url parts. VC-JWT payloads are never empty.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class BakingError(EngineError):
    """The image is not a readable PNG/SVG, is corrupt or hostile, or the credential is unusable."""

    code = "baking_error"


@dataclass(frozen=True)
class UnbakedCredential:
    """What an image carried: ``ob3-json`` (credential with embedded proof), ``ob3-jwt``
    (compact JWS) or ``ob2`` (an OB 2.0 assertion: JSON, JWS or hosted URL)."""

    format: CredentialFormat
    text: str


def _fail(message: str) -> NoReturn:
    raise BakingError(message)


def _credential_kind(credential: str) -> Literal["json", "jwt"]:
    """Check what we are asked to bake: a JSON object or a compact JWS, nothing else."""
    if not isinstance(credential, str):
        _fail("the credential to bake must be a string")
    try:
        size = len(credential.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: not Unicode text
        _fail("the credential is not valid Unicode text")
    if size > MAX_CREDENTIAL_BYTES:
        _fail(f"the credential is larger than {MAX_CREDENTIAL_BYTES} bytes")
    stripped = credential.strip()
    if _COMPACT_JWS.fullmatch(stripped):
        return "jwt"
    try:
        parsed = json.loads(stripped)
    except (ValueError, RecursionError):
        _fail("the credential to bake is neither JSON nor a compact JWS")
    if not isinstance(parsed, dict):
        _fail("the credential to bake must be a JSON object")
    return "json"


def _ob3_result(text: str) -> UnbakedCredential:
    """Classify OB 3.0 baked text by shape; parsing it is the verifier's job."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return UnbakedCredential("ob3-json", stripped)
    if _COMPACT_JWS.fullmatch(stripped):
        return UnbakedCredential("ob3-jwt", stripped)
    _fail("the baked OB 3.0 credential is neither JSON nor a compact JWS")


def _ob2_result(text: str) -> UnbakedCredential:
    stripped = text.strip()
    if not stripped:
        _fail("the baked OB 2.0 assertion is empty")
    return UnbakedCredential("ob2", stripped)


# ------------------------------------------------------------------------------------------ PNG


class PngChunk(NamedTuple):
    type: bytes
    data: bytes


def png_chunks(png: bytes) -> list[PngChunk]:
    """Split a PNG into chunks (PNG spec §5.3), checking the signature, every CRC, that IHDR
    comes first and that IEND ends it. Bytes after IEND are ignored (as decoders do)."""
    if not isinstance(png, bytes | bytearray):
        _fail("a PNG image must be bytes")
    if len(png) > MAX_IMAGE_BYTES:
        _fail(f"image larger than {MAX_IMAGE_BYTES} bytes")
    if not png.startswith(PNG_SIGNATURE):
        _fail("not a PNG image (bad signature)")
    chunks: list[PngChunk] = []
    offset = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_PNG_CHUNKS:
            _fail(f"PNG has more than {MAX_PNG_CHUNKS} chunks")
        if offset + 8 > len(png):
            _fail("truncated PNG: missing IEND chunk")
        length, chunk_type = struct.unpack_from(">I4s", png, offset)
        if length > 0x7FFFFFFF or not chunk_type.isalpha() or not chunk_type.isascii():
            _fail(f"corrupt PNG chunk header at byte {offset}")
        end = offset + 8 + length + 4
        if end > len(png):
            _fail(f"truncated PNG: chunk {chunk_type.decode('ascii')} runs past the end")
        data = bytes(png[offset + 8 : offset + 8 + length])
        (crc,) = struct.unpack_from(">I", png, offset + 8 + length)
        if zlib.crc32(chunk_type + data) != crc:
            _fail(f"corrupt PNG: CRC mismatch in chunk {chunk_type.decode('ascii')}")
        if not chunks and chunk_type != b"IHDR":
            _fail("corrupt PNG: first chunk is not IHDR")
        chunks.append(PngChunk(chunk_type, data))
        offset = end
        if chunk_type == b"IEND":
            return chunks


def write_png(chunks: list[PngChunk]) -> bytes:
    """Serialise chunks: length, type, data, CRC-32 of type+data (PNG spec §5.3)."""
    out = bytearray(PNG_SIGNATURE)
    for chunk_type, data in chunks:
        out += struct.pack(">I", len(data)) + chunk_type + data
        out += struct.pack(">I", zlib.crc32(chunk_type + data))
    return bytes(out)


def _itxt_data(keyword: bytes, text: str) -> bytes:
    # PNG spec §11.3.4.5 iTXt: keyword NUL, compression flag 0, method 0, language tag "" NUL,
    # translated keyword "" NUL, UTF-8 text. OB 3.0: "compression MUST NOT be used".
    return keyword + b"\0" + b"\0\0" + b"\0" + b"\0" + text.encode("utf-8")


def _keyword(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


def _itxt_text(data: bytes) -> str:
    """Text of one of our iTXt chunks; a compressed one (flag 1, zlib) from other bakers too."""
    try:
        _, rest = data.split(b"\0", 1)
        flag, method, rest = rest[0], rest[1], rest[2:]
        _language, rest = rest.split(b"\0", 1)
        _translated, raw = rest.split(b"\0", 1)
    except (ValueError, IndexError):
        _fail("corrupt iTXt chunk (missing fields)")
    if flag == 1:
        if method != 0:
            _fail(f"iTXt chunk uses unknown compression method {method}")
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(raw, MAX_CREDENTIAL_BYTES + 1)
        except zlib.error as exc:
            _fail(f"corrupt compressed iTXt chunk: {exc}")
        if len(raw) > MAX_CREDENTIAL_BYTES or inflater.unconsumed_tail:
            _fail(f"compressed iTXt expands beyond {MAX_CREDENTIAL_BYTES} bytes; refused")
        if not inflater.eof:
            _fail("corrupt compressed iTXt chunk (truncated)")
    elif flag != 0:
        _fail(f"iTXt chunk has invalid compression flag {flag}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail("iTXt text is not UTF-8")


def _is_badge_chunk(chunk: PngChunk) -> bool:
    """Chunks that carry a credential: OB 3.0 iTXt, OB 2.0 iTXt/tEXt/zTXt ``openbadges``."""
    if chunk.type not in (b"iTXt", b"tEXt", b"zTXt"):
        return False
    keyword = _keyword(chunk.data)
    return keyword == OB2_PNG_KEYWORD or (chunk.type == b"iTXt" and keyword == OB3_PNG_KEYWORD)


def bake_png(png: bytes, credential_json: str) -> bytes:
    """Return ``png`` carrying ``credential_json`` (a JSON credential or compact JWS) in one
    uncompressed ``openbadgecredential`` iTXt chunk placed just before IEND, as the 1EdTech
    samples do. Re-baking overwrites: every earlier badge chunk (OB 3.0 or OB 2.0) is removed,
    one image carries one credential [OB 3.0 "Baking"]. Pixel data is copied untouched."""
    _credential_kind(credential_json)
    chunks = [chunk for chunk in png_chunks(png) if not _is_badge_chunk(chunk)]
    badge = PngChunk(b"iTXt", _itxt_data(OB3_PNG_KEYWORD, credential_json))
    return write_png([*chunks[:-1], badge, chunks[-1]])


def unbake_png(png: bytes) -> UnbakedCredential | None:
    """The credential a PNG carries, or None. OB 3.0 wins: the first ``openbadgecredential``
    iTXt [OB 3.0 "Extracting"]; failing that, an OB 2.0 ``openbadges`` iTXt or tEXt chunk."""
    chunks = png_chunks(png)
    for chunk in chunks:
        if chunk.type == b"iTXt" and _keyword(chunk.data) == OB3_PNG_KEYWORD:
            return _ob3_result(_itxt_text(chunk.data))
    for chunk in chunks:
        if _keyword(chunk.data) != OB2_PNG_KEYWORD:
            continue
        if chunk.type == b"iTXt":
            return _ob2_result(_itxt_text(chunk.data))
        if chunk.type == b"tEXt":  # OB 2.0 legacy: Latin-1 text, usually the assertion URL
            return _ob2_result(chunk.data.partition(b"\0")[2].decode("latin-1"))
    return None


# ------------------------------------------------------------------------------------------ SVG

# Characters XML 1.0 cannot carry at all (§2.2 Char); a credential containing one cannot be baked.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_DECLARED_ENCODING = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']"""
)
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")


def _parse_svg(svg: bytes) -> Element:
    """Parse with defusedxml: entity declarations and external references are refused, so
    neither a billion-laughs bomb nor an XXE file read can happen. The root must be <svg>."""
    if not isinstance(svg, bytes | bytearray):
        _fail("an SVG image must be bytes")
    if len(svg) > MAX_IMAGE_BYTES:
        _fail(f"image larger than {MAX_IMAGE_BYTES} bytes")
    try:
        root: Element = SafeET.fromstring(bytes(svg))
    except defusedxml.DefusedXmlException as exc:
        _fail(
            f"SVG refused: {type(exc).__name__} (entities and external references are not allowed)"
        )
    except (ParseError, ValueError) as exc:
        _fail(f"not a well-formed SVG document: {exc}")
    if root.tag != _SVG_TAG:
        _fail(f"not an SVG image (root element {root.tag!r})")
    return root


def unbake_svg(svg: bytes) -> UnbakedCredential | None:
    """The credential an SVG carries, or None [OB 3.0 "SVG"; OB 2.0 baking]: the first
    {https://purl.imsglobal.org/ob/v3p0}credential (``verify`` attribute = VC-JWT, else the
    CDATA/text content = JSON), failing that the first {http://openbadges.org}assertion."""
    root = _parse_svg(svg)
    for tag, result in ((_OB3_TAG, _ob3_result), (_OB2_TAG, _ob2_result)):
        element = next(root.iter(tag), None)
        if element is None:
            continue
        verify = (element.get("verify") or "").strip()
        if verify:
            return result(verify)
        text = "".join(element.itertext())
        if not text.strip():
            _fail(f"the SVG's {tag} element is empty")
        return result(text)
    return None


class _SvgLayout(NamedTuple):
    root_start: int  # byte offset of "<" of the root start tag
    root_end: int  # byte offset just past its ">"
    remove: list[tuple[int, int]]  # byte spans of earlier badge elements


# The rest of a start tag after "<": anything but quotes and ">", or quoted attribute values
# (which may contain ">"), up to the closing ">".
_START_TAG_REST = re.compile(rb"""(?:[^"'>]|"[^"]*"|'[^']*')*>""")


def _start_tag_end(data: bytes, start: int) -> int:
    """Offset just past the ">" closing the start tag that begins at ``start``."""
    match = _START_TAG_REST.match(data, start + 1)
    if match is None:  # pragma: no cover - cannot happen after a successful parse
        _fail("unterminated start tag")
    return match.end()


def _locate(svg: bytes) -> _SvgLayout:
    """Byte offsets of the root start tag and of every OB 3.0 / OB 2.0 badge element, from
    expat's CurrentByteIndex. Only called after ``_parse_svg`` accepted the document; entity
    handlers refuse anyway, as a second line of defence."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    badge_names = {f"{OB3_NAMESPACE} credential", f"{OB2_NAMESPACE} assertion"}
    starts: list[tuple[str, int, bool]] = []  # (name, start offset, is the tag empty "<x/>")
    spans: list[tuple[int, int]] = []
    root: list[int] = []

    def refuse(*_args: object) -> NoReturn:
        _fail("SVG refused: entity declarations are not allowed")

    def on_start(name: str, _attributes: object) -> None:
        start = parser.CurrentByteIndex
        empty = False
        if not root or name in badge_names:  # only these tags need their extent
            tag_end = _start_tag_end(svg, start)
            empty = svg[tag_end - 2 : tag_end] == b"/>"
            if not root:
                root.extend((start, tag_end))
        starts.append((name, start, empty))

    def on_end(name: str) -> None:
        _name, start, empty = starts.pop()
        if name in badge_names and starts:  # never the root itself
            if empty:
                end = _start_tag_end(svg, start)
            else:  # CurrentByteIndex is at "</"; an end tag holds no quotes
                end = svg.index(b">", parser.CurrentByteIndex) + 1
            spans.append((start, end))

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(bytes(svg), True)
    except xml.parsers.expat.ExpatError as exc:  # pragma: no cover - _parse_svg ran first
        _fail(f"not a well-formed SVG document: {exc}")
    outermost: list[tuple[int, int]] = []  # a badge element nested in another goes with it
    for start, end in sorted(spans):
        if not outermost or start >= outermost[-1][1]:
            outermost.append((start, end))
    return _SvgLayout(root[0], root[1], outermost)


def _require_utf8(svg: bytes) -> None:
    # Editing by byte offset needs an ASCII-compatible encoding; SVG files are UTF-8 in practice.
    if svg.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail("only UTF-8 SVG images can be baked (this one is UTF-16)")
    declared = _XML_DECLARED_ENCODING.match(svg)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        _fail(f"only UTF-8 SVG images can be baked (declared {declared.group(1).decode()})")


def _cdata(text: str) -> str:
    """Wrap ``text`` in CDATA so that it parses back exactly [XML 1.0 §2.7]: "]]>" would end the
    section, so it is split across two sections; a carriage return would be normalised to a line
    feed by every XML parser (§2.11), so it goes outside as the reference ``&#13;``."""
    if _NOT_XML_CHAR.search(text):
        _fail("the credential contains characters XML cannot carry")
    body = text.replace("]]>", "]]]]><![CDATA[>").replace("\r", "]]>&#13;<![CDATA[")
    return f"<![CDATA[{body}]]>"


def _credential_element(credential: str) -> str:
    if _credential_kind(credential) == "jwt":
        return f'<openbadges:credential verify="{credential.strip()}"></openbadges:credential>'
    return f"<openbadges:credential>{_cdata(credential)}</openbadges:credential>"


def _declare_namespace(start_tag: str) -> str:
    """The root start tag with ``xmlns:openbadges`` bound to the OB 3.0 namespace: added when
    absent, rebound when it named another one (an OB 2.0 image being re-baked)."""
    for match in _ATTRIBUTE.finditer(start_tag):
        if match.group(1) == "xmlns:openbadges":
            value = f'"{OB3_NAMESPACE}"'
            return start_tag[: match.start(2)] + value + start_tag[match.end(2) :]
    name_end = re.match(r"<[^\s/>]+", start_tag)
    assert name_end is not None  # a parsed start tag always begins with its name
    position = name_end.end()
    return f'{start_tag[:position]} xmlns:openbadges="{OB3_NAMESPACE}"{start_tag[position:]}'


def bake_svg(svg: bytes, credential_json: str) -> bytes:
    """Return ``svg`` carrying the credential [OB 3.0 "SVG"]: the OB 3.0 namespace declared on
    the root, and one ``<openbadges:credential>`` directly after the root start tag holding the
    JSON in CDATA (a compact JWS goes into ``verify``). Earlier badge elements, OB 3.0 or OB 2.0,
    are removed, so re-baking overwrites. The result is re-read as a self-check."""
    element = _credential_element(credential_json)
    _require_utf8(svg)
    _parse_svg(svg)
    layout = _locate(svg)
    text = bytes(svg)
    start_tag = text[layout.root_start : layout.root_end].decode("utf-8")
    new_tag = _declare_namespace(start_tag)
    if new_tag.endswith("/>"):  # an empty <svg/>: open it to hold the element
        root_name = re.match(r"<([^\s/>]+)", new_tag)
        assert root_name is not None
        opening = new_tag[:-2] + ">" + element + f"</{root_name.group(1)}>"
    else:
        opening = new_tag + element
    tail = bytearray(text[layout.root_end :])
    for start, end in sorted(layout.remove, reverse=True):
        del tail[start - layout.root_end : end - layout.root_end]
    baked = text[: layout.root_start] + opening.encode("utf-8") + bytes(tail)
    _check_baked(baked, credential_json)
    return baked


def _check_baked(baked: bytes, credential: str) -> None:
    root = _parse_svg(baked)
    found = list(root.iter(_OB3_TAG)) + list(root.iter(_OB2_TAG))
    unbaked = unbake_svg(baked)
    if len(found) != 1 or unbaked is None or unbaked.text != credential.strip():
        _fail("baking this SVG did not produce exactly one readable credential")


# ------------------------------------------------------------------------------------- sniffing


def unbake(data: bytes) -> UnbakedCredential | None:
    """The credential carried by a PNG or SVG image (told apart by content, not by file name),
    or None when the image carries none. ``BakingError`` for anything else."""
    if not isinstance(data, bytes | bytearray):
        _fail("an image must be bytes")
    if data.startswith(PNG_SIGNATURE):
        return unbake_png(bytes(data))
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.lstrip(
        b"\xef\xbb\xbf \t\r\n"
    ).startswith(b"<"):
        return unbake_svg(bytes(data))
    _fail("not a PNG or SVG image")
