"""Texts made once per batch and completed per credential must equal what the one-by-one path
makes: the signed JSON spliced around the shared achievement and profile
(``credential_json.serialize_reusing``), and the learner's mail with marks (``mail_template``)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.services import credential_json

PATHS = (("issuer",), ("credentialSubject", "achievement"))

# Every character JSON escapes or writes raw, line breaks, the marks' private-use character.
_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from('\ue000\n"\\'),
    max_size=30,
)
_leaves = st.none() | st.booleans() | st.integers() | _texts
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A credential-shaped document: shared parts at the two paths, anything around them."""
    subject = draw(st.dictionaries(_texts, _values, max_size=4))
    subject["achievement"] = draw(st.dictionaries(_texts, _values, max_size=5))
    document = draw(st.dictionaries(_texts, _values, max_size=4))
    document["issuer"] = draw(st.dictionaries(_texts, _values, max_size=5))
    document["credentialSubject"] = subject
    document.update(draw(st.dictionaries(_texts, _values, max_size=3)))
    return document


def _spliced(document: dict[str, Any]) -> str:
    texts = {
        ("issuer",): credential_json.serialize(document["issuer"]),
        ("credentialSubject", "achievement"): credential_json.serialize(
            document["credentialSubject"]["achievement"]
        ),
    }
    return credential_json.serialize_reusing(document, texts)


def _dumps(value: Any) -> str:
    """What credentials have always been stored as."""
    return json.dumps(value, ensure_ascii=False, indent=2)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_spliced_text_is_byte_for_byte_the_plain_serialization(document: dict[str, Any]) -> None:
    assert _spliced(document) == credential_json.serialize(document) == _dumps(document)


# Anything json.dumps takes: floats (NaN, infinities), tuples, keys that are not strings.
_anything = st.recursive(
    _leaves | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_texts | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_texts, _anything, max_size=5))
def test_serialize_writes_what_json_dumps_writes(document: dict[str, Any]) -> None:
    assert credential_json.serialize(document) == _dumps(document)


def test_a_credential_with_nested_shared_parts() -> None:
    achievement = {
        "id": "https://x.example/a",
        "type": ["Achievement"],
        "criteria": {"narrative": 'Rivi 1\nRivi 2 "lainaus" \\ ä'},
        "alignment": [{"targetName": "ESCO", "targetType": ["ext:ESCO"]}, {}],
        "empty": [],
    }
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "issuer": {"id": "did:web:x", "name": "Hämeen ammattikorkeakoulu", "address": {}},
        "credentialSubject": {"name": "Väinö \u2028 Öhman", "achievement": achievement},
        "proof": [{"proofValue": "z123"}],
    }
    assert _spliced(document) == credential_json.serialize(document) == _dumps(document)
    assert json.loads(_spliced(document)) == document


def test_a_document_holding_the_mark_itself_is_serialized_plainly() -> None:
    """Whatever the document holds, the output is its serialization: a value that happens to
    hold a mark makes the splice fall back to the plain path."""
    mark = f"{credential_json._MARK}0\ue000"
    document = {
        "issuer": {"name": "A"},
        "credentialSubject": {"name": mark, "achievement": {"name": "B"}},
    }
    assert _spliced(document) == _dumps(document)
