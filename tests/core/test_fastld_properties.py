"""The fast JSON-LD-to-RDF path against the reference path on generated OB 3.0 credentials.

Hypothesis builds credentials the way issuers in the wild do (every optional property of the
OB 3.0 data model here and there, single values and arrays, nested profiles, embedded
endorsements with their own ``@context``, proofs, numbers, booleans, dates, ``@set``/``@list``
objects, value objects), fills their texts with what breaks serializers (quotes, backslashes,
control characters, ``]]>``, ``_:b0``, ``<http://x>``, astral characters) and injects undefined
terms, undefined types and relative ids at any depth. For every document the fast path must
give exactly the reference path's canonical N-Quads (PyLD ``to_rdf`` + our RDFC-1.0) and its
undefined-term verdict, and must agree with PyLD's own URDNA2015 wherever PyLD's escaping is
canonical.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from pyld import jsonld

from issuer.core import fastld
from issuer.core.canonical import (
    canonize,
    canonize_reference,
    find_undefined_terms,
    find_undefined_terms_reference,
)
from issuer.core.contexts import (
    DATA_INTEGRITY_V2,
    OB_EXTENSIONS,
    STATUS_V1,
    VC_V1,
    VC_V2,
    make_document_loader,
)

# A context with only a vocabulary mapping, as issuers add to "define" their own terms: terms
# it catches are defined for canonicalization and undefined for the verdict.
VOCAB_CONTEXT = "https://example.org/vocab-context.jsonld"
LOADER = make_document_loader(
    {VOCAB_CONTEXT: {"@context": {"@vocab": "https://example.org/vocab#"}}}
)
_OB = "https://purl.imsglobal.org/spec/ob/v3p0/"
# The VC and OB context pairs found in credentials (OB 3.0.1 and older go with VC 1.1 only).
CONTEXT_PAIRS = [
    (VC_V2, _OB + "context-3.0.3.json"),
    (VC_V2, _OB + "context-3.0.3.json"),
    (VC_V2, _OB + "context-3.0.2.json"),
    (VC_V1, _OB + "context-3.0.2.json"),
    (VC_V1, _OB + "context-3.0.1.json"),
    (VC_V1, _OB + "context.json"),
]

# Text that breaks serializers: N-Quads escapes, XML/CDATA ends, things that look like N-Quads
# terms, and characters outside the Basic Multilingual Plane.
_FRAGMENTS = [
    '"',
    "\\",
    "\n",
    "\r",
    "\t",
    "\b",
    "\f",
    "\x00",
    "\x01",
    "\x0b",
    "\x1f",
    "\x7f",
    "]]>",
    "_:b0",
    "_:c14n0",
    "<http://x>",
    '" .\n',
    "@fi",
    "^^<x>",
    "ä",
    "Å",
    "😀",
    "\u2028",
    "\u00a0",
    "\ufeff",
    " ",
    "Ennakointi",
]
TEXT = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=5).map(
    "".join
)
IRI = st.sampled_from(
    [
        "https://example.fi/a",
        "https://example.fi/b?x=1#frag",
        "did:web:example.fi:issuers:x",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "urn:uuid:7f6c1c1e-1a6e-4d8b-9d84-1a2b3c4d5e6f",
        "mailto:a@example.fi",
        "ex:compact",
        "https://example.fi/with space",
        "https://example.fi/ä/😀",
    ]
)
# Ids that are not absolute IRIs, or are blank node identifiers, or look like keywords.
ODD_ID = st.sampled_from(["relative/1", "", "#frag", "_:b0", "_:x", "a,b:c", "x:y z"])
DATE_TIME = st.sampled_from(
    ["2024-01-01T00:00:00Z", "2025-06-30T12:34:56+03:00", "2024-02-30T00:00:00Z", "eilen"]
)
DATE = st.sampled_from(["2024-01-01", "2024-13-01", "2024-01-01T00:00:00Z"])
NUMBER = st.one_of(
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
    st.sampled_from([0, 1, 1.0, 2.5, -0.0, 3.0, 1e-7, 123456789.125]),
)
SCALAR = st.one_of(TEXT, NUMBER, st.booleans(), IRI)
UNDEFINED_KEYS = st.sampled_from(
    [
        "favouriteColour",
        "shoeSize",
        "x-custom",
        "ex:thing",
        "http://example.org/p",
        "@foo",
        "a b",
        "Profile",  # a class name used as a property
        "sec",
    ]
)


def _maybe(draw: st.DrawFn, probability: float = 0.5) -> bool:
    # Uniform over 100 outcomes, "no" first so that examples shrink towards fewer properties
    # (Hypothesis draws the edges of a numeric range far more often than their share).
    chances = round(probability * 100)
    return draw(st.sampled_from(_CHOICES[chances]))


_CHOICES = [[False] * (100 - n) + [True] * n for n in range(101)]


def _many(draw: st.DrawFn, value: Any) -> Any:
    """A multi-valued property as JSON-LD allows it: a value, an array, or a set object."""
    choice = draw(st.integers(min_value=0, max_value=5))
    if choice == 0:
        return value
    if choice == 1:
        return {"@set": [value]}
    return [value]


def _id(draw: st.DrawFn) -> str:
    return draw(ODD_ID) if _maybe(draw, 0.1) else draw(IRI)


def _types(draw: st.DrawFn, name: str) -> Any:
    types: list[str] = [name]
    if _maybe(draw, 0.08):
        types.append(draw(st.sampled_from(["MadeUpType", "ex:Other"])))
    if len(types) == 1 and _maybe(draw):
        return name
    return types


def _text(draw: st.DrawFn) -> Any:
    text = draw(TEXT)
    if _maybe(draw, 0.1):
        return {"@value": text, "@language": draw(st.sampled_from(["fi", "SV", "en-GB"]))}
    if _maybe(draw, 0.05):
        return {"@value": text}
    return text


def _inject(draw: st.DrawFn, node: dict[str, Any], depth: int) -> dict[str, Any]:
    """Undefined terms (with values that may nest further undefined terms)."""
    if _maybe(draw, 0.15):
        value: Any = draw(SCALAR)
        if depth < 2 and _maybe(draw, 0.3):
            value = _inject(draw, {"name": draw(TEXT)}, depth + 1)
            if _maybe(draw):
                value["id"] = _id(draw)
        node[draw(UNDEFINED_KEYS)] = value
    return node


def _profile(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": _id(draw), "type": _types(draw, "Profile")}
    if _maybe(draw, 0.9):
        profile["name"] = _text(draw)
    for key in ("url", "email", "phone", "description"):
        if _maybe(draw, 0.3):
            profile[key] = draw(IRI) if key == "url" else draw(TEXT)
    if _maybe(draw, 0.4):
        address: dict[str, Any] = {"type": _types(draw, "Address")}
        for key in ("addressCountry", "addressCountryCode", "addressLocality", "postalCode"):
            if _maybe(draw):
                address[key] = draw(TEXT)
        if _maybe(draw, 0.3):
            address["geo"] = {
                "type": "GeoCoordinates",
                "latitude": draw(NUMBER),
                "longitude": draw(NUMBER),
            }
        profile["address"] = _inject(draw, address, depth + 1)
    if _maybe(draw, 0.3):
        profile["otherIdentifier"] = _many(
            draw,
            {
                "type": "IdentifierEntry",
                "identifier": draw(TEXT),
                "identifierType": draw(st.sampled_from(["ext:BusinessId", "sourcedId", "x"])),
            },
        )
    if _maybe(draw, 0.2):
        profile["image"] = {"id": draw(IRI), "type": "Image", "caption": draw(TEXT)}
    if depth < 1 and _maybe(draw, 0.2):
        profile["parentOrg"] = _profile(draw, depth + 1)
    if _maybe(draw, 0.1):
        profile["official"] = draw(TEXT)
    return _inject(draw, profile, depth + 1)


def _alignment(draw: st.DrawFn) -> dict[str, Any]:
    alignment: dict[str, Any] = {"type": _types(draw, "Alignment"), "targetName": draw(TEXT)}
    for key in ("targetUrl", "targetCode", "targetDescription", "targetFramework", "targetType"):
        if _maybe(draw):
            alignment[key] = draw(IRI) if key == "targetUrl" else draw(TEXT)
    return _inject(draw, alignment, 3)


def _result_description(draw: st.DrawFn) -> dict[str, Any]:
    description: dict[str, Any] = {
        "id": _id(draw),
        "type": _types(draw, "ResultDescription"),
        "name": draw(TEXT),
        "resultType": draw(st.sampled_from(["GradePointAverage", "LetterGrade", "ext:Own"])),
    }
    if _maybe(draw):
        description["allowedValue"] = draw(st.lists(TEXT, max_size=3))
    if _maybe(draw, 0.3):
        description["rubricCriterionLevel"] = [
            {
                "id": _id(draw),
                "type": "RubricCriterionLevel",
                "name": draw(TEXT),
                "level": draw(TEXT),
                "points": draw(TEXT),
            }
        ]
    if _maybe(draw, 0.3):
        description["valueMax"] = draw(TEXT)
    return _inject(draw, description, 3)


def _achievement(draw: st.DrawFn) -> dict[str, Any]:
    achievement: dict[str, Any] = {
        "id": _id(draw),
        "type": _types(draw, "Achievement"),
        "name": _text(draw),
        "description": _text(draw),
        "criteria": {"narrative": draw(TEXT)},
    }
    if _maybe(draw, 0.3):
        achievement["criteria"]["id"] = draw(IRI)
    if _maybe(draw):
        achievement["achievementType"] = draw(
            st.sampled_from(["MicroCredential", "Badge", "ext:Own", "Degree"])
        )
    if _maybe(draw):
        achievement["creditsAvailable"] = draw(NUMBER)
    for key in ("fieldOfStudy", "humanCode", "version", "inLanguage", "specialization"):
        if _maybe(draw, 0.3):
            achievement[key] = draw(TEXT)
    if _maybe(draw):
        tags = draw(st.lists(TEXT, max_size=4))
        achievement["tag"] = {"@list": tags} if _maybe(draw, 0.2) else tags
    if _maybe(draw, 0.7):
        count = draw(st.integers(min_value=1, max_value=4))
        achievement["alignment"] = [_alignment(draw) for _ in range(count)]
        if _maybe(draw, 0.1):
            achievement["alignment"] = {"@list": achievement["alignment"]}
    if _maybe(draw, 0.3):
        achievement["resultDescription"] = [_result_description(draw)]
    if _maybe(draw, 0.3):
        achievement["image"] = _many(draw, {"id": draw(IRI), "type": "Image"})
    if _maybe(draw, 0.3):
        achievement["creator"] = _profile(draw, 1)
    if _maybe(draw, 0.3):
        achievement["related"] = [
            {"id": draw(IRI), "type": ["Related"], "inLanguage": draw(TEXT)}
            for _ in range(draw(st.integers(min_value=1, max_value=2)))
        ]
    if _maybe(draw, 0.1):
        achievement["otherIdentifier"] = [
            {"type": "IdentifierEntry", "identifier": draw(TEXT), "identifierType": "sourcedId"}
        ]
    return _inject(draw, achievement, 2)


def _subject(draw: st.DrawFn) -> dict[str, Any]:
    subject: dict[str, Any] = {
        "type": _types(draw, "AchievementSubject"),
        "achievement": _achievement(draw),
    }
    if _maybe(draw, 0.3):
        subject["id"] = _id(draw)
    if _maybe(draw, 0.7):
        subject["identifier"] = _many(
            draw,
            {
                "type": "IdentityObject",
                "identityHash": draw(TEXT),
                "identityType": draw(st.sampled_from(["emailAddress", "ext:Own"])),
                "hashed": draw(st.one_of(st.booleans(), NUMBER)),
                "salt": draw(TEXT),
            },
        )
    if _maybe(draw, 0.5):
        subject["name"] = _text(draw)
    if _maybe(draw, 0.3):
        subject["result"] = [
            _inject(
                draw,
                {
                    "type": _types(draw, "Result"),
                    "resultDescription": _id(draw),
                    "value": draw(TEXT),
                    "status": draw(st.sampled_from(["Completed", "ext:Own"])),
                },
                3,
            )
        ]
    for key in ("activityStartDate", "activityEndDate"):
        if _maybe(draw, 0.2):
            subject[key] = draw(DATE)
    if _maybe(draw, 0.3):
        subject["creditsEarned"] = draw(NUMBER)
    if _maybe(draw, 0.1):
        subject["source"] = _profile(draw, 1)
    for key in ("licenseNumber", "role", "term"):
        if _maybe(draw, 0.1):
            subject[key] = draw(TEXT)
    return _inject(draw, subject, 1)


def _proof(draw: st.DrawFn) -> dict[str, Any]:
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": draw(DATE_TIME),
        "verificationMethod": draw(IRI),
        "proofPurpose": draw(st.sampled_from(["assertionMethod", "authentication", "madeUp"])),
        "proofValue": "z" + draw(st.text(alphabet="123456789ABCDEFGH", min_size=1, max_size=8)),
    }
    if _maybe(draw, 0.2):
        proof["id"] = draw(IRI)
    return proof


@st.composite
def credentials(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """An OB 3.0 credential (OpenBadgeCredential, or EndorsementCredential when nested)."""
    context: list[str] = list(draw(st.sampled_from(CONTEXT_PAIRS)))
    if _maybe(draw, 0.2):
        context.append(OB_EXTENSIONS)
    if _maybe(draw, 0.15):
        context.append(VOCAB_CONTEXT)
    if _maybe(draw, 0.03):
        # Redefines protected terms of the VC context: both paths must refuse it alike.
        context.append(DATA_INTEGRITY_V2)
    credential: dict[str, Any] = {
        "@context": context,
        "id": _id(draw),
        "type": _types(
            draw,
            draw(st.sampled_from(["OpenBadgeCredential", "AchievementCredential"]))
            if depth == 0
            else "EndorsementCredential",
        ),
        "issuer": _profile(draw) if _maybe(draw, 0.9) else draw(IRI),
        "validFrom": draw(DATE_TIME),
    }
    if isinstance(credential["type"], str):
        credential["type"] = ["VerifiableCredential", credential["type"]]
    else:
        credential["type"].insert(0, "VerifiableCredential")
    if depth == 0:
        credential["credentialSubject"] = _subject(draw)
    else:
        credential["credentialSubject"] = {
            "id": draw(IRI),
            "type": "EndorsementSubject",
            "endorsementComment": draw(TEXT),
        }
    if _maybe(draw, 0.8):
        credential["name"] = _text(draw)
    if _maybe(draw, 0.3):
        credential["description"] = _text(draw)
    if _maybe(draw, 0.3):
        credential["validUntil"] = draw(DATE_TIME)
    if _maybe(draw, 0.3):
        credential["awardedDate"] = draw(DATE_TIME)
    if _maybe(draw, 0.3):
        credential["evidence"] = [
            _inject(
                draw,
                {
                    "id": draw(IRI),
                    "type": _types(draw, "Evidence"),
                    "narrative": draw(TEXT),
                    "name": draw(TEXT),
                },
                2,
            )
            for _ in range(draw(st.integers(min_value=1, max_value=3)))
        ]
    if _maybe(draw, 0.3):
        if _maybe(draw):
            credential["credentialStatus"] = {
                "id": draw(IRI),
                "type": "1EdTechRevocationList",
            }
        else:
            if STATUS_V1 not in context and _maybe(draw, 0.5):
                context.append(STATUS_V1)
            credential["credentialStatus"] = {
                "id": draw(IRI),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": draw(st.sampled_from(["94567", "0", 12])),
                "statusListCredential": draw(IRI),
            }
    if _maybe(draw, 0.2):
        credential["credentialSchema"] = [
            {"id": draw(IRI), "type": "1EdTechJsonSchemaValidator2019"}
        ]
    if depth == 0 and _maybe(draw, 0.2):
        credential["endorsement"] = [draw(credentials(depth=1))]
    if _maybe(draw, 0.2):
        credential["proof"] = _many(draw, _proof(draw))
    return _inject(draw, credential, 0)


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as error:  # both paths must fail alike
        return (type(error).__name__, str(error))


# PyLD's N-Quads writer escapes only \t \n \r " \\; where a document has no other control
# characters its URDNA2015 output is canonical N-Quads too.
_NON_CANONICAL_IN_PYLD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _repeats_a_blank_node(line: str) -> bool:
    """Does one blank node fill two positions of this N-Quads line? (Literals may contain
    text that looks like a label: only the terms outside them count.)"""
    subject, _, rest = line.split(" ", 2)
    after_object = rest.rsplit('"', 1)[1] if rest.startswith('"') else rest
    labels = [subject, *after_object.split()]
    blank = [label for label in labels if label.startswith("_:")]
    return len(blank) != len(set(blank))


def _without_noncanonical_escapes(node: Any) -> Any:
    """``node`` with the control characters PyLD writes differently replaced by "?"."""
    if isinstance(node, str):
        return _NON_CANONICAL_IN_PYLD.sub("?", node)
    if isinstance(node, dict):
        return {
            _without_noncanonical_escapes(key): _without_noncanonical_escapes(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_without_noncanonical_escapes(item) for item in node]
    return node


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_fast_path_matches_reference(credential: dict[str, Any]) -> None:
    note(json.dumps(credential, ensure_ascii=False))
    original = copy.deepcopy(credential)
    assert _outcome(canonize, credential, LOADER) == _outcome(
        canonize_reference, credential, LOADER
    )
    assert _outcome(find_undefined_terms, credential, LOADER) == _outcome(
        find_undefined_terms_reference, credential, LOADER
    )
    assert credential == original, "the fast path must not change its input"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_fast_path_matches_pyld_urdna2015(credential: dict[str, Any]) -> None:
    # PyLD's own canonicalization, independent of our RDFC-1.0 code, where its escaping is
    # canonical.
    credential = _without_noncanonical_escapes(credential)
    nquads = _outcome(canonize, credential, LOADER)
    assume(isinstance(nquads, str))
    # PyLD hashes a quad once per blank-node position where RDFC-1.0 hashes it once (see
    # test_rdfc): a blank node twice in one quad (an ``@id`` "_:b0" that links to itself) is
    # where the two differ.
    assume(not any(_repeats_a_blank_node(line) for line in nquads.split("\n") if line))
    note(json.dumps(credential, ensure_ascii=False))
    urdna2015 = jsonld.normalize(
        credential,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": LOADER,
            "base": None,
        },
    )
    assert nquads == urdna2015


#: Keys that the OB 3.0.0 context expands to the same IRI when they are in one object: it maps
#: "achievement" to the class "Achievement" (which the generator therefore never uses as a key)
#: and, inside an Achievement, "creator" to the class "Profile" (which the generator does use,
#: as a class name misused as a property: UNDEFINED_KEYS).
_SAME_IRI_KEYS = (frozenset({"creator", "Profile"}), frozenset({"achievement", "Achievement"}))


def _has_keys_with_one_iri(value: Any) -> bool:
    """Whether an object in ``value`` holds two keys of one of ``_SAME_IRI_KEYS``."""
    if isinstance(value, list):
        return any(_has_keys_with_one_iri(item) for item in value)
    if not isinstance(value, dict):
        return False
    return any(pair <= value.keys() for pair in _SAME_IRI_KEYS) or any(
        _has_keys_with_one_iri(item) for item in value.values()
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_generated_credentials_take_the_fast_path(credential: dict[str, Any]) -> None:
    # Everything the generator makes is in the fast path's scope, except documents the
    # reference path itself refuses (those are left to it, for its error messages), and
    # objects with two keys that expand to the same IRI, which the fast path leaves to the
    # reference path too (tests/core/test_fastld.py shows it falls back for them).
    assume(not _has_keys_with_one_iri(credential))
    if isinstance(_outcome(canonize_reference, credential, LOADER), tuple):
        return
    assert fastld.convert(credential, LOADER) is not None
