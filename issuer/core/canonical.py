"""JSON-LD document -> canonical N-Quads, offline, and the guard against undefined terms.

``canonize`` is the transformation step of ``eddsa-rdfc-2022`` (VC-DI-EDDSA §3.3.2
"Transformation (eddsa-rdfc-2022)"): deserialize the JSON-LD document to an RDF dataset and
canonicalize it with RDFC-1.0. Two deliberate differences from calling PyLD with its defaults:

* no base IRI is invented: PyLD resolves relative IRIs against ``http://example.org/base/``
  when none is given; we pass ``base=None`` so a relative IRI stays relative and is not turned
  into a statement nobody wrote (``find_undefined_terms`` refuses such documents before signing);
* the canonicalization and serialization are ours (``issuer.core.rdfc``), byte-exact with
  RDFC-1.0 for every character.

Speed: ``canonize`` and ``find_undefined_terms`` first try the fast path (``issuer.core.fastld``:
contexts processed once, one walk over the document, serialized quads straight into RDFC-1.0).
It handles documents whose contexts are context URLs (every credential Merkki issues and the
OB 3.0 credentials others issue) and returns exactly what the reference path (PyLD) returns;
anything else goes to the reference path, ``canonize_reference`` and
``find_undefined_terms_reference``, which the tests compare the fast path with.
"""

from __future__ import annotations

import re
from typing import Any

from pyld import jsonld

from issuer.core import fastld
from issuer.core.contexts import DocumentLoader, default_document_loader
from issuer.core.errors import CanonicalizationError, DocumentLoaderError, UndefinedTermError
from issuer.core.rdfc import (
    DEFAULT_LIMITS,
    CanonicalizationLimits,
    Quad,
    canonicalize_nquads,
    canonicalize_serialized,
    quads_from_pyld_dataset,
)

UNDEFINED_PREFIX = "urn:UNDEFINEDTERM:"
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):\S*$")
MAX_DEPTH = 64


def _options(loader: DocumentLoader | None) -> dict[str, Any]:
    return {
        "documentLoader": loader or default_document_loader,
        "base": None,
        "produceGeneralizedRdf": False,
    }


def _check_depth(node: Any, depth: int = 0) -> None:
    # PyLD recurses once per nesting level; refuse absurd nesting before Python's recursion
    # limit turns it into an unhelpful RecursionError.
    if depth > MAX_DEPTH:
        raise CanonicalizationError(f"document nesting deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1)


def _loader_error(error: BaseException) -> DocumentLoaderError | None:
    """The ``DocumentLoaderError`` PyLD wrapped (it nests causes in ``details``), if any."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DocumentLoaderError):
            return cause
        details = getattr(cause, "details", None)
        nested = details.get("cause") if isinstance(details, dict) else None
        cause = nested if isinstance(nested, BaseException) else cause.__cause__
    return None


def _jsonld_error_message(error: Exception) -> str:
    # PyLD wraps the real cause several levels deep; the innermost message is the useful one.
    cause: BaseException | None = error
    message = str(error)
    while cause is not None:
        if isinstance(cause, DocumentLoaderError):
            return cause.message
        details = getattr(cause, "details", None)
        if isinstance(details, dict) and isinstance(details.get("cause"), BaseException):
            cause = details["cause"]
        else:
            cause = cause.__cause__
        if cause is not None:
            message = str(cause).split("\n", 1)[0] or message
    return message


def to_quads(document: dict[str, Any], loader: DocumentLoader | None = None) -> list[Quad]:
    """Deserialize a JSON-LD document into RDF quads (JSON-LD 1.1 §"Deserialize JSON-LD to RDF")
    with PyLD: the reference path."""
    _check_depth(document)
    try:
        dataset = jsonld.to_rdf(document, _options(loader))
    except Exception as error:  # PyLD raises JsonLdError and, on odd input, plain errors
        loader_error = _loader_error(error)
        if loader_error is not None:
            raise loader_error from error
        raise CanonicalizationError(f"not valid JSON-LD: {_jsonld_error_message(error)}") from error
    # PyLD writes a list item that is a relative IRI as a triple without an object (a relative
    # IRI is no RDF term, and no base IRI is assumed); say so instead of failing on it.
    if any(triple.get("object") is None for triples in dataset.values() for triple in triples):
        raise CanonicalizationError(
            "not valid JSON-LD: a list holds an IRI that is not absolute (no base IRI is assumed)"
        )
    return quads_from_pyld_dataset(dataset)


def canonize(
    document: dict[str, Any],
    loader: DocumentLoader | None = None,
    limits: CanonicalizationLimits = DEFAULT_LIMITS,
) -> str:
    """Canonical N-Quads (RDFC-1.0) of a JSON-LD document, as one string."""
    result = fastld.convert(document, loader, limits, undefined_terms=False)
    if result is None:
        return canonize_reference(document, loader, limits)
    return canonicalize_serialized(result.ground, result.quads, limits)


def canonize_reference(
    document: dict[str, Any],
    loader: DocumentLoader | None = None,
    limits: CanonicalizationLimits = DEFAULT_LIMITS,
) -> str:
    """``canonize`` through PyLD's JSON-LD-to-RDF (the reference path)."""
    return canonicalize_nquads(to_quads(document, loader), limits)


def canonize_and_find_undefined_terms(
    document: dict[str, Any],
    loader: DocumentLoader | None = None,
    limits: CanonicalizationLimits = DEFAULT_LIMITS,
) -> tuple[str, list[str]]:
    """``(canonize(document), find_undefined_terms(document))`` in one pass over the document
    when the fast path handles it. The canonical form is computed even when terms are
    undefined; a caller refusing such documents can skip using it."""
    if document.get("@context") is not None:
        result = fastld.convert(document, loader, limits)
        if result is not None:
            canonical = canonicalize_serialized(result.ground, result.quads, limits)
            return canonical, result.undefined
    return canonize(document, loader, limits), find_undefined_terms(document, loader)


def expand(document: dict[str, Any], loader: DocumentLoader | None = None) -> list[Any]:
    _check_depth(document)
    try:
        expanded: list[Any] = jsonld.expand(document, _options(loader))
    except Exception as error:
        loader_error = _loader_error(error)
        if loader_error is not None:
            raise loader_error from error
        raise CanonicalizationError(f"not valid JSON-LD: {_jsonld_error_message(error)}") from error
    return expanded


def find_undefined_terms(
    document: dict[str, Any], loader: DocumentLoader | None = None
) -> list[str]:
    """Names of properties and types that no context in ``document`` defines, and ``@id`` values
    that are not absolute IRIs, in document order (see ``find_undefined_terms_reference``).

    A document beyond the canonicalization limits (``rdfc.DEFAULT_LIMITS``) cannot be signed
    or verified anyway; it is refused with ``CanonicalizationError`` rather than read to the
    end."""
    if document.get("@context") is None:
        return ["@context (missing)"]
    result = fastld.convert(document, loader, quads=False)
    if result is None:
        return find_undefined_terms_reference(document, loader)
    return result.undefined


def find_undefined_terms_reference(
    document: dict[str, Any], loader: DocumentLoader | None = None
) -> list[str]:
    """``find_undefined_terms`` through PyLD's expansion (the reference path).

    JSON-LD processors silently drop undefined terms (and relative IRIs without a base) while
    canonicalizing, so such data would look signed but not be. Method: expand with an extra
    ``@vocab`` appended to the top-level context, so every otherwise-undefined term expands to
    ``urn:UNDEFINEDTERM:<term>`` (the same idea as the 1EdTech validator's check). Protected
    terms cannot be redefined by this, and ``@vocab`` is not a term, so defined terms are
    unaffected.
    """
    context = document.get("@context")
    if context is None:
        return ["@context (missing)"]
    contexts = context if isinstance(context, list) else [context]
    probe = dict(document)
    probe["@context"] = [*contexts, {"@vocab": UNDEFINED_PREFIX}]
    expanded = expand(probe, loader)
    found: list[str] = []

    def note(name: str) -> None:
        if name not in found:
            found.append(name)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if "@value" in node:
            datatype = node.get("@type")
            if isinstance(datatype, str) and datatype.startswith(UNDEFINED_PREFIX):
                note(datatype[len(UNDEFINED_PREFIX) :])
            return
        for key, value in node.items():
            if key.startswith(UNDEFINED_PREFIX):
                note(key[len(UNDEFINED_PREFIX) :])
            if key == "@type":
                for type_iri in value if isinstance(value, list) else [value]:
                    if isinstance(type_iri, str) and type_iri.startswith(UNDEFINED_PREFIX):
                        note(type_iri[len(UNDEFINED_PREFIX) :])
            elif key == "@id":
                if isinstance(value, str) and not _ABSOLUTE_IRI.match(value):
                    note(f"@id {value!r} (not an absolute IRI)")
            elif not key.startswith("@") or key in ("@graph", "@list", "@set", "@included"):
                walk(value)
            elif key == "@reverse" and isinstance(value, dict):
                walk(list(value.values()))

    walk(expanded)
    return found


def assert_all_terms_defined(
    document: dict[str, Any], loader: DocumentLoader | None = None
) -> None:
    """Raise ``UndefinedTermError`` naming every undefined term of ``document``."""
    terms = find_undefined_terms(document, loader)
    if terms:
        raise UndefinedTermError(terms)
