"""Errors the services raise on purpose. Each has a short ``code``; none knows about HTTP
(``issuer.web.errors`` maps codes to statuses, the CLI prints the message)."""

from __future__ import annotations

from issuer.services.translation import N_, Message


class ServiceError(Exception):
    """Base class: a request the service cannot carry out, with a message for people.

    Given as a ``Message``, the error keeps it (``deferred``) besides its text in the reader's
    language at the time (``message``): what is stored to be shown later, such as a cohort
    row's failure, is then shown in whoever's language reads it (issue 15)."""

    code = "service_error"

    def __init__(self, message: str | Message) -> None:
        self.deferred = message if isinstance(message, Message) else None
        text = message.render() if isinstance(message, Message) else message
        super().__init__(text)
        self.message = text


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


_SIGNING_UNAVAILABLE = N_("credentials cannot be signed right now; the cause is in the service log")


class SigningUnavailableError(ServiceError):
    """An institution's signing key cannot be used: its file is missing or unreadable, the
    passphrase does not open it, it is corrupt, or it is not the key the DID document publishes.

    ``message`` is the same for every cause and names no file, key id or passphrase: it may
    reach an HTTP answer or a bulk job's row (503 ``signing_unavailable``). ``detail`` says what
    is wrong, for the service log and the command line; ``reason`` is the ``/healthz`` code.
    """

    code = "signing_unavailable"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(Message(_SIGNING_UNAVAILABLE))
        self.detail = detail
        self.reason = reason
