"""POST /api/v1/credentials (with Idempotency-Key), the bulk CSV endpoint and job status."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.issuing import OutboxMail
from issuer.services import institutions, issuing, learner_keys
from issuer.services.issuing_context import IssuingContext
from tests.db_errors import lost_race, read_only_database
from tests.web.learner.support import (
    BASE_URL,
    World,
    assert_nothing_of_the_server,
    auth,
    break_key,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

BODY: dict[str, Any] = {
    "badge_class": "test-badge",
    "recipient": {"email": "liisa@example.fi", "name": "Liisa Virtanen"},
    "lang": "en",
}


def _count(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(Credential)) or 0


def test_issue_one_returns_201_with_the_signed_credential(app: Flask, world: World) -> None:
    body = {
        **BODY,
        "evidence": [{"url": "https://portfolio.example.fi/liisa", "narrative": "Demo."}],
        "grade": "5",
        "activity_start_date": "2026-01-10",
        "activity_end_date": "2026-03-20",
        "valid_until": "2030-12-31",
    }
    response = app.test_client().post(
        "/api/v1/credentials", json=body, headers=auth(world.hamk_token)
    )
    assert response.status_code == 201, response.text
    answer = response.get_json()
    assert set(answer) == {"id", "url", "credential"}
    assert answer["url"] == f"{BASE_URL}/credentials/{answer['id']}"
    assert response.headers["Location"] == answer["url"]
    credential = answer["credential"]
    assert credential["id"] == answer["url"]
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert credential["validUntil"] == "2030-12-31T23:59:59Z"
    assert credential["evidence"] == [
        {
            "id": "https://portfolio.example.fi/liisa",
            "type": ["Evidence"],
            "narrative": "Demo.",
        }
    ]
    subject = credential["credentialSubject"]
    assert subject["result"] == [{"type": ["Result"], "value": "5"}]
    assert subject["activityStartDate"] == "2026-01-10"
    assert subject["activityEndDate"] == "2026-03-20"
    assert subject["achievement"]["inLanguage"] == "en"
    with app.app_context():
        stored = get_session().get(Credential, answer["id"])
        assert stored is not None
        assert json.loads(stored.signed_json) == credential


def test_the_same_idempotency_key_issues_once(app: Flask, world: World) -> None:
    client = app.test_client()
    headers = {**auth(world.hamk_token), "Idempotency-Key": "enrolment-42"}
    first = client.post("/api/v1/credentials", json=BODY, headers=headers)
    # A retry (key order changed: the same request).
    retry = client.post(
        "/api/v1/credentials",
        data=json.dumps(dict(reversed(list(BODY.items())))),
        content_type="application/json",
        headers=headers,
    )
    assert first.status_code == retry.status_code == 201
    assert first.get_json() == retry.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _count(app) == 1

    different = client.post(
        "/api/v1/credentials",
        json={**BODY, "lang": "fi"},
        headers=headers,
    )
    assert different.status_code == 422
    assert different.get_json()["error"] == "idempotency_key_reused"
    assert _count(app) == 1

    # Keys are per caller: another institution's token may use the same key.
    other = client.post(
        "/api/v1/credentials",
        json=BODY,
        headers={**auth(world.tamk_token), "Idempotency-Key": "enrolment-42"},
    )
    assert other.status_code == 201
    assert _count(app) == 2


def test_concurrent_requests_with_one_key_issue_once(app: Flask, world: World) -> None:
    headers = {**auth(world.hamk_token), "Idempotency-Key": "race"}
    answers: list[tuple[int, Any]] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/credentials", json=BODY, headers=headers)
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [status for status, _ in answers] == [201] * 4, answers
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    assert _count(app) == 1


def test_without_a_key_every_request_issues(app: Flask, world: World) -> None:
    client = app.test_client()
    for _ in range(2):
        assert (
            client.post(
                "/api/v1/credentials", json=BODY, headers=auth(world.hamk_token)
            ).status_code
            == 201
        )
    assert _count(app) == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"badge_class", "recipient"}),
        (
            {"badge_class": "test-badge", "recipient": {"email": "nope", "name": " "}},
            {"recipient.name"},
        ),
        (
            {**BODY, "recipient": {"email": "not-an-address", "name": "X"}},
            {"recipient.email"},
        ),
        ({**BODY, "lang": "de"}, {"lang"}),
        ({**BODY, "evidence": [{"url": "javascript:alert(1)"}]}, {"evidence.0.url"}),
        ({**BODY, "evidence": [{}]}, {"evidence.0"}),
        ({**BODY, "valid_until": "2001-01-01"}, {"valid_until"}),
        ({**BODY, "valid_until": "tomorrow"}, {"valid_until"}),
        ({**BODY, "activity_start_date": "2026-02-30"}, {"activity_start_date"}),
        (
            {**BODY, "activity_start_date": "2026-03-01", "activity_end_date": "2026-02-01"},
            {"activity_end_date"},
        ),
        ({**BODY, "badge_class": "no-such-badge"}, {"badge_class"}),
        ({**BODY, "surprise": 1}, {"surprise"}),
        ({**BODY, "badge_class": "finnish-only", "lang": "en"}, {"lang"}),
    ],
)
def test_invalid_requests_are_422_listing_the_fields(
    app: Flask, world: World, body: dict[str, Any], fields: set[str]
) -> None:
    response = app.test_client().post(
        "/api/v1/credentials", json=body, headers=auth(world.hamk_token)
    )
    assert response.status_code == 422, response.text
    answer = response.get_json()
    assert answer["error"] == "invalid_input"
    assert fields <= set(answer["fields"]), answer
    assert _count(app) == 0


def test_a_body_that_is_not_json_is_400(app: Flask, world: World) -> None:
    response = app.test_client().post(
        "/api/v1/credentials",
        data="{not json",
        content_type="application/json",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"


def test_a_token_is_required(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.post("/api/v1/credentials", json=BODY).status_code == 401
    assert client.post("/api/v1/credentials", json=BODY, headers=auth("mk_x_y")).status_code == 401


CSV = "email;name;grade\nliisa@example.fi;Liisa Virtanen;5\nmatti@example.fi;Matti Meikäläinen;4\n"


def test_bulk_csv_is_a_job_whose_progress_can_be_read(app: Flask, world: World) -> None:
    client = app.test_client()
    response = client.post(
        "/api/v1/credentials/bulk?badge_class=test-badge&lang=sv",
        data=CSV.encode("utf-8"),
        content_type="text/csv",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 202, response.text
    job = response.get_json()
    assert job["total"] == 2
    assert response.headers["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}"

    # The test app runs jobs inline: it is done already.
    progress = client.get(job["url"], headers=auth(world.hamk_token)).get_json()
    assert progress["state"] == "done"
    assert (progress["issued"], progress["skipped"], progress["failed"]) == (2, 0, 0)
    assert progress["errors"] == []
    assert _count(app) == 2

    # Another institution cannot see the job.
    assert client.get(job["url"], headers=auth(world.tamk_token)).status_code == 404


def test_bulk_csv_as_multipart_and_again_issues_nothing_new(app: Flask, world: World) -> None:
    import io

    client = app.test_client()
    for expected in ((2, 0), (0, 2)):
        response = client.post(
            "/api/v1/credentials/bulk",
            data={"badge_class": "test-badge", "file": (io.BytesIO(CSV.encode()), "cohort.csv")},
            content_type="multipart/form-data",
            headers=auth(world.hamk_token),
        )
        assert response.status_code == 202, response.text
        progress = client.get(response.get_json()["url"], headers=auth(world.hamk_token))
        answer = progress.get_json()
        assert (answer["issued"], answer["skipped"]) == expected
    assert _count(app) == 2


def test_a_bulk_csv_with_bad_rows_is_refused_with_every_line_named(
    app: Flask, world: World
) -> None:
    bad = "email,name\nok@example.fi,OK\nbroken,Name\nfine@example.fi,\n"
    response = app.test_client().post(
        "/api/v1/credentials/bulk?badge_class=test-badge",
        data=bad.encode(),
        content_type="text/csv",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["error"] == "invalid_csv"
    assert [error["line"] for error in answer["errors"]] == [3, 4]
    assert _count(app) == 0


def test_bulk_needs_a_badge_class(app: Flask, world: World) -> None:
    response = app.test_client().post(
        "/api/v1/credentials/bulk",
        data=CSV.encode(),
        content_type="text/csv",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 422
    assert "badge_class" in response.get_json()["fields"]


def test_a_transient_database_conflict_is_503_and_a_retry_issues_once(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    headers = {**auth(world.hamk_token), "Idempotency-Key": "enrolment-77"}
    real_issue = issuing.issue

    def issue_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        real_issue(*args, **kwargs)  # everything written (flushed), then the database gives up
        raise lost_race(app)

    monkeypatch.setattr(issuing, "issue", issue_then_lose_the_race)
    busy = client.post(
        "/api/v1/credentials", json=BODY, headers={**headers, "Accept-Language": "fi"}
    )
    assert busy.status_code == 503
    # At least our 1 s; Flask-Limiter raises it to its window's reset on rate-limited routes.
    assert int(busy.headers["Retry-After"]) >= 1
    assert busy.get_json() == {
        "error": "busy",
        "message": "Palvelu on juuri nyt kiireinen. Yritä hetken kuluttua uudelleen.",
    }
    assert _count(app) == 0  # nothing of the failed transaction was kept

    monkeypatch.setattr(issuing, "issue", real_issue)
    retried = client.post("/api/v1/credentials", json=BODY, headers=headers)
    assert retried.status_code == 201
    assert _count(app) == 1


def test_an_unexpected_database_error_is_still_a_500(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(issuing, "issue", broken)
    answer = app.test_client().post(
        "/api/v1/credentials", json=BODY, headers=auth(world.hamk_token)
    )
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "internal_server_error"
    assert _count(app) == 0


def test_the_institution_logo_is_the_issuer_profile_image(app: Flask, world: World) -> None:
    client = app.test_client()
    logo_url = f"{BASE_URL}/catalog/institutions/hamk/logo"
    before = client.post("/api/v1/credentials", json=BODY, headers=auth(world.hamk_token))
    assert "image" not in before.get_json()["credential"]["issuer"]
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, "hamk")
        institution.logo = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
        institution.logo_media_type = "image/svg+xml"

    issued = client.post("/api/v1/credentials", json=BODY, headers=auth(world.hamk_token))
    credential = issued.get_json()["credential"]
    assert credential["issuer"]["image"] == {"id": logo_url, "type": "Image", "caption": "HAMK"}
    assert client.get(logo_url.removeprefix(BASE_URL)).status_code == 200
    profile = client.get("/issuers/hamk", headers={"Accept-Language": "en"}).get_json()
    assert profile["image"]["id"] == logo_url
    # Signed with the image: our verifier (and the JSON-LD contexts) accept it.
    verdict = client.post("/api/v1/verify", json=credential).get_json()
    assert verdict["verdict"] == "valid", verdict


def test_a_read_only_database_answers_503_busy_never_500(app: Flask, world: World) -> None:
    """Issuing on a database that refuses writes (SQLite ``mode=ro``, PostgreSQL
    ``default_transaction_read_only``): 503 busy with Retry-After, and /healthz says why."""
    client = app.test_client()
    with read_only_database(app):
        response = client.post(
            "/api/v1/credentials",
            json=BODY,
            headers={**auth(world.hamk_token), "Accept-Language": "sv"},
        )
        health = client.get("/healthz").get_json()
    assert response.status_code == 503, response.text
    assert response.get_json() == {
        "error": "busy",
        "message": "Tjänsten är upptagen just nu. Försök igen om en stund.",
    }
    assert int(response.headers["Retry-After"]) >= 1
    assert health["checks"]["database"] == {"status": "degraded", "code": "read_only"}
    assert _count(app) == 0


@pytest.mark.parametrize("breakage", ["missing", "passphrase", "corrupt"])
def test_a_broken_key_is_a_generic_503_and_the_cause_goes_to_the_log(
    app: Flask,
    world: World,
    keys_dir: Path,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    client = app.test_client()
    issued = client.post("/api/v1/credentials", json=BODY, headers=auth(world.hamk_token))
    assert issued.status_code == 201
    key_id = break_key(app, keys_dir, breakage)
    headers = {**auth(world.hamk_token), "Accept-Language": "fi"}

    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/api/v1/credentials",
            json={**BODY, "recipient": {"email": "b@example.fi", "name": "B"}},
            headers=headers,
        )
        # Revoking signs the status list now: the same answer.
        revoke = client.post(
            f"/api/v1/credentials/{issued.get_json()['id']}/revoke",
            json={"reason": "Virhe"},
            headers=headers,
        )
    for answer in (response, revoke):
        assert answer.status_code == 503, answer.text
        assert answer.get_json() == {
            "error": "signing_unavailable",
            "message": "Merkkejä ei voi juuri nyt allekirjoittaa. Palvelun ylläpitäjät näkevät "
            "syyn sen lokista; yritä myöhemmin uudelleen.",
        }
        assert int(answer.headers["Retry-After"]) >= 1
        assert_nothing_of_the_server(answer.text, keys_dir, key_id)
    # The operator learns the cause from the log and the /healthz code.
    assert key_id in caplog.text
    if breakage == "passphrase":
        assert "ISSUER_KEY_PASSPHRASE" in caplog.text
    health = client.get("/healthz").get_json()
    code = "key_missing" if breakage == "missing" else "key_unusable"
    assert health["checks"]["signing_keys"] == {"status": "failed", "code": code}
    assert _count(app) == 1


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_api_issue_normalises_tabs_and_crlf_in_the_signed_credential(
    app: Flask, world: World
) -> None:
    body = {
        **BODY,
        "recipient": {"email": "liisa@example.fi", "name": "Liisa\tVirtanen"},
        "evidence": [{"narrative": "Näyttö\t1\r\nrivi 2\rrivi 3"}],
        "result": "hyvä\t4",
    }
    response = app.test_client().post(
        "/api/v1/credentials", json=body, headers=auth(world.hamk_token)
    )
    assert response.status_code == 201, response.text
    credential = response.get_json()["credential"]
    assert credential["evidence"][0]["narrative"] == "Näyttö 1\nrivi 2\nrivi 3"
    assert credential["credentialSubject"]["name"] == "Liisa Virtanen"
    assert credential["credentialSubject"]["result"][0]["value"] == "hyvä 4"
    verdict = app.test_client().post("/api/v1/verify", json=credential).get_json()
    assert verdict["verified"], verdict


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("recipient.name", lambda c: {"recipient": {"email": "a@example.fi", "name": f"A{c}"}}),
        ("evidence.0.narrative", lambda c: {"evidence": [{"narrative": f"n{c}"}]}),
        ("grade", lambda c: {"grade": f"4{c}"}),
    ],
)
def test_api_issue_refuses_control_characters_naming_the_field(
    app: Flask, world: World, character: str, field: str, change: Any
) -> None:
    response = app.test_client().post(
        "/api/v1/credentials",
        json={**BODY, **change(character)},
        headers={**auth(world.hamk_token), "Accept-Language": "fi"},
    )
    assert response.status_code == 422, response.text
    message = response.get_json()["fields"][field]
    assert field in message
    assert f"U+{ord(character):04X}" in message
    assert "ohjausmerkin" in message  # in the reader's language
    assert _count(app) == 0


# --- e-mail addresses validated once (issuer.services.emails; issue 13) -----------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("Liisa <liisa@example.fi>", "Anna vain sähköpostiosoite"),
        ("liisa@example.fi, matti@example.fi", "vain yksi sähköpostiosoite"),
        ("liisa@example.fi;matti@example.fi", "vain yksi sähköpostiosoite"),
        ("lii\u200bsa@example.fi", "U+200B"),
        ("liisa@example.fi\u202e", "U+202E"),
    ],
)
def test_api_issue_refuses_anything_but_one_plain_address(
    app: Flask, world: World, address: str, reason: str
) -> None:
    response = app.test_client().post(
        "/api/v1/credentials",
        json={**BODY, "recipient": {"email": address, "name": "Liisa"}},
        headers={**auth(world.hamk_token), "Accept-Language": "fi"},
    )
    assert response.status_code == 422, response.text
    assert reason in response.get_json()["fields"]["recipient.email"]
    assert _count(app) == 0


def test_api_issue_hashes_and_mails_the_normalised_address(app: Flask, world: World) -> None:
    response = app.test_client().post(
        "/api/v1/credentials",
        json={**BODY, "recipient": {"email": " Liisa@Example.FI ", "name": "Liisa"}},
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 201, response.text
    with app.app_context():
        session = get_session()
        [stored] = session.scalars(select(Credential))
        secret = IssuingContext.from_settings(get_settings()).secret
        assert stored.recipient_key == learner_keys.recipient_key(secret, "liisa@example.fi")
        [queued] = session.scalars(select(OutboxMail))
        assert queued.to_address == "liisa@example.fi"
