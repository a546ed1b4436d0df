"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024-05-21) and canonical N-Quads.

Why not PyLD's ``normalize``: PyLD's N-Quads serializer escapes only ``\\t \\n \\r " \\\\``,
while canonical N-Quads (RDFC-1.0 §4 "Serialization", which points at the canonical form of
RDF 1.2 N-Triples/N-Quads) escapes ``\\b \\t \\n \\f \\r " \\\\`` with ECHAR and every other
control character (U+0000-U+0007, U+000B, U+000E-U+001F, U+007F) as an uppercase ``\\uXXXX``.
PyLD also uses that serializer inside its blank-node hashing, so the error would reach the
canonical labels too. We therefore take the RDF dataset from PyLD's JSON-LD-to-RDF step and run
the canonicalization algorithm here, one function per section of the specification.

Hostile input: RDFC-1.0 §A ("Security Considerations") warns that crafted blank-node graphs make
the Hash N-Degree Quads algorithm run for exponential time. ``CanonicalizationLimits`` bounds the
number of quads, the blank nodes, the N-degree hashing work and the wall-clock time; exceeding
any of them raises ``CanonicalizationError`` quickly instead of hanging.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from issuer.core.errors import CanonicalizationError

RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

# RDF 1.2 N-Triples §"Canonical form": ECHAR for these seven, UCHAR (uppercase hex) for the
# remaining C0 controls and DEL, everything else written as itself.
_ESCAPES: dict[int, str] = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
for _code in itertools.chain(range(0x00, 0x08), (0x0B,), range(0x0E, 0x20), (0x7F,)):
    _ESCAPES[_code] = f"\\u{_code:04X}"
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def escape_literal(value: str) -> str:
    """Escape a literal's lexical form as canonical N-Quads requires."""
    return value.translate(_ESCAPE_TABLE)


@dataclass(frozen=True, slots=True)
class Term:
    """An RDF term: ``kind`` is ``iri``, ``bnode`` or ``literal``."""

    kind: str
    value: str
    datatype: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Quad:
    subject: Term
    predicate: Term
    object: Term
    graph: Term | None = None


@dataclass(frozen=True, slots=True)
class CanonicalizationLimits:
    """Bounds that keep canonicalization of hostile input fast to refuse.

    The defaults are far above what any credential needs (an OB 3.0 credential with every
    EU element has about 150 quads and 20 blank nodes, each with a unique first-degree hash)."""

    max_quads: int = 20_000
    max_blank_nodes: int = 5_000
    max_ndegree_calls: int = 2_000
    max_permutations: int = 20_000
    time_budget_s: float = 2.0


DEFAULT_LIMITS = CanonicalizationLimits()


def serialize_term(term: Term) -> str:
    if term.kind == "iri":
        return f"<{term.value}>"
    if term.kind == "bnode":
        return term.value
    text = f'"{escape_literal(term.value)}"'
    if term.datatype == RDF_LANGSTRING or (term.language and term.datatype is None):
        return f"{text}@{term.language}"
    if term.datatype and term.datatype != XSD_STRING:
        return f"{text}^^<{term.datatype}>"
    return text


def serialize_quad(quad: Quad) -> str:
    """One canonical N-Quads line, newline included."""
    parts = [
        serialize_term(quad.subject),
        serialize_term(quad.predicate),
        serialize_term(quad.object),
    ]
    if quad.graph is not None:
        parts.append(serialize_term(quad.graph))
    return " ".join(parts) + " .\n"


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class IdentifierIssuer:
    """RDFC-1.0 §4.3 "Issue Identifier Algorithm": issues ``prefix + counter`` in order."""

    __slots__ = ("counter", "issued", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = 0
        self.issued: dict[str, str] = {}  # insertion order is the spec's "issued identifiers order"

    def issue(self, existing: str) -> str:
        found = self.issued.get(existing)
        if found is not None:
            return found
        new = f"{self.prefix}{self.counter}"
        self.counter += 1
        self.issued[existing] = new
        return new

    def has(self, existing: str) -> bool:
        return existing in self.issued

    def copy(self) -> IdentifierIssuer:
        clone = IdentifierIssuer(self.prefix)
        clone.counter = self.counter
        clone.issued = dict(self.issued)
        return clone


@dataclass
class _State:
    """RDFC-1.0 §4.2 "Canonicalization State"."""

    limits: CanonicalizationLimits
    blank_node_to_quads: dict[str, list[Quad]] = field(default_factory=dict)
    canonical: IdentifierIssuer = field(default_factory=lambda: IdentifierIssuer("_:c14n"))
    first_degree_cache: dict[str, str] = field(default_factory=dict)
    ndegree_calls: int = 0
    permutations: int = 0
    deadline: float = 0.0

    def spend_ndegree(self) -> None:
        self.ndegree_calls += 1
        if self.ndegree_calls > self.limits.max_ndegree_calls:
            raise CanonicalizationError(
                "canonicalization refused: too much blank-node hashing work "
                f"(more than {self.limits.max_ndegree_calls} N-degree hashes)"
            )
        self._check_time()

    def spend_permutation(self) -> None:
        self.permutations += 1
        if self.permutations > self.limits.max_permutations:
            raise CanonicalizationError(
                "canonicalization refused: too many blank-node permutations "
                f"(more than {self.limits.max_permutations})"
            )
        if self.permutations % 256 == 0:
            self._check_time()

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise CanonicalizationError(
                f"canonicalization refused: time budget of {self.limits.time_budget_s:g} s exceeded"
            )


_POSITIONS = (("subject", "s"), ("object", "o"), ("graph", "g"))


def _hash_first_degree(state: _State, identifier: str) -> str:
    """RDFC-1.0 §4.6 "Hash First Degree Quads"."""
    cached = state.first_degree_cache.get(identifier)
    if cached is not None:
        return cached
    lines = []
    for quad in state.blank_node_to_quads[identifier]:
        terms = []
        for term in (quad.subject, quad.predicate, quad.object, quad.graph):
            if term is None:
                continue
            if term.kind == "bnode":
                terms.append("_:a" if term.value == identifier else "_:z")
            else:
                terms.append(serialize_term(term))
        lines.append(" ".join(terms) + " .\n")
    lines.sort()
    result = _sha256_hex("".join(lines))
    state.first_degree_cache[identifier] = result
    return result


def _hash_related_blank_node(
    state: _State, related: str, quad: Quad, issuer: IdentifierIssuer, position: str
) -> str:
    """RDFC-1.0 §4.7 "Hash Related Blank Node"."""
    parts = [position]
    if position != "g":
        parts.append(f"<{quad.predicate.value}>")
    if state.canonical.has(related):
        parts.append(state.canonical.issued[related])
    elif issuer.has(related):
        parts.append(issuer.issued[related])
    else:
        parts.append(_hash_first_degree(state, related))
    return _sha256_hex("".join(parts))


def _hash_n_degree(
    state: _State, identifier: str, issuer: IdentifierIssuer
) -> tuple[str, IdentifierIssuer]:
    """RDFC-1.0 §4.8 "Hash N-Degree Quads"."""
    state.spend_ndegree()
    hash_to_related: dict[str, list[str]] = {}
    for quad in state.blank_node_to_quads[identifier]:
        for attr, position in _POSITIONS:
            term: Term | None = getattr(quad, attr)
            if term is None or term.kind != "bnode" or term.value == identifier:
                continue
            related_hash = _hash_related_blank_node(state, term.value, quad, issuer, position)
            hash_to_related.setdefault(related_hash, []).append(term.value)

    data_to_hash: list[str] = []
    for related_hash in sorted(hash_to_related):
        data_to_hash.append(related_hash)
        chosen_path = ""
        chosen_issuer: IdentifierIssuer | None = None
        for permutation in itertools.permutations(hash_to_related[related_hash]):
            state.spend_permutation()
            issuer_copy = issuer.copy()
            path = ""
            recursion_list: list[str] = []
            skip = False
            for related in permutation:
                if state.canonical.has(related):
                    path += state.canonical.issued[related]
                else:
                    if not issuer_copy.has(related):
                        recursion_list.append(related)
                    path += issuer_copy.issue(related)
                if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                    skip = True
                    break
            if skip:
                continue
            for related in recursion_list:
                result_hash, result_issuer = _hash_n_degree(state, related, issuer_copy)
                path += issuer_copy.issue(related)
                path += f"<{result_hash}>"
                issuer_copy = result_issuer
                if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                    skip = True
                    break
            if skip:
                continue
            if chosen_issuer is None or path < chosen_path:
                chosen_path = path
                chosen_issuer = issuer_copy
        assert chosen_issuer is not None  # every list has at least one permutation
        data_to_hash.append(chosen_path)
        issuer = chosen_issuer
    return _sha256_hex("".join(data_to_hash)), issuer


def canonicalize_quads(
    quads: Sequence[Quad], limits: CanonicalizationLimits = DEFAULT_LIMITS
) -> list[str]:
    """RDFC-1.0 §4.4 "Canonicalization Algorithm": canonical N-Quads lines, sorted, deduplicated."""
    if len(quads) > limits.max_quads:
        raise CanonicalizationError(
            f"canonicalization refused: {len(quads)} quads exceeds the limit of {limits.max_quads}"
        )
    state = _State(limits=limits, deadline=time.monotonic() + limits.time_budget_s)
    # §4.4.3 step 2: map each blank node to the quads it occurs in.
    for quad in quads:
        for term in (quad.subject, quad.object, quad.graph):
            if term is not None and term.kind == "bnode":
                bucket = state.blank_node_to_quads.setdefault(term.value, [])
                if not bucket or bucket[-1] is not quad:
                    bucket.append(quad)
    if len(state.blank_node_to_quads) > limits.max_blank_nodes:
        raise CanonicalizationError(
            f"canonicalization refused: {len(state.blank_node_to_quads)} blank nodes exceeds "
            f"the limit of {limits.max_blank_nodes}"
        )

    # Step 3: first-degree hashes.
    hash_to_blank_nodes: dict[str, list[str]] = {}
    for identifier in state.blank_node_to_quads:
        hash_to_blank_nodes.setdefault(_hash_first_degree(state, identifier), []).append(identifier)

    # Step 4: unique hashes get canonical identifiers in hash order.
    for first_hash in sorted(hash_to_blank_nodes):
        identifiers = hash_to_blank_nodes[first_hash]
        if len(identifiers) == 1:
            state.canonical.issue(identifiers[0])
            del hash_to_blank_nodes[first_hash]

    # Step 5: shared hashes are disambiguated with the N-degree hash.
    for first_hash in sorted(hash_to_blank_nodes):
        hash_path_list: list[tuple[str, IdentifierIssuer]] = []
        for identifier in hash_to_blank_nodes[first_hash]:
            if state.canonical.has(identifier):
                continue
            temporary = IdentifierIssuer("_:b")
            temporary.issue(identifier)
            hash_path_list.append(_hash_n_degree(state, identifier, temporary))
        for _, result_issuer in sorted(hash_path_list, key=lambda item: item[0]):
            for existing in result_issuer.issued:
                state.canonical.issue(existing)

    # Step 6: relabel and serialize.
    canonical = state.canonical.issued

    def relabel(term: Term | None) -> Term | None:
        if term is None or term.kind != "bnode":
            return term
        return Term("bnode", canonical[term.value])

    lines = {
        serialize_quad(
            Quad(relabel(q.subject), q.predicate, relabel(q.object), relabel(q.graph))  # type: ignore[arg-type]
        )
        for q in quads
    }
    return sorted(lines)


def canonicalize_nquads(
    quads: Sequence[Quad], limits: CanonicalizationLimits = DEFAULT_LIMITS
) -> str:
    return "".join(canonicalize_quads(quads, limits))


# --- from PyLD's RDF dataset ---------------------------------------------------------------


def _term_from_pyld(node: dict[str, Any]) -> Term:
    kind = node["type"]
    if kind == "IRI":
        return Term("iri", node["value"])
    if kind == "blank node":
        return Term("bnode", node["value"])
    datatype = node.get("datatype") or XSD_STRING
    language = node.get("language")
    return Term("literal", node["value"], datatype=datatype, language=language)


def quads_from_pyld_dataset(dataset: dict[str, list[dict[str, Any]]]) -> list[Quad]:
    """Convert the dataset that ``pyld.jsonld.to_rdf`` returns into ``Quad`` objects."""
    quads: list[Quad] = []
    for graph_name, triples in dataset.items():
        graph: Term | None = None
        if graph_name != "@default":
            graph = Term("bnode" if graph_name.startswith("_:") else "iri", graph_name)
        for triple in triples:
            quads.append(
                Quad(
                    _term_from_pyld(triple["subject"]),
                    _term_from_pyld(triple["predicate"]),
                    _term_from_pyld(triple["object"]),
                    graph,
                )
            )
    return quads


def parse_nquads(text: str) -> list[Quad]:
    """Parse N-Quads (as produced by canonical serialization) back into quads; for tests."""
    from pyld import jsonld

    dataset = jsonld.parse_nquads(text)
    return quads_from_pyld_dataset(dataset)


def iter_lines(text: str) -> Iterable[str]:
    return text.splitlines(keepends=True)
