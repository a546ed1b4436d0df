"""Data Integrity proofs: ``eddsa-rdfc-2022`` (VC-DI-EDDSA v1.0 §3.3) and the legacy
``Ed25519Signature2020``.

Each name lives in one module, imported from there:

* ``cryptosuite``: the steps of the cryptosuite (``transform``, ``proof_configuration``,
  ``hash_data``, ``serialize_proof``, ``verify_signature``) and what signing and verifying share
  (proof types and suites, xsd:dateTime values, ``proofValue`` decoding);
* ``signing``: ``create_proof`` and ``sign``, which add a proof to a document;
* ``verifying``: ``verify_proofs`` and ``ProofResult``, for every proof of a set or chain;
* ``caches``: what verification remembers (``SourceKey``, ``clear_verification_caches``).
"""
