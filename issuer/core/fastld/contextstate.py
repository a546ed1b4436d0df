"""Active contexts, processed once and compiled into lookup tables.

JSON-LD 1.1 Processing Algorithms §4.1 "Context Processing" is the expensive part of every
expansion: PyLD re-processes the type-scoped and property-scoped contexts of the VC and OB
contexts at every node of every document (and canonicalizes each context to build a cache key).
Here every *distinct* active context a document can reach is processed once, by PyLD itself (so
the term definitions are exactly PyLD's), and kept as a ``State``:

* transitions between states (apply a property-scoped, type-scoped or embedded context; revert a
  non-propagated type-scoped context, §4.1.2 step 5 / Expansion §13.1 step 7) are memoized on
  the state they start from;
* the per-term facts the expansion needs (§4.2 "Create Term Definition": IRI mapping, type
  mapping, container mapping, scoped context, language) are looked up once per term and state;
* states are deduplicated by content (``universe``: all the states of one document loader), so
  the set of states stays finite however deep a document nests (re-applying a scoped context to
  a context that already has it yields the same state).

Every state is a *pair*: the active context the document really has, and the one
``canonical.find_undefined_terms`` probes with (the same contexts plus ``{"@vocab":
"urn:UNDEFINEDTERM:"}`` appended at the top level), so one pass over a document both produces
its RDF and finds its undefined terms, with exactly the reference path's answers.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from pyld import jsonld

if TYPE_CHECKING:
    from issuer.core.fastld.universe import Universe

UNDEFINED_PREFIX = "urn:UNDEFINEDTERM:"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"

#: Bounds on what one loader's compiled contexts may grow to. Real documents reach a few dozen
#: states; a document that needs more is handed to the reference path instead.
MAX_STATES = 2_000
MAX_CACHED_NAMES = 4_096

# PyLD's own IRI test (jsonld._is_absolute_iri), reused so that "absolute" means the same here.
ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
KEYWORDS = frozenset(jsonld.KEYWORDS)

Ctx = Mapping[str, Any]


class Unsupported(Exception):
    """The fast path does not handle this document (or this corner of JSON-LD): use PyLD."""


def is_absolute(iri: str) -> bool:
    return ABSOLUTE_IRI.match(iri) is not None


# --- key information -------------------------------------------------------------------------

#: ``Key.kind`` values.
PROPERTY = 0  # a property IRI (in the real context, the probe, or both)
DROPPED = 1  # dropped by both expansions (null mapping, keyword-like, relative IRI)
ID = 2
TYPE = 3
VALUE = 4
LANGUAGE = 5
LIST = 6
SET = 7
CONTEXT = 8
OTHER_KEYWORD = 9

#: ``Key.mode`` values.
MODE_PLAIN = 0  # a string literal
MODE_ID = 1  # an IRI (``@type: @id``)
MODE_VOCAB = 2  # an IRI expanded against the vocabulary (``@type: @vocab``)
MODE_DATATYPE = 3  # a typed literal
MODE_LANGUAGE = 4  # a language-tagged string

_KEYWORD_KINDS = {
    "@id": ID,
    "@type": TYPE,
    "@value": VALUE,
    "@language": LANGUAGE,
    "@list": LIST,
    "@set": SET,
    "@context": CONTEXT,
}


class Key:
    """What one key of a JSON object means in one state (Expansion §13.1 step 13)."""

    __slots__ = (
        "container_list",
        "datatype",
        "graph",
        "has_scoped",
        "iri",
        "kind",
        "language",
        "literal_suffix",
        "mode",
        "name",
        "node_states",
        "note",
        "plain",
        "probe_datatype",
        "probe_iri",
        "real",
        "shown",
        "state",
        "subject_iri",
        "type_mapping",
        "value_key",
    )

    def __init__(self, state: State, name: str) -> None:
        processor = state.universe.processor
        real = state.real
        probe = state.probe
        self.state = state
        self.name = name
        iri = processor._expand_iri(real, name, vocab=True)
        probe_iri = processor._expand_iri(probe, name, vocab=True)
        self.iri: str | None = iri
        self.probe_iri: str | None = probe_iri
        real_keeps = isinstance(iri, str) and (iri in KEYWORDS or is_absolute(iri))
        probe_keeps = isinstance(probe_iri, str) and (
            probe_iri in KEYWORDS or is_absolute(probe_iri)
        )
        #: the expansion emits RDF for this key / the probe expansion keeps it
        self.real = real_keeps
        self.shown = probe_keeps
        self.note: str | None = None
        if probe_keeps and isinstance(probe_iri, str) and probe_iri.startswith(UNDEFINED_PREFIX):
            self.note = probe_iri[len(UNDEFINED_PREFIX) :]
        if not real_keeps and not probe_keeps:
            self.kind = DROPPED
        elif isinstance(iri, str) and iri in KEYWORDS:
            if probe_iri != iri:
                raise Unsupported("keyword alias differs between the contexts")
            self.kind = _KEYWORD_KINDS.get(iri, OTHER_KEYWORD)
        elif isinstance(probe_iri, str) and probe_iri in KEYWORDS:
            raise Unsupported("keyword alias differs between the contexts")
        else:
            self.kind = PROPERTY
        self.subject_iri = "<" + iri + ">" if real_keeps and isinstance(iri, str) else ""
        #: False for a property this module does not expand (language, index, id and type maps,
        #: JSON literals, base direction, reverse properties): the document falls back
        self.plain = True

        get = jsonld.JsonLdProcessor.get_context_value
        container = _container(get(real, name, "@container"))
        if container != _container(get(probe, name, "@container")):
            raise Unsupported("container mapping differs between the contexts")
        self.container_list = "@list" in container
        # Expansion §13.1 step 13.4.12 wraps values in graph objects (only "simple" graph
        # containers are supported here; @id/@index maps fall back).
        self.graph = "@graph" in container
        if any(entry not in ("@set", "@list", "@graph") for entry in container):
            self.plain = False
        type_mapping = get(real, name, "@type")
        probe_type = get(probe, name, "@type")
        self.type_mapping: str | None = type_mapping
        self.datatype: str | None = None
        self.probe_datatype: str | None = None
        if type_mapping in ("@id", "@vocab", "@none", None):
            if probe_type != type_mapping:
                raise Unsupported("type mapping differs between the contexts")
        elif type_mapping == "@json" or probe_type in ("@id", "@vocab", "@none", "@json", None):
            self.plain = False
        else:
            self.datatype = type_mapping
            self.probe_datatype = probe_type
        self.has_scoped = get(real, name, "@context") is not None
        if self.has_scoped != (get(probe, name, "@context") is not None):
            raise Unsupported("scoped context differs between the contexts")
        language = get(real, name, "@language")
        if language != get(probe, name, "@language"):
            raise Unsupported("language mapping differs between the contexts")
        self.language: str | None = language
        if get(real, name, "@direction") is not None or get(probe, name, "@direction") is not None:
            self.plain = False
        mapping = real["mappings"].get(name)
        probe_mapping = probe["mappings"].get(name)
        if (mapping is not None and mapping.get("reverse")) or (
            probe_mapping is not None and probe_mapping.get("reverse")
        ):
            self.plain = False
        #: how a string value of this key expands (Value Expansion, §5.3)
        if type_mapping == "@id":
            self.mode = MODE_ID
        elif type_mapping == "@vocab":
            self.mode = MODE_VOCAB
        elif self.datatype is not None:
            self.mode = MODE_DATATYPE
        elif language is not None:
            self.mode = MODE_LANGUAGE
        else:
            self.mode = MODE_PLAIN
        self.value_key: Key | None = None
        self.node_states: list[State | None] = [None, None]
        #: for a property whose string values are plain, typed or language-tagged literals in
        #: both contexts: what follows the lexical form in N-Quads ('"', '"^^<dt>', '"@lang')
        self.literal_suffix: str | None = None

    def prepare(self) -> None:
        """Work out ``literal_suffix`` (once, when a node plan is made)."""
        if self.kind != PROPERTY or not (self.real and self.shown and self.plain):
            return
        if self.note is not None:
            return  # defined by a vocabulary mapping: the verdict names it, the general path does
        if self.graph or self.container_list or self.has_scoped:
            return
        if self.mode == MODE_PLAIN:
            self.literal_suffix = '"'
        elif self.mode == MODE_LANGUAGE:
            self.literal_suffix = f'"@{self.language}'
        elif self.mode == MODE_DATATYPE and self.datatype not in (XSD_DOUBLE, RDF_JSON):
            if self.probe_datatype is not None and self.probe_datatype.startswith(UNDEFINED_PREFIX):
                return  # the verdict must name it: the general path does
            if self.datatype == XSD_STRING:
                self.literal_suffix = '"'
            elif self.datatype == RDF_LANGSTRING:
                return
            else:
                self.literal_suffix = f'"^^<{self.datatype}>'

    def node_state(self, revert: bool) -> State:
        """The context a JSON object under this key is expanded in (§13.1 steps 7-8): this
        key's state, reverted if ``revert``, then with this key's property-scoped context."""
        found = self.node_states[revert]
        if found is None:
            found = self.state.reverted if revert else self.state
            if self.has_scoped:
                found = found.scoped(self.state, self.name, property_scoped=True)
            self.node_states[revert] = found
        return found

    def for_values(self) -> Key:
        """This key as seen by the expansion of its values: in the state with the key's own
        property-scoped context applied (Expansion §13.1 step 13.4.x uses the term's context)."""
        found = self.value_key
        if found is not None:
            return found
        if not self.has_scoped:
            found = self
        else:
            term_state = self.state.scoped(self.state, self.name, property_scoped=True)
            found = term_state.key(self.name)
            if (
                found.kind != self.kind
                or found.iri != self.iri
                or found.probe_iri != self.probe_iri
                or found.container_list != self.container_list
                or found.graph != self.graph
                or not found.plain
            ):
                raise Unsupported("a scoped context redefines its own term")
        self.value_key = found
        return found


# --- node plans ------------------------------------------------------------------------------


class NodePlan:
    """How a JSON object with a given set of keys expands in one state (Expansion §13.1
    steps 7, 11 and 13): its keys in the order PyLD visits them, classified once."""

    __slots__ = (
        "dropped",
        "entries",
        "has_context",
        "id_key",
        "keeps_type_scoped",
        "special",
        "type_alias",
        "unsupported",
    )

    def __init__(self, state: State, names: tuple[str, ...]) -> None:
        self.entries: list[Key] = []
        self.dropped: list[str] = []
        self.id_key: Key | None = None
        self.type_alias: str | None = None
        self.special: dict[int, Key] = {}
        self.has_context = False
        self.unsupported: str | None = None
        value_found = False
        for name in sorted(names):
            if name == "@context":
                self.has_context = True
                continue
            entry = state.key(name)
            kind = entry.kind
            if kind == VALUE:
                value_found = True
            if kind == PROPERTY:
                entry.prepare()
                self.entries.append(entry)
            elif kind == DROPPED:
                self.dropped.append(name)
            elif kind == ID:
                if self.id_key is not None:
                    self.unsupported = "colliding @id keys"
                self.id_key = entry
                self.entries.append(entry)
            elif kind == TYPE:
                if self.type_alias is not None:
                    self.unsupported = "several @type keys"
                self.type_alias = name
                self.entries.append(entry)
            elif kind in (VALUE, LANGUAGE, LIST, SET):
                if kind in self.special:
                    self.unsupported = "colliding keywords"
                self.special[kind] = entry
                self.entries.append(entry)
            else:
                self.unsupported = f"keyword {entry.iri}"
        # §13.1 step 7: a value object, or an object that is only a node reference, keeps a
        # type-scoped context (the keys are expanded in that context: this state).
        self.keeps_type_scoped = (
            len(names) <= 2
            and not self.has_context
            and (value_found or (len(names) == 1 and self.id_key is not None))
        )
        if len(self.entries) > 1 and not self.special:
            iris = {entry.iri for entry in self.entries}
            probes = {entry.probe_iri for entry in self.entries}
            if len(iris) != len(self.entries) or len(probes) != len(self.entries):
                self.unsupported = "two keys expand to the same IRI"


# --- states ----------------------------------------------------------------------------------


class State:
    """One reachable active context (real and probe), with memoized lookups and transitions."""

    __slots__ = (
        "_after_types",
        "_keys",
        "_plans",
        "_type_scoped",
        "_vocab_values",
        "has_previous",
        "probe",
        "probe_prefixes",
        "real",
        "real_prefixes",
        "transitions",
        "universe",
    )

    def __init__(self, universe: Universe, real: Ctx, probe: Ctx) -> None:
        self.universe = universe
        self.real = real
        self.probe = probe
        self.has_previous = bool(real.get("previousContext"))
        if self.has_previous != bool(probe.get("previousContext")):
            raise Unsupported("type-scoped context tracking differs between the contexts")
        self.transitions: dict[Hashable, State] = {}
        self._keys: dict[str, Key] = {}
        self._vocab_values: dict[str, tuple[str | None, str | None]] = {}
        self._type_scoped: dict[str, bool] = {}
        self._plans: dict[tuple[str, ...], NodePlan] = {}
        self._after_types: dict[Hashable, State] = {}
        self.real_prefixes = _prefixes(real)
        self.probe_prefixes = _prefixes(probe)

    # lookups

    def key(self, name: str) -> Key:
        found = self._keys.get(name)
        if found is None:
            found = Key(self, name)
            if len(self._keys) < MAX_CACHED_NAMES:
                self._keys[name] = found
        return found

    def plan(self, names: tuple[str, ...]) -> NodePlan:
        found = self._plans.get(names)
        if found is None:
            found = NodePlan(self, names)
            if len(self._plans) < MAX_CACHED_NAMES:
                self._plans[names] = found
        return found

    def after_types(self, types: Any) -> State:
        """§13.1 step 11: this state with the type-scoped contexts of the node's ``@type``
        values applied, in sorted order, each looked up in this state."""
        label = tuple(types) if type(types) is list else types
        try:
            found = self._after_types.get(label)
        except TypeError:  # unhashable junk in @type: the reference path reports it
            raise Unsupported("@type value that is not a string") from None
        if found is None:
            names = [t for t in types if type(t) is str] if type(types) is list else [types]
            found = self
            for type_name in sorted(name for name in names if type(name) is str):
                if self.has_type_scoped(type_name):
                    found = found.scoped(self, type_name, property_scoped=False)
            if len(self._after_types) < MAX_CACHED_NAMES:
                self._after_types[label] = found
        return found

    def expand_vocab(self, value: str) -> tuple[str | None, str | None]:
        """IRI expansion with ``vocab: true`` (§5.2 "IRI Expansion") in both contexts: type
        values and ``@type: @vocab`` values."""
        found = self._vocab_values.get(value)
        if found is None:
            processor = self.universe.processor
            found = (
                processor._expand_iri(self.real, value, vocab=True),
                processor._expand_iri(self.probe, value, vocab=True),
            )
            if len(self._vocab_values) < MAX_CACHED_NAMES:
                self._vocab_values[value] = found
        return found

    def expand_id(self, value: str) -> tuple[str, str]:
        """IRI expansion of an ``@id`` value: no vocabulary mapping, no base IRI (we never invent
        one), so only compact IRIs with a prefix term change (§5.2 steps 6-9)."""
        if value[:1] == "@":
            processor = self.universe.processor
            real = processor._expand_iri(self.real, value, base=None)
            probe = processor._expand_iri(self.probe, value, base=None)
            if not isinstance(real, str) or not isinstance(probe, str) or real[:1] == "@":
                raise Unsupported("keyword-like @id value")
            return real, probe
        colon = value.find(":")
        if colon <= 0:
            return value, value
        prefix = value[:colon]
        if prefix == "_" or value.startswith("//", colon + 1):
            return value, value
        real_prefix = self.real_prefixes.get(prefix)
        probe_prefix = self.probe_prefixes.get(prefix)
        suffix = value[colon + 1 :]
        return (
            value if real_prefix is None else real_prefix + suffix,
            value if probe_prefix is None else probe_prefix + suffix,
        )

    def has_type_scoped(self, type_name: str) -> bool:
        found = self._type_scoped.get(type_name)
        if found is None:
            get = jsonld.JsonLdProcessor.get_context_value
            real = get(self.real, type_name, "@context")
            probe = get(self.probe, type_name, "@context")
            found = real is not None and real is not False
            if found != (probe is not None and probe is not False):
                raise Unsupported("type-scoped context differs between the contexts")
            if len(self._type_scoped) < MAX_CACHED_NAMES:
                self._type_scoped[type_name] = found
        return found

    # transitions

    @property
    def reverted(self) -> State:
        """Expansion §13.1 step 7: the context before a non-propagated type-scoped context."""
        if not self.has_previous:
            return self
        found = self.transitions.get("revert")
        if found is None:
            found = self.universe.intern(
                self.real["previousContext"], self.probe["previousContext"]
            )
            self.transitions["revert"] = found
        return found

    def scoped(self, source: State, term: str, *, property_scoped: bool) -> State:
        """Apply the scoped context that ``source`` defines for ``term`` to this state: a
        property-scoped context (propagated, may override protected terms; §13.1 steps 8 and
        13.4.x) or a type-scoped context (not propagated; §13.1 step 11)."""
        label = (property_scoped, source, term)
        found = self.transitions.get(label)
        if found is None:
            get = jsonld.JsonLdProcessor.get_context_value
            real_local = get(source.real, term, "@context")
            probe_local = get(source.probe, term, "@context")
            if property_scoped:
                found = self.universe.process(
                    self, real_local, probe_local, override_protected=True, propagate=True
                )
            else:
                found = self.universe.process(
                    self, real_local, probe_local, override_protected=False, propagate=False
                )
            self.transitions[label] = found
        return found

    def embedded(self, urls: tuple[str, ...]) -> State:
        """An ``@context`` entry of a node that lists context URLs (§4.1)."""
        label = ("embedded", urls)
        found = self.transitions.get(label)
        if found is None:
            found = self.universe.process(self, list(urls), list(urls))
            self.transitions[label] = found
        return found


def _container(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _prefixes(ctx: Ctx) -> dict[str, str]:
    """Terms usable as the prefix of a compact IRI (§4.2 step 14.2.x ``_prefix``)."""
    result: dict[str, str] = {}
    for term, mapping in ctx["mappings"].items():
        if mapping and mapping.get("_prefix") and isinstance(mapping.get("@id"), str):
            result[term] = mapping["@id"]
    return result
