"""Status lists: allocation (random, unique, never reused, concurrent issuers), flipping bits,
the signed list credential and its public route."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.core.dataintegrity.verifying import verify_proofs
from issuer.core.status_list import (
    MIN_LIST_LENGTH,
    Bitstring,
    check_status,
    decode_list,
    encode_list,
)
from issuer.db import get_database, get_session, unit_of_work
from issuer.models.issuing import StatusAllocation, StatusList
from issuer.services import institutions, key_resolution, status
from tests.conftest import BASE_URL
from tests.web.learner.support import (
    World,
    credential_json,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


def _allocations(app: Flask) -> list[tuple[str, int, str, int]]:
    with app.app_context():
        rows = get_session().execute(
            select(
                StatusAllocation.purpose,
                StatusList.number,
                StatusAllocation.credential_id,
                StatusAllocation.index,
            ).join(StatusList, StatusList.id == StatusAllocation.status_list_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_every_credential_gets_a_revocation_entry_and_a_suspension_position(
    app: Flask, world: World
) -> None:
    issued = issue(app)
    document = credential_json(app, issued.id)

    entry = document["credentialStatus"]
    # One entry (OB 3.0 allows at most one credentialStatus): revocation.
    assert isinstance(entry, dict)
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == f"{BASE_URL}/status/hamk/revocation/1"
    assert entry["id"] == f"{entry['statusListCredential']}#{entry['statusListIndex']}"
    rows = _allocations(app)
    assert sorted((purpose, number, cid) for purpose, number, cid, _i in rows) == [
        ("revocation", 1, issued.id),
        ("suspension", 1, issued.id),
    ]
    revocation_index = next(i for purpose, _n, _c, i in rows if purpose == "revocation")
    assert entry["statusListIndex"] == str(revocation_index)
    assert all(0 <= index < MIN_LIST_LENGTH for *_rest, index in rows)


def test_indexes_are_random_and_distinct(app: Flask, world: World) -> None:
    ids = [issue(app, email=f"learner{n}@example.fi").id for n in range(12)]
    rows = _allocations(app)
    revocation = [index for purpose, _n, _c, index in rows if purpose == "revocation"]
    assert len(set(revocation)) == len(ids) == len(revocation)
    # Random over 131,072 positions: twelve draws are not 0..11 or any other run.
    assert sorted(revocation) != list(range(min(revocation), min(revocation) + 12))
    assert max(revocation) - min(revocation) > 1000


def test_a_new_list_opens_when_the_list_is_three_quarters_full(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 entries of 131,072 count as "75 % full" for this test.
    monkeypatch.setattr(status, "FILL_LIMIT", 3 / MIN_LIST_LENGTH)
    ids = [issue(app, email=f"l{n}@example.fi").id for n in range(5)]
    numbers = [
        credential_json(app, credential_id)["credentialStatus"]["statusListCredential"].rsplit(
            "/", 1
        )[1]
        for credential_id in ids
    ]
    assert numbers == ["1", "1", "1", "2", "2"]
    with app.app_context():
        lists = get_session().scalar(select(func.count()).select_from(StatusList))
    assert lists == 4  # revocation 1-2 and suspension 1-2


def test_concurrent_issuers_never_share_an_index(app: Flask, world: World) -> None:
    """Several threads, each with its own connection and transaction, issue at once (on
    PostgreSQL they really run concurrently; SQLite serializes the writers)."""
    threads, per_thread = 4, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(number: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                issue(app, email=f"t{number}-{n}@example.fi")
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not errors, errors
    rows = _allocations(app)
    assert len(rows) == 2 * threads * per_thread
    for purpose in status.PURPOSES:
        keys = [(number, index) for p, number, _c, index in rows if p == purpose]
        assert len(keys) == len(set(keys)) == threads * per_thread


def test_a_colliding_index_is_drawn_again(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction took the index this one drew: the UNIQUE constraint refuses it and
    the allocator draws again (here the 'other transaction' is an earlier credential that the
    allocator's cache does not know about)."""
    first = issue(app, email="first@example.fi")
    taken = int(credential_json(app, first.id)["credentialStatus"]["statusListIndex"])
    draws = iter([taken, taken, 7, 7, 8])
    monkeypatch.setattr(status, "random_free_index", lambda is_taken, length: next(draws))
    second = issue(app, email="second@example.fi")
    assert credential_json(app, second.id)["credentialStatus"]["statusListIndex"] == "7"


def test_set_status_flips_the_bit_and_the_published_list_shows_it(
    app: Flask, world: World, client: FlaskClient
) -> None:
    issued = issue(app)
    entry = credential_json(app, issued.id)["credentialStatus"]
    list_url = entry["statusListCredential"].removeprefix(BASE_URL)

    before = client.get(list_url)
    assert before.status_code == 200
    assert check_status(entry, before.get_json()).status is False

    with app.app_context(), unit_of_work() as session:
        assert status.set_status(session, issued.id, "revocation", True) is True
        assert status.set_status(session, issued.id, "revocation", True) is False
    after = client.get(list_url)
    assert check_status(entry, after.get_json()).status is True
    assert after.headers["ETag"] != before.headers["ETag"]
    with app.app_context():
        assert status.is_set(get_session(), issued.id, "revocation")
        assert not status.is_set(get_session(), issued.id, "suspension")
        assert status.statuses(get_session(), [issued.id]) == {issued.id: {"revocation"}}


def test_the_list_credential_is_signed_and_verifies(
    app: Flask, world: World, client: FlaskClient
) -> None:
    issued = issue(app)
    entry = credential_json(app, issued.id)["credentialStatus"]
    response = client.get(entry["statusListCredential"].removeprefix(BASE_URL))
    document: dict[str, Any] = json.loads(response.data)

    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["id"] == entry["statusListCredential"]
    assert document["issuer"] == "did:web:127.0.0.1%3A5000:issuers:hamk"
    subject = document["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    assert subject["ttl"] == 300_000
    assert decode_list(subject["encodedList"]).length == MIN_LIST_LENGTH
    with app.app_context():
        resolver = key_resolution.resolver_for(get_session(), BASE_URL)
        [result] = verify_proofs(document, resolver)
    assert result.ok, result.message
    assert result.controller == document["issuer"]
    tampered = json.loads(response.data)
    tampered["credentialSubject"]["encodedList"] = encode_list(Bitstring())
    tampered["credentialSubject"]["statusPurpose"] = "suspension"
    with app.app_context():
        [forged] = verify_proofs(tampered, key_resolution.resolver_for(get_session(), BASE_URL))
    assert not forged.ok


def test_the_status_route_is_cacheable_conditional_and_cors(
    app: Flask, world: World, client: FlaskClient
) -> None:
    issue(app)
    response = client.get("/status/hamk/suspension/1")
    assert response.status_code == 200
    assert response.content_type == "application/vc+ld+json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Last-Modified"]
    etag = response.headers["ETag"]

    again = client.get("/status/hamk/suspension/1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    # The cached signature is reused until a bit changes.
    assert client.get("/status/hamk/suspension/1").headers["ETag"] == etag


@pytest.mark.parametrize(
    "path", ["/status/hamk/revocation/2", "/status/nobody/revocation/1", "/status/hamk/other/1"]
)
def test_unknown_lists_are_404_json(
    app: Flask, world: World, client: FlaskClient, path: str
) -> None:
    issue(app)
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_set_status_of_an_unknown_credential_is_not_found(app: Flask, world: World) -> None:
    from issuer.services.errors import NotFoundError

    with app.app_context(), pytest.raises(NotFoundError):
        status.set_status(get_session(), "0" * 32, "revocation", True)


def test_allocate_returns_the_revocation_entry(app: Flask, world: World) -> None:
    """``allocate`` is the module's entry point for others; the rows it adds need the
    credential in the same transaction (the foreign key is checked at commit)."""
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            institution = institutions.get_institution(session, "hamk")
            entry = status.allocate(session, institution, "a" * 32, base_url=BASE_URL)
            assert entry["statusPurpose"] == "revocation"
            assert entry["statusListCredential"] == f"{BASE_URL}/status/hamk/revocation/1"
            assert session.scalar(select(func.count()).select_from(StatusAllocation)) == 2
        finally:
            session.rollback()
            session.close()
