"""OB 3.0 baking: PNG iTXt and SVG <openbadges:credential>, plus reading OB 2.0 images."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from issuer.core import baking
from issuer.core.baking import (
    OB3_NAMESPACE,
    PNG_SIGNATURE,
    BakingError,
    PngChunk,
    UnbakedCredential,
    bake_png,
    bake_svg,
    png_chunks,
    unbake,
    unbake_png,
    unbake_svg,
    write_png,
)

OB3_TAG = f"{{{OB3_NAMESPACE}}}credential"
SVG_NS = "http://www.w3.org/2000/svg"

CREDENTIAL = json.dumps(
    {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Työelämäosaaminen – åäö ✓ 😀",
        "description": 'Tricky: "]]>" & <tags> \u2028',
        "proof": [{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}],
    },
    ensure_ascii=False,
)
JWS = (
    base64.urlsafe_b64encode(b'{"alg":"EdDSA"}').rstrip(b"=").decode()
    + "."
    + base64.urlsafe_b64encode(b'{"iss":"did:web:example.fi"}').rstrip(b"=").decode()
    + ".c2lnbmF0dXJl"
)

SIMPLE_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">\n'
    b'  <!-- artwork -->\n  <circle cx="5" cy="5" r="4" fill="#1f6feb"/>\n</svg>\n'
)


def _png(width: int = 24, height: int = 16) -> bytes:
    image = Image.new("RGBA", (width, height))
    image.putdata(
        [
            (x * 10 % 256, y * 15 % 256, (x * y) % 256, 255 - x)
            for y in range(height)
            for x in range(width)
        ]
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _badge_chunks(png: bytes) -> list[PngChunk]:
    return [
        c
        for c in png_chunks(png)
        if c.type == b"iTXt" and c.data.startswith(b"openbadgecredential\0")
    ]


def _chunk(chunk_type: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + chunk_type
        + data
        + struct.pack(">I", zlib.crc32(chunk_type + data))
    )


def _with_chunk_before_iend(png: bytes, chunk: PngChunk) -> bytes:
    chunks = png_chunks(png)
    return write_png([*chunks[:-1], chunk, chunks[-1]])


# ------------------------------------------------------------------------------------------ PNG


def test_png_round_trip_json_is_exact() -> None:
    baked = bake_png(_png(), CREDENTIAL)
    assert unbake_png(baked) == UnbakedCredential("ob3-json", CREDENTIAL)
    assert unbake(baked) == UnbakedCredential("ob3-json", CREDENTIAL)


def test_png_round_trip_jwt() -> None:
    assert unbake_png(bake_png(_png(), JWS)) == UnbakedCredential("ob3-jwt", JWS)


def test_png_chunk_is_exactly_as_the_spec_says() -> None:
    original = _png()
    baked = bake_png(original, CREDENTIAL)
    chunks = png_chunks(baked)
    assert [c.type for c in chunks][-2:] == [b"iTXt", b"IEND"]  # just before IEND
    (badge,) = _badge_chunks(baked)
    # keyword NUL, compression flag 0, method 0, empty language NUL, empty translated NUL, text
    assert badge.data == b"openbadgecredential\0\0\0\0\0" + CREDENTIAL.encode("utf-8")
    # everything else is carried over byte for byte
    assert [c for c in chunks if c != badge] == png_chunks(original)


def test_rebaking_png_keeps_one_chunk_with_the_new_credential() -> None:
    once = bake_png(_png(), CREDENTIAL)
    twice = bake_png(once, JWS)
    assert len(_badge_chunks(twice)) == 1
    assert unbake_png(twice) == UnbakedCredential("ob3-jwt", JWS)
    assert bake_png(twice, CREDENTIAL) == once  # deterministic, nothing accumulates


def test_baked_png_opens_in_pillow_with_the_same_pixels() -> None:
    original = _png()
    baked = bake_png(original, CREDENTIAL)
    Image.open(io.BytesIO(baked)).verify()  # checks CRCs and structure
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(baked)) as after:
        assert after.size == before.size
        assert after.mode == before.mode
        assert after.tobytes() == before.tobytes()
        assert isinstance(after, PngImagePlugin.PngImageFile)
        assert after.text.get("openbadgecredential") == CREDENTIAL  # Pillow reads our iTXt too


def test_png_without_credential_unbakes_to_none() -> None:
    assert unbake_png(_png()) is None
    assert unbake(_png()) is None


def test_png_reads_compressed_itxt_from_other_bakers() -> None:
    compressed = b"openbadgecredential\0\x01\x00fi\0avain\0" + zlib.compress(CREDENTIAL.encode())
    png = _with_chunk_before_iend(_png(), PngChunk(b"iTXt", compressed))
    assert unbake_png(png) == UnbakedCredential("ob3-json", CREDENTIAL)
    rebaked = bake_png(png, JWS)  # and replaces it with an uncompressed one
    assert len(_badge_chunks(rebaked)) == 1
    assert unbake_png(rebaked) == UnbakedCredential("ob3-jwt", JWS)


def test_png_compressed_itxt_bomb_is_refused() -> None:
    bomb = zlib.compress(b" " * (baking.MAX_CREDENTIAL_BYTES + 10), 9)
    png = _with_chunk_before_iend(
        _png(), PngChunk(b"iTXt", b"openbadgecredential\0\x01\x00\0\0" + bomb)
    )
    with pytest.raises(BakingError, match="expands"):
        unbake_png(png)


def test_png_reads_ob2_text_and_prefers_ob3() -> None:
    url = "https://example.org/assertions/123"
    ob2_text = _with_chunk_before_iend(_png(), PngChunk(b"tEXt", b"openbadges\0" + url.encode()))
    assert unbake_png(ob2_text) == UnbakedCredential("ob2", url)
    ob2_itxt = _with_chunk_before_iend(
        _png(), PngChunk(b"iTXt", b"openbadges\0\0\0\0\0" + b'{"a":1}')
    )
    assert unbake_png(ob2_itxt) == UnbakedCredential("ob2", '{"a":1}')
    # OB 2.0 chunk first, OB 3.0 after: the OB 3.0 credential is the one that counts
    both = bake_png(_png(), CREDENTIAL)
    both = write_png(
        [
            png_chunks(both)[0],
            PngChunk(b"tEXt", b"openbadges\0" + url.encode()),
            *png_chunks(both)[1:],
        ]
    )
    assert unbake_png(both) == UnbakedCredential("ob3-json", CREDENTIAL)
    # baking over an OB 2.0 image removes the old assertion: one credential per image
    rebaked = bake_png(ob2_text, CREDENTIAL)
    assert not [c for c in png_chunks(rebaked) if c.data.startswith(b"openbadges\0")]


def test_png_other_text_chunks_are_kept() -> None:
    xmp = PngChunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>")
    comment = PngChunk(b"tEXt", b"Comment\0made by hand")
    png = _with_chunk_before_iend(_with_chunk_before_iend(_png(), xmp), comment)
    baked = bake_png(png, CREDENTIAL)
    assert xmp in png_chunks(baked)
    assert comment in png_chunks(baked)


@pytest.mark.parametrize(
    "credential", ["", "hello", "[1, 2]", "a.b", "<xml/>", '{"a": ', '{"a": "\ud800"}']
)
def test_refuses_to_bake_what_is_not_a_credential(credential: str) -> None:
    with pytest.raises(BakingError):
        bake_png(_png(), credential)
    with pytest.raises(BakingError):
        bake_svg(SIMPLE_SVG, credential)


def test_corrupt_and_truncated_png() -> None:
    good = bake_png(_png(), CREDENTIAL)
    with pytest.raises(BakingError, match="not a PNG"):
        unbake_png(b"GIF89a" + good[6:])
    with pytest.raises(BakingError, match="not a PNG"):
        unbake_png(b"")
    for cut in (8, 12, 20, 33, 40, len(good) // 2, len(good) - 13, len(good) - 1):
        with pytest.raises(BakingError, match="truncated"):
            unbake_png(good[:cut])
    flipped = bytearray(good)
    flipped[40] ^= 0x01  # inside IHDR/IDAT data: CRC no longer matches
    with pytest.raises(BakingError, match="CRC"):
        unbake_png(bytes(flipped))
    with pytest.raises(BakingError, match="CRC"):
        bake_png(bytes(flipped), CREDENTIAL)
    huge_length = good[:8] + struct.pack(">I", 0x80000000) + good[12:]
    with pytest.raises(BakingError, match="corrupt"):
        unbake_png(huge_length)
    bad_type = good[:12] + b"IH\x00R" + good[16:]
    with pytest.raises(BakingError, match="corrupt"):
        unbake_png(bad_type)
    no_ihdr = PNG_SIGNATURE + _chunk(b"tEXt", b"a\0b") + _chunk(b"IEND", b"")
    with pytest.raises(BakingError, match="IHDR"):
        unbake_png(no_ihdr)
    with pytest.raises(BakingError):
        unbake_png("not bytes")  # type: ignore[arg-type]


def test_trailing_bytes_after_iend_are_ignored() -> None:
    baked = bake_png(_png(), CREDENTIAL)
    assert unbake_png(baked + b"garbage") == UnbakedCredential("ob3-json", CREDENTIAL)


def test_png_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    png = _png()
    many = png_chunks(png)
    filler = [PngChunk(b"tEXt", b"k\0v")] * (baking.MAX_PNG_CHUNKS + 1)
    with pytest.raises(BakingError, match="chunks"):
        unbake_png(write_png([many[0], *filler, many[-1]]))
    monkeypatch.setattr(baking, "MAX_IMAGE_BYTES", len(png) - 1)
    with pytest.raises(BakingError, match="larger"):
        unbake_png(png)
    monkeypatch.setattr(baking, "MAX_CREDENTIAL_BYTES", 100)
    with pytest.raises(BakingError, match="larger"):
        bake_png(_png(), CREDENTIAL)


def test_corrupt_badge_itxt() -> None:
    broken = _with_chunk_before_iend(_png(), PngChunk(b"iTXt", b"openbadgecredential\0\0"))
    with pytest.raises(BakingError, match="iTXt"):
        unbake_png(broken)
    not_utf8 = _with_chunk_before_iend(
        _png(), PngChunk(b"iTXt", b"openbadgecredential\0\0\0\0\0\xff{}")
    )
    with pytest.raises(BakingError, match="UTF-8"):
        unbake_png(not_utf8)
    garbage = _with_chunk_before_iend(
        _png(), PngChunk(b"iTXt", b"openbadgecredential\0\0\0\0\0hello")
    )
    with pytest.raises(BakingError, match="neither JSON nor"):
        unbake_png(garbage)


# ------------------------------------------------------------------------------------------ SVG


def _root(svg: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output in a test


def test_svg_round_trip_json_is_exact() -> None:
    baked = bake_svg(SIMPLE_SVG, CREDENTIAL)
    assert unbake_svg(baked) == UnbakedCredential("ob3-json", CREDENTIAL)
    assert unbake(baked) == UnbakedCredential("ob3-json", CREDENTIAL)
    assert b"]]]]><![CDATA[>" in baked  # the "]]>" in the JSON was split safely


def test_svg_round_trip_keeps_carriage_returns() -> None:
    credential = '{\r\n  "name": "a\\r\\nb"\r\n}'
    baked = bake_svg(SIMPLE_SVG, credential)
    assert unbake_svg(baked) == UnbakedCredential("ob3-json", credential)


def test_svg_layout_is_exactly_as_the_spec_says() -> None:
    baked = bake_svg(SIMPLE_SVG, CREDENTIAL)
    root = _root(baked)
    assert root.tag == f"{{{SVG_NS}}}svg"
    first = root[0]
    assert first.tag == OB3_TAG  # first child of <svg>
    assert "verify" not in first.attrib
    # directly after the start tag, declared on the root with the prefix the spec shows
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked.split(b">", 2)[1]
    assert b'viewBox="0 0 10 10"><openbadges:credential><![CDATA[{' in baked
    # the artwork is untouched
    assert baked.endswith(SIMPLE_SVG[SIMPLE_SVG.index(b">\n  <!--") :])
    assert baked.count(b"<circle") == 1


def test_svg_jwt_goes_into_verify() -> None:
    baked = bake_svg(SIMPLE_SVG, JWS)
    element = _root(baked)[0]
    assert element.tag == OB3_TAG
    assert element.get("verify") == JWS
    assert not (element.text or "").strip()
    assert unbake_svg(baked) == UnbakedCredential("ob3-jwt", JWS)


def test_rebaking_svg_keeps_one_element() -> None:
    once = bake_svg(SIMPLE_SVG, CREDENTIAL)
    twice = bake_svg(once, JWS)
    thrice = bake_svg(twice, CREDENTIAL)
    assert len(list(_root(twice).iter(OB3_TAG))) == 1
    assert unbake_svg(twice) == UnbakedCredential("ob3-jwt", JWS)
    assert thrice == once  # nothing accumulates, not even whitespace or declarations
    assert thrice.count(b"xmlns:openbadges") == 1


def test_svg_existing_credential_anywhere_is_replaced() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob="https://purl.imsglobal.org/ob/v3p0">'
        b'<g><ob:credential verify="x.y.z"/></g>'
        b'<ob:credential><![CDATA[{"old": 1}]]></ob:credential></svg>'
    )
    baked = bake_svg(svg, CREDENTIAL)
    assert len(list(_root(baked).iter(OB3_TAG))) == 1
    assert unbake_svg(baked) == UnbakedCredential("ob3-json", CREDENTIAL)
    assert b"<g></g>" in baked


def test_svg_variants_of_the_root_element() -> None:
    prefixed = (
        b'<s:svg xmlns:s="http://www.w3.org/2000/svg" width="10">'
        b'<s:rect width="1" height="1"/></s:svg>'
    )
    empty = b"<svg xmlns='http://www.w3.org/2000/svg' />"
    quoted_gt = b'<svg xmlns="http://www.w3.org/2000/svg" data-x="a>b"><rect/></svg>'
    for svg in (prefixed, empty, quoted_gt):
        baked = bake_svg(svg, CREDENTIAL)
        assert unbake_svg(baked) == UnbakedCredential("ob3-json", CREDENTIAL), svg
        assert _root(baked)[0].tag == OB3_TAG
    assert b'data-x="a>b"><openbadges:credential>' in bake_svg(quoted_gt, CREDENTIAL)


def test_svg_ob2_assertion_is_read_and_replaced() -> None:
    ob2 = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        b'<openbadges:assertion verify="https://example.org/assertions/1"></openbadges:assertion>'
        b"<rect/></svg>"
    )
    assert unbake_svg(ob2) == UnbakedCredential("ob2", "https://example.org/assertions/1")
    embedded = ob2.replace(
        b' verify="https://example.org/assertions/1"></openbadges:assertion>',
        b'><![CDATA[{"type": "Assertion"}]]></openbadges:assertion>',
    )
    assert unbake_svg(embedded) == UnbakedCredential("ob2", '{"type": "Assertion"}')
    baked = bake_svg(ob2, CREDENTIAL)
    assert b"openbadges.org" not in baked  # prefix rebound to OB 3.0, old assertion gone
    assert unbake_svg(baked) == UnbakedCredential("ob3-json", CREDENTIAL)


def test_svg_without_credential_and_non_svg() -> None:
    assert unbake_svg(SIMPLE_SVG) is None
    assert unbake(SIMPLE_SVG) is None
    with pytest.raises(BakingError, match="not an SVG"):
        unbake_svg(b'<html xmlns="http://www.w3.org/1999/xhtml"/>')
    with pytest.raises(BakingError, match="not an SVG"):
        bake_svg(b"<svg/>", CREDENTIAL)  # no SVG namespace: not an SVG document
    with pytest.raises(BakingError, match="well-formed"):
        unbake_svg(b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')
    with pytest.raises(BakingError, match="empty"):
        unbake_svg(
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:o="https://purl.imsglobal.org/ob/v3p0">'
            b"<o:credential>  </o:credential></svg>"
        )


def test_svg_encodings() -> None:
    utf16 = SIMPLE_SVG.replace(b"UTF-8", b"UTF-16").decode().encode("utf-16")
    with pytest.raises(BakingError, match="UTF-8"):
        bake_svg(utf16, CREDENTIAL)
    latin = SIMPLE_SVG.replace(b"UTF-8", b"ISO-8859-1")
    with pytest.raises(BakingError, match="UTF-8"):
        bake_svg(latin, CREDENTIAL)
    # reading copes with any encoding the XML parser knows
    baked16 = (
        bake_svg(SIMPLE_SVG, CREDENTIAL).replace(b"UTF-8", b"UTF-16").decode().encode("utf-16")
    )
    assert unbake(baked16) == UnbakedCredential("ob3-json", CREDENTIAL)
    bom = b"\xef\xbb\xbf" + SIMPLE_SVG
    assert unbake_svg(bake_svg(bom, CREDENTIAL)) == UnbakedCredential("ob3-json", CREDENTIAL)


def test_svg_refuses_characters_xml_cannot_carry() -> None:
    with pytest.raises(BakingError, match="XML cannot carry"):
        bake_svg(SIMPLE_SVG, '{"a": "\ufffe"}')


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">
<openbadges:credential>&lol9;</openbadges:credential></svg>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">
<openbadges:credential>&xxe;</openbadges:credential></svg>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"/>"""


@pytest.mark.parametrize(
    "hostile",
    [BILLION_LAUGHS, XXE, PARAMETER_ENTITY],
    ids=["billion-laughs", "xxe", "param-entity"],
)
def test_hostile_svg_is_refused_quickly(hostile: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(BakingError, match="refused") as info:
        unbake_svg(hostile)
    assert "root:" not in info.value.message  # nothing of /etc/passwd leaks into the error
    with pytest.raises(BakingError, match="refused"):
        unbake(hostile)
    with pytest.raises(BakingError, match="refused"):
        bake_svg(hostile, CREDENTIAL)
    assert time.perf_counter() - started < 1.0


def test_external_dtd_reference_is_not_fetched_but_allowed() -> None:
    # The 1EdTech samples carry the SVG 1.1 DOCTYPE; it names a DTD but declares no entity.
    svg = SIMPLE_SVG.replace(
        b"<svg ",
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://127.0.0.1:9/svg11.dtd">\n<svg ',
    )
    baked = bake_svg(svg, CREDENTIAL)
    assert baked.count(b"<!DOCTYPE") == 1
    assert unbake(baked) == UnbakedCredential("ob3-json", CREDENTIAL)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_json_string_round_trips_or_is_refused_for_xml(value: str) -> None:
    credential = json.dumps({"name": value}, ensure_ascii=False)
    assert unbake_png(bake_png(_SMALL_PNG, credential)) == UnbakedCredential("ob3-json", credential)
    try:
        baked = bake_svg(SIMPLE_SVG, credential)
    except BakingError:
        assert any(ch in value for ch in "\ufffe\uffff") or any(
            0xD800 <= ord(ch) <= 0xDFFF for ch in value
        )
    else:
        assert unbake_svg(baked) == UnbakedCredential("ob3-json", credential)


_SMALL_PNG = _png(4, 4)


# ------------------------------------------------------------------------------------ sniffing


def test_unbake_sniffs_content_not_names() -> None:
    assert unbake(bake_png(_png(), JWS)) == UnbakedCredential("ob3-jwt", JWS)
    no_declaration = bake_svg(SIMPLE_SVG, JWS).split(b"\n", 1)[1]
    assert unbake(b"  \n" + no_declaration) == UnbakedCredential("ob3-jwt", JWS)
    for junk in (b"", b"GIF89a....", b"%PDF-1.7", b"\x00\x01\x02", b"{}"):
        with pytest.raises(BakingError, match="not a PNG or SVG"):
            unbake(junk)


# ------------------------------------------------------------------------------ official samples

VALIDATOR = "samples/1edtech-validator-ob30"
SPEC_EXAMPLES = "samples/1edtech-spec-examples"


def _read(spec_dir: Path, relative: str) -> bytes:
    return (spec_dir / relative).read_bytes()


def _b64json(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.shared
def test_validator_samples_unbake(spec_dir: Path) -> None:
    json_png = unbake(_read(spec_dir, f"{VALIDATOR}/simple-json.png"))
    json_svg = unbake(_read(spec_dir, f"{VALIDATOR}/simple-json.svg"))
    assert json_png is not None
    assert json_svg is not None
    assert json_png.format == json_svg.format == "ob3-json"
    from_png, from_svg = json.loads(json_png.text), json.loads(json_svg.text)
    assert from_png == from_svg  # the same credential baked into both formats
    proofs = from_png["proof"] if isinstance(from_png["proof"], list) else [from_png["proof"]]
    assert [p["cryptosuite"] for p in proofs] == ["eddsa-rdfc-2022"]
    assert "OpenBadgeCredential" in from_png["type"]
    for name in ("simple-jwt.png", "simple-jwt.svg", "simple-jwt_v1.png", "simple-jwt_v1.svg"):
        found = unbake(_read(spec_dir, f"{VALIDATOR}/{name}"))
        assert found is not None, name
        assert found.format == "ob3-jwt", name
        header, payload, signature = found.text.split(".")
        assert signature
        assert _b64json(header)["alg"] == "RS256", name
        claims = _b64json(payload)
        credential = claims["vc"] if "_v1" in name else claims  # VC 1.1 wraps it in "vc"
        assert "OpenBadgeCredential" in credential["type"], name


@pytest.mark.shared
def test_spec_example_svgs_unbake(spec_dir: Path) -> None:
    embedded = unbake(_read(spec_dir, f"{SPEC_EXAMPLES}/baked-svg-embedded-proof-example.svg"))
    assert embedded is not None
    assert embedded.format == "ob3-json"
    parsed = json.loads(embedded.text)
    assert "proof" in parsed
    assert parsed["id"] == "http://example.edu/credentials/3732"
    jwt = unbake(_read(spec_dir, f"{SPEC_EXAMPLES}/baked-svg-vcjwt-example.svg"))
    assert jwt == UnbakedCredential("ob3-jwt", "header.payload.signature")


@pytest.mark.shared
def test_rebaking_official_samples(spec_dir: Path) -> None:
    for name in ("simple-json.png", "simple-jwt.png"):
        original = _read(spec_dir, f"{VALIDATOR}/{name}")
        baked = bake_png(original, CREDENTIAL)
        assert len(_badge_chunks(baked)) == 1
        assert unbake(baked) == UnbakedCredential("ob3-json", CREDENTIAL)
        with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(baked)) as after:
            assert after.tobytes() == before.tobytes()
    for name in ("simple-json.svg", "simple-jwt.svg"):
        original = _read(spec_dir, f"{VALIDATOR}/{name}")
        baked = bake_svg(original, JWS)
        assert unbake(baked) == UnbakedCredential("ob3-jwt", JWS)
        assert len(list(_root(baked).iter(OB3_TAG))) == 1
        assert baked.count(b"<path") == original.count(b"<path")
