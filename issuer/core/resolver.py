"""Verification method -> public key, for verifying proofs (ob3-facts §2.4 "Keys and
verificationMethod").

Nothing here touches the network. ``did:key`` and the ``<controller>#<publicKeyMultibase>`` form
resolve from the identifier itself; ``did:web`` documents come from an injected ``fetch``
function (the service passes a lookup in its own database for its own issuers, and a guarded
HTTPS fetcher for others).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer.core.did import (
    DID_KEY_PREFIX,
    DID_WEB_PREFIX,
    DidError,
    did_key_multibase,
    did_web_to_url,
)
from issuer.core.errors import EngineError, KeyError_
from issuer.core.multikey import decode_public_key

ASSERTION_METHOD = "assertionMethod"
# DID Core §5.3 "Verification Relationships".
VERIFICATION_RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)
# Key types whose ``publicKeyMultibase`` is an Ed25519 Multikey value (VC-DI-EDDSA §2.1.1;
# the Ed25519Signature2020 suite's key type uses the same encoding).
SUPPORTED_METHOD_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})
MAX_METHOD_ID_LENGTH = 2048

#: ``fetch(url) -> DID document``; injected so that this module never touches the network.
DidDocumentFetcher = Callable[[str], dict[str, Any]]


class ResolutionError(EngineError):
    """The verification method could not be turned into a usable public key."""

    code = "key_resolution_failed"

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        #: True when the key could not be obtained (unsupported method, retrieval failed), as
        #: opposed to a key that was obtained and found wrong.
        self.unavailable = unavailable


@dataclass(frozen=True)
class ResolvedKey:
    """A public key and what its controller authorized it for."""

    method_id: str
    controller: str
    public_key: Ed25519PublicKey
    purposes: frozenset[str]
    #: False when nothing proved that ``controller`` vouches for the key: the key was only
    #: read from the method id (``FragmentMultikeyResolver``). Such a key never confirms an
    #: issuer (DESIGN.md "Verification: what a verdict rests on").
    confirmed: bool = True


class KeyResolver(Protocol):
    """Anything that maps a verification method id to a ``ResolvedKey`` (or raises
    ``ResolutionError``)."""

    def resolve(self, method_id: str) -> ResolvedKey: ...


@runtime_checkable
class SchemeResolver(KeyResolver, Protocol):
    """A resolver for some kinds of identifiers, which it recognizes with ``supports``."""

    def supports(self, method_id: str) -> bool: ...


def _check_method_id(method_id: object) -> str:
    if not isinstance(method_id, str) or not method_id:
        raise ResolutionError(f"verification method must be a non-empty string, not {method_id!r}")
    if len(method_id) > MAX_METHOD_ID_LENGTH:
        raise ResolutionError("verification method id is too long")
    return method_id


def _unsupported(method_id: object) -> ResolutionError:
    return ResolutionError(f"unsupported verification method {method_id!r}")


def _decode_key(multibase: object, method_id: str) -> Ed25519PublicKey:
    if not isinstance(multibase, str):
        raise ResolutionError(f"verification method {method_id!r}: key is not a string")
    try:
        return decode_public_key(multibase)
    except KeyError_ as error:
        raise ResolutionError(f"verification method {method_id!r}: {error}") from None


class DidKeyResolver:
    """``did:key:z6Mk...`` and ``did:key:z6Mk...#z6Mk...``: the key is the identifier."""

    # did:key documents list the key under every relationship except keyAgreement.
    PURPOSES = frozenset(VERIFICATION_RELATIONSHIPS) - {"keyAgreement"}

    def supports(self, method_id: str) -> bool:
        return isinstance(method_id, str) and method_id.startswith(DID_KEY_PREFIX)

    def resolve(self, method_id: str) -> ResolvedKey:
        method_id = _check_method_id(method_id)
        if not self.supports(method_id):
            raise _unsupported(method_id)
        did, _, fragment = method_id.partition("#")
        try:
            multibase = did_key_multibase(did)
        except DidError as error:
            raise ResolutionError(error.message) from None
        if fragment and fragment != multibase:
            raise ResolutionError(
                f"verification method {method_id!r}: a did:key fragment must repeat the key"
            )
        return ResolvedKey(
            method_id=f"{did}#{multibase}",
            controller=did,
            public_key=_decode_key(multibase, method_id),
            purposes=self.PURPOSES,
        )


class FragmentMultikeyResolver:
    """``https://host/path#z6Mk...``: key from the fragment, controller = the part before ``#``.

    This is how the 1EdTech validator resolves such ids, without fetching (ob3-facts §2.4 (a);
    the form used by the OB 3.0 specification's own signed examples). It proves only that the
    credential was signed with the key named in it; that the controller URL really vouches for
    the key is NOT checked, so the caller must treat the issuer's identity as unconfirmed. The
    key is taken to be authorized for ``assertionMethod`` only.
    """

    PURPOSES = frozenset({ASSERTION_METHOD})

    def __init__(self, *, trusted: bool = False) -> None:
        #: ``trusted``: take the URL before ``#`` as the key's confirmed controller, as the
        #: 1EdTech validator does offline. Only for checking other implementations' samples
        #: against their own verdicts; the service never does (it dereferences the profile).
        self._trusted = trusted

    def supports(self, method_id: str) -> bool:
        if not isinstance(method_id, str) or "#" not in method_id:
            return False
        base, _, fragment = method_id.partition("#")
        try:
            parts = urlsplit(base)
        except ValueError:
            return False
        return parts.scheme in ("https", "http") and bool(parts.netloc) and fragment[:1] == "z"

    def resolve(self, method_id: str) -> ResolvedKey:
        method_id = _check_method_id(method_id)
        if not self.supports(method_id):
            raise _unsupported(method_id)
        controller, _, fragment = method_id.partition("#")
        return ResolvedKey(
            method_id=method_id,
            controller=controller,
            public_key=_decode_key(fragment, method_id),
            purposes=self.PURPOSES,
            confirmed=self._trusted,
        )


class DidWebResolver:
    """``did:web:...#fragment`` through a DID document returned by ``fetch(url)``.

    Checks (DID Core §7.2 "DID URL Dereferencing", did:web §"Read"): the document's ``id`` is
    the DID; the method is found by absolute or relative (``#frag``) id among
    ``verificationMethod`` or the methods embedded in a relationship; its type is ``Multikey``
    or ``Ed25519VerificationKey2020`` with an Ed25519 ``publicKeyMultibase``; its controller is
    the DID; and it is listed under ``required_purpose`` (``assertionMethod`` by default; pass
    ``None`` to only report the purposes).
    """

    def __init__(
        self,
        fetch: DidDocumentFetcher,
        *,
        required_purpose: str | None = ASSERTION_METHOD,
    ) -> None:
        self._fetch = fetch
        self._required_purpose = required_purpose

    def supports(self, method_id: str) -> bool:
        return isinstance(method_id, str) and method_id.startswith(DID_WEB_PREFIX)

    def resolve(self, method_id: str) -> ResolvedKey:
        method_id = _check_method_id(method_id)
        if not self.supports(method_id):
            raise _unsupported(method_id)
        did, _, fragment = method_id.partition("#")
        if not fragment:
            raise ResolutionError(f"verification method {method_id!r} has no fragment naming a key")
        document = self._document(did)
        method = _find_method(document, did, fragment)
        if method is None:
            raise ResolutionError(
                f"verification method {method_id!r} is not in the DID document of {did}"
            )
        public_key = _method_key(method, method_id)
        controller = method.get("controller")
        if controller != did:
            raise ResolutionError(
                f"verification method {method_id!r} has controller {controller!r}, not {did!r}"
            )
        purposes = _purposes(document, did, fragment)
        if self._required_purpose is not None and self._required_purpose not in purposes:
            raise ResolutionError(
                f"verification method {method_id!r} is not listed under "
                f"{self._required_purpose} in the DID document of {did}"
            )
        return ResolvedKey(method_id, did, public_key, purposes)

    def _document(self, did: str) -> dict[str, Any]:
        try:
            url = did_web_to_url(did)
        except DidError as error:
            raise ResolutionError(error.message) from None
        try:
            document = self._fetch(url)
        except EngineError as error:
            raise ResolutionError(
                f"cannot fetch DID document {url}: {error.message}", unavailable=True
            ) from None
        except Exception as error:  # the injected fetcher may fail in any way
            raise ResolutionError(
                f"cannot fetch DID document {url}: {error}", unavailable=True
            ) from None
        if not isinstance(document, dict):
            raise ResolutionError(f"DID document at {url} is not a JSON object")
        if document.get("id") != did:
            raise ResolutionError(
                f"DID document at {url} has id {document.get('id')!r}, expected {did!r}"
            )
        return document


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _refers_to(reference: Any, did: str, fragment: str) -> bool:
    """Does a method id (absolute ``did#frag`` or relative ``#frag``) name ``fragment``?"""
    return isinstance(reference, str) and reference in (f"{did}#{fragment}", f"#{fragment}")


def _embedded_methods(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for item in _as_list(document.get("verificationMethod")):
        if isinstance(item, dict):
            yield item
    for relationship in VERIFICATION_RELATIONSHIPS:
        for item in _as_list(document.get(relationship)):
            if isinstance(item, dict):
                yield item


def _find_method(document: dict[str, Any], did: str, fragment: str) -> dict[str, Any] | None:
    for method in _embedded_methods(document):
        if _refers_to(method.get("id"), did, fragment):
            return method
    return None


def _method_key(method: dict[str, Any], method_id: str) -> Ed25519PublicKey:
    method_type = method.get("type")
    if method_type not in SUPPORTED_METHOD_TYPES:
        raise ResolutionError(
            f"verification method {method_id!r} has type {method_type!r}; supported: "
            + ", ".join(sorted(SUPPORTED_METHOD_TYPES))
        )
    if "publicKeyMultibase" not in method:
        raise ResolutionError(f"verification method {method_id!r} has no publicKeyMultibase")
    return _decode_key(method["publicKeyMultibase"], method_id)


def _purposes(document: dict[str, Any], did: str, fragment: str) -> frozenset[str]:
    """The verification relationships that list the method, by reference or embedded."""
    found: set[str] = set()
    for relationship in VERIFICATION_RELATIONSHIPS:
        for item in _as_list(document.get(relationship)):
            reference = item.get("id") if isinstance(item, dict) else item
            if _refers_to(reference, did, fragment):
                found.add(relationship)
    return frozenset(found)


class ChainResolver:
    """Tries, in order, each resolver that supports the id; the first success wins."""

    def __init__(self, resolvers: Sequence[SchemeResolver]) -> None:
        self._resolvers = list(resolvers)

    def supports(self, method_id: str) -> bool:
        return any(resolver.supports(method_id) for resolver in self._resolvers)

    def resolve(self, method_id: str) -> ResolvedKey:
        method_id = _check_method_id(method_id)
        errors: list[ResolutionError] = []
        for resolver in self._resolvers:
            if not resolver.supports(method_id):
                continue
            try:
                return resolver.resolve(method_id)
            except ResolutionError as error:
                errors.append(error)
        if not errors:
            # A method we do not implement (another DID method, another URL scheme) cannot be
            # checked; that is reported as such, not as a forgery.
            raise ResolutionError(
                f"unsupported verification method {method_id!r} "
                "(supported: did:key, did:web, https URL with a Multikey fragment)",
                unavailable=":" in method_id,
            )
        raise ResolutionError(
            "; ".join(dict.fromkeys(e.message for e in errors)),
            unavailable=all(e.unavailable for e in errors),
        )


def standard_resolver(
    did_web_fetch: DidDocumentFetcher | None = None, *, trust_fragment_keys: bool = False
) -> ChainResolver:
    """did:key, ``https://...#z6Mk...`` and, when ``did_web_fetch`` is given, did:web.

    A fragment key confirms nobody unless ``trust_fragment_keys`` (the 1EdTech validator's
    offline reading, for its own samples)."""
    resolvers: list[SchemeResolver] = [
        DidKeyResolver(),
        FragmentMultikeyResolver(trusted=trust_fragment_keys),
    ]
    if did_web_fetch is not None:
        resolvers.append(DidWebResolver(did_web_fetch))
    return ChainResolver(resolvers)
