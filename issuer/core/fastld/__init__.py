"""The fast JSON-LD-to-RDF path: compiled contexts and a one-pass converter.

``convert`` turns a JSON-LD document into the RDF quads PyLD's ``jsonld.to_rdf`` produces (the
same quads up to blank node labels, which RDFC-1.0 relabels anyway) and/or the undefined terms
``canonical.find_undefined_terms`` reports, in one walk over the document. It returns ``None``
for documents it does not handle; callers then use the reference path (PyLD), so the answer is
the same either way. See ``converter`` for what is handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from issuer.core.contexts import DocumentLoader, default_document_loader
from issuer.core.errors import CanonicalizationError
from issuer.core.fastld.converter import Pass
from issuer.core.fastld.universe import universe_for
from issuer.core.rdfc import DEFAULT_LIMITS, CanonicalizationLimits, SerializedQuad

__all__ = ["FastResult", "convert"]


@dataclass(frozen=True, slots=True)
class FastResult:
    """``ground``: N-Quads lines of the quads without blank nodes; ``quads``: the others, as
    serialized terms; ``undefined``: what ``find_undefined_terms`` reports (when asked)."""

    ground: list[str]
    quads: list[SerializedQuad]
    undefined: list[str]
    #: The top-level object's node, serialized (``_:b0`` or ``<iri>``), when one was made.
    top: str | None = None


def convert(
    document: Any,
    loader: DocumentLoader | None = None,
    limits: CanonicalizationLimits = DEFAULT_LIMITS,
    *,
    quads: bool = True,
    undefined_terms: bool = True,
    with_top: bool = False,
) -> FastResult | None:
    """One pass over ``document``; ``None`` if the fast path does not handle it.

    Raises ``CanonicalizationError`` for documents nested deeper than the reference path allows
    and for documents beyond ``limits`` (refused before reading all of them, so the nesting of
    the part not read is not checked)."""
    if type(document) is not dict:
        return None
    try:
        universe = universe_for(loader or default_document_loader)
    except TypeError:  # a loader that cannot be weakly referenced: no compiled contexts
        return None
    walk = Pass(universe, limits, emit=quads, judge=undefined_terms)
    try:
        walk.document(document)
    except CanonicalizationError:
        raise  # the fast path's own refusals: nesting, limits
    except Exception:
        # Unsupported, or anything odd (keys that are not strings, ...): the reference path
        # handles it and reports it with its own error.
        return None
    return FastResult(walk.ground, walk.quads, walk.notes, walk.top if with_top else None)
