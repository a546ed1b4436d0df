"""The JSON-LD context documents Merkki carries, and the offline document loader that serves them.

Design rule (DESIGN.md "Standards, fixed"): JSON-LD documents are never fetched from the network
while signing or verifying. Every context URL the service emits or accepts maps to a file in
``issuer/core/contexts/``; each defines its terms exactly as the official document does (the tests
compare them with the official copies). Any other URL is refused with ``DocumentLoaderError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from issuer.core.errors import DocumentLoaderError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
ED25519_2020_V1 = "https://w3id.org/security/suites/ed25519-2020/v1"
DATA_INTEGRITY_V1 = "https://w3id.org/security/data-integrity/v1"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
STATUS_V1 = "https://www.w3.org/ns/credentials/status/v1"

#: context URL -> file name in the ``contexts`` package folder.
CONTEXT_FILES: Mapping[str, str] = {
    VC_V2: "credentials-v2.json",
    VC_V1: "credentials-v1.json",
    OB_V3: "ob-v3p0-context-3.0.3.json",
    # Older OB 3.0 context URLs still found in credentials in the wild (OB errata: breaking
    # context changes get a new file, old URLs stay resolvable).
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob-v3p0-context-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob-v3p0-context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json": "ob-v3p0-context-3.0.0.json",
    OB_EXTENSIONS: "ob-v3p0-extensions.json",
    DATA_INTEGRITY_V1: "data-integrity-v1.json",
    DATA_INTEGRITY_V2: "data-integrity-v2.json",
    ED25519_2020_V1: "ed25519-signature-2020-v1.json",
    MULTIKEY_V1: "multikey-v1.json",
    DID_V1: "did-v1.json",
    STATUS_V1: "bitstring-status-list-v1.json",
    "https://w3id.org/vc/status-list/2021/v1": "status-list-2021-v1.json",
    "https://w3id.org/security/suites/x25519-2020/v1": "x25519-key-agreement-2020-v1.json",
    "https://w3id.org/security/v1": "security-v1.json",
    "https://w3id.org/security/v2": "security-v2.json",
    "https://w3id.org/security/suites/jws-2020/v1": "jws-2020-v1.json",
}

RemoteDocument = dict[str, Any]
DocumentLoader = Callable[[str, Any], RemoteDocument]


@cache
def _load_file(name: str) -> dict[str, Any]:
    text = resources.files("issuer.core").joinpath("contexts", name).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _normalize_url(url: str) -> str:
    # did:web and http(s) contexts are sometimes referenced with a trailing fragment or slash;
    # the official URLs never carry either, so neither do our keys.
    return url.split("#", 1)[0]


def get_context(url: str) -> dict[str, Any]:
    """Return the carried context document for ``url`` (a fresh copy is never needed: treat as
    read-only). Raise ``DocumentLoaderError`` for any URL the service does not carry."""
    name = CONTEXT_FILES.get(_normalize_url(url))
    if name is None:
        raise DocumentLoaderError(f"JSON-LD document not available offline: {url}")
    return _load_file(name)


def make_document_loader(
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> DocumentLoader:
    """Build a PyLD document loader serving the carried contexts plus ``extra`` (URL -> document,
    used by tests for example contexts). It never touches the network."""
    extras = dict(extra or {})

    def load(url: str, options: Any = None) -> RemoteDocument:
        key = _normalize_url(url)
        if key in extras:
            document = extras[key]
        elif key in CONTEXT_FILES:
            document = _load_file(CONTEXT_FILES[key])
        else:
            raise DocumentLoaderError(f"JSON-LD document not available offline: {url}")
        return {"contextUrl": None, "documentUrl": url, "document": document}

    return load


#: The loader used by signing and verification unless a caller passes its own.
default_document_loader: DocumentLoader = make_document_loader()

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
#: Contexts the VC-API verifier carries besides ``CONTEXT_FILES``: the W3C examples context
#: (only an ``@vocab``) that the W3C test vectors and the VC interoperability test suites sign
#: their credentials with. Never used to sign, and not for the service's own pages and API, whose
#: verdicts stay as they are; every term it covers is still reported (``verifier._check_terms``).
VC_API_CONTEXT_FILES: Mapping[str, str] = {EXAMPLES_V2: "credentials-examples-v2.json"}
#: Carried contexts that set a top-level ``@vocab`` (no other carried context sets or unsets
#: one): under them every term expands to an IRI, so none is dropped from the signed data.
VOCAB_CONTEXTS = frozenset({EXAMPLES_V2})


@cache
def vc_api_document_loader() -> DocumentLoader:
    """The offline loader of the VC-API verifier: the carried contexts plus
    ``VC_API_CONTEXT_FILES``. It never touches the network either."""
    return make_document_loader(
        {url: _load_file(name) for url, name in VC_API_CONTEXT_FILES.items()}
    )
