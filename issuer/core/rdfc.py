"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024-05-21) and canonical N-Quads.

Why not PyLD's ``normalize``: PyLD's N-Quads serializer escapes only ``\\t \\n \\r " \\\\``,
while canonical N-Quads (RDFC-1.0 §4 "Serialization", which points at the canonical form of
RDF 1.2 N-Triples/N-Quads) escapes ``\\b \\t \\n \\f \\r " \\\\`` with ECHAR and every other
control character (U+0000-U+0007, U+000B, U+000E-U+001F, U+007F) as an uppercase ``\\uXXXX``.
PyLD also uses that serializer inside its blank-node hashing, so the error would reach the
canonical labels too. We therefore take the RDF dataset from the JSON-LD-to-RDF step and run
the canonicalization algorithm here, one function per section of the specification.

Speed: the algorithm works on quads whose terms are already serialized (``<iri>``, ``"lit"...``,
``_:label``), so every term is escaped once, the hashing steps only splice the ``_:a``/``_:z``
placeholders in, and relabelling is a dictionary lookup. Quads without blank nodes never take
part in the hashing (RDFC-1.0 §4.4.3 step 2 only maps blank nodes); ``canonicalize_serialized``
takes them as finished lines.

Hostile input: RDFC-1.0 §A ("Security Considerations") warns that crafted blank-node graphs make
the Hash N-Degree Quads algorithm run for exponential time. ``CanonicalizationLimits`` bounds the
number of quads, the blank nodes, the hashing work and the wall-clock time; exceeding any of them
raises ``CanonicalizationError`` quickly instead of hanging.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
_ESCAPE_BY_CHAR = {chr(code): text for code, text in _ESCAPES.items()}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f]')


def _escape_match(match: re.Match[str]) -> str:
    return _ESCAPE_BY_CHAR[match.group()]


#: Escaped long texts: descriptions and criteria repeat across the credentials of a badge class.
#: Bounded in entries and entry size (at most some 16 MB whatever is thrown at it).
_ESCAPED: dict[str, str] = {}
_ESCAPED_SIZE = 1_024
_ESCAPED_MIN_LENGTH = 48
_ESCAPED_MAX_LENGTH = 8_192


def escape_literal(value: str) -> str:
    """Escape a literal's lexical form as canonical N-Quads requires."""
    # A regular-expression scan is some fifteen times faster than str.translate on text that
    # needs no escaping, which is nearly all text.
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    if not _ESCAPED_MIN_LENGTH <= len(value) <= _ESCAPED_MAX_LENGTH:
        return _NEEDS_ESCAPE.sub(_escape_match, value)
    found = _ESCAPED.get(value)
    if found is None:
        found = _NEEDS_ESCAPE.sub(_escape_match, value)
        if len(_ESCAPED) >= _ESCAPED_SIZE:
            _ESCAPED.clear()
        _ESCAPED[value] = found
    return found


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
    EU element has about 130 quads and 15-20 blank nodes, nearly always each with a unique
    first-degree hash, so the N-degree hashing of §4.8 runs rarely and briefly) and low enough
    that the worst input within them is refused in well under 100 ms:

    * ``max_quads``, ``max_blank_nodes``: the size of the dataset;
    * ``max_values``: the JSON values read while deserializing a document to RDF;
    * ``max_ndegree_calls``, ``max_permutations``, ``max_ndegree_depth``: the N-degree hashing
      work, which crafted graphs make exponential (RDFC-1.0 §A), and its recursion depth;
    * ``ndegree_time_budget_s``: processor time (of the calling thread) for the N-degree
      hashing, whatever the counts;
    * ``time_budget_s``: wall-clock time for the whole canonicalization.
    """

    max_quads: int = 10_000
    max_blank_nodes: int = 2_000
    max_ndegree_calls: int = 2_000
    max_permutations: int = 20_000
    time_budget_s: float = 1.0
    max_values: int = 20_000
    max_ndegree_depth: int = 32
    ndegree_time_budget_s: float = 0.03


DEFAULT_LIMITS = CanonicalizationLimits()


def serialize_literal(value: str, datatype: str | None, language: str | None) -> str:
    """A literal in canonical N-Quads: ``"text"``, ``"text"@lang`` or ``"text"^^<datatype>``
    (``xsd:string`` is implicit)."""
    text = '"' + escape_literal(value) + '"'
    if datatype == RDF_LANGSTRING or (language and datatype is None):
        return f"{text}@{language}"
    if datatype and datatype != XSD_STRING:
        return f"{text}^^<{datatype}>"
    return text


def serialize_term(term: Term) -> str:
    if term.kind == "iri":
        return f"<{term.value}>"
    if term.kind == "bnode":
        return term.value
    return serialize_literal(term.value, term.datatype, term.language)


#: A quad as four serialized terms: subject, predicate, object, graph name ("" for the default
#: graph). Blank nodes, and only they, start with "_" (IRIs with "<", literals with '"').
SerializedQuad = tuple[str, str, str, str]


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


class _State:
    """RDFC-1.0 §4.2 "Canonicalization State", with the work counters of the limits."""

    __slots__ = (
        "blank_node_to_quads",
        "canonical",
        "deadline",
        "first_degree_cache",
        "limits",
        "ndegree_calls",
        "ndegree_deadline",
        "permutations",
    )

    def __init__(self, limits: CanonicalizationLimits) -> None:
        self.limits = limits
        self.blank_node_to_quads: dict[str, list[SerializedQuad]] = {}
        self.canonical = IdentifierIssuer("_:c14n")
        self.first_degree_cache: dict[str, str] = {}
        self.ndegree_calls = 0
        self.permutations = 0
        self.deadline = time.monotonic() + limits.time_budget_s
        self.ndegree_deadline = 0.0

    def spend_ndegree(self, depth: int) -> None:
        self.ndegree_calls += 1
        if self.ndegree_calls == 1:
            # CPU time of this thread: a loaded machine or busy sibling threads do not make a
            # legitimate document fail, and a crafted one is stopped all the same.
            self.ndegree_deadline = time.thread_time() + self.limits.ndegree_time_budget_s
        if self.ndegree_calls > self.limits.max_ndegree_calls:
            raise CanonicalizationError(
                "canonicalization refused: too much blank-node hashing work "
                f"(more than {self.limits.max_ndegree_calls} N-degree hashes)"
            )
        if depth > self.limits.max_ndegree_depth:
            raise CanonicalizationError(
                "canonicalization refused: too much blank-node hashing work "
                f"(N-degree hashing nested deeper than {self.limits.max_ndegree_depth})"
            )
        self.check_time()

    def spend_permutations(self, items: int) -> None:
        """Count the permutations of ``items`` blank nodes before running through them, so a
        list too long to permute is refused at once rather than after the work."""
        self.permutations += math.factorial(min(items, 20))
        if self.permutations > self.limits.max_permutations:
            raise CanonicalizationError(
                "canonicalization refused: too many blank-node permutations "
                f"(more than {self.limits.max_permutations})"
            )

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise CanonicalizationError(
                f"canonicalization refused: time budget of {self.limits.time_budget_s:g} s exceeded"
            )
        if self.ndegree_calls and time.thread_time() > self.ndegree_deadline:
            raise CanonicalizationError(
                "canonicalization refused: too much blank-node hashing work (time budget of "
                f"{self.limits.ndegree_time_budget_s:g} s for N-degree hashing exceeded)"
            )


def _hash_first_degree(state: _State, identifier: str) -> str:
    """RDFC-1.0 §4.6 "Hash First Degree Quads": the quads of ``identifier`` serialized with
    ``_:a`` for itself and ``_:z`` for every other blank node, sorted, hashed."""
    cached = state.first_degree_cache.get(identifier)
    if cached is not None:
        return cached
    lines = []
    for subject, predicate, obj, graph in state.blank_node_to_quads[identifier]:
        if subject[0] == "_":
            subject = "_:a" if subject == identifier else "_:z"
        if obj[0] == "_":
            obj = "_:a" if obj == identifier else "_:z"
        if graph:
            if graph[0] == "_":
                graph = "_:a" if graph == identifier else "_:z"
            lines.append(f"{subject} {predicate} {obj} {graph} .\n")
        else:
            lines.append(f"{subject} {predicate} {obj} .\n")
    lines.sort()
    result = _sha256_hex("".join(lines))
    state.first_degree_cache[identifier] = result
    return result


def _hash_related_blank_node(
    state: _State, related: str, predicate: str, issuer: IdentifierIssuer, position: str
) -> str:
    """RDFC-1.0 §4.7 "Hash Related Blank Node" (``predicate`` is already ``<iri>``)."""
    text = position if position == "g" else position + predicate
    label = state.canonical.issued.get(related)
    if label is None:
        label = issuer.issued.get(related)
    if label is None:
        label = _hash_first_degree(state, related)
    return _sha256_hex(text + label)


def _hash_n_degree(
    state: _State, identifier: str, issuer: IdentifierIssuer, depth: int = 0
) -> tuple[str, IdentifierIssuer]:
    """RDFC-1.0 §4.8 "Hash N-Degree Quads" (``depth``: of the recursion, for the limits)."""
    state.spend_ndegree(depth)
    hash_to_related: dict[str, list[str]] = {}
    for quad in state.blank_node_to_quads[identifier]:
        subject, predicate, obj, graph = quad
        # §4.8.3 step 3.1: subject, object and graph name, in that order.
        for term, position in ((subject, "s"), (obj, "o"), (graph, "g")):
            if not term or term[0] != "_" or term == identifier:
                continue
            related_hash = _hash_related_blank_node(state, term, predicate, issuer, position)
            hash_to_related.setdefault(related_hash, []).append(term)

    data_to_hash: list[str] = []
    canonical_issued = state.canonical.issued
    for related_hash in sorted(hash_to_related):
        data_to_hash.append(related_hash)
        blank_nodes = hash_to_related[related_hash]
        state.spend_permutations(len(blank_nodes))
        chosen_path = ""
        chosen_issuer: IdentifierIssuer | None = None
        for count, permutation in enumerate(itertools.permutations(blank_nodes)):
            if count & 63 == 63:
                state.check_time()
            # Step 5.4.4: the path of the permutation. The issuer is copied only for the
            # permutations that get past it; the identifiers it would issue are counted here.
            path = ""
            recursion_list: list[str] = []
            issued_here: dict[str, str] = {}
            skip = False
            for related in permutation:
                label = canonical_issued.get(related)
                if label is None:
                    label = issuer.issued.get(related)
                    if label is None:
                        label = issued_here.get(related)
                        if label is None:
                            label = f"{issuer.prefix}{issuer.counter + len(issued_here)}"
                            issued_here[related] = label
                            recursion_list.append(related)
                path += label
                if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                    skip = True
                    break
            if skip:
                continue
            issuer_copy = issuer.copy()
            for related in recursion_list:
                issuer_copy.issue(related)
            # Step 5.4.5: recursion into the blank nodes first met here.
            for related in recursion_list:
                result_hash, result_issuer = _hash_n_degree(state, related, issuer_copy, depth + 1)
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


def _map_blank_nodes(state: _State, quads: Sequence[SerializedQuad]) -> None:
    """§4.4.3 step 2: map each blank node to the quads it occurs in (each quad once)."""
    mapping = state.blank_node_to_quads
    for quad in quads:
        subject, _, obj, graph = quad
        if subject[0] == "_":
            bucket = mapping.get(subject)
            if bucket is None:
                mapping[subject] = [quad]
            else:
                bucket.append(quad)
        if obj[0] == "_" and obj != subject:
            bucket = mapping.get(obj)
            if bucket is None:
                mapping[obj] = [quad]
            else:
                bucket.append(quad)
        if graph and graph[0] == "_" and graph != subject and graph != obj:
            bucket = mapping.get(graph)
            if bucket is None:
                mapping[graph] = [quad]
            else:
                bucket.append(quad)
    if len(mapping) > state.limits.max_blank_nodes:
        raise CanonicalizationError(
            f"canonicalization refused: {len(mapping)} blank nodes exceeds "
            f"the limit of {state.limits.max_blank_nodes}"
        )


def _issue_canonical_identifiers(state: _State) -> None:
    """§4.4.3 steps 3-5: first-degree hashes; unique ones are issued canonical identifiers in
    hash order, shared ones are told apart with the N-degree hash."""
    hash_to_blank_nodes: dict[str, list[str]] = {}
    for identifier in state.blank_node_to_quads:
        first = _hash_first_degree(state, identifier)
        bucket = hash_to_blank_nodes.get(first)
        if bucket is None:
            hash_to_blank_nodes[first] = [identifier]
        else:
            bucket.append(identifier)
    state.check_time()

    shared: list[str] = []
    for first_hash in sorted(hash_to_blank_nodes):
        identifiers = hash_to_blank_nodes[first_hash]
        if len(identifiers) == 1:
            state.canonical.issue(identifiers[0])
        else:
            shared.append(first_hash)

    for first_hash in shared:
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


def _check_quad_count(count: int, limits: CanonicalizationLimits) -> None:
    if count > limits.max_quads:
        raise CanonicalizationError(
            f"canonicalization refused: {count} quads exceeds the limit of {limits.max_quads}"
        )


def _canonical_lines(
    ground: Iterable[str],
    quads: Sequence[SerializedQuad],
    limits: CanonicalizationLimits,
) -> list[str]:
    """RDFC-1.0 §4.4 "Canonicalization Algorithm": the canonical N-Quads lines, sorted and
    deduplicated (a dataset is a set). ``ground`` are finished lines of quads without blank
    nodes; ``quads`` may hold any quads."""
    state = _State(limits)
    _map_blank_nodes(state, quads)
    _issue_canonical_identifiers(state)
    # Step 6: relabel and serialize.
    labels = state.canonical.issued
    lines = list(ground)
    add = lines.append
    for subject, predicate, obj, graph in quads:
        if subject[0] == "_":
            subject = labels[subject]
        if obj[0] == "_":
            obj = labels[obj]
        if graph:
            if graph[0] == "_":
                graph = labels[graph]
            add(f"{subject} {predicate} {obj} {graph} .\n")
        else:
            add(f"{subject} {predicate} {obj} .\n")
    # A dataset is a set: sort, then drop repeated lines (cheaper than hashing every line).
    lines.sort()
    unique: list[str] = []
    previous = None
    for line in lines:
        if line != previous:
            unique.append(line)
            previous = line
    return unique


def canonicalize_serialized(
    ground: Sequence[str],
    quads: Sequence[SerializedQuad],
    limits: CanonicalizationLimits = DEFAULT_LIMITS,
) -> str:
    """Canonical N-Quads of a dataset given as finished lines (quads without blank nodes) and
    serialized quads (those with blank nodes); see ``SerializedQuad``."""
    _check_quad_count(len(ground) + len(quads), limits)
    return "".join(_canonical_lines(ground, quads, limits))


def _serialized_quad(quad: Quad) -> SerializedQuad:
    def term(value: Term) -> str:
        # Blank node labels only need to be told apart; prefixing "_" keeps them apart from
        # IRIs ("<") and literals ('"') whatever label the caller chose.
        return "_" + value.value if value.kind == "bnode" else serialize_term(value)

    graph = "" if quad.graph is None else term(quad.graph)
    return (term(quad.subject), serialize_term(quad.predicate), term(quad.object), graph)


def canonicalize_quads(
    quads: Sequence[Quad], limits: CanonicalizationLimits = DEFAULT_LIMITS
) -> list[str]:
    """RDFC-1.0 §4.4 "Canonicalization Algorithm": canonical N-Quads lines, sorted, deduplicated."""
    _check_quad_count(len(quads), limits)
    return _canonical_lines((), [_serialized_quad(quad) for quad in quads], limits)


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
