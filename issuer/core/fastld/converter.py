"""One pass from a JSON-LD document to its RDF quads and its undefined terms.

The reference path is three passes over PyLD: an expansion with a probing ``@vocab`` to find
undefined terms, then expansion, node-map generation and RDF serialization (JSON-LD 1.1
Processing Algorithms §13 "Expansion", §15.2 "Node Map Generation", §17.4 "Deserialize JSON-LD
to RDF"), building every intermediate structure. This module walks the compact document once,
with the contexts compiled in ``contextstate``, and writes serialized quads directly. It
follows PyLD's code path step by step (the step numbers below are the Expansion algorithm's),
including what PyLD does that a reading of the specification might not:

* the node map merges nodes with the same ``@id`` and drops values equal under PyLD's
  ``compare_values`` (``1`` equals ``1.0``, ``true`` does not equal ``1``); duplicates that
  serialize differently are left to the reference path;
* free-floating top-level nodes (empty, or only ``@id``) are dropped, with their verdicts;
* numbers become ``xsd:integer``/``xsd:double`` literals exactly as ``_object_to_rdf`` writes
  them (an integral float is an integer, 1e21 and up a double).

Whatever is not handled here raises ``Unsupported`` and the caller runs the reference path:
embedded context objects, ``@graph``/``@included``/``@reverse``/``@nest``/``@index``/
``@direction`` and other keywords, language/index/id/type maps, JSON literals, lists of lists,
blank-node types and properties, value objects in unusual places, non-JSON Python values.
Errors the reference path would raise (invalid JSON-LD) are also left to it, so its messages
are the ones users see. Two refusals are the fast path's own and final: nesting deeper than
``MAX_DEPTH`` (the same check and message as the reference path) and documents beyond the
limits (too many JSON values or quads), refused before doing work proportional to their size.
"""

from __future__ import annotations

import json
import re
from typing import Any

from issuer.core.errors import CanonicalizationError
from issuer.core.fastld.contextstate import (
    ABSOLUTE_IRI,
    ID,
    LANGUAGE,
    LIST,
    MODE_PLAIN,
    PROPERTY,
    TYPE,
    UNDEFINED_PREFIX,
    VALUE,
    Key,
    NodePlan,
    State,
    Unsupported,
)
from issuer.core.fastld.universe import Universe
from issuer.core.rdfc import (
    RDF_LANGSTRING,
    XSD_STRING,
    CanonicalizationLimits,
    SerializedQuad,
    escape_literal,
    serialize_literal,
)

MAX_DEPTH = 64

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_BOOLEAN = _XSD + "boolean"
XSD_DOUBLE = _XSD + "double"
XSD_INTEGER = _XSD + "integer"
RDF_TYPE = "<" + _RDF + "type>"
RDF_FIRST = "<" + _RDF + "first>"
RDF_REST = "<" + _RDF + "rest>"
RDF_NIL = "<" + _RDF + "nil>"

# What ``find_undefined_terms`` counts as an absolute IRI (its own test, a little stricter than
# PyLD's: no comma in the scheme).
_JUDGED_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):\S*$")
_DOUBLE_EXPONENT = re.compile(r"(\d)0*E\+?(-)?0*(\d)")
_UNDEFINED_LENGTH = len(UNDEFINED_PREFIX)
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f]')


class ListObject:
    """An expanded ``@list`` object (its items), turned into an RDF collection when emitted."""

    __slots__ = ("items",)

    def __init__(self, items: list[Item]) -> None:
        self.items = items


#: An expanded value: its serialized RDF term (None for a relative IRI, which yields no quad)
#: and the key PyLD's node map compares values with (None: a fresh blank node, never equal).
Item = tuple[str | None, Any] | ListObject
Expanded = Item | list[Item]


def canonical_double(value: float) -> str:
    """``xsd:double`` canonical lexical form as PyLD writes it (``_canonicalize_double``)."""
    return _DOUBLE_EXPONENT.sub(r"\1E\2\3", f"{value:1.15E}")


def plain_literal(value: str) -> str:
    """An ``xsd:string`` literal (the datatype is implicit in N-Quads)."""
    return '"' + escape_literal(value) + '"'


def literal_term(value: Any, datatype: str | None, language: str | None) -> str:
    """The RDF literal of an expanded value object, exactly as PyLD's ``_object_to_rdf``
    writes it (its order of tests: boolean, non-integral number, ``xsd:double`` datatype,
    integral number, string)."""
    kind = type(value)
    if kind is bool:
        return serialize_literal("true" if value else "false", datatype or XSD_BOOLEAN, None)
    if kind is float and not value.is_integer():
        if value != value:
            raise Unsupported("NaN")  # PyLD never finds NaN equal to itself when merging
        return serialize_literal(canonical_double(value), datatype or XSD_DOUBLE, None)
    if datatype == XSD_DOUBLE:
        try:
            number = float(value)
        except ValueError:  # a string that is not a number stays as it is
            return serialize_literal(value, XSD_DOUBLE, None)
        except OverflowError:
            raise Unsupported("number beyond the double range") from None
        return serialize_literal(canonical_double(number), XSD_DOUBLE, None)
    if kind is int or kind is float:
        if abs(value) >= 1e21:
            try:
                lexical = canonical_double(value)
            except OverflowError:
                raise Unsupported("number beyond the double range") from None
            return serialize_literal(lexical, datatype or XSD_DOUBLE, None)
        return serialize_literal(str(int(value)), datatype or XSD_INTEGER, None)
    if kind is str:
        if language is not None:
            return serialize_literal(value, datatype or RDF_LANGSTRING, language)
        return serialize_literal(value, datatype or XSD_STRING, None)
    raise Unsupported(f"value of type {kind.__name__}")


def _is_set_object(value: Any) -> bool:
    return type(value) is dict and len(value) == 1 and "@set" in value


def check_depth(node: Any, depth: int) -> None:
    """The reference path's nesting check (``canonical._check_depth``), for values this pass
    does not otherwise visit."""
    if depth > MAX_DEPTH:
        raise CanonicalizationError(f"document nesting deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for value in node.values():
            check_depth(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            check_depth(value, depth + 1)


def context_urls(context: Any) -> tuple[str, ...]:
    """An ``@context`` the fast path handles: a context URL or a list of them."""
    if isinstance(context, str):
        return (context,)
    if isinstance(context, list) and context and all(isinstance(url, str) for url in context):
        return tuple(context)
    raise Unsupported("embedded context object")


class Memo:
    """What walking one JSON object produced, to be replayed for an equal object met in the
    same context: its N-Quads lines, its quads (blank nodes relabelled on replay), its verdicts,
    the counts the limits apply to, and its RDF term."""

    __slots__ = (
        "blank_count",
        "depth",
        "first_blank",
        "ground",
        "notes",
        "quad_count",
        "quads",
        "result",
        "text",
        "value_count",
    )

    def __init__(
        self,
        text: str,
        ground: list[str],
        quads: list[SerializedQuad],
        notes: list[str],
        first_blank: int,
        blank_count: int,
        value_count: int,
        quad_count: int,
        depth: int,
        result: tuple[str | None, Any],
    ) -> None:
        self.text = text
        self.ground = ground
        self.quads = quads
        self.notes = notes
        self.first_blank = first_blank
        self.blank_count = blank_count
        self.value_count = value_count
        self.quad_count = quad_count
        self.depth = depth
        self.result = result


#: Identified JSON objects (an ``id``) with at least this many keys are memoized: the
#: achievement and the profiles of a credential, the same for every credential of a badge
#: class. Smaller ones convert faster than they serialize to a memo key. One memo per
#: context, ``id`` and number of keys; its JSON text decides whether it applies.
MEMO_MIN_KEYS = 6
#: Bounded in entries and in the size of what is memoized (a few MB at most).
_MEMO_SIZE = 256
_MEMO_MAX_TEXT = 32_768
_memo: dict[tuple[Any, ...], Memo] = {}


def _json_text(element: dict[str, Any]) -> str | None:
    try:
        return json.dumps(element, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON: never memoized
        return None


class Pass:
    """One walk over one document. ``emit``: produce quads; ``judge``: find undefined terms."""

    __slots__ = (
        "blank_count",
        "emit",
        "explicit",
        "ground",
        "judge",
        "max_quads",
        "max_values",
        "notes",
        "quad_count",
        "quads",
        "seen",
        "top",
        "universe",
        "value_count",
    )

    def __init__(
        self, universe: Universe, limits: CanonicalizationLimits, *, emit: bool, judge: bool
    ) -> None:
        self.universe = universe
        self.max_quads = limits.max_quads
        self.max_values = limits.max_values
        self.emit = emit
        self.judge = judge
        self.ground: list[str] = []
        self.quads: list[SerializedQuad] = []
        self.notes: list[str] = []
        self.seen: dict[tuple[Any, ...], str] = {}
        self.explicit: dict[str, str] = {}
        self.blank_count = 0
        #: The top-level object's node (its serialized subject term): the credential of a
        #: credential document (``signed_view``).
        self.top: str | None = None
        self.quad_count = 0
        self.value_count = 0

    # --- output ------------------------------------------------------------------------------

    def note(self, name: str) -> None:
        if name not in self.notes:
            self.notes.append(name)

    def fresh(self) -> str:
        label = f"_:b{self.blank_count}"
        self.blank_count += 1
        return label

    def explicit_label(self, label: str) -> str:
        # Blank node identifiers written in the document: the same label is the same node,
        # kept apart from the labels this pass makes up ("_:e..." here, "_:b..." those).
        found = self.explicit.get(label)
        if found is None:
            found = f"_:e{len(self.explicit)}"
            self.explicit[label] = found
        return found

    def add(self, subject: str, predicate: str, obj: str, graph: str) -> None:
        self.quad_count += 1
        if self.quad_count > self.max_quads:
            self.refuse_quads()
        if graph or subject[0] == "_" or obj[0] == "_":
            self.quads.append((subject, predicate, obj, graph))
        else:
            self.ground.append(f"{subject} {predicate} {obj} .\n")

    def add_merged(self, subject: str, predicate: str, obj: str, graph: str, compare: Any) -> None:
        """Add a quad of a node PyLD's node map may merge with another node of the same
        ``@id`` (blank node identifiers written in the document, nodes of a named graph): a
        value equal under PyLD's ``compare_values`` to one already added is dropped."""
        if compare is not None:
            seen_key = (graph, subject, predicate, compare)
            previous = self.seen.get(seen_key)
            if previous is not None:
                if previous != obj:
                    raise Unsupported("values equal for the node map but not in RDF")
                return
            self.seen[seen_key] = obj
        self.add(subject, predicate, obj, graph)

    def refuse_quads(self) -> None:
        raise CanonicalizationError(
            "canonicalization refused: the document has more quads than the limit of "
            f"{self.max_quads}"
        )

    def refuse_values(self) -> None:
        raise CanonicalizationError(
            f"canonicalization refused: the document has more than {self.max_values} JSON values"
        )

    # --- terms -------------------------------------------------------------------------------

    def iri_term(self, iri: str) -> str | None:
        """The RDF term of an expanded ``@id``: blank node, IRI, or None if relative."""
        if iri[:2] == "_:":
            return self.explicit_label(iri)
        if ABSOLUTE_IRI.match(iri) is None:
            return None
        return "<" + iri + ">"

    def judge_id(self, probe_id: str) -> None:
        if _JUDGED_ABSOLUTE.match(probe_id) is None:
            self.note(f"@id {probe_id!r} (not an absolute IRI)")

    # --- the walk ----------------------------------------------------------------------------

    def document(self, document: dict[str, Any]) -> None:
        """Expansion of the top-level object (§13.1 with a null active property)."""
        if "@context" not in document:
            raise Unsupported("no @context")
        root = self.universe.top(context_urls(document["@context"]))
        self.node(root, None, document, 0, "", self.emit, self.judge, False)

    def values(
        self,
        state: State,
        key: Key,
        value: Any,
        depth: int,
        graph: str,
        emit: bool,
        judge: bool,
        inside_list: bool,
    ) -> Expanded | None:
        """Expansion §13.1 for the value of a property (``state`` is the term's context)."""
        if depth > MAX_DEPTH:
            raise CanonicalizationError(f"document nesting deeper than {MAX_DEPTH} levels")
        self.value_count += 1
        if self.value_count > self.max_values:
            self.refuse_values()
        kind = type(value)
        if kind is dict:
            if len(value) >= MEMO_MIN_KEYS and not graph and ("id" in value or "@id" in value):
                return self.memoized_node(state, key, value, depth, emit, judge)
            return self.node(state, key, value, depth, graph, emit, judge, inside_list)
        if kind is list:
            # Step 5: arrays; a list container makes every item a list item.
            inside_list = inside_list or key.container_list
            result: list[Item] = []
            for element in value:
                expanded = self.values(
                    state, key, element, depth + 1, graph, emit, judge, inside_list
                )
                if expanded is None:
                    continue
                if type(expanded) is list:
                    if inside_list:
                        raise Unsupported("list of lists")
                    result.extend(expanded)
                else:
                    result.append(expanded)  # type: ignore[arg-type]
            return result
        if value is None:
            return None
        return self.scalar(key, value, emit, judge)

    def memoized_node(
        self, state: State, key: Key, element: dict[str, Any], depth: int, emit: bool, judge: bool
    ) -> Expanded | None:
        """``node`` for an object that may have been met before in the same context (state,
        active property, pass kind): the result is a function of those and the object's JSON
        text, which tells ``1`` from ``1.0`` and ``true`` as Python equality would not.

        The text is only made when a memo with the same ``@id`` waits to be compared, or after
        the object was walked within the limits: a huge hostile object is refused by the limits
        before it is ever serialized whole."""
        identifier = element.get("id", element.get("@id"))
        if type(identifier) is not str:
            return self.node(state, key, element, depth, "", emit, judge, False)
        fingerprint = (state, key, emit, judge, identifier, len(element))
        found = _memo.get(fingerprint)
        if found is not None and depth <= found.depth:
            text = _json_text(element)
            if text is not None and text == found.text:
                return self.replay(found)
        ground_mark, quads_mark = len(self.ground), len(self.quads)
        blank_mark, explicit_mark = self.blank_count, len(self.explicit)
        value_mark, quad_mark = self.value_count, self.quad_count
        outer_notes = self.notes
        self.notes = []
        try:
            result = self.node(state, key, element, depth, "", emit, judge, False)
        finally:
            notes = self.notes
            self.notes = outer_notes
        for name in notes:
            self.note(name)
        # Blank node identifiers written in the document are shared with the rest of it: such
        # an object is not replayed elsewhere.
        if type(result) is tuple and len(self.explicit) == explicit_mark:
            text = _json_text(element)
            if text is not None and len(text) <= _MEMO_MAX_TEXT:
                if len(_memo) >= _MEMO_SIZE:
                    _memo.clear()
                _memo[fingerprint] = Memo(
                    text,
                    self.ground[ground_mark:],
                    self.quads[quads_mark:],
                    notes,
                    blank_mark,
                    self.blank_count - blank_mark,
                    self.value_count - value_mark,
                    self.quad_count - quad_mark,
                    depth,
                    result,
                )
        return result

    def replay(self, memo: Memo) -> Item:
        self.value_count += memo.value_count
        if self.value_count > self.max_values:
            self.refuse_values()
        self.quad_count += memo.quad_count
        if self.quad_count > self.max_quads:
            self.refuse_quads()
        labels: dict[str | None, str] = {}
        if memo.blank_count:
            start = self.blank_count
            self.blank_count += memo.blank_count
            for offset in range(memo.blank_count):
                labels[f"_:b{memo.first_blank + offset}"] = f"_:b{start + offset}"
        self.ground.extend(memo.ground)
        if labels:
            get = labels.get
            append = self.quads.append
            for subject, predicate, obj, graph in memo.quads:
                append((get(subject, subject), predicate, get(obj, obj), get(graph, graph)))
        else:
            self.quads.extend(memo.quads)
        for name in memo.notes:
            self.note(name)
        term, compare = memo.result
        return (labels.get(term, term), compare)

    def scalar(self, key: Key, value: Any, emit: bool, judge: bool) -> tuple[str | None, Any]:
        """Value Expansion (§5.3) and the RDF term of the result (§17.4 "Object to RDF")."""
        mapping = key.type_mapping
        if mapping is not None and type(value) is str and (mapping == "@id" or mapping == "@vocab"):
            if mapping == "@id":
                real, probe = key.state.expand_id(value)
            else:
                real_vocab, probe_vocab = key.state.expand_vocab(value)
                if real_vocab is None or probe_vocab is None:
                    raise Unsupported("keyword-like @vocab value")
                real, probe = real_vocab, probe_vocab
            if judge:
                self.judge_id(probe)
            if not emit:
                return (None, None)
            return (self.iri_term(real), ("@id", real))
        if type(value) is int and abs(value) >= 10**300:
            try:
                float(value)  # PyLD's Value Expansion does this and fails beyond doubles
            except OverflowError:
                raise Unsupported("integer beyond the double range") from None
        datatype = key.datatype
        if datatype is not None:
            if judge:
                probe_datatype = key.probe_datatype
                if probe_datatype is not None and probe_datatype.startswith(UNDEFINED_PREFIX):
                    self.note(probe_datatype[_UNDEFINED_LENGTH:])
            language = None
        else:
            language = key.language if type(value) is str else None
        if not emit:
            if type(value) not in (str, int, float, bool):
                raise Unsupported(f"value of type {type(value).__name__}")
            return (None, None)
        return (
            literal_term(value, datatype, language),
            (datatype, language, value, type(value) is bool),
        )

    def node(
        self,
        state: State,
        key: Key | None,
        element: dict[str, Any],
        depth: int,
        graph: str,
        emit: bool,
        judge: bool,
        inside_list: bool,
    ) -> Expanded | None:
        """Expansion §13.1 steps 7-20 for a JSON object, and its node's quads."""
        if depth + 2 > MAX_DEPTH:
            check_depth(element, depth)
        self.value_count += len(element)
        if self.value_count > self.max_values:
            self.refuse_values()
        names = tuple(element)
        if key is None:
            active = state
        else:
            # Step 7: a non-propagated type-scoped context is reverted unless this is a value
            # object or a lone node reference; step 8: the property-scoped context.
            active = key.node_state(state.has_previous and not state.plan(names).keeps_type_scoped)
            if "@context" in element:
                check_depth(element["@context"], depth + 1)
                active = active.embedded(context_urls(element["@context"]))
        # Step 11: type-scoped contexts; the type values are expanded in the context before
        # them (``type_scoped``).
        plan = active.plan(names)
        type_scoped = active
        if plan.type_alias is not None:
            active = active.after_types(element[plan.type_alias])
            if active is not type_scoped:
                alias = plan.type_alias
                plan = active.plan(names)
                if plan.type_alias != alias:
                    raise Unsupported("@type key redefined by a type-scoped context")
        if plan.unsupported is not None:
            raise Unsupported(plan.unsupported)
        for name in plan.dropped:
            check_depth(element[name], depth + 1)
        if plan.special:
            return self.special(
                active,
                type_scoped,
                key,
                element,
                plan,
                depth,
                graph,
                emit,
                judge,
                inside_list,
            )

        # The node's subject (PyLD's node map: its @id, or a fresh blank node).
        subject: str | None
        compare: Any = None
        id_key = plan.id_key
        probe_id = ""
        if id_key is not None:
            raw_id = element[id_key.name]
            if type(raw_id) is not str:
                raise Unsupported("@id is not a string")
            real_id, probe_id = active.expand_id(raw_id)
            subject = self.iri_term(real_id)
            compare = ("@id", real_id)
        else:
            subject = self.fresh()
        if key is None and depth == 0:
            self.top = subject
        own = subject if emit else None
        notes_mark = len(self.notes)
        count = 0
        for entry in plan.entries:
            kind = entry.kind
            if kind == PROPERTY:
                value = element[entry.name]
                if value is None:
                    continue
                suffix = entry.literal_suffix
                if suffix is not None and type(value) is str:
                    # The commonest property of all: one string, a literal in N-Quads.
                    count += 1
                    self.value_count += 1
                    if own is None:
                        continue
                    if _NEEDS_ESCAPE.search(value) is None:
                        term = '"' + value + suffix
                    else:
                        term = '"' + escape_literal(value) + suffix
                    if graph or own[:3] == "_:e":
                        self.add_merged(
                            own,
                            entry.subject_iri,
                            term,
                            graph,
                            (entry.datatype, entry.language, value, False),
                        )
                    else:
                        self.quad_count += 1
                        if self.quad_count > self.max_quads:
                            self.refuse_quads()
                        if own[0] == "_":
                            self.quads.append((own, entry.subject_iri, term, ""))
                        else:
                            self.ground.append(f"{own} {entry.subject_iri} {term} .\n")
                    continue
                count += self.property(entry, value, own, depth, graph, emit, judge)
            elif kind == ID:
                count += 1
                if judge:
                    self.judge_id(probe_id)
            else:
                count += self.types(type_scoped, element[entry.name], own, graph, judge)
        if key is None and (count == 0 or (count == 1 and id_key is not None)):
            # Step 19: a free-floating top-level node is dropped, and nobody sees its terms.
            del self.notes[notes_mark:]
            return None
        return (subject, compare)

    def types(
        self, type_scoped: State, value: Any, subject: str | None, graph: str, judge: bool
    ) -> int:
        """Step 13.4.4: ``@type`` values, expanded in the context before type-scoped contexts;
        ``rdf:type`` quads (§17.4.2)."""
        values = value if type(value) is list else [value]
        merged = subject is not None and (graph != "" or subject[:3] == "_:e")
        local: set[str] | None = (
            set() if subject is not None and not merged and len(values) > 1 else None
        )
        for type_name in values:
            if type(type_name) is not str:
                raise Unsupported("@type value is not a string")
            real, probe = type_scoped.expand_vocab(type_name)
            if real is None or probe is None or real[:2] == "_:":
                raise Unsupported("keyword-like or blank-node type")
            if judge and probe.startswith(UNDEFINED_PREFIX):
                self.note(probe[_UNDEFINED_LENGTH:])
            if subject is not None and ABSOLUTE_IRI.match(real) is not None:
                if merged:
                    self.add_merged(subject, RDF_TYPE, "<" + real + ">", graph, ("@type", real))
                elif local is not None:
                    if real not in local:
                        local.add(real)
                        self.add(subject, RDF_TYPE, "<" + real + ">", graph)
                else:
                    self.add(subject, RDF_TYPE, "<" + real + ">", graph)
        return 1 if values else 0

    def property(
        self,
        entry: Key,
        value: Any,
        subject: str | None,
        depth: int,
        graph: str,
        emit: bool,
        judge: bool,
    ) -> int:
        """Step 13.4.x-13.13 for one property: expand its value, add its quads. Returns 1 if
        the property is kept in the expanded node, 0 if its value expanded to nothing."""
        if not entry.real:
            emit = False
            subject = None
        if not entry.shown:
            judge = False
        if not emit and not judge:
            check_depth(value, depth + 1)
            return 0
        if not entry.plain:
            raise Unsupported("property with a container or type this path does not expand")
        value_key = entry.value_key or entry.for_values()
        notes_mark = len(self.notes)
        if judge and entry.note is not None:
            self.note(entry.note)
        if entry.graph:
            if entry.container_list:
                raise Unsupported("graph list container")
            kept = self.graph_values(value_key, value, subject, depth, graph, emit, judge)
            if not kept:
                del self.notes[notes_mark:]
            return kept
        kind = type(value)
        if kind is str or kind is int or kind is float or kind is bool:
            self.value_count += 1
            if kind is str and value_key.mode == MODE_PLAIN:
                # The commonest value of all, a plain string, without the general machinery.
                if subject is None:
                    return 1
                term: str | None = plain_literal(value)
                compare: Any = (None, None, value, False)
            else:
                term, compare = self.scalar(value_key, value, emit, judge)
                if subject is None:
                    return 1
            if entry.container_list:
                self.add_item(subject, entry.subject_iri, ListObject([(term, compare)]), graph)
            elif term is None:
                pass  # a relative IRI: no quad
            elif graph or subject[:3] == "_:e" or term[:3] == "_:e":
                self.add_merged(subject, entry.subject_iri, term, graph, compare)
            else:
                self.add(subject, entry.subject_iri, term, graph)
            return 1
        expanded = self.values(
            value_key.state, value_key, value, depth + 1, graph, emit, judge, False
        )
        if expanded is None:
            del self.notes[notes_mark:]
            return 0
        if subject is None:
            return 1
        if entry.container_list and type(expanded) is not ListObject:
            expanded = ListObject(expanded if type(expanded) is list else [expanded])  # type: ignore[list-item]
        predicate = entry.subject_iri
        if type(expanded) is list:
            if len(expanded) > 1 and subject[:3] == "_:b" and not graph:
                # A node without @id cannot merge with another, but its array may repeat a
                # value, which the node map keeps once.
                local: set[Any] = set()
                for item in expanded:
                    compare = item[1] if type(item) is tuple else None
                    if compare is not None:
                        if compare in local:
                            continue
                        local.add(compare)
                    self.add_item(subject, predicate, item, graph)
            else:
                for item in expanded:
                    self.add_item(subject, predicate, item, graph)
        else:
            self.add_item(subject, predicate, expanded, graph)  # type: ignore[arg-type]
        return 1

    def add_item(self, subject: str, predicate: str, item: Item, graph: str) -> None:
        if type(item) is ListObject:
            self.add(subject, predicate, self.collection(item.items, graph), graph)
            return
        term, compare = item  # type: ignore[misc]
        if term is None:
            return
        if graph or subject[:3] == "_:e" or term[:3] == "_:e":
            self.add_merged(subject, predicate, term, graph, compare)
        else:
            self.add(subject, predicate, term, graph)

    def collection(self, items: list[Item], graph: str) -> str:
        """§17.4.3 "List Conversion": an RDF collection of fresh blank nodes."""
        if not items:
            return RDF_NIL
        head = self.fresh()
        current = head
        last = len(items) - 1
        for index, item in enumerate(items):
            if type(item) is ListObject:
                raise Unsupported("list of lists")
            term = item[0]  # type: ignore[index]
            if term is None:
                raise Unsupported("relative IRI in a list")  # PyLD fails on it
            self.add(current, RDF_FIRST, term, graph)
            following = RDF_NIL if index == last else self.fresh()
            self.add(current, RDF_REST, following, graph)
            current = following
        return head

    def graph_values(
        self,
        value_key: Key,
        value: Any,
        subject: str | None,
        depth: int,
        graph: str,
        emit: bool,
        judge: bool,
    ) -> int:
        """Step 13.12 for a graph container (``proof``): every value becomes a graph object,
        a fresh blank node naming the graph the value's quads go into."""
        elements: list[tuple[Any, int]] = []
        self.graph_elements(value, depth + 1, elements)
        kept = 0
        for element, element_depth in elements:
            graph_name = self.fresh()
            expanded = self.values(
                value_key.state,
                value_key,
                element,
                element_depth,
                graph_name,
                emit,
                judge,
                False,
            )
            if expanded is None:
                continue
            if type(expanded) is not tuple:
                raise Unsupported("list object in a graph container")
            kept += 1
            if subject is not None:
                self.add(subject, value_key.subject_iri, graph_name, graph)
        # An array (even an empty one) keeps the property in the expanded node.
        return 1 if (kept or type(value) is list or _is_set_object(value)) else 0

    def graph_elements(self, value: Any, depth: int, out: list[tuple[Any, int]]) -> None:
        """The values a graph container wraps one by one: arrays and ``@set`` objects are
        flattened (§13.1 step 5 and step 13.4.x), nulls dropped."""
        if depth > MAX_DEPTH:
            raise CanonicalizationError(f"document nesting deeper than {MAX_DEPTH} levels")
        if type(value) is list:
            self.value_count += 1
            for element in value:
                self.graph_elements(element, depth + 1, out)
        elif _is_set_object(value):
            if type(value["@set"]) is not list:
                raise Unsupported("@set object without an array in a graph container")
            self.value_count += 1
            self.graph_elements(value["@set"], depth + 1, out)
        elif value is not None:
            out.append((value, depth))

    def special(
        self,
        active: State,
        type_scoped: State,
        key: Key | None,
        element: dict[str, Any],
        plan: NodePlan,
        depth: int,
        graph: str,
        emit: bool,
        judge: bool,
        inside_list: bool,
    ) -> Expanded | None:
        """Value objects (step 15), ``@list`` and ``@set`` objects (steps 13.4.x, 16)."""
        kinds = plan.special
        entries = plan.entries
        type_alias = plan.type_alias
        if key is None:
            raise Unsupported("top-level value, list or set object")
        if VALUE in kinds:
            if any(entry.kind not in (VALUE, TYPE, LANGUAGE) for entry in entries):
                raise Unsupported("value object with other keys")
            return self.value_object(type_scoped, kinds, type_alias, element, emit, judge)
        if len(element) != 1 or LANGUAGE in kinds:
            raise Unsupported("@list or @set with other keys")
        kind, entry = next(iter(kinds.items()))
        inner = element[entry.name]
        if inner is None:
            raise Unsupported("null @list or @set")
        # The items are expanded with the object's active property, in the object's context.
        item_key = active.key(key.name)
        if not item_key.plain or item_key.graph:
            raise Unsupported("@list or @set under a container this path does not expand")
        if kind == LIST:
            if inside_list:
                raise Unsupported("list of lists")
            expanded = self.values(active, item_key, inner, depth + 1, graph, emit, judge, True)
            if expanded is None:
                raise Unsupported("empty @list value")
            if type(expanded) is ListObject:
                raise Unsupported("list of lists")
            return ListObject(expanded if type(expanded) is list else [expanded])  # type: ignore[list-item]
        # PyLD expands a set object's content as not inside a list (the array step re-derives
        # that from the container).
        expanded = self.values(active, item_key, inner, depth + 1, graph, emit, judge, False)
        if expanded is None:
            raise Unsupported("empty @set value")
        return expanded

    def value_object(
        self,
        type_scoped: State,
        kinds: dict[int, Key],
        type_alias: str | None,
        element: dict[str, Any],
        emit: bool,
        judge: bool,
    ) -> Item | None:
        """Step 15: a value object with ``@value`` and an optional ``@type`` or
        ``@language``."""
        value = element[kinds[VALUE].name]
        if value is None:
            return None
        if type(value) not in (str, int, float, bool):
            raise Unsupported("@value that is not a JSON scalar")
        datatype: str | None = None
        language: str | None = None
        if type_alias is not None:
            if LANGUAGE in kinds:
                raise Unsupported("@type and @language")
            raw_type = element[type_alias]
            if type(raw_type) is not str:
                raise Unsupported("@type of a value object that is not a string")
            real, probe = type_scoped.expand_vocab(raw_type)
            for expanded in (real, probe):
                if expanded is None or expanded[:2] == "_:" or ABSOLUTE_IRI.match(expanded) is None:
                    raise Unsupported("datatype that is not an absolute IRI")
            assert real is not None
            assert probe is not None
            if judge and probe.startswith(UNDEFINED_PREFIX):
                self.note(probe[_UNDEFINED_LENGTH:])
            datatype = real
        elif LANGUAGE in kinds:
            raw_language = element[kinds[LANGUAGE].name]
            if raw_language is not None:
                if type(raw_language) is not str or type(value) is not str:
                    raise Unsupported("language-tagged value that is not a string")
                language = raw_language.lower()
        if not emit:
            return (None, None)
        return (
            literal_term(value, datatype, language),
            (datatype, language, value, type(value) is bool),
        )
