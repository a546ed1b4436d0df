"""Decentralized identifiers for issuers: ``did:key`` and ``did:web``.

* ``did:key`` (W3C CCG did:key method, Ed25519): the method-specific id is the key's Multikey
  ``publicKeyMultibase``; the DID resolves to a document generated from the key itself, with one
  verification method ``did:key:z6Mk...#z6Mk...`` (ob3-facts §7).
* ``did:web`` (W3C CCG did:web method): ``did:web:HOST[%3APORT][:PATH...]``, served as
  ``https://HOST[:PORT]/PATH.../did.json`` or ``https://HOST/.well-known/did.json``. Merkki's
  issuers are ``did:web:HOST:issuers:SLUG`` (DESIGN.md "Issuer identity"), each with Multikey
  verification methods whose fragment is the key's ``publicKeyMultibase`` (ob3-facts §7: the
  1EdTech validator can then take the key from the fragment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer.core.contexts import DID_V1, MULTIKEY_V1
from issuer.core.errors import EngineError, KeyError_
from issuer.core.multikey import decode_public_key, encode_public_key

DID_KEY_PREFIX = "did:key:"
DID_WEB_PREFIX = "did:web:"
MULTIKEY = "Multikey"

# DID Core §3.1 "DID Syntax": idchar = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded.
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+")
# A DNS name or an IPv4 address (RFC 1123 labels); did:web has no syntax for IPv6 literals.
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_SLUG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?")
_MAX_DID_LENGTH = 2048


class DidError(EngineError):
    """A DID is malformed or cannot be mapped to what was asked."""

    code = "invalid_did"


# --- did:key -------------------------------------------------------------------------------


def did_key_for(public_key: Ed25519PublicKey) -> str:
    """``did:key:z6Mk...`` of an Ed25519 public key."""
    return DID_KEY_PREFIX + encode_public_key(public_key)


def did_key_multibase(did_key: str) -> str:
    """The ``publicKeyMultibase`` inside a ``did:key`` DID (validated as an Ed25519 Multikey)."""
    if not isinstance(did_key, str) or not did_key.startswith(DID_KEY_PREFIX):
        raise DidError(f"not a did:key DID: {did_key!r}")
    multibase = did_key[len(DID_KEY_PREFIX) :]
    try:
        decode_public_key(multibase)
    except KeyError_ as error:
        raise DidError(f"did:key {did_key!r} does not hold an Ed25519 key: {error}") from None
    return multibase


def did_key_verification_method(did_key: str) -> str:
    """The verification method id of a ``did:key``: ``did:key:z6Mk...#z6Mk...``."""
    return verification_method_id(did_key, did_key_multibase(did_key))


def did_key_document(did: str) -> dict[str, Any]:
    """The DID document a ``did:key`` resolves to (did:key method §"Document Creation
    Algorithm", Multikey form, without the optional X25519 key-agreement key)."""
    multibase = did_key_multibase(did)
    method_id = verification_method_id(did, multibase)
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": [_multikey_method(did, multibase)],
        "authentication": [method_id],
        "assertionMethod": [method_id],
        "capabilityDelegation": [method_id],
        "capabilityInvocation": [method_id],
    }


# --- did:web -------------------------------------------------------------------------------


def _slug(slug: object) -> str:
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise DidError(
            f"invalid issuer slug {slug!r}: use letters, digits, '.', '_' or '-' (max 128)"
        )
    return slug


def did_web_for(base_url: str, slug: str) -> str:
    """``did:web:HOST[%3APORT][:PATH...]:issuers:SLUG`` for the service's public ``base_url``.

    The port's colon is percent-encoded and each path segment of ``base_url`` becomes one
    colon-separated segment (did:web §"Create"), so ``did_web_to_url`` maps the DID back to
    ``<base_url>/issuers/SLUG/did.json`` (over https).
    """
    if not isinstance(base_url, str):
        raise DidError(f"base URL must be a string, not {type(base_url).__name__}")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as error:
        raise DidError(f"invalid base URL {base_url!r}: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise DidError(f"base URL {base_url!r} must be http(s)")
    if parts.username is not None or parts.password is not None:
        raise DidError(f"base URL {base_url!r} must not contain credentials")
    if parts.query or parts.fragment:
        raise DidError(f"base URL {base_url!r} must not have a query or fragment")
    host = (parts.hostname or "").lower()
    if not _HOST.fullmatch(host):
        raise DidError(f"base URL {base_url!r} has no host that did:web can express")
    segments = [segment for segment in parts.path.split("/") if segment]
    for segment in segments:
        _check_path_segment(segment, base_url)
    authority = host if port is None else f"{host}%3A{port}"
    return ":".join([DID_WEB_PREFIX + authority, *segments, "issuers", _slug(slug)])


def _check_path_segment(segment: str, where: str) -> None:
    if not _SEGMENT.fullmatch(segment):
        raise DidError(f"path segment {segment!r} of {where!r} is not allowed in a did:web")
    decoded = unquote(segment)
    if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
        raise DidError(f"path segment {segment!r} of {where!r} is not allowed in a did:web")


def _split_did_web(did: object) -> tuple[str, int | None, list[str]]:
    """Validate a did:web DID and return (host, port, path segments)."""
    if not isinstance(did, str) or not did.startswith(DID_WEB_PREFIX):
        raise DidError(f"not a did:web DID: {did!r}")
    if len(did) > _MAX_DID_LENGTH:
        raise DidError("did:web DID is too long")
    if any(mark in did for mark in "#?/"):
        raise DidError(f"{did!r} is a DID URL, not a DID (it has a path, query or fragment)")
    authority, *segments = did[len(DID_WEB_PREFIX) :].split(":")
    host, port = _split_authority(authority, did)
    for segment in segments:
        _check_path_segment(segment, did)
    return host, port, segments


def _split_authority(authority: str, did: str) -> tuple[str, int | None]:
    # did:web §"Read": "If the domain contains a port percent decode the colon."
    host, separator, port_text = authority.partition("%3A")
    if not separator:
        host, separator, port_text = authority.partition("%3a")
    if not _HOST.fullmatch(host):
        raise DidError(f"{did!r} does not start with a valid host name")
    if not separator:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DidError(f"{did!r} has an invalid port {port_text!r}")
    return host, int(port_text)


def did_web_to_url(did: str) -> str:
    """The https URL of a did:web DID document (did:web §"Read (Resolve)"):
    ``https://HOST[:PORT]/PATH/did.json``, or ``https://HOST[:PORT]/.well-known/did.json`` when
    the DID has no path."""
    host, port, segments = _split_did_web(did)
    authority = host if port is None else f"{host}:{port}"
    path = "/".join(segments) if segments else ".well-known"
    return f"https://{authority}/{path}/did.json"


def verification_method_id(did: str, multibase: str) -> str:
    """``DID#multibase``: the id of the verification method that holds ``multibase``."""
    return f"{did}#{multibase}"


def _multikey_method(did: str, multibase: str) -> dict[str, str]:
    return {
        "id": verification_method_id(did, multibase),
        "type": MULTIKEY,
        "controller": did,
        "publicKeyMultibase": multibase,
    }


def _unique_keys(keys: Iterable[str], seen: set[str]) -> list[str]:
    unique: list[str] = []
    for multibase in keys:
        decode_public_key(multibase)  # raises KeyError_ naming a malformed key
        if multibase not in seen:
            seen.add(multibase)
            unique.append(multibase)
    return unique


def did_web_document(
    did: str, active_public_keys: list[str], retired_public_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``did.json`` of an issuer (ob3-facts §7 layout).

    Active and retired keys are all verification methods listed under ``assertionMethod`` by
    their absolute ids: retired keys no longer sign but keep verifying what they signed. A
    compromised key is left out by the caller, so credentials it signed stop verifying.
    A key given as both active and retired is listed once.
    """
    _split_did_web(did)
    seen: set[str] = set()
    keys = _unique_keys(active_public_keys, seen) + _unique_keys(retired_public_keys, seen)
    methods = [_multikey_method(did, multibase) for multibase in keys]
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }
