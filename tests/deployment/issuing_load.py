"""Issuing through ``POST /api/v1/credentials`` from many threads, and checking what the
database holds afterwards (tests/deployment/test_concurrent_issuance.py, test_crash_safety.py).

``post_issue`` never raises for a failed request: a connection error (the worker died, a
timeout) becomes an ``IssueOutcome`` with ``error`` set, so a test can tell "answered 201",
"answered something else" and "no answer" apart. ``database_state`` reads every credential of
the institution with its status allocations, and ``check_consistent`` asserts the invariants
issuing promises (README "Issuing and learner sharing"): every credential is complete (signed
JSON whose ``credentialStatus`` is its revocation allocation), holds exactly one position per
purpose, no two share a position, and no allocation lacks its credential.
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from issuer.models import Credential, Institution
from issuer.models.issuing import IdempotencyRecord, StatusAllocation, StatusList
from issuer.services.status import PURPOSES, REVOCATION, list_url
from tests.deployment.server import Client, Deployment

ISSUE_PATH = "/api/v1/credentials"
T = TypeVar("T")


def issue_body(deployment: Deployment, tag: str) -> dict[str, Any]:
    """An issue request for the learner ``tag`` (distinct tags, distinct learners)."""
    return {
        "badge_class": deployment.badge_class_slug,
        "recipient": {"email": f"learner-{tag}@example.fi", "name": f"Oppija {tag}"},
        "lang": "fi",
    }


@dataclass(frozen=True)
class IssueOutcome:
    tag: str
    key: str | None
    status: int | None = None
    credential_id: str | None = None
    #: (statusListCredential, statusListIndex) of the returned credential's credentialStatus.
    position: tuple[str, int] | None = None
    replayed: bool = False
    body: bytes = b""
    error: str | None = None


def post_issue(
    client: Client, deployment: Deployment, tag: str, key: str | None = None
) -> IssueOutcome:
    headers = {"Idempotency-Key": key} if key is not None else {}
    try:
        answer = client.post_json(ISSUE_PATH, issue_body(deployment, tag), headers)
    except (OSError, http.client.HTTPException) as error:
        return IssueOutcome(tag, key, error=repr(error))
    if answer.status != 201:
        return IssueOutcome(tag, key, status=answer.status, body=answer.body)
    data = answer.json()
    entry = data["credential"]["credentialStatus"]
    return IssueOutcome(
        tag,
        key,
        status=201,
        credential_id=data["id"],
        position=(entry["statusListCredential"], int(entry["statusListIndex"])),
        replayed=answer.header("Idempotent-Replayed") == "true",
        body=answer.body,
    )


def in_threads(work: Callable[[int], T], count: int, timeout: float) -> list[T]:
    """``work(0)`` ... ``work(count - 1)``, each in its own thread, at the same time; their
    results (raises what a thread raised, or TimeoutError after ``timeout`` seconds)."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, number) for number in range(count)]
        return [future.result(timeout=timeout) for future in futures]


def describe_failures(outcomes: Sequence[IssueOutcome], limit: int = 5) -> str:
    bad = [o for o in outcomes if o.status != 201]
    kinds = Counter(o.error.split("(")[0] if o.error else o.status for o in bad)
    samples = "; ".join(f"{o.tag}: {o.status} {o.error or o.body[:300]!r}" for o in bad[:limit])
    return f"{len(bad)} failed ({dict(kinds)}): {samples}"


# --- the database afterwards -------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCredential:
    id: str
    signed: dict[str, Any]
    #: purpose -> (list number, index) of its allocations.
    positions: dict[str, list[tuple[int, int]]]


@dataclass(frozen=True)
class DatabaseState:
    credentials: dict[str, StoredCredential]
    #: Allocations whose credential row does not exist.
    orphans: list[tuple[str, str, int, int]]
    idempotency_keys: int
    list_lengths: dict[tuple[str, int], int]


def database_state(deployment: Deployment) -> DatabaseState:
    engine = create_engine(deployment.database_url)
    try:
        with Session(engine) as session:
            institution = session.scalar(
                select(Institution).where(Institution.slug == deployment.institution)
            )
            assert institution is not None
            rows = session.execute(
                select(Credential.id, Credential.signed_json).where(
                    Credential.institution_id == institution.id
                )
            ).all()
            credentials = {
                credential_id: StoredCredential(
                    credential_id, json.loads(text), {purpose: [] for purpose in PURPOSES}
                )
                for credential_id, text in rows
            }
            orphans = []
            allocations = session.execute(
                select(
                    StatusAllocation.credential_id,
                    StatusAllocation.purpose,
                    StatusList.number,
                    StatusAllocation.index,
                )
                .join(StatusList, StatusList.id == StatusAllocation.status_list_id)
                .where(StatusList.institution_id == institution.id)
            ).all()
            for credential_id, purpose, number, index in allocations:
                stored = credentials.get(credential_id)
                if stored is None:
                    orphans.append((credential_id, purpose, number, index))
                else:
                    stored.positions.setdefault(purpose, []).append((number, index))
            keys = len(
                session.scalars(
                    select(IdempotencyRecord.id).where(
                        IdempotencyRecord.institution_id == institution.id
                    )
                ).all()
            )
            lengths = {
                (purpose, number): length
                for purpose, number, length in session.execute(
                    select(StatusList.purpose, StatusList.number, StatusList.length).where(
                        StatusList.institution_id == institution.id
                    )
                )
            }
    finally:
        engine.dispose()
    return DatabaseState(credentials, orphans, keys, lengths)


def check_consistent(deployment: Deployment, state: DatabaseState) -> None:
    """The invariants of the module docstring; fails naming the first offenders."""
    assert not state.orphans, f"allocations without a credential: {state.orphans[:5]}"
    taken: dict[str, Counter[tuple[int, int]]] = {purpose: Counter() for purpose in PURPOSES}
    incomplete = []
    for stored in state.credentials.values():
        for purpose in PURPOSES:
            positions = stored.positions.get(purpose, [])
            if len(positions) != 1:
                incomplete.append((stored.id, purpose, positions))
                continue
            taken[purpose][positions[0]] += 1
            number, index = positions[0]
            assert 0 <= index < state.list_lengths[(purpose, number)]
        # A complete credential: signed (one eddsa-rdfc-2022 proof, always an array).
        [proof] = stored.signed.get("proof") or [None]
        assert isinstance(proof, dict), f"{stored.id} is stored without a proof"
        assert proof.get("cryptosuite") == "eddsa-rdfc-2022", stored.id
        assert proof.get("proofValue"), f"{stored.id} is stored without a proof value"
        assert stored.signed["id"].endswith(f"/credentials/{stored.id}")
        entry = stored.signed["credentialStatus"]
        [(number, index)] = stored.positions[REVOCATION] or [(-1, -1)]
        assert entry["statusPurpose"] == REVOCATION
        assert int(entry["statusListIndex"]) == index, (stored.id, entry, index)
        assert entry["statusListCredential"] == list_url(
            deployment.base_url, deployment.institution, REVOCATION, number
        )
    assert not incomplete, f"credentials without exactly one position per purpose: {incomplete[:5]}"
    for purpose, counts in taken.items():
        shared = [position for position, count in counts.items() if count > 1]
        assert not shared, f"{purpose} positions held by several credentials: {shared[:5]}"


def server_errors(log: str) -> list[str]:
    """Access-log lines (the app's JSON log) of answers with a 5xx status."""
    found = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        status = record.get("status")
        if isinstance(status, int) and status >= 500:
            found.append(line)
    return found


def verify_sample(client: Client, credentials: Sequence[dict[str, Any]]) -> None:
    """Each credential verifies as ``valid`` through ``POST /api/v1/verify``."""
    for credential in credentials:
        answer = client.post_json("/api/v1/verify", credential)
        assert answer.status == 200, answer.body[:500]
        report = answer.json()
        assert report["verdict"] == "valid", (credential["id"], report["checks"])
