"""Verifying Data Integrity proofs: ``verify_proofs``, one ``ProofResult`` per proof.

``verify_proofs`` implements VC-DI-EDDSA v1.0 §3.3.3 "Verify Proof" for every proof of a proof
set or chain (VC Data Integrity §4.5 "Verify Proof Sets and Chains") and never raises for bad
input. ``Ed25519Signature2020`` proofs (ob3-facts §2.3) and the legacy ``eddsa-2022`` suite name
are accepted for verification only. What is a pure function of the input is remembered in
``caches``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from issuer.core.canonical import canonize_and_find_undefined_terms, find_undefined_terms
from issuer.core.contexts import DocumentLoader
from issuer.core.dataintegrity import caches
from issuer.core.dataintegrity.caches import (
    DOCUMENT_TERMS,
    PROOF_OPTIONS,
    UNSECURED,
    VERIFIED_PROOFS,
    SourceKey,
    digest,
    json_text_or_none,
)
from issuer.core.dataintegrity.cryptosuite import (
    ASSERTION_METHOD,
    JsonObject,
    UnsupportedProofError,
    check_proof_value,
    check_suite,
    hash_data,
    parse_xsd_datetime,
    proof_configuration,
    proof_input,
    proof_list,
    transform,
    verify_signature,
    without,
)
from issuer.core.errors import EngineError, ProofError
from issuer.core.multikey import public_key_bytes
from issuer.core.proof_options import ProofOptionsView, proof_options_view
from issuer.core.resolver import KeyResolver, ResolutionError, ResolvedKey


def _short(error: BaseException) -> str:
    """``Type: message`` of an unexpected error, cut short for a report."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."


def _describe_undefined(terms: list[str], where: str) -> str:
    return f"{where} uses terms not defined by any @context: " + ", ".join(terms)


@dataclass(frozen=True)
class ProofResult:
    """The outcome of verifying one proof; ``message`` says why in plain words."""

    ok: bool
    proof_type: str
    cryptosuite: str | None
    verification_method: str | None
    controller: str | None
    message: str
    #: True when the proof could not be checked at all (an unsupported cryptosuite, a key that
    #: could not be retrieved): the verifier reports "could not verify", not "forged".
    unchecked: bool = False
    #: True when the key's controller was proven to vouch for it (``ResolvedKey.confirmed``).
    confirmed: bool = False


def _result(
    proof: object,
    ok: bool,
    message: str,
    controller: str | None = None,
    *,
    unchecked: bool = False,
    signed: list[ProofOptionsView] | None = None,
) -> ProofResult:
    """A proof's result. Its type, suite and method are the signed ones once the proof
    configuration was read (``signed``); before that, what the JSON says (for the message)."""
    fields = proof if isinstance(proof, dict) else {}

    def text(name: str) -> str | None:
        value = fields.get(name)
        return value if isinstance(value, str) else None

    if signed:
        view = signed[0]
        return ProofResult(
            ok=ok,
            proof_type=view.type or "",
            cryptosuite=view.cryptosuite,
            verification_method=view.verification_method,
            controller=controller,
            message=message,
            unchecked=unchecked,
        )
    return ProofResult(
        ok=ok,
        proof_type=text("type") or "",
        cryptosuite=text("cryptosuite"),
        verification_method=text("verificationMethod"),
        controller=controller,
        message=message,
        unchecked=unchecked,
    )


class _Verifier:
    """Verifies the proofs of one document; canonical forms are computed once and shared."""

    def __init__(
        self,
        unsecured: JsonObject,
        all_proofs: list[Any],
        resolver: KeyResolver,
        loader: DocumentLoader | None,
        expected_purpose: str,
        check_terms: bool,
        source: SourceKey | None = None,
        known: tuple[str, tuple[str, ...]] | None = None,
        challenge: str | None = None,
        domain: str | None = None,
    ) -> None:
        self.unsecured = unsecured
        self.challenge = challenge
        self.domain = domain
        #: The unsecured document's canonical form and undefined terms, when the caller has
        #: them already (the verifier's signed view is made from the same canonical form).
        self.known = known
        self.all_proofs = all_proofs
        self.resolver = resolver
        self.loader = loader
        self.expected_purpose = expected_purpose
        self.check_terms = check_terms
        self._canonical: dict[str, str] = {}
        self.source = source
        self._text: str | None = None
        self._text_known = False

    @property
    def text(self) -> str | None:
        """The unsecured document's JSON text (cache keys, canonical-form memo); None when it
        has none, and then nothing is cached. Made when first needed: with a ``source`` key,
        a document found in the caches is never re-serialized."""
        if not self._text_known:
            self._text = json_text_or_none(self.unsecured)
            self._text_known = True
        return self._text

    def _terms_key(self) -> bytes | None:
        if self.source is not None:
            return self.source.derive(UNSECURED)
        return digest(self.text) if self.text is not None else None

    def document_problem(self) -> str | None:
        """Why the document itself cannot verify (undefined terms, invalid JSON-LD), or None.

        The terms are found in the same walk that canonicalizes the document (the canonical
        form is kept for the proofs), and remembered for the default loader."""
        if self.known is not None:
            return _describe_undefined(list(self.known[1]), "credential") if self.known[1] else None
        key = self._terms_key()
        if key is None:
            return _document_problem(self.unsecured, self.loader)
        cacheable = self.loader is None
        known = DOCUMENT_TERMS.get(key) if cacheable else None
        if known is None:
            if self.text is None:
                return _document_problem(self.unsecured, self.loader)
            try:
                canonical, undefined = canonize_and_find_undefined_terms(
                    self.unsecured, self.loader
                )
            except EngineError:
                # Judged the two-pass way, with the same messages as always.
                return _document_problem(self.unsecured, self.loader)
            self._canonical[self.text] = canonical
            known = tuple(undefined)
            if cacheable:
                DOCUMENT_TERMS.put(key, known)
        if known:
            return _describe_undefined(list(known), "credential")
        return None

    def verify(self, proof: object, index: int) -> ProofResult:
        """Verify ``proof``, the ``index``-th of the document's proofs."""
        signed: list[ProofOptionsView] = []
        try:
            resolved = self._verify(proof, index, signed)
        except UnsupportedProofError as error:
            return _result(proof, False, error.message, unchecked=True, signed=signed)
        except ResolutionError as error:
            return _result(proof, False, error.message, unchecked=error.unavailable, signed=signed)
        except EngineError as error:
            return _result(proof, False, error.message, signed=signed)
        except Exception as error:  # never raise for bad input, whatever it is
            return _result(
                proof, False, f"proof could not be checked: {_short(error)}", signed=signed
            )
        message = f"signature verified (key controlled by {resolved.controller})"
        result = _result(proof, True, message, resolved.controller, signed=signed)
        return dataclasses.replace(result, confirmed=resolved.confirmed)

    def _signed_options(self, options: JsonObject, context: Any) -> tuple[str, ProofOptionsView]:
        """§3.3.5 Proof Configuration, and the options as the canonical configuration states
        them: the signature covers those, not the JSON keys (an embedded ``@context`` can
        alias ``verificationMethod``), so every option the checks use is read from there."""
        key_text = json_text_or_none({"@context": context, **options})
        key = digest(key_text) if key_text is not None and self.loader is None else None
        known = PROOF_OPTIONS.get(key) if key is not None else None
        if known is None:
            canonical = proof_configuration(options, context, self.loader, verifying=True)
            known = (canonical, proof_options_view(canonical))
            if key is not None:
                PROOF_OPTIONS.put(key, known)
        return known

    def _verify(self, proof: object, index: int, signed: list[ProofOptionsView]) -> ResolvedKey:
        """Return the key if ``proof`` verifies; raise ``EngineError`` otherwise.
        ``signed`` receives the proof's options as signed, once they are known."""
        if not isinstance(proof, dict):
            raise ProofError("proof is not a JSON object")
        proof_value = proof.get("proofValue")
        if not isinstance(proof_value, str):
            # Checked before the suite: a proof without a signature value signs nothing,
            # whatever suite it names (the OB 3.0 examples' ``"proof": {}``).
            raise ProofError("proof has no proofValue string")
        check_suite(proof, verifying=True)
        check_proof_value(proof_value)
        options = without(proof, "proofValue")
        context = self._context_for(options)
        options.pop("@context", None)
        if self.check_terms:
            undefined = find_undefined_terms({"@context": context, **options}, self.loader)
            if undefined:
                raise ProofError(_describe_undefined(undefined, "proof"))
        canonical_config, view = self._signed_options(options, context)
        signed.append(view)
        # The suite, purpose, dates and key as signed (VC-DI-EDDSA §3.3.3 steps 2-4, VC Data
        # Integrity §2.1 "expires"): what the JSON keys say does not count.
        check_suite(view.as_options(), verifying=True)
        if view.created is not None:
            parse_xsd_datetime(view.created, "created")
        purpose = view.proof_purpose
        if purpose != self.expected_purpose:
            raise ProofError(
                f"proof purpose {purpose!r} does not match the expected {self.expected_purpose!r}"
            )
        self._check_expiry(view.expires)
        self._check_binding(view)
        if view.verification_method is None and isinstance(proof.get("verificationMethod"), str):
            # JSON-LD drops an IRI that is not absolute: the signed proof names no key.
            raise ProofError(
                f"verificationMethod {proof['verificationMethod']!r} is not an absolute IRI, "
                "so the signed proof names no key"
            )
        resolved = self._resolve(view.verification_method)
        input_document = proof_input(self.unsecured, self.all_proofs, proof.get("previousProof"))
        cache_key = None
        if self.loader is None:
            # The document's source text and the proof's position decide both the input
            # document (with the proofs ``previousProof`` names) and the proof.
            content_key = (
                self.source.derive(f"proof:{index}")
                if self.source is not None
                else self._content_key(input_document, proof)
            )
            if content_key is not None:
                cache_key = (
                    content_key,
                    public_key_bytes(resolved.public_key),
                    self.expected_purpose,
                    self.check_terms,
                )
        if cache_key is not None and VERIFIED_PROOFS.get(cache_key):
            return resolved
        if input_document is self.unsecured and self.known is not None:
            canonical_document = self.known[0]  # no JSON text needed to find it
        else:
            input_text = (
                self.text if input_document is self.unsecured else json_text_or_none(input_document)
            )
            canonical_document = self._transform(input_document, input_text)
        data = hash_data(canonical_config, canonical_document)
        if not verify_signature(data, proof_value, resolved.public_key):
            raise ProofError(
                "signature does not match: the credential or its proof was changed after "
                "signing, or it was signed with another key"
            )
        if cache_key is not None:
            VERIFIED_PROOFS.put(cache_key, True)
        return resolved

    def _content_key(self, input_document: JsonObject, proof: JsonObject) -> bytes | None:
        """The digest of the input document's and the proof's JSON texts, or None when either
        has none."""
        input_text = (
            self.text if input_document is self.unsecured else json_text_or_none(input_document)
        )
        proof_text = json_text_or_none(proof)
        if input_text is None or proof_text is None:
            return None
        return digest(input_text, proof_text)

    def _resolve(self, method_id: object) -> ResolvedKey:
        if not isinstance(method_id, str) or not method_id:
            raise ProofError("proof has no verificationMethod")
        resolved = self.resolver.resolve(method_id)
        if self.expected_purpose not in resolved.purposes:
            raise ProofError(
                f"verification method {method_id!r} is not authorized for "
                f"{self.expected_purpose} by its controller"
            )
        return resolved

    def _context_for(self, options: JsonObject) -> Any:
        # VC-DI-EDDSA §3.3.3 step 4: a proof that carries its own @context must agree with the
        # document's. We require equality: a shorter proof context would let the document's
        # later contexts (and the terms they define) fall out of what is verified.
        context = self.unsecured.get("@context")
        if "@context" in options and _as_list(options["@context"]) != _as_list(context):
            raise ProofError("the proof's @context differs from the document's @context")
        return context

    def _check_binding(self, view: ProofOptionsView) -> None:
        # VC Data Integrity §4.3 "Verify Proof" steps: a challenge or domain the verifier asks
        # for must be the one signed in the proof (replay protection of presentations).
        if self.challenge is not None and view.challenge != self.challenge:
            raise ProofError(
                f"proof challenge {view.challenge!r} does not match the expected challenge"
            )
        if self.domain is not None and view.domain != self.domain:
            raise ProofError(
                f"proof domain {view.domain!r} does not match the expected {self.domain!r}"
            )

    def _check_expiry(self, expires: str | None) -> None:
        # VC Data Integrity §2.1 "expires": a proof past this time is invalid.
        if expires is not None and parse_xsd_datetime(expires, "expires") < datetime.now(UTC):
            raise ProofError(f"proof expired at {expires}")

    def _transform(self, input_document: JsonObject, text: str | None) -> str:
        if input_document is self.unsecured and self.known is not None:
            return self.known[0]
        if text is None:
            # Not JSON data (e.g. a set): refused as always, naming the problem. Called through
            # the module so that a stand-in for ``caches.json_text`` (a test counts the texts
            # made) sees this call too.
            text = caches.json_text(input_document)
        if text not in self._canonical:
            self._canonical[text] = transform(input_document, self.loader)
        return self._canonical[text]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _document_problem(unsecured: JsonObject, loader: DocumentLoader | None) -> str | None:
    """Why the document itself cannot verify (undefined terms, invalid JSON-LD), or None."""
    try:
        undefined = find_undefined_terms(unsecured, loader)
    except EngineError as error:
        return error.message
    if undefined:
        return _describe_undefined(undefined, "credential")
    return None


def verify_proofs(
    document: JsonObject,
    resolver: KeyResolver,
    *,
    loader: DocumentLoader | None = None,
    expected_purpose: str = ASSERTION_METHOD,
    check_terms: bool = True,
    source: SourceKey | None = None,
    known: tuple[str, tuple[str, ...]] | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> list[ProofResult]:
    """Verify every proof of ``document`` (one result per proof, in order). Never raises: bad
    input gives failed results whose ``message`` names the problem. ``source``: the key of
    the exact JSON text ``document`` was parsed from (and not changed since), for the caches.

    Each proof is checked over the document without proofs, or with the proofs its
    ``previousProof`` names (VC Data Integrity §4.5). A document or proof using terms that no
    @context defines fails, naming them (``check_terms=False`` skips this, see
    ``create_proof``). ``known``: the unsecured document's canonical form and undefined terms,
    when the caller computed them already (``signed_view.SignedView``). ``challenge`` and
    ``domain``: when given, each proof must have signed exactly these (presentations)."""
    try:
        return _verify_proofs(
            document,
            resolver,
            loader,
            expected_purpose,
            check_terms,
            source,
            known,
            challenge,
            domain,
        )
    except Exception as error:  # last line of defence: the contract is "never raises"
        return [_result(None, False, f"document could not be checked: {_short(error)}")]


def _verify_proofs(
    document: object,
    resolver: KeyResolver,
    loader: DocumentLoader | None,
    expected_purpose: str,
    check_terms: bool,
    source: SourceKey | None,
    known: tuple[str, tuple[str, ...]] | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> list[ProofResult]:
    if not isinstance(document, dict):
        return [_result(None, False, "document is not a JSON object")]
    proofs = proof_list(document)
    if not proofs:
        return [_result(None, False, "document has no proof")]
    unsecured = without(document, "proof")
    verifier = _Verifier(
        unsecured,
        proofs,
        resolver,
        loader,
        expected_purpose,
        check_terms,
        source,
        known,
        challenge,
        domain,
    )
    problem = verifier.document_problem() if check_terms else None
    if problem is not None:
        return [_result(proof, False, problem) for proof in proofs]
    return [verifier.verify(proof, index) for index, proof in enumerate(proofs)]
