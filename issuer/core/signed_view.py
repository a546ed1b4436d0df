"""The signed view of a credential: the facts a verdict rests on, read from what the signature
covers, as JSON-LD interprets it.

A Data Integrity proof signs the RDF dataset of the document (VC-DI-EDDSA §3.3.2: the canonical
N-Quads), not its JSON. Two JSON documents with the same dataset carry the same signature: keys
renamed through an embedded ``@context`` alias, written as compact or absolute IRIs or as
keywords, arrays and keys reordered. A verifier that reads ``credentialStatus`` or
``validUntil`` from raw JSON keys can therefore be told "there is no status entry" by a rewrite
that keeps the signature intact. So every fact the verifier judges or a page shows comes from
here: the quads of the unsecured document (the credential without ``proof``), produced by the
same JSON-LD-to-RDF step that the proof check canonicalizes (``canonical``), under the contexts
the service carries (no context is ever fetched: ``contexts.default_document_loader``).

Which node is the credential: the node of the top-level JSON object, as JSON-LD identifies it
(its expanded ``@id``, or a blank node); ``fastld`` records it in its walk, the reference path
asks PyLD's expansion. A document whose top level is not one node (``@graph`` of several) has
no credential node and is refused as malformed.

Property IRIs: VC Data Model 2.0 §B.1 (``https://www.w3.org/2018/credentials#``; VC 1.1 uses the
same vocabulary), Bitstring Status List §"Vocabulary" (``https://www.w3.org/ns/credentials/
status#``), OB 3.0 context 3.0.3 (``https://purl.imsglobal.org/spec/vc/ob/vocab.html#``,
``https://schema.org/name``), VC Data Integrity §2.1 (``https://w3id.org/security#``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyld import jsonld

from issuer.core import fastld
from issuer.core.canonical import find_undefined_terms, to_quads
from issuer.core.contexts import DocumentLoader, default_document_loader
from issuer.core.errors import CanonicalizationError, DocumentLoaderError, EngineError
from issuer.core.rdfc import (
    DEFAULT_LIMITS,
    Quad,
    SerializedQuad,
    Term,
    canonicalize_nquads,
    canonicalize_serialized,
    serialize_term,
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE = RDF + "type"
CRED = "https://www.w3.org/2018/credentials#"
STATUS = "https://www.w3.org/ns/credentials/status#"
OB = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
SCHEMA = "https://schema.org/"
SEC = "https://w3id.org/security#"
DCTERMS = "http://purl.org/dc/terms/"

VERIFIABLE_CREDENTIAL = CRED + "VerifiableCredential"
OB_CREDENTIAL_TYPES = frozenset(
    {OB + "OpenBadgeCredential", OB + "AchievementCredential", OB + "EndorsementCredential"}
)
ENDORSEMENT_CREDENTIAL = OB + "EndorsementCredential"
BITSTRING_STATUS_LIST_ENTRY = STATUS + "BitstringStatusListEntry"

#: Short names of the types a report names (``OpenBadgeCredential``, not the IRI).
_SHORT_PREFIXES = (CRED, OB, STATUS, SEC)


def short_name(iri: str) -> str:
    """``OpenBadgeCredential`` for the OB IRI of that type; other IRIs as they are."""
    for prefix in _SHORT_PREFIXES:
        if iri.startswith(prefix):
            return iri[len(prefix) :]
    return iri


# --- terms ------------------------------------------------------------------------------------


def iri_of(term: Term) -> str | None:
    """The IRI a term names, or None for a blank node or a literal."""
    return term.value if term.kind == "iri" else None


_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _unescape_match(match: re.Match[str]) -> str:
    short, long, char = match.groups()
    if short or long:
        return chr(int(short or long, 16))
    return _ECHAR.get(char, char)


def parse_term(serialized: str) -> Term:
    """The term of one serialized N-Quads term (``<iri>``, ``_:label``, ``"lit"^^<dt>``)."""
    if serialized.startswith("<"):
        return Term("iri", serialized[1:-1])
    if serialized.startswith("_:"):
        return Term("bnode", serialized)
    # ``"lexical"``, then ``^^<datatype>`` or ``@lang`` or nothing: neither holds a ``"``, and
    # a ``"`` inside the lexical form is escaped, so the last ``"`` closes it (no regular
    # expression over long descriptions).
    end = serialized.rfind('"')
    if not serialized.startswith('"') or end <= 0:  # never produced by our serializers
        raise CanonicalizationError(f"unreadable RDF term {serialized[:40]!r}")
    raw, suffix = serialized[1:end], serialized[end + 1 :]
    datatype = language = None
    if suffix.startswith("^^<") and suffix.endswith(">"):
        datatype = suffix[3:-1]
    elif suffix.startswith("@"):
        language = suffix[1:]
    elif suffix:
        raise CanonicalizationError(f"unreadable RDF term {serialized[:40]!r}")
    value = _UNESCAPE.sub(_unescape_match, raw) if "\\" in raw else raw
    return Term("literal", value, datatype or (None if language else _XSD_STRING), language)


_TERM = r'(<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:\^\^<[^>]*>|@[A-Za-z0-9-]+)?)'
_LINE = re.compile(rf"{_TERM} {_TERM} {_TERM}(?: {_TERM})? \.\n?")


def split_line(line: str) -> tuple[str, str, str, str]:
    """(subject, predicate, object, graph) of one N-Quads line, each still serialized."""
    match = _LINE.fullmatch(line)
    if match is None:
        raise CanonicalizationError(f"unreadable N-Quads line {line[:60]!r}")
    subject, predicate, obj, graph = match.groups()
    return subject, predicate, obj, graph or ""


# --- the graph ----------------------------------------------------------------------------------


class Graph:
    """The default graph of a dataset, indexed by subject and predicate (serialized terms).
    Named graphs (the proofs of embedded credentials) are not part of what is judged here."""

    __slots__ = ("_index",)

    def __init__(self, triples: Iterable[tuple[str, str, str]]) -> None:
        index: dict[str, dict[str, list[str]]] = {}
        for subject, predicate, obj in triples:
            predicates = index.get(subject)
            if predicates is None:
                index[subject] = {predicate: [obj]}
                continue
            objects = predicates.get(predicate)
            if objects is None:
                predicates[predicate] = [obj]
            else:
                objects.append(obj)
        self._index = index

    def serialized_objects(self, node: str, predicate: str) -> list[str]:
        """The serialized objects of ``node`` ``predicate`` (an IRI without brackets), sorted:
        one order whatever the document's order (JSON-LD arrays are sets)."""
        predicates = self._index.get(node)
        objects = predicates.get(f"<{predicate}>") if predicates is not None else None
        return sorted(objects) if objects else []

    def objects(self, node: str, predicate: str) -> list[Term]:
        """Every object of ``node`` ``predicate``, in the fixed order."""
        return [parse_term(o) for o in self.serialized_objects(node, predicate)]

    def types(self, node: str) -> frozenset[str]:
        return frozenset(t.value for t in self.objects(node, RDF_TYPE) if t.kind == "iri")

    def has(self, node: str) -> bool:
        return node in self._index


def _node_key(term: Term) -> str:
    return f"<{term.value}>" if term.kind == "iri" else term.value


class ViewError(EngineError):
    """The signed data does not hold what a credential must (one credential node, one issuer,
    one value where one is allowed): a format problem, reported as malformed."""

    code = "malformed"


# --- what a page and a verdict need -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEntryView:
    """One ``credentialStatus`` entry (Bitstring Status List §"BitstringStatusListEntry")."""

    id: str | None
    types: frozenset[str]
    purpose: str | None
    index: str | None
    list_url: str | None

    @property
    def is_bitstring(self) -> bool:
        return BITSTRING_STATUS_LIST_ENTRY in self.types

    @property
    def type_name(self) -> str:
        names = sorted(short_name(t) for t in self.types)
        return ", ".join(names) if names else "(none)"

    def as_entry(self) -> dict[str, Any]:
        """The entry as the status-list check reads it (``status_list.check_status``)."""
        entry: dict[str, Any] = {"type": "BitstringStatusListEntry"}
        if self.id is not None:
            entry["id"] = self.id
        if self.purpose is not None:
            entry["statusPurpose"] = self.purpose
        if self.index is not None:
            entry["statusListIndex"] = self.index
        if self.list_url is not None:
            entry["statusListCredential"] = self.list_url
        return entry


@dataclass(frozen=True, slots=True)
class ProfileView:
    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class AchievementView:
    id: str | None = None
    name: str | None = None
    description: str | None = None
    achievement_type: str | None = None
    criteria: str | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceView:
    id: str | None
    name: str | None
    narrative: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class SubjectView:
    id: str | None = None
    name: str | None = None
    has_identifier: bool = False
    achievement: AchievementView | None = None


@dataclass(frozen=True)
class SignedView:
    """The facts of a credential from its signed graph. ``canonical`` is the canonical N-Quads
    of the unsecured document (what the proofs sign, VC-DI-EDDSA §3.3.2) and ``digest`` its
    SHA-256: equal digests mean the same signed data, however the JSON was written."""

    canonical: str
    digest: bytes
    undefined: tuple[str, ...]
    #: Why the graph holds no readable credential (then every fact below is empty).
    problem: str | None = None
    node: str | None = None
    id: str | None = None
    types: frozenset[str] = frozenset()
    name: str | None = None
    issuer: ProfileView | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    #: VC 1.1 (``issuanceDate``/``expirationDate``): the same meaning as the two above.
    issuance_date: str | None = None
    expiration_date: str | None = None
    status: tuple[StatusEntryView, ...] = ()
    subjects: tuple[SubjectView, ...] = ()
    evidence: tuple[EvidenceView, ...] = ()
    #: Problems with single-valued facts that carry more than one value.
    ambiguities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def subject(self) -> SubjectView | None:
        return self.subjects[0] if self.subjects else None

    @property
    def achievement(self) -> AchievementView | None:
        subject = self.subject
        return subject.achievement if subject is not None else None

    @property
    def issuer_id(self) -> str | None:
        return self.issuer.id if self.issuer is not None else None

    @property
    def start(self) -> str | None:
        return self.valid_from or self.issuance_date

    @property
    def end(self) -> str | None:
        return self.valid_until or self.expiration_date

    @property
    def is_endorsement(self) -> bool:
        return ENDORSEMENT_CREDENTIAL in self.types

    def summary(self) -> dict[str, Any]:
        """What a person needs to see (the API's ``credential``): who issued what to whom,
        and when; every value from the signed graph."""
        achievement = self.achievement or AchievementView()
        subject = self.subject or SubjectView()
        return {
            "id": self.id,
            "name": self.name or achievement.name,
            "issuer": {
                "id": self.issuer_id,
                "name": self.issuer.name if self.issuer is not None else None,
            },
            "recipient": {"name": subject.name},
            "achievement": {
                "id": achievement.id,
                "name": achievement.name,
                "description": achievement.description,
                "achievementType": achievement.achievement_type,
            },
            "validFrom": self.start,
            "validUntil": self.end,
        }


# --- reading ------------------------------------------------------------------------------------


def _literal(graph: Graph, node: str, predicate: str, problems: list[str], name: str) -> str | None:
    """The one literal value of ``node predicate``; several distinct ones are a problem
    (``name`` says which), an IRI where text belongs counts as absent."""
    values = sorted({t.value for t in graph.objects(node, predicate) if t.kind == "literal"})
    if len(values) > 1:
        problems.append(f"{name} has {len(values)} values")
    return values[0] if values else None


def _text(graph: Graph, node: str, predicate: str) -> str | None:
    """A display text: the first of the node's literal values in the graph's fixed order."""
    values = [t.value for t in graph.objects(node, predicate) if t.kind == "literal"]
    return values[0] if values else None


def _nodes(graph: Graph, node: str, predicate: str) -> list[Term]:
    return [t for t in graph.objects(node, predicate) if t.kind != "literal"]


def _achievement(graph: Graph, node: str) -> AchievementView:
    # The OB 3.0 context maps ``criteria`` to ``ob:Criteria`` (capital C), as published.
    criteria = _nodes(graph, node, OB + "Criteria")
    image = _nodes(graph, node, OB + "image")
    return AchievementView(
        id=node[1:-1] if node.startswith("<") else None,
        name=_text(graph, node, SCHEMA + "name"),
        description=_text(graph, node, SCHEMA + "description"),
        achievement_type=_text(graph, node, OB + "achievementType"),
        criteria=_text(graph, _node_key(criteria[0]), OB + "narrative") if criteria else None,
        image=image[0].value if image and image[0].kind == "iri" else None,
    )


def _subject(graph: Graph, term: Term) -> SubjectView:
    node = _node_key(term)
    achievements = _nodes(graph, node, OB + "achievement")
    return SubjectView(
        id=iri_of(term),
        name=_text(graph, node, SCHEMA + "name"),
        has_identifier=bool(graph.objects(node, OB + "identifier")),
        achievement=_achievement(graph, _node_key(achievements[0])) if achievements else None,
    )


def _status(graph: Graph, term: Term) -> StatusEntryView:
    node = _node_key(term)
    index = [t.value for t in graph.objects(node, STATUS + "statusListIndex")]
    purpose = [t.value for t in graph.objects(node, STATUS + "statusPurpose")]
    url = [t.value for t in graph.objects(node, STATUS + "statusListCredential")]
    return StatusEntryView(
        id=iri_of(term),
        types=graph.types(node),
        # A value given twice is no value the status check can use: it reports the entry as
        # not checkable (an entry without an index), never as "not revoked".
        purpose=purpose[0] if len(purpose) == 1 else None,
        index=index[0] if len(index) == 1 else None,
        list_url=url[0] if len(url) == 1 else None,
    )


def _evidence(graph: Graph, term: Term) -> EvidenceView:
    node = _node_key(term)
    return EvidenceView(
        id=iri_of(term),
        name=_text(graph, node, SCHEMA + "name"),
        narrative=_text(graph, node, OB + "narrative"),
        description=_text(graph, node, SCHEMA + "description"),
    )


def read_view(
    triples: Sequence[tuple[str, str, str]],
    top: str | None,
    *,
    canonical: str,
    undefined: Sequence[str] = (),
) -> SignedView:
    """The view of a graph whose credential node is ``top`` (a serialized term, or None when
    the document's top level is not one node)."""
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    base = SignedView(canonical=canonical, digest=digest, undefined=tuple(undefined))
    graph = Graph(triples)
    if top is None or not graph.has(top):
        return _replace(base, problem="the signed data holds no single credential")
    types = graph.types(top)
    if VERIFIABLE_CREDENTIAL not in types:
        return _replace(base, problem="the signed data's top-level node is not a credential")
    problems: list[str] = []
    issuers = _nodes(graph, top, CRED + "issuer")
    if len(issuers) > 1:
        problems.append(f"issuer has {len(issuers)} values")
    issuer = None
    if issuers:
        issuer_node = _node_key(issuers[0])
        issuer = ProfileView(id=iri_of(issuers[0]), name=_text(graph, issuer_node, SCHEMA + "name"))
    valid_from = _literal(graph, top, CRED + "validFrom", problems, "validFrom")
    valid_until = _literal(graph, top, CRED + "validUntil", problems, "validUntil")
    issuance = _literal(graph, top, CRED + "issuanceDate", problems, "issuanceDate")
    expiration = _literal(graph, top, CRED + "expirationDate", problems, "expirationDate")
    return SignedView(
        canonical=canonical,
        digest=digest,
        undefined=tuple(undefined),
        node=top,
        id=top[1:-1] if top.startswith("<") else None,
        types=types,
        name=_text(graph, top, SCHEMA + "name"),
        issuer=issuer,
        valid_from=valid_from,
        valid_until=valid_until,
        issuance_date=issuance,
        expiration_date=expiration,
        status=tuple(_status(graph, t) for t in _nodes(graph, top, CRED + "credentialStatus")),
        subjects=tuple(_subject(graph, t) for t in _nodes(graph, top, CRED + "credentialSubject")),
        evidence=tuple(_evidence(graph, t) for t in _nodes(graph, top, CRED + "evidence")),
        ambiguities=tuple(problems),
    )


def _replace(view: SignedView, **changes: Any) -> SignedView:
    return dataclasses.replace(view, **changes)


# --- from a JSON-LD document ----------------------------------------------------------------------


def _triples_of_lines(
    ground: Iterable[str], quads: Iterable[SerializedQuad]
) -> list[tuple[str, str, str]]:
    triples: list[tuple[str, str, str]] = []
    for line in ground:
        # The fast path's ground lines are ``<s> <p> o .\n`` in the default graph, and an
        # absolute IRI holds no space (``ABSOLUTE_IRI``): two splits, no regular expression.
        subject, predicate, rest = line.split(" ", 2)
        triples.append((subject, predicate, rest[:-3]))
    for subject, predicate, obj, graph in quads:
        if not graph:
            triples.append((subject, predicate, obj))
    return triples


def _reference_top(document: dict[str, Any], loader: DocumentLoader) -> str | None:
    """The top-level node's ``@id`` by PyLD's expansion (the reference path), serialized; a
    top-level node without one is a blank node, found as the one credential node that no
    other node points at."""
    expanded = jsonld.expand(document, {"documentLoader": loader, "base": None})
    if not isinstance(expanded, list) or len(expanded) != 1 or not isinstance(expanded[0], dict):
        return None
    node = expanded[0]
    if "@graph" in node and not any(k not in ("@graph", "@id", "@context") for k in node):
        return None  # a top-level @graph: several nodes, none of them "the" credential
    node_id = node.get("@id")
    if isinstance(node_id, str) and not node_id.startswith("_:"):
        return f"<{node_id}>"
    return ""  # a blank node: resolved from the graph below


def _blank_top(quads: Sequence[Quad]) -> str | None:
    objects = {serialize_term(q.object) for q in quads if q.graph is None}
    candidates = {
        serialize_term(q.subject)
        for q in quads
        if q.graph is None
        and q.subject.kind == "bnode"
        and q.predicate.value == RDF_TYPE
        and q.object.value == VERIFIABLE_CREDENTIAL
    }
    roots = candidates - objects
    return next(iter(roots)) if len(roots) == 1 else None


def signed_view(unsecured: dict[str, Any], loader: DocumentLoader | None = None) -> SignedView:
    """The signed view of a credential without its ``proof``.

    Raises ``DocumentLoaderError`` for a context the service does not carry (nothing is ever
    fetched), ``CanonicalizationError`` for what is not valid JSON-LD or beyond the limits."""
    loader = loader or default_document_loader
    if unsecured.get("@context") is None:
        raise CanonicalizationError("the credential has no @context")
    result = fastld.convert(unsecured, loader, DEFAULT_LIMITS, with_top=True)
    if result is not None and result.top is not None:
        canonical = canonicalize_serialized(result.ground, result.quads, DEFAULT_LIMITS)
        triples = _triples_of_lines(result.ground, result.quads)
        return read_view(triples, result.top, canonical=canonical, undefined=result.undefined)
    # The reference path: embedded contexts, @graph, keywords the fast path leaves to PyLD.
    quads = to_quads(unsecured, loader)
    canonical = canonicalize_nquads(quads, DEFAULT_LIMITS)
    try:
        top = _reference_top(unsecured, loader)
    except DocumentLoaderError:
        raise
    except Exception as error:  # PyLD failed where to_rdf did not: not a usable document
        raise CanonicalizationError(f"not valid JSON-LD: {error}") from error
    serialized = [
        (serialize_term(q.subject), serialize_term(q.predicate), serialize_term(q.object))
        for q in quads
        if q.graph is None
    ]
    if top == "":
        top = _blank_top(quads)
    undefined = find_undefined_terms(unsecured, loader)
    return read_view(serialized, top, canonical=canonical, undefined=undefined)
