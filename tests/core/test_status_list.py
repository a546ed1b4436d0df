"""W3C Bitstring Status List v1.0: encoding, entry, list credential, Validate Algorithm."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import random
import time
import zlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from issuer.core.canonical import assert_all_terms_defined
from issuer.core.status_list import (
    DEFAULT_TTL_MS,
    MALFORMED_VALUE_ERROR,
    MIN_LIST_LENGTH,
    RANGE_ERROR,
    STATUS_LIST_LENGTH_ERROR,
    STATUS_VERIFICATION_ERROR,
    Base64DecodeError,
    Bitstring,
    DecompressedTooLargeError,
    EncodedListError,
    GzipDecodeError,
    MultibasePrefixError,
    StatusIndexError,
    StatusListError,
    StatusListFullError,
    check_status,
    decode_list,
    encode_list,
    random_free_index,
    status_entry,
    status_list_credential,
)
from tests.spec_files import load_json

LIST_URL = "https://badges.example.fi/status/1"
ISSUER = "did:web:badges.example.fi"
VECTORS = "vectors/bitstring-status-list/encodedList-decoding.json"
VALIDATOR_DIR = "samples/1edtech-validator-ob30/bit-string-list"


def _encode_raw(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(raw)).rstrip(b"=").decode()


def _list_credential(bits: Bitstring, purpose: str = "revocation") -> dict[str, Any]:
    return status_list_credential(LIST_URL, ISSUER, purpose, bits, "2025-01-01T00:00:00Z")


# ------------------------------------------------------------------------------------ bitstring


def test_bit_layout_index_zero_is_most_significant_bit_of_first_byte() -> None:
    bits = Bitstring(16)
    bits.set(0, True)
    bits.set(9, True)
    assert bits.to_bytes() == bytes([0b1000_0000, 0b0100_0000])
    assert bits.get(0)
    assert bits.get(9)
    assert not bits.get(1)
    bits.set(0, False)
    assert bits.to_bytes() == bytes([0, 0b0100_0000])
    assert bits.set_indexes() == [9]


def test_bitstring_rejects_out_of_range_and_non_integer_indexes() -> None:
    bits = Bitstring(8)
    for bad in (-1, 8, 10**9):
        with pytest.raises(StatusIndexError):
            bits.get(bad)
        with pytest.raises(StatusIndexError):
            bits.set(bad, True)
    with pytest.raises(StatusIndexError):
        bits.get(True)  # a bool is not an index
    with pytest.raises(IndexError):  # also a plain IndexError for generic callers
        bits.get(8)
    with pytest.raises(StatusListError):
        Bitstring(0)


def test_default_length_is_the_spec_minimum() -> None:
    assert MIN_LIST_LENGTH == 131072
    assert Bitstring().length == MIN_LIST_LENGTH
    assert len(Bitstring().to_bytes()) == 16 * 1024


# ---------------------------------------------------------------------------------- the vectors


@pytest.mark.shared
def test_vector_file_decodes_as_stated() -> None:
    cases = load_json(VECTORS)["cases"]
    assert len(cases) >= 4
    for case in cases:
        bits = decode_list(case["encodedList"])
        assert bits.length == case["bits"], case["name"]
        assert len(bits.to_bytes()) == case["uncompressedBytes"], case["name"]
        assert bits.set_indexes() == case["setIndexes"], case["name"]
        if "firstBytesHex" in case:
            raw = bits.to_bytes()
            assert raw[:2].hex() == case["firstBytesHex"]
            assert raw[-1:].hex() == case["lastByteHex"]


@pytest.mark.shared
def test_our_encoding_of_the_vector_bits_decodes_to_the_same_bits() -> None:
    # encodedList strings depend on the gzip implementation; the decoded bits must not.
    for case in load_json(VECTORS)["cases"]:
        bits = Bitstring(case["bits"])
        for index in case["setIndexes"]:
            bits.set(index, True)
        assert decode_list(encode_list(bits)) == decode_list(case["encodedList"])


def test_round_trip_random_lists() -> None:
    rng = random.Random(20250101)
    for length in (MIN_LIST_LENGTH, 2 * MIN_LIST_LENGTH, 8, 24):
        bits = Bitstring(length)
        chosen = sorted({rng.randrange(length) for _ in range(min(length, 500))})
        for index in chosen:
            bits.set(index, True)
        encoded = encode_list(bits)
        assert encoded.startswith("u")
        assert not set(encoded) & set("=+/")  # base64url without padding
        decoded = decode_list(encoded)
        assert decoded.set_indexes() == chosen
        assert decoded == bits


def test_encoding_is_deterministic_and_standard_gzip() -> None:
    bits = Bitstring()
    bits.set(42, True)
    assert encode_list(bits) == encode_list(bits)
    raw = base64.urlsafe_b64decode(encode_list(bits)[1:] + "==")
    assert raw[:2] == b"\x1f\x8b"  # RFC 1952 magic
    assert gzip.decompress(raw) == bits.to_bytes()  # any gzip reader agrees


# ----------------------------------------------------------------------------- decoding errors


@pytest.mark.parametrize("encoded", ["", "zH4sIAAAAAAAA", "H4sIAAAAAAAA", "mH4sI"])
def test_bad_multibase_prefix(encoded: str) -> None:
    with pytest.raises(MultibasePrefixError) as info:
        decode_list(encoded)
    assert "prefix" in info.value.message


def test_non_string_encoded_list() -> None:
    with pytest.raises(EncodedListError):
        decode_list(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoded", ["uH4sI+AAA/", "uabc!", "uA", "uabc def", "uAB==="])
def test_bad_base64(encoded: str) -> None:
    with pytest.raises(Base64DecodeError):
        decode_list(encoded)


def test_padded_base64_is_tolerated() -> None:
    bits = Bitstring(24)
    bits.set(5, True)
    raw = gzip.compress(bits.to_bytes())
    padded = "u" + base64.urlsafe_b64encode(raw).decode()
    assert decode_list(padded) == bits


def test_bad_gzip() -> None:
    not_gzip = "u" + base64.urlsafe_b64encode(zlib.compress(b"\0" * 16384)).decode().rstrip("=")
    with pytest.raises(GzipDecodeError):
        decode_list(not_gzip)
    truncated = _encode_raw(b"\x01" * 16384)[:-10]
    with pytest.raises(GzipDecodeError):
        decode_list(truncated)
    with pytest.raises(GzipDecodeError):
        decode_list(_encode_raw(b""))


def test_concatenated_gzip_members_are_one_list() -> None:
    first, second = b"\x80" + b"\0" * 8191, b"\0" * 8191 + b"\x01"
    raw = gzip.compress(first) + gzip.compress(second)
    bits = decode_list("u" + base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert bits.set_indexes() == [0, MIN_LIST_LENGTH - 1]


def test_gzip_bomb_is_refused_fast() -> None:
    # 64 MiB of zeros compresses to ~64 KiB; decoding must stop at the cap, not inflate it all.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(64)]
    bomb = b"".join(parts) + compressor.flush()
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    started = time.perf_counter()
    with pytest.raises(DecompressedTooLargeError):
        decode_list(encoded)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(DecompressedTooLargeError):
        decode_list(encode_list(Bitstring(MIN_LIST_LENGTH)), max_decompressed_bytes=1000)
    # exactly at the cap is fine
    assert decode_list(encode_list(Bitstring()), max_decompressed_bytes=16384).length == 131072


# ---------------------------------------------------------------------------------------- entry


def test_status_entry_shape() -> None:
    entry = status_entry(LIST_URL, 94567, "revocation")
    assert entry == {
        "id": f"{LIST_URL}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST_URL,
    }
    assert entry["id"] != entry["statusListCredential"]  # the spec forbids them being equal


@pytest.mark.parametrize(
    ("url", "index", "purpose"),
    [
        (LIST_URL, -1, "revocation"),
        (LIST_URL, True, "revocation"),
        (LIST_URL, "5", "revocation"),
        (LIST_URL, 5, ""),
        ("", 5, "revocation"),
        (LIST_URL + "#x", 5, "revocation"),
    ],
)
def test_status_entry_rejects_bad_arguments(url: str, index: Any, purpose: str) -> None:
    with pytest.raises(StatusListError):
        status_entry(url, index, purpose)


# ------------------------------------------------------------------------------ list credential


def test_status_list_credential_shape() -> None:
    bits = Bitstring()
    bits.set(7, True)
    vc = status_list_credential(
        LIST_URL, ISSUER, "suspension", bits, datetime(2025, 3, 1, 12, 0, 5, 123, tzinfo=UTC)
    )
    assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert vc["id"] == LIST_URL
    assert vc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert vc["issuer"] == ISSUER
    assert vc["validFrom"] == "2025-03-01T12:00:05Z"
    subject = vc["credentialSubject"]
    assert subject["id"] == LIST_URL + "#list"
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "suspension"
    assert subject["ttl"] == DEFAULT_TTL_MS == 300000
    assert decode_list(subject["encodedList"]).set_indexes() == [7]
    assert "proof" not in vc
    json.dumps(vc)  # plain JSON


def test_status_list_credential_terms_are_all_defined_by_vc_v2() -> None:
    vc = _list_credential(Bitstring())
    entry_holder = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "credentialSubject": {"id": "did:example:1"},
        "credentialStatus": status_entry(LIST_URL, 3, "revocation"),
    }
    assert_all_terms_defined(vc)  # raises UndefinedTermError naming any term
    assert_all_terms_defined(entry_holder)


def test_status_list_credential_options() -> None:
    other_zone = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    vc = status_list_credential(LIST_URL, ISSUER, "revocation", Bitstring(), other_zone, None)
    assert vc["validFrom"] == "2025-03-01T12:00:00Z"
    assert "ttl" not in vc["credentialSubject"]
    with pytest.raises(StatusListError):
        status_list_credential(LIST_URL, ISSUER, "revocation", Bitstring(), datetime(2025, 1, 1))
    with pytest.raises(StatusListError):
        status_list_credential(LIST_URL, ISSUER, "revocation", Bitstring(), "2025", ttl_ms=0)


def test_refuses_to_publish_a_list_shorter_than_the_minimum() -> None:
    with pytest.raises(StatusListError, match="131072"):
        status_list_credential(LIST_URL, ISSUER, "revocation", Bitstring(1024), "2025")


# --------------------------------------------------------------------------------- check_status


def test_check_status_set_and_clear_bits() -> None:
    bits = Bitstring()
    bits.set(94567, True)
    vc = _list_credential(bits)
    revoked = check_status(status_entry(LIST_URL, 94567, "revocation"), vc)
    assert revoked.status is True
    assert revoked.error is None
    assert revoked.purpose == "revocation"
    assert not revoked.valid
    assert "94567" in revoked.message
    fine = check_status(status_entry(LIST_URL, 94568, "revocation"), vc)
    assert fine.status is False
    assert fine.valid
    first_and_last = check_status(status_entry(LIST_URL, MIN_LIST_LENGTH - 1, "revocation"), vc)
    assert first_and_last.status is False


def test_check_status_accepts_integer_and_string_index() -> None:
    bits = Bitstring()
    bits.set(23, True)
    vc = _list_credential(bits)
    entry = status_entry(LIST_URL, 23, "revocation")
    as_int = {**entry, "statusListIndex": 23}
    assert check_status(entry, vc).status is True
    assert check_status(as_int, vc).status is True
    for bad in ("-1", "1e3", "0x17", " 23", "023", 2.5, None, True, [23]):
        result = check_status({**entry, "statusListIndex": bad}, vc)
        assert result.status is None
        assert result.error == MALFORMED_VALUE_ERROR, bad


def test_check_status_purpose_mismatch() -> None:
    bits = Bitstring()
    bits.set(3, True)
    vc = _list_credential(bits, "suspension")
    result = check_status(status_entry(LIST_URL, 3, "revocation"), vc)
    assert result.status is None
    assert result.error == STATUS_VERIFICATION_ERROR
    assert "revocation" in result.message


def test_check_status_list_with_several_purposes() -> None:
    bits = Bitstring()
    bits.set(3, True)
    vc = _list_credential(bits)
    vc["credentialSubject"]["statusPurpose"] = ["revocation", "suspension"]
    assert check_status(status_entry(LIST_URL, 3, "suspension"), vc).status is True
    assert check_status(status_entry(LIST_URL, 3, "message"), vc).error == (
        STATUS_VERIFICATION_ERROR
    )


def test_check_status_length_rule() -> None:
    vc = _list_credential(Bitstring())
    short = Bitstring(MIN_LIST_LENGTH - 8)
    short.set(1, True)
    vc["credentialSubject"]["encodedList"] = encode_list(short)
    result = check_status(status_entry(LIST_URL, 1, "revocation"), vc)
    assert result.status is None
    assert result.error == STATUS_LIST_LENGTH_ERROR
    assert "131072" in result.message


def test_check_status_range_rule() -> None:
    vc = _list_credential(Bitstring())
    result = check_status(status_entry(LIST_URL, MIN_LIST_LENGTH, "revocation"), vc)
    assert result.status is None
    assert result.error == RANGE_ERROR
    huge = check_status(status_entry(LIST_URL, 10**30, "revocation"), vc)
    assert huge.error == RANGE_ERROR


def test_check_status_with_status_size() -> None:
    # statusSize 2: entry n occupies bits 2n and 2n+1; the list must hold 131072 such entries.
    bits = Bitstring(2 * MIN_LIST_LENGTH)
    bits.set(2 * 5 + 1, True)  # entry 5 has value 0b01
    vc = _list_credential(bits, "message")
    entry = {**status_entry(LIST_URL, 5, "message"), "statusSize": 2}
    result = check_status(entry, vc)
    assert (result.status, result.value) == (True, 1)
    assert check_status({**entry, "statusListIndex": "4"}, vc).value == 0
    too_short = _list_credential(Bitstring(MIN_LIST_LENGTH), "message")
    assert check_status(entry, too_short).error == STATUS_LIST_LENGTH_ERROR
    assert check_status({**entry, "statusSize": 0}, vc).error == MALFORMED_VALUE_ERROR
    assert check_status({**entry, "statusSize": 99}, vc).error == MALFORMED_VALUE_ERROR


def test_check_status_never_raises_on_garbage() -> None:
    vc = _list_credential(Bitstring())
    entry = status_entry(LIST_URL, 1, "revocation")
    broken_lists: list[Any] = []
    for key, value in [
        ("encodedList", "xnot-multibase"),
        ("encodedList", "u!!!"),
        ("encodedList", "uAAAA"),
        ("encodedList", None),
        ("encodedList", 5),
        ("type", "SomethingElse"),
        ("statusPurpose", None),
    ]:
        broken = copy.deepcopy(vc)
        broken["credentialSubject"][key] = value
        broken_lists.append(broken)
    broken_lists += [
        {**vc, "type": ["VerifiableCredential"]},
        {**vc, "credentialSubject": "nope"},
        {},
        [],
        None,
    ]
    for broken in broken_lists:
        result = check_status(entry, broken)
        assert result.status is None
        assert result.error in (MALFORMED_VALUE_ERROR, STATUS_VERIFICATION_ERROR)
        assert result.message
    for bad_entry in ({}, {**entry, "type": "StatusList2021Entry"}, {**entry, "statusPurpose": 1}):
        result = check_status(bad_entry, vc)
        assert result.status is None
        assert result.error == MALFORMED_VALUE_ERROR


@pytest.mark.shared
def test_1edtech_validator_fixture_revoked_at_23() -> None:
    # The fixture list is a signed BitstringStatusListCredential; the credential points at index
    # 23 with an integer statusListIndex (the spec says string; we accept both).
    status_list = load_json(f"{VALIDATOR_DIR}/testlist")
    for name in ("credential-status-revoked.json", "credential-status-revoked-blank-nodes.json"):
        credential = load_json(f"{VALIDATOR_DIR}/{name}")
        entry = credential["credentialStatus"]
        assert entry["statusListIndex"] == 23
        result = check_status(entry, status_list)
        assert result.error is None, result.message
        assert result.status is True
        assert result.purpose == "revocation"
        neighbour = check_status({**entry, "statusListIndex": "22"}, status_list)
        assert neighbour.status is False
    bits = decode_list(status_list["credentialSubject"]["encodedList"])
    assert bits.set_indexes() == [23]


# ----------------------------------------------------------------------------- random indexes


class _ScriptedRng:
    """Returns the given values in turn (to drive ``random_free_index`` deterministically)."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.bounds: list[int] = []

    def randbelow(self, exclusive_upper_bound: int, /) -> int:
        self.bounds.append(exclusive_upper_bound)
        return self.values.pop(0)


def test_random_free_index_skips_taken_indexes() -> None:
    taken = {5, 9}
    rng = _ScriptedRng([5, 9, 77])
    assert random_free_index(taken.__contains__, rng=rng) == 77
    assert rng.bounds == [MIN_LIST_LENGTH] * 3


def test_random_free_index_uses_the_whole_range_by_default() -> None:
    picks = [random_free_index(lambda _i: False) for _ in range(200)]
    assert all(0 <= p < MIN_LIST_LENGTH for p in picks)
    assert len(set(picks)) > 190  # secrets-driven: practically never repeats
    assert max(picks) > MIN_LIST_LENGTH // 2 > min(picks)


def test_random_free_index_is_uniform_over_free_slots() -> None:
    rng = random.Random(7)
    counts = [0] * 8
    for _ in range(8000):
        counts[random_free_index(lambda i: i % 2 == 1, length=8, rng=_SeededRng(rng))] += 1
    assert all(counts[i] == 0 for i in (1, 3, 5, 7))
    assert all(1800 < counts[i] < 2200 for i in (0, 2, 4, 6))


class _SeededRng:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def randbelow(self, exclusive_upper_bound: int, /) -> int:
        return self.rng.randrange(exclusive_upper_bound)


def test_random_free_index_full_list() -> None:
    calls: list[int] = []

    def taken(index: int) -> bool:
        calls.append(index)
        return True

    with pytest.raises(StatusListFullError, match="full"):
        random_free_index(taken, length=16)
    assert len(calls) == 100  # bounded work, then a clear error
    with pytest.raises(StatusListError):
        random_free_index(lambda _i: False, rng=_ScriptedRng([MIN_LIST_LENGTH]))


def test_expanded_lists_are_remembered_by_their_exact_text_and_a_changed_bit_is_seen() -> None:
    from issuer.core import status_list

    status_list.EXPANDED_LISTS.clear()
    bits = Bitstring()
    entry = status_entry(LIST_URL, 4242, "revocation")
    assert check_status(entry, _list_credential(bits)).status is False
    assert check_status(entry, _list_credential(bits)).status is False
    assert status_list.EXPANDED_LISTS.hits == 1
    bits.set(4242)  # a new encodedList: expanded afresh, never the remembered one
    assert check_status(entry, _list_credential(bits)).status is True
    assert len(status_list.EXPANDED_LISTS) == 2


def test_a_huge_list_is_checked_but_not_remembered() -> None:
    from issuer.core import status_list

    status_list.EXPANDED_LISTS.clear()
    huge = Bitstring(8 * 1024 * 1024)  # 1 MiB of bits, more than is ever kept
    entry = status_entry(LIST_URL, 5, "revocation")
    assert check_status(entry, _list_credential(huge)).status is False
    assert len(status_list.EXPANDED_LISTS) == 0
