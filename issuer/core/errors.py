"""Errors raised by the engine. Each carries a short machine-readable ``code``."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DocumentLoaderError(EngineError):
    """A JSON-LD document was requested that the service does not carry."""

    code = "document_not_allowed"


class CanonicalizationError(EngineError):
    """The document could not be canonicalized (invalid JSON-LD, limits exceeded)."""

    code = "canonicalization_failed"


class UndefinedTermError(EngineError):
    """The document uses properties or types that no context defines."""

    code = "undefined_terms"

    def __init__(self, terms: list[str]) -> None:
        self.terms = terms
        super().__init__("terms not defined by any @context: " + ", ".join(terms))


class KeyError_(EngineError):
    """A key could not be decoded, loaded or used."""

    code = "key_error"


class ProofError(EngineError):
    """A proof could not be created (bad options, unusable key)."""

    code = "proof_error"
