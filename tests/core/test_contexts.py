"""The carried context documents define every term exactly as the official ones do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyld import jsonld

from issuer.core.contexts import (
    CONTEXT_FILES,
    VC_API_CONTEXT_FILES,
    VOCAB_CONTEXTS,
    get_context,
    make_document_loader,
    vc_api_document_loader,
)
from issuer.core.errors import DocumentLoaderError
from tests.spec_files import load_json


def _official_index() -> dict[str, Any]:
    index: dict[str, Any] = load_json("contexts/INDEX.json")["contexts"]
    return index


@pytest.mark.parametrize("url", sorted(CONTEXT_FILES))
def test_carried_context_equals_official(url: str) -> None:
    official = load_json("contexts/" + _official_index()[url]["file"])
    assert get_context(url) == official


@pytest.mark.parametrize("url", sorted(CONTEXT_FILES))
def test_carried_context_processes_like_official(url: str) -> None:
    # Equal JSON already implies equal meaning; processing both through a JSON-LD processor
    # guards against a carried file that parses but is not a usable context.
    official = load_json("contexts/" + _official_index()[url]["file"])
    probe = {"@context": url, "@id": "urn:example:x"}
    ours = jsonld.expand(probe, {"documentLoader": make_document_loader()})
    theirs = jsonld.expand(probe, {"documentLoader": make_document_loader({url: official})})
    assert ours == theirs


def test_product_carries_every_context_it_emits() -> None:
    for url in (
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ):
        assert url in CONTEXT_FILES


def test_loader_refuses_unknown_urls_without_network() -> None:
    loader = make_document_loader()
    with pytest.raises(DocumentLoaderError, match="not available offline"):
        loader("https://example.com/evil-context.json", {})


def test_carried_files_are_not_byte_copies_of_vectors() -> None:
    # Contexts are carried as the product's own files, serialized by us.
    text = json.dumps(get_context("https://www.w3.org/ns/credentials/v2"))
    assert "@protected" in text


@pytest.mark.parametrize("url", sorted(VC_API_CONTEXT_FILES))
def test_vc_api_context_equals_official_and_is_only_its_own(url: str) -> None:
    official = load_json("contexts/" + _official_index()[url]["file"])
    loaded = vc_api_document_loader()(url, {})
    assert loaded["document"] == official
    # Only the VC-API verifier carries it: the service's own loader still refuses it.
    assert url not in CONTEXT_FILES
    with pytest.raises(DocumentLoaderError):
        get_context(url)


def test_vocab_contexts_are_the_only_carried_contexts_with_a_vocab() -> None:
    # ``verifier._vocab_covers_terms`` relies on no other carried context setting @vocab.
    for url, name in {**CONTEXT_FILES, **VC_API_CONTEXT_FILES}.items():
        document = vc_api_document_loader()(url, {})["document"]
        has_vocab = "@vocab" in json.dumps(document).replace('"@type": "@vocab"', "")
        assert has_vocab is (url in VOCAB_CONTEXTS), (url, name)
