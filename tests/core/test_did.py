"""did:key and did:web identifiers, DID documents, and key resolution for verification."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.did import (
    DidError,
    did_key_document,
    did_key_for,
    did_key_verification_method,
    did_web_document,
    did_web_for,
    did_web_to_url,
    verification_method_id,
)
from issuer.core.errors import KeyError_
from issuer.core.multikey import encode_public_key, public_key_bytes
from issuer.core.resolver import (
    ChainResolver,
    DidKeyResolver,
    DidWebResolver,
    FragmentMultikeyResolver,
    ResolutionError,
    ResolvedKey,
    standard_resolver,
)


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


KEY_A = encode_public_key(_key(1).public_key())
KEY_B = encode_public_key(_key(2).public_key())
KEY_C = encode_public_key(_key(3).public_key())
WEB_DID = "did:web:merkki.example.fi:issuers:hamk"


# --- did:key -------------------------------------------------------------------------------


def test_did_key() -> None:
    did = did_key_for(_key(1).public_key())
    assert did == "did:key:" + KEY_A
    assert did.startswith("did:key:z6Mk")
    assert did_key_verification_method(did) == f"{did}#{KEY_A}"


def test_did_key_document() -> None:
    did = "did:key:" + KEY_A
    method_id = f"{did}#{KEY_A}"
    assert did_key_document(did) == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": method_id, "type": "Multikey", "controller": did, "publicKeyMultibase": KEY_A}
        ],
        "authentication": [method_id],
        "assertionMethod": [method_id],
        "capabilityDelegation": [method_id],
        "capabilityInvocation": [method_id],
    }


@pytest.mark.parametrize("did", ["did:web:example.com", "did:key:", "did:key:zQ3s", "did:key:x"])
def test_bad_did_key(did: str) -> None:
    with pytest.raises(DidError):
        did_key_verification_method(did)


# --- did:web -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "slug", "expected"),
    [
        ("https://merkki.example.fi", "hamk", "did:web:merkki.example.fi:issuers:hamk"),
        ("https://merkki.example.fi/", "hamk", "did:web:merkki.example.fi:issuers:hamk"),
        ("http://127.0.0.1:5000", "demo", "did:web:127.0.0.1%3A5000:issuers:demo"),
        ("http://localhost:8080/", "demo", "did:web:localhost%3A8080:issuers:demo"),
        ("https://Example.COM/merkki", "x", "did:web:example.com:merkki:issuers:x"),
        ("https://example.com/a/b/", "x_1.y", "did:web:example.com:a:b:issuers:x_1.y"),
        ("https://example.com:8443/badges", "t", "did:web:example.com%3A8443:badges:issuers:t"),
    ],
)
def test_did_web_for(base_url: str, slug: str, expected: str) -> None:
    assert did_web_for(base_url, slug) == expected


@pytest.mark.parametrize(
    ("base_url", "slug", "message"),
    [
        ("ftp://example.com", "x", "must be http"),
        ("example.com", "x", "must be http"),
        ("https://user:pw@example.com", "x", "credentials"),
        ("https://example.com/?a=1", "x", "query or fragment"),
        ("https://example.com/#top", "x", "query or fragment"),
        ("https://[::1]:5000", "x", "no host that did:web can express"),
        ("https://", "x", "no host"),
        ("https://exa_mple.com", "x", "no host"),
        ("https://example.com:99999", "x", "invalid base URL"),
        ("https://example.com/a:b", "x", "not allowed"),
        ("https://example.com/..", "x", "not allowed"),
        ("https://example.com", "../x", "invalid issuer slug"),
        ("https://example.com", "a/b", "invalid issuer slug"),
        ("https://example.com", "a:b", "invalid issuer slug"),
        ("https://example.com", "", "invalid issuer slug"),
        ("https://example.com", "ä", "invalid issuer slug"),
    ],
)
def test_did_web_for_errors(base_url: str, slug: str, message: str) -> None:
    with pytest.raises(DidError, match=message):
        did_web_for(base_url, slug)


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com", "https://example.com/.well-known/did.json"),
        ("did:web:example.com:issuers:a", "https://example.com/issuers/a/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:127.0.0.1%3A5000:issuers:demo", "https://127.0.0.1:5000/issuers/demo/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com:a%20b", "https://example.com/a%20b/did.json"),
    ],
)
def test_did_web_to_url(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(
    "base_url", ["https://merkki.example.fi", "http://127.0.0.1:5000", "https://e.fi:444/x/y"]
)
def test_did_web_round_trip(base_url: str) -> None:
    did = did_web_for(base_url, "demo")
    authority_and_path = base_url.split("://", 1)[1]
    assert did_web_to_url(did) == f"https://{authority_and_path}/issuers/demo/did.json"


@pytest.mark.parametrize(
    ("did", "message"),
    [
        ("did:web:", "valid host"),
        ("did:key:" + KEY_A, "not a did:web"),
        ("did:web:exa mple.com", "valid host"),
        ("did:web:example.com:..:secret", "not allowed"),
        ("did:web:example.com:%2e%2e", "not allowed"),
        ("did:web:example.com:a%2Fb", "not allowed"),
        ("did:web:example.com::x", "not allowed"),
        ("did:web:example.com:", "not allowed"),
        ("did:web:example.com%3A99999", "invalid port"),
        ("did:web:example.com%3A", "invalid port"),
        ("did:web:example.com%3Aabc", "invalid port"),
        ("did:web:example.com#key-1", "DID URL"),
        ("did:web:example.com/path", "DID URL"),
        ("did:web:example.com?x=1", "DID URL"),
        ("did:web:" + "a" * 3000, "too long"),
    ],
)
def test_did_web_to_url_errors(did: str, message: str) -> None:
    with pytest.raises(DidError, match=message):
        did_web_to_url(did)


def test_did_web_document_layout() -> None:
    document = did_web_document(WEB_DID, [KEY_A], [KEY_B])
    assert document == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": WEB_DID,
        "verificationMethod": [
            {
                "id": f"{WEB_DID}#{KEY_A}",
                "type": "Multikey",
                "controller": WEB_DID,
                "publicKeyMultibase": KEY_A,
            },
            {
                "id": f"{WEB_DID}#{KEY_B}",
                "type": "Multikey",
                "controller": WEB_DID,
                "publicKeyMultibase": KEY_B,
            },
        ],
        "assertionMethod": [f"{WEB_DID}#{KEY_A}", f"{WEB_DID}#{KEY_B}"],
    }
    assert verification_method_id(WEB_DID, KEY_A) == f"{WEB_DID}#{KEY_A}"


def test_did_web_document_lists_a_key_once() -> None:
    document = did_web_document(WEB_DID, [KEY_A, KEY_A], [KEY_A, KEY_B])
    assert document["assertionMethod"] == [f"{WEB_DID}#{KEY_A}", f"{WEB_DID}#{KEY_B}"]


def test_did_web_document_refuses_bad_input() -> None:
    with pytest.raises(KeyError_, match="does not start with the multibase prefix"):
        did_web_document(WEB_DID, ["not-a-key"])
    with pytest.raises(DidError, match="not a did:web"):
        did_web_document("did:key:" + KEY_A, [KEY_A])


# --- resolvers -----------------------------------------------------------------------------


def _lookup(documents: dict[str, dict[str, Any]]) -> Any:
    def fetch(url: str) -> dict[str, Any]:
        if url not in documents:
            raise LookupError(f"404 for {url}")
        return documents[url]

    return fetch


def _web_resolver(document: dict[str, Any]) -> DidWebResolver:
    return DidWebResolver(_lookup({did_web_to_url(WEB_DID): document}))


def _same_key(resolved: ResolvedKey, seed: int) -> bool:
    return public_key_bytes(resolved.public_key) == public_key_bytes(_key(seed).public_key())


@pytest.mark.parametrize("method_id", ["did:key:" + KEY_A, f"did:key:{KEY_A}#{KEY_A}"])
def test_did_key_resolver(method_id: str) -> None:
    resolved = DidKeyResolver().resolve(method_id)
    assert resolved.method_id == f"did:key:{KEY_A}#{KEY_A}"
    assert resolved.controller == "did:key:" + KEY_A
    assert "assertionMethod" in resolved.purposes
    assert _same_key(resolved, 1)


@pytest.mark.parametrize(
    ("method_id", "message"),
    [
        (f"did:key:{KEY_A}#{KEY_B}", "fragment must repeat the key"),
        ("did:key:z6Mk#z6Mk", "does not hold an Ed25519 key"),
        ("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", "0x8024"),
        ("did:web:example.com#" + KEY_A, "unsupported verification method"),
    ],
)
def test_did_key_resolver_errors(method_id: str, message: str) -> None:
    with pytest.raises(ResolutionError, match=message) as caught:
        DidKeyResolver().resolve(method_id)
    assert caught.value.code == "key_resolution_failed"


def test_fragment_multikey_resolver() -> None:
    method_id = "https://example.edu/issuers/565049#" + KEY_A
    resolver = FragmentMultikeyResolver()
    assert resolver.supports(method_id)
    resolved = resolver.resolve(method_id)
    assert resolved.controller == "https://example.edu/issuers/565049"
    assert resolved.method_id == method_id
    assert resolved.purposes == frozenset({"assertionMethod"})
    assert _same_key(resolved, 1)


@pytest.mark.parametrize(
    "method_id",
    [
        f"{WEB_DID}#{KEY_A}",  # a did:web must be checked against its DID document
        f"did:key:{KEY_A}#{KEY_A}",
        "https://example.edu/issuers/565049",
        "https://example.edu/issuers/565049#key-1",
        "urn:uuid:1234#" + KEY_A,
        "https:///no-host#" + KEY_A,
    ],
)
def test_fragment_multikey_resolver_does_not_claim_other_forms(method_id: str) -> None:
    assert not FragmentMultikeyResolver().supports(method_id)
    with pytest.raises(ResolutionError, match="unsupported verification method"):
        FragmentMultikeyResolver().resolve(method_id)


def test_fragment_multikey_resolver_bad_key() -> None:
    with pytest.raises(ResolutionError, match="not valid base58btc"):
        FragmentMultikeyResolver().resolve("https://example.edu/i#z0000")


def test_did_web_resolver_with_our_document() -> None:
    resolver = _web_resolver(did_web_document(WEB_DID, [KEY_A], [KEY_B]))
    active = resolver.resolve(f"{WEB_DID}#{KEY_A}")
    retired = resolver.resolve(f"{WEB_DID}#{KEY_B}")
    assert active.controller == WEB_DID
    assert active.purposes == frozenset({"assertionMethod"})
    assert _same_key(active, 1)
    assert _same_key(retired, 2)


def _document(**changes: Any) -> dict[str, Any]:
    document = did_web_document(WEB_DID, [KEY_A])
    document.update(changes)
    return document


def test_did_web_resolver_relative_ids_and_legacy_key_type() -> None:
    document = _document(
        verificationMethod=[
            {
                "id": "#key-1",
                "type": "Ed25519VerificationKey2020",
                "controller": WEB_DID,
                "publicKeyMultibase": KEY_C,
            }
        ],
        assertionMethod=["#key-1"],
        authentication=[f"{WEB_DID}#key-1"],
    )
    resolved = _web_resolver(document).resolve(f"{WEB_DID}#key-1")
    assert resolved.purposes == frozenset({"assertionMethod", "authentication"})
    assert _same_key(resolved, 3)


def test_did_web_resolver_embedded_assertion_method() -> None:
    method = {
        "id": f"{WEB_DID}#k",
        "type": "Multikey",
        "controller": WEB_DID,
        "publicKeyMultibase": KEY_B,
    }
    document = _document(verificationMethod=[], assertionMethod=[method])
    resolved = _web_resolver(document).resolve(f"{WEB_DID}#k")
    assert resolved.purposes == frozenset({"assertionMethod"})
    assert _same_key(resolved, 2)


def _with_method(**changes: Any) -> dict[str, Any]:
    document = _document()
    document["verificationMethod"][0].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "method_id", "message"),
    [
        (_document(id="did:web:evil.example"), f"{WEB_DID}#{KEY_A}", "has id 'did:web:evil"),
        (_document(), f"{WEB_DID}#{KEY_B}", "is not in the DID document"),
        (_document(), WEB_DID, "has no fragment"),
        (_document(assertionMethod=[]), f"{WEB_DID}#{KEY_A}", "not listed under assertionMethod"),
        (
            _document(assertionMethod=[], authentication=[f"{WEB_DID}#{KEY_A}"]),
            f"{WEB_DID}#{KEY_A}",
            "not listed under assertionMethod",
        ),
        (_with_method(type="JsonWebKey2020"), f"{WEB_DID}#{KEY_A}", "type 'JsonWebKey2020'"),
        (_with_method(publicKeyMultibase=None), f"{WEB_DID}#{KEY_A}", "not a string"),
        (_with_method(publicKeyMultibase="zQ3s"), f"{WEB_DID}#{KEY_A}", "multicodec header"),
        (_with_method(controller="did:web:evil.example"), f"{WEB_DID}#{KEY_A}", "controller"),
        (_document(verificationMethod="garbage"), f"{WEB_DID}#{KEY_A}", "not in the DID doc"),
    ],
)
def test_did_web_resolver_errors(document: dict[str, Any], method_id: str, message: str) -> None:
    with pytest.raises(ResolutionError, match=message):
        _web_resolver(document).resolve(method_id)


def test_did_web_resolver_without_a_publickeymultibase() -> None:
    document = _document()
    del document["verificationMethod"][0]["publicKeyMultibase"]
    with pytest.raises(ResolutionError, match="has no publicKeyMultibase"):
        _web_resolver(document).resolve(f"{WEB_DID}#{KEY_A}")


def test_did_web_resolver_reports_purposes_when_not_requiring_one() -> None:
    document = _document(assertionMethod=[], authentication=[f"{WEB_DID}#{KEY_A}"])
    resolver = DidWebResolver(_lookup({did_web_to_url(WEB_DID): document}), required_purpose=None)
    assert resolver.resolve(f"{WEB_DID}#{KEY_A}").purposes == frozenset({"authentication"})


@pytest.mark.parametrize(
    ("fetch_result", "message"),
    [
        (LookupError("404"), "cannot fetch DID document https://merkki.example.fi/issuers/hamk"),
        (["not", "an", "object"], "is not a JSON object"),
        (None, "is not a JSON object"),
    ],
)
def test_did_web_resolver_fetch_problems(fetch_result: object, message: str) -> None:
    def fetch(url: str) -> Any:
        if isinstance(fetch_result, Exception):
            raise fetch_result
        return fetch_result

    with pytest.raises(ResolutionError, match=message):
        DidWebResolver(fetch).resolve(f"{WEB_DID}#{KEY_A}")


def test_did_web_resolver_invalid_did() -> None:
    with pytest.raises(ResolutionError, match="not allowed"):
        _web_resolver(_document()).resolve(f"did:web:example.com:..:x#{KEY_A}")


def test_chain_resolver_picks_the_supporting_resolver() -> None:
    chain = ChainResolver(
        [DidKeyResolver(), FragmentMultikeyResolver(), _web_resolver(_document())]
    )
    assert chain.resolve("did:key:" + KEY_B).controller == "did:key:" + KEY_B
    assert chain.resolve(f"{WEB_DID}#{KEY_A}").controller == WEB_DID
    assert chain.resolve("https://e.fi/i#" + KEY_C).controller == "https://e.fi/i"


def test_chain_resolver_falls_through_to_the_next_supporting_resolver() -> None:
    empty = DidWebResolver(_lookup({}))
    chain = ChainResolver([empty, _web_resolver(_document())])
    assert chain.resolve(f"{WEB_DID}#{KEY_A}").controller == WEB_DID
    with pytest.raises(ResolutionError, match=r"cannot fetch.*; .*is not in the DID document"):
        chain.resolve(f"{WEB_DID}#{KEY_B}")


@pytest.mark.parametrize(
    "method_id",
    ["urn:uuid:1234", "did:example:123#key-1", "did:ion:abc#k", "https://e.fi/keys/1", "x"],
)
def test_unsupported_verification_methods(method_id: str) -> None:
    with pytest.raises(ResolutionError, match="unsupported verification method"):
        standard_resolver(_lookup({})).resolve(method_id)


@pytest.mark.parametrize("method_id", [None, "", 12, "did:key:" + "z" * 3000])
def test_resolvers_refuse_non_identifiers(method_id: object) -> None:
    for resolver in (standard_resolver(), DidKeyResolver(), DidWebResolver(_lookup({}))):
        with pytest.raises(ResolutionError):
            resolver.resolve(method_id)  # type: ignore[arg-type]


def test_standard_resolver_without_did_web_fetch() -> None:
    with pytest.raises(ResolutionError, match="unsupported verification method"):
        standard_resolver().resolve(f"{WEB_DID}#{KEY_A}")


def test_resolution_does_not_modify_the_document() -> None:
    document = did_web_document(WEB_DID, [KEY_A])
    before = copy.deepcopy(document)
    _web_resolver(document).resolve(f"{WEB_DID}#{KEY_A}")
    assert document == before
