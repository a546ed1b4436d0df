"""A small thread-safe LRU map, bounded in entries, for results that are pure functions of their
key (verified proofs, term checks). Web workers run requests in threads, hence the lock.

Every cache made here is listed in one registry (``caches``), so that tests and benchmarks can
forget everything remembered (``clear_all``) without knowing where each cache lives."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``maxsize`` entries; the least recently used one goes first."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        _REGISTRY.add(self)

    def get(self, key: K) -> V | None:
        with self._lock:
            try:
                value = self._entries[key]
            except KeyError:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


_REGISTRY: weakref.WeakSet[BoundedCache[Any, Any]] = weakref.WeakSet()


def caches() -> list[BoundedCache[Any, Any]]:
    """Every bounded cache alive in this process."""
    return list(_REGISTRY)


def clear_all() -> None:
    """Forget what every bounded cache remembers."""
    for cache in caches():
        cache.clear()
