"""Engine figures: signing and verifying ``eddsa-rdfc-2022`` proofs, and refusing hostile input.

Baselines, measured in the same run: the reference JSON-LD path (PyLD expansion and
``to_rdf``, which the engine falls back to for documents the fast path does not handle) and the
Ed25519 operation alone (the floor no implementation can go below).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.fixtures import Issuer, make_issuer, micro_credentials
from benchmarks.report import Figure, Report, millis, rate
from benchmarks.timing import Measurement, measure, time_once
from issuer.core import fastld
from issuer.core.canonical import canonize, find_undefined_terms
from issuer.core.contexts import OB_V3, VC_V2
from issuer.core.dataintegrity.caches import clear_verification_caches
from issuer.core.dataintegrity.signing import sign
from issuer.core.dataintegrity.verifying import verify_proofs
from issuer.core.key_envelope import OPENED_KEY_TTL, DatabaseKeyStore, forget_cached_keys
from issuer.core.multikey import encode_public_key
from issuer.core.verifier import verify_credential
from issuer.models import KeyStatus, SigningKey
from issuer.services.keys import load_private_key

SIGNING_TARGET = 1_000
VERIFICATION_TARGET = 800
REFUSAL_TARGET_S = 0.100


@contextmanager
def reference_path() -> Iterator[None]:
    """Run the engine with the fast JSON-LD path switched off (everything through PyLD)."""
    original = fastld.convert
    fastld.convert = lambda *args, **kwargs: None
    try:
        yield
    finally:
        fastld.convert = original


def _latency(measurement: Measurement) -> str:
    return f"median {millis(measurement.median_s)}, p99 {millis(measurement.p99_s)}"


def _wall(measurement: Measurement, unit: str) -> str:
    return (
        f"wall clock {rate(measurement.per_wall_second, unit)}, median "
        f"{millis(measurement.wall_median_s)}, p99 {millis(measurement.wall_p99_s)}"
    )


def _shape(credential: dict[str, Any]) -> str:
    nquads = canonize(credential)
    lines = nquads.splitlines()
    blank_nodes = {word for line in lines for word in line.split() if word.startswith("_:c14n")}
    size = len(json.dumps(credential, ensure_ascii=False).encode())
    return (
        f"credential: Merkki micro-credential with every EU element, {len(lines)} quads, "
        f"{len(blank_nodes)} blank nodes, {size:,} bytes of JSON"
    )


def run(report: Report, quick: bool = False) -> None:
    seconds = 0.6 if quick else 3.0
    reference_seconds = 0.3 if quick else 1.5
    issuer = make_issuer()
    unsigned = micro_credentials(issuer, 40 if quick else 400)
    report.start("engine: eddsa-rdfc-2022 proofs", _shape(unsigned[0]))
    signed = _signing(report, issuer, unsigned, seconds, reference_seconds)
    _signing_from_the_database_store(report, issuer, unsigned, seconds)
    _verification(report, issuer, signed, seconds, reference_seconds)
    _steps(report, unsigned, seconds / 3, reference_seconds / 3)
    _hostile(report, issuer, unsigned[0], signed[0], quick)


def _sign(issuer: Issuer) -> Any:
    def sign_one(document: dict[str, Any]) -> dict[str, Any]:
        return sign(
            document,
            issuer.private_key,
            issuer.verification_method,
            created=document["validFrom"],
        )

    return sign_one


def _signing(
    report: Report,
    issuer: Issuer,
    unsigned: list[dict[str, Any]],
    seconds: float,
    reference_seconds: float,
) -> list[dict[str, Any]]:
    sign_one = _sign(issuer)
    fast = measure(sign_one, unsigned, seconds=seconds)
    with reference_path():
        reference = measure(sign_one, unsigned, seconds=reference_seconds, warmup=1)
    messages = [bytes(64 * [number % 256]) for number in range(64)]
    raw = measure(issuer.private_key.sign, messages, seconds=min(seconds, 0.5))
    report.add(
        Figure(
            "signing throughput, one core",
            rate(fast.per_second, "credentials"),
            f">= {SIGNING_TARGET:,} credentials/s",
            f"reference JSON-LD path {rate(reference.per_second, 'credentials')} "
            f"({fast.per_second / reference.per_second:.0f}x slower); "
            f"Ed25519 signature alone {rate(raw.per_second, 'signatures')}",
            fast.per_second >= SIGNING_TARGET,
        )
    )
    report.add(
        Figure(
            "signing time per credential",
            _latency(fast),
            baseline=f"reference JSON-LD path {_latency(reference)}",
        )
    )
    report.add(Figure("signing, by the wall clock", _wall(fast, "credentials")))
    return [sign_one(document) for document in unsigned]


def _signing_from_the_database_store(
    report: Report, issuer: Issuer, unsigned: list[dict[str, Any]], seconds: float
) -> None:
    """Signing as the app servers do with ``ISSUER_KEY_STORE=database`` (the default, issue
    16): every credential gets its key through ``keys.load_private_key`` from the sealed row,
    which the store answers from the opened keys it keeps for ``OPENED_KEY_TTL``; the first
    use after that pays scrypt and the unwrap (issuer.core.key_envelope). The issuing context
    keeps the opened key for a process as well, so this is the slowest path a request takes
    while the cache holds the key."""
    forget_cached_keys()
    store = DatabaseKeyStore("benchmark passphrase, not a secret")
    key_id = "hamk-0123456789abcdef"
    row = SigningKey(
        key_id=key_id,
        public_key_multibase=encode_public_key(issuer.private_key.public_key()),
        status=KeyStatus.ACTIVE,
        sealed_private_key=store.seal(key_id, issuer.private_key),
    )

    def cold_open(_: object) -> Any:
        # Every call a first one in a new process: no derived key-encryption key, no opened key.
        forget_cached_keys()
        return load_private_key(store, row)

    cold = measure(cold_open, [None], seconds=min(seconds, 1.0), warmup=1)

    def sign_one(document: dict[str, Any]) -> dict[str, Any]:
        return sign(
            document,
            load_private_key(store, row),
            issuer.verification_method,
            created=document["validFrom"],
        )

    load_private_key(store, row)  # opened once, as by the first request of a process
    cached = measure(sign_one, unsigned, seconds=seconds)
    lookup = measure(lambda _: load_private_key(store, row), [None], seconds=min(seconds, 0.5))
    report.add(
        Figure(
            "signing throughput, one core, database key store",
            rate(cached.per_second, "credentials"),
            f">= {SIGNING_TARGET:,} credentials/s",
            f"key from its sealed row per credential, opened key cached {OPENED_KEY_TTL:.0f} s; "
            f"{_latency(cached)}; the key lookup alone (cache hit) median "
            f"{millis(lookup.median_s)}",
            cached.per_second >= SIGNING_TARGET,
        )
    )
    report.add(
        Figure(
            "opening a sealed key, cache miss",
            _latency(cold),
            baseline=f"scrypt (N=2^15, r=8) and two AES-256-GCM layers; once per process and "
            f"key every {OPENED_KEY_TTL:.0f} s",
        )
    )
    forget_cached_keys()


def _verification(
    report: Report,
    issuer: Issuer,
    signed: list[dict[str, Any]],
    seconds: float,
    reference_seconds: float,
) -> None:
    resolver = issuer.resolver()
    results = verify_proofs(signed[0], resolver)
    if not all(result.ok for result in results):
        raise RuntimeError(f"the benchmark credential does not verify: {results}")

    def verify_one(document: dict[str, Any]) -> Any:
        # Every verification is a first one: nothing remembered from the previous round.
        clear_verification_caches()
        return verify_proofs(document, resolver)

    def verify_full(document: dict[str, Any]) -> Any:
        clear_verification_caches()
        return verify_credential(document, resolver=resolver)

    fast = measure(verify_one, signed, seconds=seconds)
    with reference_path():
        reference = measure(verify_one, signed, seconds=reference_seconds, warmup=1)
    public_key = issuer.private_key.public_key()
    message = bytes(64)
    signature = issuer.private_key.sign(message)
    raw = measure(
        lambda _: public_key.verify(signature, message), [None], seconds=min(seconds, 0.5)
    )
    report.add(
        Figure(
            "verification throughput, one core",
            rate(fast.per_second, "credentials"),
            f">= {VERIFICATION_TARGET:,} credentials/s",
            f"reference JSON-LD path {rate(reference.per_second, 'credentials')} "
            f"({fast.per_second / reference.per_second:.0f}x slower); "
            f"Ed25519 verification alone {rate(raw.per_second, 'verifications')}",
            fast.per_second >= VERIFICATION_TARGET,
        )
    )
    report.add(
        Figure(
            "verification time per credential",
            _latency(fast),
            baseline=f"reference JSON-LD path {_latency(reference)}",
        )
    )
    report.add(Figure("verification, by the wall clock", _wall(fast, "credentials")))
    # The whole verifier report (format, OB 3.0 JSON Schema, terms, proof, issuer binding,
    # validity) as the verification endpoints produce it, minus fetching the status list.
    full = measure(verify_full, signed, seconds=seconds / 2)
    again = measure(
        lambda document: verify_credential(document, resolver=resolver),
        signed,
        seconds=seconds / 2,
    )
    report.add(
        Figure(
            "full verifier report (verify_credential)",
            f"{rate(full.per_second, 'credentials')}, {_latency(full)}",
            baseline="adds the JSON Schema check to the proof check; no status list fetch",
        )
    )
    report.add(
        Figure(
            "full verifier report, credential seen before",
            f"{rate(again.per_second, 'credentials')}, {_latency(again)}",
            baseline="proof and term checks remembered (bounded cache); key resolved, "
            "schema and validity checked every time",
        )
    )


def _steps(
    report: Report, unsigned: list[dict[str, Any]], seconds: float, reference_seconds: float
) -> None:
    """The JSON-LD steps on their own, fast and reference path."""
    for name, function in (
        ("canonicalization (JSON-LD to RDFC-1.0)", canonize),
        ("undefined-term check", find_undefined_terms),
    ):
        fast = measure(function, unsigned, seconds=seconds)
        with reference_path():
            reference = measure(function, unsigned, seconds=reference_seconds, warmup=1)
        report.add(
            Figure(
                name,
                f"median {millis(fast.median_s)}",
                baseline=f"reference JSON-LD path median {millis(reference.median_s)} "
                f"({reference.median_s / fast.median_s:.0f}x)",
            )
        )


# --- hostile input ---------------------------------------------------------------------------


def _credential(**properties: Any) -> dict[str, Any]:
    return {
        "@context": [VC_V2, OB_V3],
        "id": "https://attacker.example/credentials/1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        **properties,
    }


def _clique(size: int) -> dict[str, Any]:
    """Blank nodes that look alike and all link to each other: RDFC-1.0 §A "poison"."""
    return _credential(
        evidence=[
            {
                "id": f"_:n{i}",
                "type": "Evidence",
                "name": [{"id": f"_:n{j}"} for j in range(size) if j != i],
            }
            for i in range(size)
        ]
    )


def _regular(size: int, degree: int) -> dict[str, Any]:
    """A circulant graph: every blank node alike, each linked to the next ``degree``."""
    return _credential(
        evidence=[
            {
                "id": f"_:n{i}",
                "type": "Evidence",
                "name": [{"id": f"_:n{(i + step) % size}"} for step in range(1, degree + 1)],
            }
            for i in range(size)
        ]
    )


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"name": "x"}
    for _ in range(levels):
        node = {"description": node}
    return _credential(credentialSubject=node)


def hostile_documents(quick: bool = False) -> dict[str, dict[str, Any]]:
    scale = 10 if quick else 1
    return {
        "clique of 8 blank nodes": _clique(8),
        "clique of 60 blank nodes": _clique(60),
        "ring of 1,000 blank nodes": _regular(1_000, 1),
        "4-regular graph of 400 blank nodes": _regular(400, 4),
        "array of 200,000 strings": _credential(name=[f"n{i}" for i in range(200_000 // scale)]),
        "array of 100,000 objects": _credential(
            evidence=[{"type": "Evidence", "name": f"e{i}"} for i in range(100_000 // scale)]
        ),
        "array of 1,000,000 nulls": _credential(name=[None] * (1_000_000 // scale)),
        "nesting 10,000 levels deep": _deep(10_000 // scale),
    }


def _hostile(
    report: Report,
    issuer: Issuer,
    valid: dict[str, Any],
    valid_signed: dict[str, Any],
    quick: bool,
) -> None:
    report.start(
        "engine: hostile input (canonicalization refused with CanonicalizationError)",
        "median of 5 attempts: processor time of the refusing thread (wall clock in brackets)",
    )
    _, valid_cpu = time_once(lambda: canonize(valid))
    baseline = f"a valid credential canonicalizes in {millis(valid_cpu)}"
    worst = 0.0
    for name, document in hostile_documents(quick).items():
        try:
            canonize(document)
        except Exception as error:
            outcome = getattr(error, "message", str(error))
        else:
            outcome = "accepted"
        wall, cpu = time_once(lambda document=document: canonize(document))  # type: ignore[misc]
        worst = max(worst, cpu)
        report.add(
            Figure(
                f"refuse {name}",
                f"{millis(cpu)} ({millis(wall)} wall)",
                f"<= {millis(REFUSAL_TARGET_S)}",
                outcome[:100],
                cpu <= REFUSAL_TARGET_S and outcome != "accepted",
            )
        )
    # End to end: a signed credential with a poisoned part, through proof verification.
    resolver = issuer.resolver()
    poisoned = {**valid_signed, **_clique(60), "proof": valid_signed["proof"]}
    wall, cpu = time_once(lambda: verify_proofs(poisoned, resolver))
    message = verify_proofs(poisoned, resolver)[0].message
    worst = max(worst, cpu)
    report.add(
        Figure(
            "refuse a poisoned signed credential (verify)",
            f"{millis(cpu)} ({millis(wall)} wall)",
            f"<= {millis(REFUSAL_TARGET_S)}",
            message[:100],
            cpu <= REFUSAL_TARGET_S,
        )
    )
    report.add(
        Figure(
            "slowest refusal",
            millis(worst),
            f"<= {millis(REFUSAL_TARGET_S)}",
            baseline,
            worst <= REFUSAL_TARGET_S,
        )
    )
