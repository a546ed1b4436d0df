"""W3C Bitstring Status List v1.0: the bitstring, its encoding, the entry, the list credential and
the status check.

Spec: https://www.w3.org/TR/vc-bitstring-status-list/ (section names cited below as [BSL §…]).
Facts summarised in ``shared/reference/ob3-facts.md`` §6.

What this module does not do: sign or verify the list credential (the Data Integrity module does
that; the Validate Algorithm's step "ensure that all proofs verify" belongs to the verifier), fetch
anything, or remember which indexes are taken (the service's database does).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from issuer.core.contexts import VC_V2
from issuer.core.errors import EngineError
from issuer.core.lru import BoundedCache

#: [BSL §BitstringStatusListCredential "encodedList"]: "The uncompressed bitstring MUST be at
#: least 16KB in size"; [BSL §Validate Algorithm] step 2: minimumNumberOfEntries = 131,072.
MIN_LIST_LENGTH = 131_072

#: Default cap on the decompressed size of a list we are asked to decode. 16 MiB is 134 million
#: entries, 1024 times the minimum; anything bigger is treated as a gzip bomb, not a status list.
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024

#: [BSL §BitstringStatusListCredential "ttl"]: verifiers default to 300000 ms when absent.
DEFAULT_TTL_MS = 300_000

ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"

#: Multibase prefix of base64url without padding [BSL §encodedList, VC-DATA-INTEGRITY multibase].
MULTIBASE_BASE64URL = "u"

_BASE64URL_BODY = re.compile(r"[A-Za-z0-9_-]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

# Error names of [BSL §Processing Errors] and VCDM 2.0 (RANGE_ERROR, MALFORMED_VALUE_ERROR).
STATUS_VERIFICATION_ERROR = "STATUS_VERIFICATION_ERROR"
STATUS_LIST_LENGTH_ERROR = "STATUS_LIST_LENGTH_ERROR"
RANGE_ERROR = "RANGE_ERROR"
MALFORMED_VALUE_ERROR = "MALFORMED_VALUE_ERROR"


# --------------------------------------------------------------------------------------- errors


class StatusListError(EngineError):
    """A status list could not be built, encoded or decoded."""

    code = "status_list_error"


class StatusIndexError(StatusListError, IndexError):
    """An index lies outside the bitstring."""

    code = "status_index_out_of_range"


class EncodedListError(StatusListError):
    """``encodedList`` is not a valid multibase/base64url/GZIP bitstring."""

    code = "encoded_list_invalid"


class MultibasePrefixError(EncodedListError):
    code = "encoded_list_bad_multibase_prefix"


class Base64DecodeError(EncodedListError):
    code = "encoded_list_bad_base64url"


class GzipDecodeError(EncodedListError):
    code = "encoded_list_bad_gzip"


class DecompressedTooLargeError(EncodedListError):
    """The list expands beyond the allowed size (a gzip bomb or an absurd list)."""

    code = "encoded_list_too_large"


class StatusListFullError(StatusListError):
    """No free index could be found: the list is full or nearly full."""

    code = "status_list_full"


# ------------------------------------------------------------------------------------ bitstring


class Bitstring:
    """A fixed-length string of bits backed by a ``bytearray``.

    Layout [BSL §Bitstring Encoding]: index 0 is the left-most (most significant) bit of byte 0,
    index ``length - 1`` the right-most bit of the last byte.
    """

    __slots__ = ("_bytes", "_length")

    def __init__(self, length: int = MIN_LIST_LENGTH) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            raise StatusListError(f"bitstring length must be a positive integer, got {length!r}")
        self._length = length
        self._bytes = bytearray((length + 7) // 8)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bitstring:
        """Wrap raw (uncompressed) bytes; the length is ``8 * len(data)``."""
        if not data:
            raise StatusListError("a bitstring needs at least one byte")
        bits = cls(len(data) * 8)
        bits._bytes[:] = data
        return bits

    @property
    def length(self) -> int:
        """Number of bits (entries when statusSize is 1)."""
        return self._length

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def _check(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise StatusIndexError(f"bitstring index must be an integer, got {index!r}")
        if not 0 <= index < self._length:
            raise StatusIndexError(f"index {index} outside the bitstring (0..{self._length - 1})")

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self._bytes[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        mask = 0x80 >> (index & 7)
        if value:
            self._bytes[index >> 3] |= mask
        else:
            self._bytes[index >> 3] &= ~mask & 0xFF

    def get_value(self, position: int, size: int) -> int:
        """The ``size`` bits starting at ``position`` read as an unsigned big-endian integer
        (statusSize > 1 [BSL §BitstringStatusListEntry "statusSize"])."""
        value = 0
        for offset in range(size):
            value = (value << 1) | int(self.get(position + offset))
        return value

    def set_indexes(self) -> list[int]:
        """Every index whose bit is 1 (used by tests and diagnostics)."""
        found: list[int] = []
        for byte_index, byte in enumerate(self._bytes):
            if byte:
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        found.append(byte_index * 8 + bit)
        return [i for i in found if i < self._length]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitstring):
            return NotImplemented
        return self._length == other._length and self._bytes == other._bytes

    __hash__ = None  # type: ignore[assignment]  # mutable, like bytearray: not hashable

    def __repr__(self) -> str:
        return f"Bitstring(length={self._length}, set={len(self.set_indexes())})"


# ------------------------------------------------------------------------ encoding and decoding


def encode_list(bits: Bitstring) -> str:
    """[BSL §Bitstring Generation Algorithm] step 3 and §encodedList: GZIP (RFC 1952) the bytes,
    base64url without padding, multibase prefix ``u``.

    ``mtime=0`` keeps the output a pure function of the bits (a list that did not change
    re-encodes byte-identically, so its signature and HTTP ETag stay stable).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip wrapper
    compressed = compressor.compress(bits.to_bytes()) + compressor.flush()
    # zlib writes mtime 0 and OS 3 (Unix) in the gzip header: deterministic.
    body = base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")
    return MULTIBASE_BASE64URL + body


def _strip_multibase(encoded: str) -> str:
    if not isinstance(encoded, str):
        raise MultibasePrefixError(f"encodedList must be a string, got {type(encoded).__name__}")
    if not encoded.startswith(MULTIBASE_BASE64URL):
        prefix = encoded[:1] or "(empty)"
        raise MultibasePrefixError(
            f"encodedList must start with the multibase prefix 'u' (base64url), found {prefix!r}"
        )
    return encoded[1:]


def _base64url_decode(body: str) -> bytes:
    # The spec says "no padding"; padded input is accepted (Java's and Node's decoders accept it),
    # anything outside the base64url alphabet is not.
    unpadded = body.rstrip("=")
    if len(body) - len(unpadded) > 2 or not _BASE64URL_BODY.fullmatch(unpadded):
        raise Base64DecodeError("encodedList is not base64url (alphabet A-Z a-z 0-9 - _)")
    if len(unpadded) % 4 == 1:
        raise Base64DecodeError("encodedList has an impossible base64url length")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex above catches these
        raise Base64DecodeError(f"encodedList is not base64url: {exc}") from exc


def _gunzip_capped(data: bytes, limit: int) -> bytes:
    """GZIP-decompress ``data`` but never produce more than ``limit`` bytes.

    ``zlib.decompressobj(...).decompress(chunk, max_length)`` stops as soon as ``max_length``
    bytes are out, so a bomb costs at most ``limit`` bytes of memory and matching CPU time.
    Concatenated gzip members (RFC 1952 §2.2) are decoded as one stream, as gzip tools do.
    """
    out = bytearray()
    remaining = data
    while True:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header required
        try:
            chunk = decompressor.decompress(remaining, limit - len(out) + 1)
        except zlib.error as exc:
            raise GzipDecodeError(f"encodedList is not valid GZIP data: {exc}") from exc
        out += chunk
        if len(out) > limit:
            raise DecompressedTooLargeError(
                f"encodedList expands to more than {limit} bytes; refused"
            )
        if not decompressor.eof:
            if decompressor.unconsumed_tail:  # output stopped at the cap with input left over
                raise DecompressedTooLargeError(
                    f"encodedList expands to more than {limit} bytes; refused"
                )
            raise GzipDecodeError("encodedList GZIP data is truncated")
        remaining = decompressor.unused_data
        if not remaining:
            return bytes(out)


def decode_list(encoded: str, *, max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> Bitstring:
    """[BSL §Bitstring Expansion Algorithm]: strip ``u``, base64url-decode, GZIP-decompress.

    Raises a subclass of ``EncodedListError``: ``MultibasePrefixError``, ``Base64DecodeError``,
    ``GzipDecodeError`` or ``DecompressedTooLargeError``. Length rules are the caller's
    (``check_status`` applies the minimum).
    """
    compressed = _base64url_decode(_strip_multibase(encoded))
    raw = _gunzip_capped(compressed, max_decompressed_bytes)
    if not raw:
        raise GzipDecodeError("encodedList decompresses to an empty bitstring")
    return Bitstring.from_bytes(raw)


#: Expanded lists read by ``check_status`` (never changed there), by their exact
#: ``encodedList``: thousands of credentials share one list, and a changed bit is a different
#: text, so a cached expansion is never stale. Only lists up to ``_CACHED_LIST_BYTES`` are kept
#: (1,048,576 entries; ours are 131,072), so the cache stays a few megabytes at most.
EXPANDED_LISTS: BoundedCache[str, Bitstring] = BoundedCache(64)
_CACHED_LIST_BYTES = 128 * 1024


def _expanded(encoded: str) -> Bitstring:
    """``decode_list(encoded)``, remembered (see ``EXPANDED_LISTS``); read-only for callers."""
    known = EXPANDED_LISTS.get(encoded)
    if known is None:
        known = decode_list(encoded)
        if known.length <= _CACHED_LIST_BYTES * 8:
            EXPANDED_LISTS.put(encoded, known)
    return known


# ------------------------------------------------------------------------ documents we produce


def _index_of(value: object) -> int | None:
    """statusListIndex as an int: the spec's base-10 string, or an integer as some issuers (the
    1EdTech fixture) write it. None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return None


def status_entry(list_url: str, index: int, purpose: str) -> dict[str, str]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus``
    [BSL §BitstringStatusListEntry].

    ``id`` must not equal the list URL (the spec forbids it), hence ``<list_url>#<index>`` as in
    the spec's examples; ``statusListIndex`` is a base-10 string as the spec requires.
    """
    if not isinstance(list_url, str) or not list_url or "#" in list_url:
        raise StatusListError(f"status list URL must be a non-empty URL without '#': {list_url!r}")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise StatusListError(f"statusListIndex must be a non-negative integer, got {index!r}")
    if not isinstance(purpose, str) or not purpose:
        raise StatusListError("statusPurpose must be a non-empty string")
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def _xsd_datetime(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise StatusListError("validFrom must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_list_credential(
    list_url: str,
    issuer_id: str,
    purpose: str,
    bits: Bitstring,
    valid_from: datetime | str,
    ttl_ms: int | None = DEFAULT_TTL_MS,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` published at ``list_url``
    [BSL §BitstringStatusListCredential, §Generate Algorithm steps 2-4].

    Only the VC 2.0 context: it defines every BSL term (BitstringStatusList, encodedList,
    statusPurpose, ttl). The credential's ``id`` is the list URL, which is what entries point to.
    The subject id ``<list_url>#list`` follows the spec's example. ``ttl`` (milliseconds) should
    match the HTTP caching the service sends; pass ``None`` to omit it.
    """
    if bits.length < MIN_LIST_LENGTH:
        # Verifiers must refuse such a list (STATUS_LIST_LENGTH_ERROR): never publish one.
        raise StatusListError(
            f"status list has {bits.length} entries; at least {MIN_LIST_LENGTH} are required"
        )
    if not list_url or "#" in list_url:
        raise StatusListError(f"status list URL must be a URL without '#': {list_url!r}")
    if not issuer_id:
        raise StatusListError("issuer id is required")
    if not purpose:
        raise StatusListError("statusPurpose must be a non-empty string")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": LIST_TYPE,
        "statusPurpose": purpose,
        "encodedList": encode_list(bits),
    }
    if ttl_ms is not None:
        if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
            raise StatusListError(f"ttl must be a positive number of milliseconds, got {ttl_ms!r}")
        subject["ttl"] = ttl_ms
    return {
        "@context": [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer_id,
        "validFrom": _xsd_datetime(valid_from),
        "credentialSubject": subject,
    }


# ----------------------------------------------------------------------------- index assignment


class RandomSource(Protocol):
    """What ``random_free_index`` needs: the ``secrets`` module fits, tests pass a seeded stub."""

    def randbelow(self, exclusive_upper_bound: int, /) -> int: ...


def random_free_index(
    is_taken: Callable[[int], bool],
    length: int = MIN_LIST_LENGTH,
    rng: RandomSource = secrets,
    *,
    max_attempts: int = 100,
) -> int:
    """Pick a uniformly random index in ``[0, length)`` for which ``is_taken`` is false.

    [BSL §BitstringStatusListEntry, privacy section "Group Privacy"]: indexes are assigned at
    random so that a list position reveals nothing about issuance order. Each try is uniform
    over the whole list; after ``max_attempts`` misses the list counts as full. With the default
    100 tries a list that is 90 % full fails with probability 0.9**100 (≈ 3e-5); at 95 % it is
    0.6 %: time to open a new list.
    """
    if length <= 0 or max_attempts <= 0:
        raise StatusListError("length and max_attempts must be positive")
    for _ in range(max_attempts):
        candidate = rng.randbelow(length)
        if not 0 <= candidate < length:
            raise StatusListError(f"random source returned {candidate}, outside 0..{length - 1}")
        if not is_taken(candidate):
            return candidate
    raise StatusListFullError(
        f"no free status list index found in {max_attempts} random tries over {length} entries; "
        "the list is full or nearly full, start a new list"
    )


# --------------------------------------------------------------------------------- status check


@dataclass(frozen=True)
class StatusResult:
    """Outcome of [BSL §Validate Algorithm] for one entry.

    ``status`` is True when the bit is set (revoked / suspended / flagged for ``purpose``),
    False when clear, None when the check could not be made; then ``error`` holds the spec's
    error name. ``value`` is the raw entry value (differs from 0/1 only when statusSize > 1).
    ``message`` is a plain English sentence for logs and reports.
    """

    status: bool | None
    purpose: str | None
    error: str | None
    message: str
    value: int | None = None

    @property
    def valid(self) -> bool:
        """[BSL §Validate Algorithm] step 13: valid when the status is 0."""
        return self.error is None and self.status is False


def _failure(purpose: str | None, error: str, message: str) -> StatusResult:
    return StatusResult(status=None, purpose=purpose, error=error, message=message)


def _types(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str)]
    return []


def _list_subject(list_credential: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subject = list_credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    return subject if isinstance(subject, Mapping) else None


def _status_size(entry: Mapping[str, Any]) -> int | None:
    # [BSL §BitstringStatusListEntry "statusSize"]: optional, default 1. Sizes beyond 8 bits are
    # not used by anyone and would only make the minimum-length rule meaningless; refuse them.
    size = entry.get("statusSize", 1)
    parsed = _index_of(size)
    return parsed if parsed is not None and 1 <= parsed <= 8 else None


def check_status(entry: Mapping[str, Any], list_credential: Mapping[str, Any]) -> StatusResult:
    """[BSL §Validate Algorithm] steps 3 and 5-13 for one ``credentialStatus`` entry against an
    already-retrieved and proof-verified list credential (steps 1, 2 and 4 are the verifier's).

    Never raises for bad input: every problem comes back as ``StatusResult.error``.
    """
    if not isinstance(entry, Mapping) or not isinstance(list_credential, Mapping):
        return _failure(None, MALFORMED_VALUE_ERROR, "status entry and list must be JSON objects")

    # Step 3: the purpose the credential asks about.
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        return _failure(None, MALFORMED_VALUE_ERROR, "credentialStatus has no statusPurpose")
    if ENTRY_TYPE not in _types(entry.get("type")):
        return _failure(purpose, MALFORMED_VALUE_ERROR, f"credentialStatus is not a {ENTRY_TYPE}")

    if LIST_CREDENTIAL_TYPE not in _types(list_credential.get("type")):
        return _failure(
            purpose, STATUS_VERIFICATION_ERROR, f"the status list is not a {LIST_CREDENTIAL_TYPE}"
        )
    subject = _list_subject(list_credential)
    if subject is None or LIST_TYPE not in _types(subject.get("type")):
        return _failure(
            purpose, STATUS_VERIFICATION_ERROR, f"the status list subject is not a {LIST_TYPE}"
        )

    # Step 5: the entry's purpose must be one of the list's purposes (a string or a set).
    list_purposes = _types(subject.get("statusPurpose"))
    if purpose not in list_purposes:
        return _failure(
            purpose,
            STATUS_VERIFICATION_ERROR,
            f"status purpose {purpose!r} does not match the list's {list_purposes!r}",
        )

    # Step 7 (before 8 so a malformed entry costs no decompression).
    index = _index_of(entry.get("statusListIndex"))
    if index is None:
        return _failure(
            purpose, MALFORMED_VALUE_ERROR, "statusListIndex is not a non-negative base-10 integer"
        )
    size = _status_size(entry)
    if size is None:
        return _failure(purpose, MALFORMED_VALUE_ERROR, "statusSize must be an integer 1-8")

    # Steps 6 and 8: expand the bitstring.
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        return _failure(purpose, MALFORMED_VALUE_ERROR, "the status list has no encodedList")
    try:
        bits = _expanded(encoded)
    except EncodedListError as exc:
        return _failure(purpose, MALFORMED_VALUE_ERROR, f"encodedList: {exc.message}")

    # Step 9: too short a list hides too few credentials (herd privacy) - refuse it.
    if bits.length // size < MIN_LIST_LENGTH:
        return _failure(
            purpose,
            STATUS_LIST_LENGTH_ERROR,
            f"the status list has {bits.length // size} entries; at least {MIN_LIST_LENGTH} "
            "are required",
        )

    # Step 10: the entry's bits must lie inside the list.
    position = index * size
    if position + size > bits.length:
        return _failure(
            purpose,
            RANGE_ERROR,
            f"statusListIndex {index} is outside the list of {bits.length // size} entries",
        )
    value = bits.get_value(position, size)

    # Steps 11-13.
    status = value != 0
    if status:
        message = f"status '{purpose}' is set for index {index}"
    else:
        message = f"status '{purpose}' is not set for index {index}"
    return StatusResult(status=status, purpose=purpose, error=None, message=message, value=value)
