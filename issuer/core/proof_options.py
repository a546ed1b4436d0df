"""A proof's options as its canonical proof configuration states them (VC-DI-EDDSA §3.3.5).

The signature covers the canonical N-Quads of the proof options, not their JSON keys: an
embedded ``@context`` can alias ``verificationMethod`` or ``proofPurpose``. So the suite,
purpose, dates and key a proof check uses are read back from those quads
(``dataintegrity.verifying._Verifier._signed_options``), like every fact of the credential
itself (``signed_view``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from issuer.core.signed_view import DCTERMS, RDF_TYPE, SEC, Graph, short_name, split_line


@dataclass(frozen=True, slots=True)
class ProofOptionsView:
    """A proof's options as its canonical proof configuration states them (VC-DI-EDDSA
    §3.3.5): what the signature covers, whatever keys the JSON used."""

    type: str | None
    cryptosuite: str | None
    verification_method: str | None
    proof_purpose: str | None
    created: str | None
    expires: str | None
    #: VC Data Integrity §2.1: what an ``authentication`` proof is bound to (a verifier's
    #: challenge and domain), as signed; None when absent or ambiguous.
    challenge: str | None = None
    domain: str | None = None

    def as_options(self) -> dict[str, Any]:
        """The options with their usual JSON names (for the suite and date checks)."""
        options: dict[str, Any] = {}
        if self.type is not None:
            options["type"] = self.type
        if self.cryptosuite is not None:
            options["cryptosuite"] = self.cryptosuite
        if self.created is not None:
            options["created"] = self.created
        if self.expires is not None:
            options["expires"] = self.expires
        return options


#: Proof purposes by the IRI the contexts expand them to (Security Vocabulary: the
#: relationship ``authentication`` is ``sec:authenticationMethod``, and so on).
_PURPOSES = {
    SEC + "assertionMethod": "assertionMethod",
    SEC + "authenticationMethod": "authentication",
    SEC + "capabilityInvocationMethod": "capabilityInvocation",
    SEC + "capabilityDelegationMethod": "capabilityDelegation",
    SEC + "keyAgreementMethod": "keyAgreement",
}


def proof_options_view(canonical_config: str) -> ProofOptionsView:
    """Read the proof options from the canonical N-Quads of a proof configuration: the one
    node typed as a proof. Several proof nodes, or several values of one option, give None
    for what is ambiguous (and the proof then fails its checks)."""
    triples = [split_line(line)[:3] for line in canonical_config.splitlines(keepends=True)]
    graph = Graph(triples)
    nodes = sorted({s for s, p, _o in triples if p == f"<{RDF_TYPE}>"})
    if len(nodes) != 1:
        return ProofOptionsView(None, None, None, None, None, None)
    node = nodes[0]

    def one(predicate: str, kind: str) -> str | None:
        values = [t.value for t in graph.objects(node, predicate) if t.kind == kind]
        return values[0] if len(values) == 1 else None

    types = sorted(graph.types(node))
    proof_type = short_name(types[0]) if len(types) == 1 else None
    purpose = one(SEC + "proofPurpose", "iri")
    if purpose is not None:
        purpose = _PURPOSES.get(purpose, purpose)
    return ProofOptionsView(
        type=proof_type,
        cryptosuite=one(SEC + "cryptosuite", "literal"),
        verification_method=one(SEC + "verificationMethod", "iri"),
        proof_purpose=purpose,
        created=one(DCTERMS + "created", "literal"),
        expires=one(SEC + "expiration", "literal"),
        challenge=one(SEC + "challenge", "literal"),
        domain=one(SEC + "domain", "literal"),
    )
