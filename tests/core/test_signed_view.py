"""The signed view: facts read from the graph the signature covers, however the JSON is written."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from issuer.core.credential import build_credential, evidence_entry, issuer_profile
from issuer.core.dataintegrity.signing import sign
from issuer.core.dataintegrity.verifying import verify_proofs
from issuer.core.did import did_key_for
from issuer.core.errors import DocumentLoaderError
from issuer.core.keys import generate_private_key
from issuer.core.multikey import encode_public_key
from issuer.core.proof_options import proof_options_view
from issuer.core.resolver import standard_resolver
from issuer.core.signed_view import (
    BITSTRING_STATUS_LIST_ENTRY,
    parse_term,
    signed_view,
)
from issuer.core.verifier import verify_credential

CRED = "https://www.w3.org/2018/credentials#"
STATUS_URL = "https://merkki.example/status/a/revocation/1"


def _credential(**changes: Any) -> dict[str, Any]:
    achievement = {
        "id": "https://merkki.example/badges/a/v1/fi",
        "type": ["Achievement"],
        "name": "Ennakointiosaaminen",
        "description": "Kuvaus.",
        "criteria": {"narrative": "Kriteerit."},
        "achievementType": "MicroCredential",
    }
    credential = build_credential(
        credential_id="https://merkki.example/credentials/1",
        issuer=issuer_profile(did="did:web:merkki.example:issuers:a", name="HAMK"),
        achievement=achievement,
        recipient_name="Aino Virtanen",
        recipient_email="aino@example.fi",
        salt="s",
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
        valid_until=datetime(2035, 1, 1, tzinfo=UTC),
        credential_status={
            "id": f"{STATUS_URL}#5",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "5",
            "statusListCredential": STATUS_URL,
        },
        evidence=[evidence_entry(narrative="Näyttö")],
    )
    credential.update(changes)
    return credential


def test_the_facts_come_from_the_graph() -> None:
    view = signed_view(_credential())
    assert view.problem is None
    assert view.id == "https://merkki.example/credentials/1"
    assert view.issuer_id == "did:web:merkki.example:issuers:a"
    assert view.issuer is not None
    assert view.issuer.name == "HAMK"
    assert view.valid_from == "2024-01-01T00:00:00Z"
    assert view.valid_until == "2035-01-01T00:00:00Z"
    (entry,) = view.status
    assert entry.types == {BITSTRING_STATUS_LIST_ENTRY}
    assert (entry.purpose, entry.index, entry.list_url) == ("revocation", "5", STATUS_URL)
    assert view.subject is not None
    assert view.subject.name == "Aino Virtanen"
    assert view.subject.has_identifier
    assert view.achievement is not None
    assert view.achievement.name == "Ennakointiosaaminen"
    assert view.achievement.criteria == "Kriteerit."
    assert view.achievement.achievement_type == "MicroCredential"
    assert [e.narrative for e in view.evidence] == ["Näyttö"]


def _aliased(credential: dict[str, Any]) -> dict[str, Any]:
    rewritten = copy.deepcopy(credential)
    rewritten["@context"] = [
        *credential["@context"],
        {"i": "@id", "s": {"@id": CRED + "credentialStatus", "@type": "@id"}},
    ]
    rewritten["i"] = rewritten.pop("id")
    rewritten["s"] = rewritten.pop("credentialStatus")
    return rewritten


def test_an_aliased_rewrite_has_the_same_view_and_digest() -> None:
    original = signed_view(_credential())
    rewritten = signed_view(_aliased(_credential()))
    assert rewritten.digest == original.digest
    assert rewritten.id == original.id
    assert rewritten.status == original.status
    assert rewritten.end == original.end


def test_removing_a_raw_key_changes_the_graph() -> None:
    credential = _credential()
    del credential["credentialStatus"]
    view = signed_view(credential)
    assert view.status == ()
    assert view.digest != signed_view(_credential()).digest


def test_keys_no_context_defines_are_not_facts() -> None:
    # An undefined key is dropped by JSON-LD: it is listed as undefined, never read.
    credential = _credential(validUntilX="1999-01-01T00:00:00Z")
    view = signed_view(credential)
    assert "validUntilX" in view.undefined
    assert view.end == "2035-01-01T00:00:00Z"


def test_two_issuers_are_ambiguous() -> None:
    credential = _credential()
    credential["@context"] = [*credential["@context"], {"issuer2": {"@id": CRED + "issuer"}}]
    credential["issuer2"] = {"id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}
    view = signed_view(credential)
    assert any("issuer" in problem for problem in view.ambiguities)


def test_a_top_level_graph_holds_no_single_credential() -> None:
    credential = _credential()
    context = credential.pop("@context")
    document = {"@context": context, "@graph": [credential, copy.deepcopy(credential)]}
    assert signed_view(document).problem is not None


def test_a_context_not_carried_is_never_fetched() -> None:
    credential = _credential()
    credential["@context"] = [*credential["@context"], "https://example.org/unknown-context"]
    with pytest.raises(DocumentLoaderError):
        signed_view(credential)


@pytest.mark.parametrize(
    ("serialized", "value", "datatype", "language"),
    [
        ('"a \\"b\\" \\\\ \\n \\t \\u0007"', 'a "b" \\ \n \t \x07', "xsd", None),
        ('"x"^^<http://www.w3.org/2001/XMLSchema#dateTime>', "x", "dt", None),
        ('"hei"@fi', "hei", None, "fi"),
    ],
)
def test_literals_are_read_back(
    serialized: str, value: str, datatype: str | None, language: str | None
) -> None:
    term = parse_term(serialized)
    assert term.kind == "literal"
    assert term.value == value
    assert term.language == language
    if datatype == "dt":
        assert term.datatype == "http://www.w3.org/2001/XMLSchema#dateTime"


def test_proof_options_are_read_from_the_signed_configuration() -> None:
    key = generate_private_key()
    did = did_key_for(key.public_key())
    method = f"{did}#{encode_public_key(key.public_key())}"
    signed = sign(_credential(), key, method)
    proof = signed["proof"][0]
    # The proof's keys aliased through its own @context: the same signed proof.
    aliased = {
        "@context": [
            *signed["@context"],
            {"vm": {"@id": "https://w3id.org/security#verificationMethod", "@type": "@id"}},
        ],
        **{k: v for k, v in proof.items() if k != "verificationMethod"},
        "vm": proof["verificationMethod"],
    }
    document = {**signed, "proof": [aliased]}
    document["@context"] = aliased["@context"]
    results = verify_proofs(document, standard_resolver(), check_terms=False)
    assert results[0].ok, results[0].message
    assert results[0].verification_method == method


def test_proof_options_view_of_a_configuration() -> None:
    canonical = (
        '_:c14n0 <http://purl.org/dc/terms/created> "2024-01-01T00:00:00Z"'
        "^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
        "_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<https://w3id.org/security#DataIntegrityProof> .\n"
        '_:c14n0 <https://w3id.org/security#cryptosuite> "eddsa-rdfc-2022"'
        "^^<https://w3id.org/security#cryptosuiteString> .\n"
        "_:c14n0 <https://w3id.org/security#proofPurpose> "
        "<https://w3id.org/security#authenticationMethod> .\n"
        "_:c14n0 <https://w3id.org/security#verificationMethod> <did:key:z6Mk#z6Mk> .\n"
    )
    options = proof_options_view(canonical)
    assert options.type == "DataIntegrityProof"
    assert options.cryptosuite == "eddsa-rdfc-2022"
    assert options.proof_purpose == "authentication"
    assert options.verification_method == "did:key:z6Mk#z6Mk"
    assert options.created == "2024-01-01T00:00:00Z"


def test_a_hidden_status_entry_cannot_escape_the_verifier() -> None:
    """A revoked-looking rewrite: the status entry renamed through an alias is still checked."""
    key = generate_private_key()
    did = did_key_for(key.public_key())
    credential = _credential(issuer={"id": did, "type": ["Profile"], "name": "Self"})
    signed = sign(credential, key, f"{did}#{encode_public_key(key.public_key())}")
    asked: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        asked.append(url)
        raise ConnectionError("offline")

    for document in (signed, {**_aliased(signed), "proof": signed["proof"]}):
        asked.clear()
        report = verify_credential(
            json.dumps(document), resolver=standard_resolver(), status_fetcher=fetch
        )
        assert asked == [STATUS_URL]
        assert report.verdict == "unverifiable", report.to_dict()
        proof = report.check("proof")
        assert proof is not None
        assert proof.ok is True


def _self_signed(credential: dict[str, Any]) -> str:
    key = generate_private_key()
    did = did_key_for(key.public_key())
    credential["issuer"] = {"id": did, "type": ["Profile"], "name": "Self"}
    credential.pop("credentialStatus", None)
    return json.dumps(sign(credential, key, f"{did}#{encode_public_key(key.public_key())}"))


@pytest.mark.parametrize(
    ("change", "check"),
    [
        # An achievementType outside the OB 3.0 vocabulary (the schema's enum).
        (lambda c: c["credentialSubject"]["achievement"].update(achievementType="Medal"), "schema"),
        # A subject with neither id nor identifier (as 18 of the DCC verifier's fixtures).
        (lambda c: c["credentialSubject"].pop("identifier"), "format"),
    ],
)
def test_a_well_signed_credential_breaking_a_format_rule_is_malformed(
    change: Any, check: str
) -> None:
    credential = _credential()
    change(credential)
    report = verify_credential(_self_signed(credential), resolver=standard_resolver())
    assert report.verdict == "malformed", report.to_dict()
    assert report.signature_intact
    failed = report.check(check)
    assert failed is not None
    assert failed.ok is False


def test_a_self_asserted_issuer_is_valid_but_not_confirmed() -> None:
    report = verify_credential(_self_signed(_credential()), resolver=standard_resolver())
    assert report.verdict == "valid", report.to_dict()
    assert report.issuer_self_asserted
    assert not report.issuer_confirmed
    summary = report.to_dict()["credential"]
    assert summary["issuer"] == {
        "id": summary["issuer"]["id"],
        "name": "Self",
        "confirmed": False,
        "selfAsserted": True,
    }
