"""The universe of one document loader: every active context reachable with it, one ``State`` each.

A ``Universe`` processes contexts with PyLD itself (JSON-LD 1.1 Processing Algorithms §4.1
"Context Processing", so the term definitions are exactly PyLD's) and interns the results by
content, so the set of states stays finite however deep a document nests. ``universe_for``
keeps one per loader, for as long as the loader lives.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from typing import Any

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from issuer.core.contexts import DocumentLoader
from issuer.core.fastld.contextstate import (
    MAX_CACHED_NAMES,
    MAX_STATES,
    UNDEFINED_PREFIX,
    Ctx,
    State,
    Unsupported,
)


def _fingerprint(ctx: Ctx | None) -> str:
    if not ctx:
        return ""
    content = {key: value for key, value in ctx.items() if key not in ("_uuid", "previousContext")}
    content["previousContext"] = _fingerprint(ctx.get("previousContext"))
    return json.dumps(content, sort_keys=True, default=repr)


class Universe:
    """All states reachable with one document loader."""

    def __init__(self, loader: DocumentLoader) -> None:
        self.processor = jsonld.JsonLdProcessor()
        self.options: dict[str, Any] = {
            "documentLoader": loader,
            "contextResolver": ContextResolver(jsonld._resolved_context_cache, loader),
            "base": None,
            "processingMode": "json-ld-1.1",
            "isFrame": False,
            "keepFreeFloatingNodes": False,
            "extractAllScripts": False,
            "produceGeneralizedRdf": False,
        }
        self.initial: Ctx = self.processor._get_initial_context(self.options)
        self._states: dict[tuple[str, str], State] = {}
        self._top: dict[tuple[str, ...], State] = {}
        self._lock = threading.Lock()

    def intern(self, real: Ctx, probe: Ctx) -> State:
        fingerprint = (_fingerprint(real), _fingerprint(probe))
        with self._lock:
            found = self._states.get(fingerprint)
            if found is None:
                if len(self._states) >= MAX_STATES:
                    raise Unsupported("too many distinct active contexts")
                found = State(self, real, probe)
                self._states[fingerprint] = found
        return found

    def process(
        self,
        state: State,
        real_local: Any,
        probe_local: Any,
        *,
        override_protected: bool = False,
        propagate: bool = True,
    ) -> State:
        try:
            real = self.processor._process_context(
                state.real,
                real_local,
                self.options,
                override_protected=override_protected,
                propagate=propagate,
            )
            probe = self.processor._process_context(
                state.probe,
                probe_local,
                self.options,
                override_protected=override_protected,
                propagate=propagate,
            )
        except Exception as error:  # the reference path reports it properly
            raise Unsupported(f"context processing failed: {error}") from error
        return self.intern(real, probe)

    def top(self, urls: tuple[str, ...]) -> State:
        """The state after a document's own ``@context`` (a list of context URLs); the probe
        appends ``{"@vocab": "urn:UNDEFINEDTERM:"}`` as ``find_undefined_terms`` does."""
        found = self._top.get(urls)
        if found is None:
            root = self.intern(self.initial, self.initial)
            found = self.process(root, list(urls), [*urls, {"@vocab": UNDEFINED_PREFIX}])
            with self._lock:
                if len(self._top) < MAX_CACHED_NAMES:
                    self._top[urls] = found
        return found


_universes: weakref.WeakKeyDictionary[Callable[..., Any], Universe] = weakref.WeakKeyDictionary()
_universes_lock = threading.Lock()


def universe_for(loader: DocumentLoader) -> Universe:
    """The compiled contexts for ``loader`` (created on first use, dropped with the loader)."""
    found = _universes.get(loader)
    if found is None:
        with _universes_lock:
            found = _universes.get(loader)
            if found is None:
                found = Universe(loader)
                _universes[loader] = found
    return found
