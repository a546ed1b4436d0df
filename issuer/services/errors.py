"""Errors the services raise on purpose. Each has a short ``code``; none knows about HTTP
(``issuer.errors`` maps codes to statuses, the CLI prints the message)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the service cannot carry out, with a message for people."""

    code = "service_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ServiceError):
    """Something named in the request does not exist."""

    code = "not_found"


class ConflictError(ServiceError):
    """The request clashes with what exists (a slug already taken, a key already active)."""

    code = "conflict"


class InvalidInputError(ServiceError):
    """The request's values are malformed (a bad slug, e-mail address or language)."""

    code = "invalid_input"


class TemplateError(ServiceError):
    """A shipped badge template is unusable; the message names the file and the problem."""

    code = "invalid_template"
