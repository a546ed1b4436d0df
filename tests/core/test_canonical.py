"""Canonicalization (RDFC-1.0) of JSON-LD documents, and the undefined-term guard."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from issuer.core.canonical import assert_all_terms_defined, canonize, find_undefined_terms
from issuer.core.contexts import make_document_loader
from issuer.core.errors import CanonicalizationError, DocumentLoaderError, UndefinedTermError
from tests.spec_files import example_contexts, load_json, read_text


def test_w3c_vector_document_canonical_form() -> None:
    loader = make_document_loader(example_contexts())
    document = load_json("vectors/vc-di-eddsa/unsigned.json")
    expected = read_text("vectors/vc-di-eddsa/eddsa-rdfc-2022/canonDocDataInt.txt")
    assert canonize(document, loader) == expected


def test_1edtech_vector_document_canonical_form() -> None:
    document = load_json("vectors/ob3-1edtech-impl-guide/unsigned.json")
    expected = read_text("vectors/ob3-1edtech-impl-guide/document-canon.nq")
    assert canonize(document) == expected


def test_no_base_iri_is_invented_for_relative_ids() -> None:
    document = {
        "@context": {"@vocab": "https://example.org/vocab#"},
        "@id": "relative/thing",
        "name": "x",
    }
    nquads = canonize(document)
    assert "example.org/base" not in nquads
    # The relative subject cannot become an RDF statement at all.
    assert nquads == ""


def test_unknown_context_is_an_error_not_a_fetch() -> None:
    document = {"@context": "https://example.com/ctx.json", "name": "x"}
    with pytest.raises(DocumentLoaderError, match=r"example\.com/ctx\.json"):
        canonize(document)


def test_invalid_jsonld_gives_canonicalization_error() -> None:
    document = {"@context": {"@version": 99}, "a": 1}
    with pytest.raises(CanonicalizationError, match="not valid JSON-LD"):
        canonize(document)


def test_deep_nesting_refused() -> None:
    node: dict[str, Any] = {"name": "leaf"}
    for _ in range(200):
        node = {"name": "n", "description": node}
    document = {"@context": ["https://www.w3.org/ns/credentials/v2"], **node}
    with pytest.raises(CanonicalizationError, match="nesting"):
        canonize(document)


def _ob_unsigned() -> dict[str, Any]:
    document: dict[str, Any] = load_json("vectors/ob3-1edtech-impl-guide/unsigned.json")
    return document


def test_defined_document_has_no_undefined_terms() -> None:
    assert find_undefined_terms(_ob_unsigned()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(favouriteColour="blue"), "favouriteColour"),
        (lambda d: d["credentialSubject"].update(shoeSize=42), "shoeSize"),
        (lambda d: d["credentialSubject"]["achievement"].update(secretNote="x"), "secretNote"),
        (lambda d: d["credentialSubject"]["type"].append("MadeUpSubject"), "MadeUpSubject"),
    ],
)
def test_undefined_terms_are_named(mutate: Any, expected: str) -> None:
    document = _ob_unsigned()
    mutate(document)
    assert expected in find_undefined_terms(document)
    with pytest.raises(UndefinedTermError, match=expected):
        assert_all_terms_defined(document)


def test_relative_id_is_reported() -> None:
    document = _ob_unsigned()
    document["credentialSubject"]["achievement"]["id"] = "achievements/1"
    assert any("achievements/1" in term for term in find_undefined_terms(document))


def test_undefined_term_check_does_not_mutate_input() -> None:
    document = _ob_unsigned()
    before = copy.deepcopy(document)
    find_undefined_terms(document)
    assert document == before
