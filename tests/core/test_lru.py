"""Bounded caches: one registry, so everything remembered can be forgotten in one call."""

from __future__ import annotations

from issuer.core import lru
from issuer.core.dataintegrity.caches import VERIFIED_PROOFS, clear_verification_caches
from issuer.core.schema import SCHEMA_VERDICTS
from issuer.core.verifier import VIEWS


def test_a_bounded_cache_drops_the_least_recently_used() -> None:
    cache: lru.BoundedCache[str, int] = lru.BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_every_cache_is_registered_and_cleared_together() -> None:
    mine: lru.BoundedCache[str, int] = lru.BoundedCache(4)
    mine.put("x", 1)
    registered = lru.caches()
    for cache in (mine, VERIFIED_PROOFS, VIEWS, SCHEMA_VERDICTS):
        assert any(cache is found for found in registered)
    clear_verification_caches()
    assert len(mine) == 0
    assert len(VIEWS) == 0
