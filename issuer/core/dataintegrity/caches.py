"""What verification remembers: the bounded caches of ``verifying`` and their keys.

``clear_verification_caches`` empties them all (benchmarks measure first verifications);
``SourceKey`` keys a document by the exact JSON text it was parsed from.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from issuer.core import lru
from issuer.core.dataintegrity.cryptosuite import check_proof_value
from issuer.core.lru import BoundedCache
from issuer.core.proof_options import ProofOptionsView

# Verification results that are pure functions of their input, kept so that the same credential
# verified again (a QR code scanned by a whole job fair, a status list shared by thousands of
# credentials) does not cost a canonicalization and a signature check each time. Only the
# default (offline, fixed) context loader is cached. Keys:
# * VERIFIED_PROOFS: SHA-256 of the exact input document and proof JSON (sorted keys), the
#   public key's 32 bytes, the purpose and the term-check flag -> True. Only successes are
#   kept. The key is still resolved on every verification (a withdrawn or rotated-away key is
#   refused before this cache is asked), and ``expires`` is checked against the clock every time.
# * DOCUMENT_TERMS: SHA-256 of the document JSON -> its undefined terms (a pure function of the
#   document and the carried contexts).
# A document that arrived as JSON text (a stored credential, a posted body) is keyed on that
# exact text instead (``SourceKey``): equal texts are equal documents, so nothing has to be
# re-serialized to ask the caches; the same document in another spelling is merely another key.
VERIFIED_PROOFS: BoundedCache[tuple[bytes, bytes, str, bool], bool] = BoundedCache(4096)
DOCUMENT_TERMS: BoundedCache[bytes, tuple[str, ...]] = BoundedCache(4096)
#: A proof's canonical configuration and the options read from it, by the digest of the proof
#: options' and the document context's JSON text (a pure function of both).
PROOF_OPTIONS: BoundedCache[bytes, tuple[str, ProofOptionsView]] = BoundedCache(4096)


def clear_verification_caches() -> None:
    """Forget every remembered verification (benchmarks measure first verifications): every
    bounded cache of the process (``lru.clear_all``: proofs, terms, proof options, the
    verifier's views and schema verdicts, expanded status lists, our issuers' keys) and the
    decoded proof values."""
    lru.clear_all()
    check_proof_value.cache_clear()


def json_text(value: Any) -> str:
    """A stable text of parsed JSON (sorted keys): equal texts mean equal documents."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def json_text_or_none(value: Any) -> str | None:
    """``json_text``, or None for what has no such text (too deep, non-string keys): such a
    document is judged without the caches, as before they existed."""
    try:
        return json_text(value)
    except (ValueError, TypeError, RecursionError):
        return None


class SourceKey:
    """The cache key of a document that was parsed from JSON text: a digest of that exact text.

    Keys derived from it (``derive``) name what is a pure function of the document: its
    terms, each of its proofs. They are tagged, so they never equal a key made from a
    re-serialized document (``_digest`` of text that starts with ``{``).
    """

    __slots__ = ("_digest",)

    def __init__(self, source: str | bytes) -> None:
        raw = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
        self._digest = hashlib.sha256(b"source\x00" + raw).digest()

    def derive(self, label: str) -> bytes:
        return hashlib.sha256(label.encode("ascii") + b"\x00" + self._digest).digest()


#: ``SourceKey.derive`` label of the document without its proofs (its terms).
UNSECURED = "unsecured"


def digest(*texts: str) -> bytes:
    hasher = hashlib.sha256()
    for text in texts:
        hasher.update(text.encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
    return hasher.digest()
