"""The fast JSON-LD-to-RDF path (``issuer.core.fastld``): what it handles gives exactly the
reference path's answers, what it does not handle goes to the reference path, hostile input is
refused quickly."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from issuer.core import fastld
from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.fileformat import load_badge_templates
from issuer.core.canonical import (
    canonize,
    canonize_and_find_undefined_terms,
    canonize_reference,
    find_undefined_terms,
    find_undefined_terms_reference,
)
from issuer.core.contexts import (
    OB_V3,
    STATUS_V1,
    VC_V1,
    VC_V2,
    DocumentLoader,
    default_document_loader,
    make_document_loader,
)
from issuer.core.credential import build_credential, evidence_entry, issuer_profile
from issuer.core.errors import CanonicalizationError
from issuer.core.fastld.converter import canonical_double
from issuer.core.rdfc import CanonicalizationLimits
from tests.spec_files import example_contexts, read_text, require_spec_dir

ROOT = Path(__file__).resolve().parents[2]
XSD = "http://www.w3.org/2001/XMLSchema#"
OB_V3_0_0 = "https://purl.imsglobal.org/spec/ob/v3p0/context.json"


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as error:
        return (type(error).__name__, str(error))


def assert_same_as_reference(document: Any, loader: DocumentLoader | None = None) -> None:
    """The public functions give the reference path's results (or the same error)."""
    before = copy.deepcopy(document)
    assert _outcome(canonize, document, loader) == _outcome(canonize_reference, document, loader)
    assert _outcome(find_undefined_terms, document, loader) == _outcome(
        find_undefined_terms_reference, document, loader
    )
    assert document == before


def credential(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": [VC_V2, OB_V3],
        "id": "https://example.fi/credentials/1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:web:example.fi", "type": "Profile", "name": "Oppilaitos"},
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "type": "AchievementSubject",
            "achievement": {
                "id": "https://example.fi/achievements/1",
                "type": "Achievement",
                "name": "Ennakointi",
                "description": "Kuvaus",
                "criteria": {"narrative": "Kriteerit"},
            },
        },
    }
    document.update(changes)
    return document


def subject(**properties: Any) -> dict[str, Any]:
    return {"type": "AchievementSubject", **properties}


def achievement(**properties: Any) -> dict[str, Any]:
    return subject(achievement={"id": "https://example.fi/a", "type": "Achievement", **properties})


# --- Merkki's own credentials ----------------------------------------------------------------


def _merkki_credentials() -> Iterator[tuple[str, dict[str, Any]]]:
    issuer = issuer_profile(
        did="did:web:merkki.example.fi:i:hamk",
        name="Hämeen ammattikorkeakoulu",
        url="https://www.hamk.fi",
        email="info@hamk.fi",
        address={"addressCountryCode": "FI", "addressLocality": "Hämeenlinna"},
        other_identifiers=[("ext:BusinessId", "1234567-8")],
        image_url="https://merkki.example.fi/logo.png",
    )
    for badge_class in load_badge_templates(ROOT / "badge_templates"):
        for lang in ("fi", "sv", "en"):
            base = f"https://merkki.example.fi/badges/{badge_class.slug}/1"
            achievement = achievement_json(
                badge_class,
                lang=lang,
                achievement_id=f"{base}/{lang}",
                image_url=f"{base}/image.png",
                related=[
                    (other, f"{base}/{other}") for other in ("fi", "sv", "en") if other != lang
                ],
                creator_profile=issuer,
            )
            yield (
                f"{badge_class.slug}-{lang}",
                build_credential(
                    credential_id="https://merkki.example.fi/credentials/0f3c",
                    issuer=issuer,
                    achievement=achievement,
                    recipient_name='Liisa "Lii" Väänänen\\',
                    recipient_email="liisa@example.fi",
                    salt="0123456789abcdef",
                    valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                    valid_until=datetime(2028, 1, 1, tzinfo=UTC),
                    evidence=[evidence_entry(url="https://example.fi/e", narrative="- a\n- b")],
                    activity_start="2025-09-01",
                    credits_earned=2.5,
                    include_schema=True,
                ),
            )


@pytest.mark.parametrize(("name", "document"), list(_merkki_credentials()), ids=lambda v: "")
def test_merkki_credentials_take_the_fast_path(name: str, document: dict[str, Any]) -> None:
    result = fastld.convert(document)
    assert result is not None, name
    assert result.undefined == []
    assert_same_as_reference(document)


def test_one_pass_gives_both_answers() -> None:
    document = credential(favouriteColour="blue")
    canonical, undefined = canonize_and_find_undefined_terms(document)
    assert canonical == canonize_reference(document)
    assert undefined == find_undefined_terms_reference(document) == ["favouriteColour"]


def test_one_pass_falls_back_too() -> None:
    document = credential(**{"@context": [VC_V2, OB_V3, {"ex": "https://example.org/"}]})
    assert fastld.convert(document) is None
    canonical, undefined = canonize_and_find_undefined_terms(document)
    assert canonical == canonize_reference(document)
    assert undefined == []


# --- the specification files -----------------------------------------------------------------


def _spec_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    spec = require_spec_dir()
    for path in sorted([*spec.glob("samples/**/*.json"), *spec.glob("vectors/**/*.json")]):
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        for document in loaded if isinstance(loaded, list) else [loaded]:
            if isinstance(document, dict) and "@context" in document:
                name = str(path.relative_to(spec))
                yield name, document
                if "proof" in document:
                    yield (
                        name + " (unsecured)",
                        {key: value for key, value in document.items() if key != "proof"},
                    )


@pytest.mark.shared
def test_every_sample_and_vector_matches_the_reference() -> None:
    loader = make_document_loader(example_contexts())
    fast = 0
    for name, document in _spec_documents():
        for document_loader in (default_document_loader, loader):
            if fastld.convert(document, document_loader) is not None:
                fast += 1
            try:
                assert_same_as_reference(document, document_loader)
            except AssertionError:
                pytest.fail(f"{name} differs from the reference path")
    # Nearly every sample uses only the carried contexts; those must take the fast path.
    assert fast >= 150


@pytest.mark.shared
def test_w3c_vector_through_the_fast_path_with_a_test_loader() -> None:
    loader = make_document_loader(example_contexts())
    document = json.loads(
        (require_spec_dir() / "vectors/vc-di-eddsa/unsigned.json").read_text("utf-8")
    )
    assert fastld.convert(document, loader) is not None
    expected = read_text("vectors/vc-di-eddsa/eddsa-rdfc-2022/canonDocDataInt.txt")
    assert canonize(document, loader) == expected


# --- JSON-LD corners the fast path handles like PyLD ------------------------------------------

HANDLED: dict[str, dict[str, Any]] = {
    "blank node identifiers merge": credential(
        evidence=[
            {"id": "_:e1", "type": "Evidence", "name": "x"},
            {"id": "_:e1", "type": "Evidence", "narrative": "y"},
            {"id": "_:e2", "type": "Evidence", "name": {"id": "_:e1"}},
        ]
    ),
    "repeated values in an array": credential(
        credentialSubject=achievement(tag=["a", "a", "b"], name="n")
    ),
    "identical blank nodes": credential(
        credentialSubject=subject(
            identifier=[
                {"type": "IdentityObject", "identityHash": "h", "hashed": True, "salt": "s"},
                {"type": "IdentityObject", "identityHash": "h", "hashed": True, "salt": "s"},
            ]
        )
    ),
    "numbers PyLD finds equal, or not": credential(
        credentialSubject=subject(
            creditsEarned=[1, 1.0, True, "1", 0.1, -0.0, 2**60, 1e20, 10**21, 1e300],
            achievement={"id": "https://example.fi/a", "creditsAvailable": [1, 1.0, True]},
        )
    ),
    "infinity": credential(credentialSubject=subject(creditsEarned=float("inf"))),
    "typed and native booleans": credential(
        credentialSubject=subject(
            identifier=[
                {
                    "type": "IdentityObject",
                    "hashed": [True, {"@value": "true", "@type": XSD + "boolean"}, "true"],
                }
            ]
        )
    ),
    "double datatype on strings": credential(
        credentialSubject=subject(
            achievement={
                "id": "https://example.fi/a",
                "creditsAvailable": ["1.5", "abc", "1_000", " 2 ", "nan", "1e999"],
            }
        )
    ),
    "the same profile embedded twice": credential(
        issuer={
            "id": "did:web:example.fi",
            "type": "Profile",
            "name": "I",
            "address": {"type": "Address", "addressCountry": "FI"},
        },
        credentialSubject=achievement(
            creator={
                "id": "did:web:example.fi",
                "type": "Profile",
                "name": "I",
                "address": {"type": "Address", "addressCountry": "FI"},
            }
        ),
    ),
    "free-floating top-level node": {"@context": [VC_V2, OB_V3], "id": "relative"},
    "top-level node without properties": {
        "@context": [VC_V2, OB_V3],
        "id": "https://x",
        "name": None,
    },
    "no properties at all": {"@context": [VC_V2, OB_V3]},
    "null value object": credential(name={"@value": None}),
    "empty arrays and sets": credential(name=[], description={"@set": []}),
    "empty list": credential(credentialSubject=achievement(tag={"@list": []})),
    "list of strings and nodes": credential(
        credentialSubject=achievement(
            tag={"@list": ["b", "a", "b"]},
            alignment={"@list": [{"type": "Alignment", "targetName": "t"}]},
        )
    ),
    "proof chain in a graph container": credential(
        proof=[
            {
                "type": "DataIntegrityProof",
                "cryptosuite": "eddsa-rdfc-2022",
                "created": "2024-01-01T00:00:00Z",
                "verificationMethod": "did:web:example.fi#k",
                "proofPurpose": "assertionMethod",
                "proofValue": "z1",
                "id": "urn:p1",
            },
            {
                "type": "DataIntegrityProof",
                "cryptosuite": "eddsa-rdfc-2022",
                "verificationMethod": "did:web:example.fi#k",
                "proofPurpose": ["madeUp", "_:x", "https://x"],
                "proofValue": "z2",
                "previousProof": "urn:p1",
            },
        ]
    ),
    "proof as an IRI, an empty array, a null": credential(
        proof=["https://example.fi/proof", None], evidence=[]
    ),
    "proof in a set object": credential(proof={"@set": [{"type": "DataIntegrityProof"}]}),
    "language-tagged and typed value objects": credential(
        name={"@value": "Nimi", "@language": "FI-fi"},
        description={"@value": "x", "@type": "https://example.org/datatype"},
    ),
    "relative and odd ids": credential(
        evidence=[{"id": "rel", "type": "Evidence"}, {"id": "a,b:c"}, {"id": "x:y z"}],
        credentialSubject={"id": "", "type": "AchievementSubject"},
    ),
    "keyword-like keys are dropped": credential(**{"@foo": {"x": 1}, "@id2": 1}),
    "node reference only": credential(credentialSubject={"id": "https://example.fi/s"}),
    "undefined terms at every depth": credential(
        zeta={"alpha": {"beta": 1, "id": "rel2"}, "id": "rel"},
        alpha=1,
        credentialSubject=achievement(
            type=["Achievement", "Nope"],
            q={"r": [{"s": "t"}]},
            alignment=[{"type": "Alignment", "targetName": "t", "madeUp": 1}],
        ),
    ),
    "compact and absolute IRIs as keys": credential(
        **{"ex:thing": "x", "https://schema.org/name": "other", "xsd:foo": 1}
    ),
    "two keys for the same property": credential(**{"https://schema.org/description": "d"}),
    "embedded credential with its own contexts": credential(
        endorsement=[
            {
                "@context": [VC_V2, OB_V3],
                "id": "urn:e",
                "type": ["VerifiableCredential", "EndorsementCredential"],
                "issuer": "did:web:x",
                "credentialSubject": {
                    "id": "urn:s",
                    "type": "EndorsementSubject",
                    "endorsementComment": "c",
                },
            }
        ]
    ),
    "status list entry": credential(
        **{"@context": [VC_V2, OB_V3, STATUS_V1]},
        credentialStatus={
            "id": "https://s.example/1#5",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "5",
            "statusListCredential": "https://s.example/1",
        },
    ),
    "escapes in every position": credential(
        name='"\\\n\r\t\b\f\x00\x1f\x7f]]>_:b0<http://x>😀\u2028',
        credentialSubject=subject(name="\x0b", id='https://example.fi/\\"', role="@fi"),
    ),
}


@pytest.mark.parametrize("case", sorted(HANDLED))
def test_handled_corners_match_the_reference(case: str) -> None:
    document = HANDLED[case]
    assert fastld.convert(document) is not None
    assert_same_as_reference(document)


def test_undefined_terms_come_in_the_reference_order() -> None:
    terms = find_undefined_terms(HANDLED["undefined terms at every depth"])
    assert terms == find_undefined_terms_reference(HANDLED["undefined terms at every depth"])
    # Keys in sorted order at every level, as PyLD expands them.
    assert terms == [
        "alpha",
        "madeUp",
        "q",
        "r",
        "s",
        "Nope",
        "zeta",
        "beta",
        "@id 'rel2' (not an absolute IRI)",
        "@id 'rel' (not an absolute IRI)",
    ]


# --- memoized objects (the achievement and profiles of a badge class) -------------------------


def _profile(**changes: Any) -> dict[str, Any]:
    return {
        "id": "did:web:example.fi",
        "type": ["Profile"],
        "name": "Oppilaitos",
        "url": "https://example.fi",
        "email": "info@example.fi",
        "address": {"type": ["Address"], "addressCountryCode": "FI"},
        **changes,
    }


def _achievement(**changes: Any) -> dict[str, Any]:
    return {
        "id": "https://example.fi/achievements/1",
        "type": ["Achievement"],
        "name": "Ennakointi",
        "description": "Kuvaus\nrivit",
        "criteria": {"narrative": "Kriteerit"},
        "alignment": [
            {"type": ["Alignment"], "targetName": "ESCO", "targetUrl": "http://data.europa.eu/x"},
            {"type": ["Alignment"], "targetName": "EQF", "targetCode": "5"},
        ],
        "creditsAvailable": 3,
        **changes,
    }


def test_memoized_objects_give_the_reference_result_every_time() -> None:
    for recipient in ("Liisa", "Matti", "Liisa"):
        document = credential(
            issuer=_profile(),
            credentialSubject=subject(name=recipient, achievement=_achievement(creator=_profile())),
        )
        assert fastld.convert(document) is not None
        assert_same_as_reference(document)


def test_a_memoized_object_twice_in_one_document_gets_its_own_blank_nodes() -> None:
    profile = _profile(address={"type": ["Address"], "addressLocality": "Hämeenlinna"})
    document = credential(
        issuer=profile,
        credentialSubject=subject(achievement=_achievement(creator=copy.deepcopy(profile))),
    )
    assert_same_as_reference(document)
    assert_same_as_reference(document)  # both from the memo now


def test_memoized_objects_follow_their_context_and_content() -> None:
    achievement = _achievement()
    for ob in ("context-3.0.3.json", "context-3.0.2.json"):
        document = credential(
            **{"@context": [VC_V2, "https://purl.imsglobal.org/spec/ob/v3p0/" + ob]},
            credentialSubject=subject(achievement=achievement),
        )
        assert_same_as_reference(document)
    # Equal for Python, not for JSON-LD: 1, 1.0 and true are three different literals.
    for credits in (1, 1.0, True, "1"):
        achievement["creditsAvailable"] = credits
        assert_same_as_reference(credential(credentialSubject=subject(achievement=achievement)))
    # Changed in place after being memoized.
    achievement["name"] = "Toinen nimi"
    document = credential(credentialSubject=subject(achievement=achievement))
    assert '"Toinen nimi"' in canonize(document)
    assert_same_as_reference(document)


def test_memoized_verdicts_are_replayed_in_order() -> None:
    achievement = _achievement(favouriteColour="blue", criteria={"narrative": "n", "shoe": 1})
    for _ in range(2):
        document = credential(
            aardvark=1,
            favouriteColour="red",
            credentialSubject=subject(achievement=achievement, zebra=2),
        )
        assert_same_as_reference(document)
        # Keys sorted at every level; a name is reported where it is first met.
        assert find_undefined_terms(document) == [
            "aardvark",
            "shoe",
            "favouriteColour",
            "zebra",
        ]


def test_memoized_objects_are_checked_for_nesting_where_they_are_used() -> None:
    deep_achievement = _achievement(criteria=_deep(8)["credentialSubject"])
    shallow = credential(credentialSubject=subject(achievement=deep_achievement))
    assert_same_as_reference(shallow)
    node: dict[str, Any] = subject(achievement=deep_achievement)
    for _ in range(56):  # the memoized achievement now ends deeper than 64 levels
        node = {"description": node}
    deep = credential(credentialSubject=node)
    with pytest.raises(CanonicalizationError, match="nesting deeper than 64"):
        canonize(deep)
    assert_same_as_reference(deep)


def test_objects_with_blank_node_identifiers_are_not_memoized() -> None:
    achievement = _achievement(
        alignment=[{"id": "_:a", "type": ["Alignment"], "targetName": "x"}], related={"id": "_:a"}
    )
    for _ in range(2):
        document = credential(
            evidence=[{"id": "_:a", "type": "Evidence", "name": "e"}],
            credentialSubject=subject(achievement=achievement),
        )
        assert_same_as_reference(document)


# --- what falls back to the reference path ---------------------------------------------------

FALLBACK: dict[str, Any] = {
    "embedded context object": credential(
        **{"@context": [VC_V2, OB_V3, {"ex": "https://example.org/"}], "ex:foo": "x"}
    ),
    "embedded context in a nested node": credential(
        endorsement=[{"@context": [VC_V2, OB_V3, {"x": "https://x/"}], "id": "urn:e"}]
    ),
    "@graph": {"@context": [VC_V2, OB_V3], "@graph": [{"id": "https://x", "name": "n"}]},
    "@included": credential(**{"@included": [{"id": "https://x", "name": "y"}]}),
    "@reverse": credential(**{"@reverse": {"https://ex/p": {"id": "https://x"}}}),
    "@nest": credential(
        **{"@context": [VC_V2, OB_V3, {"labels": "@nest"}], "labels": {"description": "d"}}
    ),
    "@index container": credential(
        **{
            "@context": [VC_V2, OB_V3, {"p": {"@id": "https://ex/p", "@container": "@index"}}],
            "p": {"a": "x"},
        }
    ),
    "language map": credential(
        **{
            "@context": [VC_V2, OB_V3, {"l": {"@id": "https://ex/l", "@container": "@language"}}],
            "l": {"fi": "x", "sv": "y"},
        }
    ),
    "JSON literal": {
        "@context": [VC_V2],
        "type": ["VerifiableCredential", "JsonSchemaCredential"],
        "credentialSubject": {"type": "JsonSchema", "jsonSchema": {"b": [1, 2], "a": None}},
    },
    "base direction": credential(name={"@value": "x", "@direction": "rtl"}),
    "list of lists": credential(credentialSubject=achievement(tag={"@list": [{"@list": ["a"]}]})),
    "blank node type": credential(type=["VerifiableCredential", "_:t"]),
    "datatype that is not an IRI": credential(name={"@value": "x", "@type": "dt"}),
    "type that is not a string": credential(type=[1]),
    "null type": credential(type=None),
    "id that is not a string": credential(id=5),
    "relative IRI in a list": credential(
        credentialSubject=achievement(tag={"@list": [{"id": "rel"}]})
    ),
    "NaN": credential(credentialSubject=subject(creditsEarned=float("nan"))),
    "integer beyond the double range": credential(credentialSubject=subject(creditsEarned=10**400)),
    "non-JSON value": credential(name={1, 2}),
    "unknown context": credential(**{"@context": [VC_V2, "https://evil.example/ctx"]}),
    "no context": {"id": "https://x", "name": "n"},
    "top-level array": [credential()],
    "a key that is not a string": {**credential(), 1: "x"},
    # OB 3.0.0 maps an Achievement's "creator" to the class IRI "Profile" stands for.
    "two keys that expand to the same IRI": {
        **credential(
            credentialSubject=achievement(
                creator={"id": "https://example.fi/c", "type": ["Profile"]}, Profile="x"
            )
        ),
        "@context": [VC_V1, OB_V3_0_0],
    },
}


@pytest.mark.parametrize("case", sorted(FALLBACK))
def test_unsupported_documents_go_to_the_reference_path(case: str) -> None:
    document = FALLBACK[case]
    assert fastld.convert(document) is None
    assert_same_as_reference(document)


def test_fallback_documents_still_canonicalize() -> None:
    document = FALLBACK["embedded context object"]
    nquads = canonize(document)
    assert '<https://example.org/foo> "x" .' in nquads
    assert nquads == canonize_reference(document)


def test_relative_iri_in_a_list_is_an_error_not_a_crash() -> None:
    with pytest.raises(CanonicalizationError, match="list holds an IRI that is not absolute"):
        canonize(FALLBACK["relative IRI in a list"])


# --- literals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [0.1, -0.0, 1e20, 1e21, 1.5e-300, 123456789.125, 2.0**70, float("inf"), 10**21]
)
def test_canonical_double_is_pyld_s(value: float) -> None:
    from pyld.jsonld import _canonicalize_double

    assert canonical_double(value) == _canonicalize_double(value)


# --- hostile input ---------------------------------------------------------------------------


def _clique(size: int) -> dict[str, Any]:
    # Blank nodes that all look alike and all link to each other (RDFC-1.0 §A).
    return credential(
        evidence=[
            {
                "id": f"_:n{i}",
                "type": "Evidence",
                "name": [{"id": f"_:n{j}"} for j in range(size) if j != i],
            }
            for i in range(size)
        ]
    )


def _ring(size: int) -> dict[str, Any]:
    return credential(
        evidence=[
            {"id": f"_:n{i}", "type": "Evidence", "name": {"id": f"_:n{(i + 1) % size}"}}
            for i in range(size)
        ]
    )


def _identified_nest(levels: int, payload: Any) -> dict[str, Any]:
    # Objects the memo would consider (an id, six keys), each around the next, around a huge
    # array: refused by the limits before anything serializes the whole.
    node: dict[str, Any] = {"id": "https://x/0", "type": "Achievement", "tag": payload}
    for level in range(levels):
        node = {
            "id": f"https://x/{level}",
            "type": "Achievement",
            "name": "n",
            "description": "d",
            "achievementType": "Badge",
            "creator": {"id": f"https://p/{level}", "type": "Profile", "name": "p"},
            "criteria": {"narrative": "c"},
            "related": node,
        }
    return achievement(related=node)


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"name": "x"}
    for _ in range(levels):
        node = {"description": node}
    return credential(credentialSubject=node)


HOSTILE: dict[str, tuple[Any, str]] = {
    "clique of 8": (_clique(8), "refused: too"),
    "clique of 60": (_clique(60), "refused: too many blank-node permutations"),
    "ring of 1000": (_ring(1000), "refused: too much blank-node hashing work"),
    "huge array": (credential(name=[f"n{i}" for i in range(100_000)]), "refused: the document"),
    "many nodes": (
        credential(evidence=[{"type": "Evidence", "name": f"e{i}"} for i in range(50_000)]),
        "refused: the document",
    ),
    "a million nulls": (credential(name=[None] * 1_000_000), "more than 20000 JSON values"),
    "nested identified objects around a huge array": (
        credential(credentialSubject=_identified_nest(40, [f"t{i}" for i in range(200_000)])),
        "more than 20000 JSON values",
    ),
    "deep nesting": (_deep(1000), "nesting deeper than 64"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_refused_quickly(case: str) -> None:
    document, message = HOSTILE[case]
    started = time.thread_time()
    with pytest.raises(CanonicalizationError, match=message):
        canonize(document)
    # The limits are set for well under 100 ms of processor time; this bound holds on a slow
    # machine too.
    assert time.thread_time() - started < 0.5


def test_deep_nesting_message_is_the_reference_path_s() -> None:
    document = _deep(100)
    assert _outcome(canonize, document) == _outcome(canonize_reference, document)
    assert _outcome(find_undefined_terms, document) == _outcome(
        find_undefined_terms_reference, document
    )


def test_nesting_just_within_the_limit_is_accepted() -> None:
    document = _deep(61)
    assert fastld.convert(document) is not None
    assert_same_as_reference(document)


def test_undefined_term_check_refuses_huge_documents_too() -> None:
    with pytest.raises(CanonicalizationError, match="JSON values"):
        find_undefined_terms(credential(name=[None] * 100_000))


def test_limits_are_the_callers() -> None:
    limits = CanonicalizationLimits(max_quads=10)
    with pytest.raises(CanonicalizationError, match="more quads than the limit of 10"):
        canonize(credential(), limits=limits)
    with pytest.raises(CanonicalizationError, match="more than 5 JSON values"):
        canonize(credential(), limits=CanonicalizationLimits(max_values=5))


# --- sharing ---------------------------------------------------------------------------------


def test_threads_share_the_compiled_contexts() -> None:
    documents = [document for _, document in list(_merkki_credentials())[:6]]
    expected = [canonize_reference(document) for document in documents]
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            for document, nquads in zip(documents, expected, strict=True):
                if canonize(document) != nquads:
                    failures.append("differs")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_custom_loaders_get_their_own_compiled_contexts() -> None:
    # The same URL served differently by two loaders must not share compiled contexts.
    url = "https://example.org/ctx"
    first = make_document_loader({url: {"@context": {"name": "https://example.org/a#name"}}})
    second = make_document_loader({url: {"@context": {"name": "https://example.org/b#name"}}})
    document = {"@context": url, "id": "https://x", "name": "n"}
    first_nquads = canonize(document, first)
    assert "example.org/a#name" in first_nquads
    assert first_nquads == canonize_reference(document, first)
    # PyLD caches resolved contexts by URL across loaders; the fast path must at least agree
    # with it for every loader.
    assert canonize(document, second) == canonize_reference(document, second)
