"""``verify_credential(any_vc=True)``: a credential that is not an Open Badge is judged as a
plain verifiable credential; an Open Badge is judged exactly as without it."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.contexts import EXAMPLES_V2, VC_V2, vc_api_document_loader
from issuer.core.dataintegrity.signing import sign
from issuer.core.did import did_key_for
from issuer.core.resolver import standard_resolver
from issuer.core.verifier import verify_credential
from tests.spec_files import load_json


def _signed(extra_context: list[str], subject: dict[str, Any]) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    did = did_key_for(key.public_key())
    document = {
        "@context": [VC_V2, *extra_context],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "credentialSubject": subject,
    }
    return sign(
        document,
        key,
        f"{did}#{did.removeprefix('did:key:')}",
        loader=vc_api_document_loader(),
        check_terms=False,
    )


def test_plain_credential_needs_any_vc() -> None:
    credential = _signed([], {"id": "did:example:alice"})
    plain = verify_credential(credential, resolver=standard_resolver(), any_vc=True)
    assert plain.verified, plain.checks
    assert plain.check("schema") is None  # the OB 3.0 schema does not apply
    assert plain.check("format").message == "verifiable credential (VC 2.0)"  # type: ignore[union-attr]
    as_badge = verify_credential(credential, resolver=standard_resolver())
    assert not as_badge.verified
    assert as_badge.verdict == "malformed"


@pytest.mark.parametrize(
    ("context", "ok", "code"),
    [([EXAMPLES_V2], True, "issuer_dependent_terms"), ([], False, "undefined_terms")],
)
def test_terms_only_a_vocab_covers(context: list[str], ok: bool, code: str) -> None:
    credential = _signed(context, {"id": "did:example:alice", "degree": "BSc"})
    report = verify_credential(
        credential, resolver=standard_resolver(), any_vc=True, loader=vc_api_document_loader()
    )
    terms = report.check("terms")
    assert terms is not None
    assert (terms.ok, terms.code) == (ok, code)
    assert "degree" in terms.message


@pytest.mark.shared
@pytest.mark.parametrize("name", ["simple.json", "simple-err-issuer.json", "complete_v1.json"])
def test_open_badge_is_judged_alike(name: str) -> None:
    document = load_json("samples/1edtech-validator-ob30/" + name)
    resolver = standard_resolver(trust_fragment_keys=True)
    plain = verify_credential(document, resolver=resolver)
    any_vc = verify_credential(document, resolver=resolver, any_vc=True)
    assert any_vc.checks == plain.checks
