"""The completion webhook: POST /api/v1/completions and its job (issue 17).

Institutions ``a`` and ``b`` of ``tests.web.staff.support`` (each with a badge class of its
own), an HMAC and a bearer integration for ``a`` and an HMAC one for ``b``; jobs run inline, so
a 202's job is done when the answer arrives.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from issuer.config import get_settings
from issuer.core import webhook_signature
from issuer.core.keys import KeyStore
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.integrations import AuthKind, CompletionEvent
from issuer.models.issuing import BulkJob
from issuer.services import institutions, integrations
from issuer.services.audit import SystemActor
from tests.snapshots import restore_or_build
from tests.web.learner.support import issuing_app_config  # noqa: F401 - fixture
from tests.web.staff.support import World, bearer, fast_password_hashing, make_world

URL = "/api/v1/completions"


@dataclass
class Hook:
    key_id: str
    secret: str


@dataclass
class Hooks:
    world: World
    a: Hook
    a_bearer: str
    b: Hook


def _create(app: Flask, slug: str, kind: AuthKind, name: str = "Moodle") -> tuple[str, str, int]:
    with app.app_context(), unit_of_work() as session:
        created = integrations.create_integration(
            session,
            institutions.get_institution(session, slug),
            name=name,
            auth_kind=kind,
            actor=SystemActor(),
            passphrase=get_settings().key_passphrase,
        )
        found = (
            integrations.key_id(created.integration),
            created.secret,
            created.integration.id,
        )
    return found


@pytest.fixture
def hooks(
    request: pytest.FixtureRequest,
    app: Flask,
    keystore: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> Hooks:
    fast_password_hashing(monkeypatch)

    def build() -> Hooks:
        world = make_world(app, keystore)
        a_key, a_secret, _ = _create(app, "a", AuthKind.HMAC)
        _, a_bearer, _ = _create(app, "a", AuthKind.BEARER, "SIS")
        b_key, b_secret, _ = _create(app, "b", AuthKind.HMAC)
        return Hooks(world, Hook(a_key, a_secret), a_bearer, Hook(b_key, b_secret))

    return restore_or_build(request, app, "completion hooks", build)


def completion(event_id: str = "moodle-1:course_completed:42:7", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "\\core\\event\\course_completed",
        "badge_class": "a-badge",
        "learner": {"email": "liisa@example.fi", "name": "Liisa Virtanen", "lang": "en"},
        "course_id": 42,
        "platform_id": "https://moodle.example.fi",
    }
    body.update(changes)
    return body


def signed(hook: Hook, raw: bytes, *, at: float | None = None) -> dict[str, str]:
    moment = int(time.time() if at is None else at)
    return {
        "Content-Type": "application/json",
        "Merkki-Integration": hook.key_id,
        "Merkki-Signature": webhook_signature.header_value(hook.secret, moment, raw),
    }


def post(app: Flask, hook: Hook, body: dict[str, Any], **kwargs: Any) -> Any:
    raw = json.dumps(body).encode()
    return app.test_client().post(URL, data=raw, headers=signed(hook, raw, **kwargs))


def poll(app: Flask, hook: Hook, url: str) -> Any:
    return app.test_client().get(url, headers=signed(hook, url.encode()))


def credentials_of(app: Flask, slug: str) -> int:
    with app.app_context():
        session = get_session()
        institution = institutions.get_institution(session, slug)
        return (
            session.scalar(
                select(func.count())
                .select_from(Credential)
                .where(Credential.institution_id == institution.id)
            )
            or 0
        )


def jobs_count(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(BulkJob)) or 0


def test_a_signed_completion_issues_once_through_a_job(app: Flask, hooks: Hooks) -> None:
    response = post(app, hooks.a, completion())
    assert response.status_code == 202, response.text
    job = response.get_json()
    assert job["event_id"] == "moodle-1:course_completed:42:7"
    assert job["badge_class"] == "a-badge"
    assert job["total"] == 1
    assert response.headers["Location"] == job["url"] == f"/api/v1/completions/jobs/{job['id']}"

    progress = poll(app, hooks.a, job["url"])
    assert progress.status_code == 200, progress.text
    answer = progress.get_json()
    assert answer["state"] == "done"
    assert (answer["issued"], answer["skipped"], answer["failed"]) == (1, 0, 0)
    assert credentials_of(app, "a") == 1
    with app.app_context():
        event = get_session().scalar(select(CompletionEvent))
        assert event is not None
        assert (event.event_type, event.course_id, event.platform_id) == (
            "\\core\\event\\course_completed",
            "42",
            "https://moodle.example.fi",
        )
        stored = get_session().scalar(
            select(Credential).where(Credential.institution_id == hooks.world.a.institution_id)
        )
        assert stored is not None
        subject = json.loads(stored.signed_json)["credentialSubject"]
        assert subject["achievement"]["inLanguage"] == "en"
    # The institution's own API token sees the job too (it is the institution's job).
    assert (
        app.test_client().get(f"/api/v1/jobs/{job['id']}", headers=bearer(hooks.world.a.token))
    ).status_code == 200


def test_a_repeated_event_answers_the_same_job_and_issues_nothing(app: Flask, hooks: Hooks) -> None:
    first = post(app, hooks.a, completion())
    again = post(app, hooks.a, completion())
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["state"] == "done"
    assert credentials_of(app, "a") == 1
    assert jobs_count(app) == 1


def test_a_repeat_may_order_and_space_its_json_differently(app: Flask, hooks: Hooks) -> None:
    first = post(app, hooks.a, completion())
    raw = json.dumps(dict(reversed(completion().items())), indent=2).encode()
    again = app.test_client().post(URL, data=raw, headers=signed(hooks.a, raw))
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


def test_an_event_id_reused_for_another_report_is_refused(app: Flask, hooks: Hooks) -> None:
    post(app, hooks.a, completion())
    other = completion(learner={"email": "matti@example.fi", "name": "Matti Meikäläinen"})
    response = post(app, hooks.a, other)
    assert response.status_code == 409
    assert response.get_json()["error"] == "event_id_reused"
    assert credentials_of(app, "a") == 1


def test_event_ids_are_per_integration(app: Flask, hooks: Hooks) -> None:
    """Two integrations may use the same event ids (two Moodle sites both count from 1)."""
    assert post(app, hooks.a, completion("1")).status_code == 202
    raw = json.dumps(completion("1")).encode()
    response = app.test_client().post(
        URL, data=raw, headers={**bearer(hooks.a_bearer), "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
    assert response.headers.get("Idempotent-Replayed") is None
    # The same learner already holds the badge class: the second job skips.
    assert response.get_json()["id"] != post(app, hooks.a, completion("1")).get_json()["id"]
    assert credentials_of(app, "a") == 1


# Well outside the window: a loaded machine takes seconds between signing and checking (the
# exact bounds are tests/core/test_webhook_signature.py's).
@pytest.mark.parametrize("offset", [-400, 400, -3600 * 24])
def test_a_stale_or_future_timestamp_is_refused(app: Flask, hooks: Hooks, offset: int) -> None:
    response = post(app, hooks.a, completion(), at=time.time() + offset)
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"] == "stale_signature"
    assert credentials_of(app, "a") == 0
    assert jobs_count(app) == 0


def test_a_timestamp_inside_the_window_is_accepted(app: Flask, hooks: Hooks) -> None:
    assert post(app, hooks.a, completion(), at=time.time() - 240).status_code == 202


def _refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.is_json
    assert response.get_json()["error"] == code
    assert "WWW-Authenticate" in response.headers


def test_a_wrong_signature_is_refused(app: Flask, hooks: Hooks) -> None:
    client = app.test_client()
    raw = json.dumps(completion()).encode()
    # Signed with another integration's secret.
    wrong = Hook(hooks.a.key_id, hooks.b.secret)
    _refused(client.post(URL, data=raw, headers=signed(wrong, raw)), "invalid_signature")
    # The body changed after signing (one space more).
    headers = signed(hooks.a, raw)
    _refused(client.post(URL, data=raw + b" ", headers=headers), "invalid_signature")
    # The time changed after signing.
    header = headers["Merkki-Signature"]
    moved = header.replace(header[2:12], str(int(header[2:12]) - 1))
    _refused(
        client.post(URL, data=raw, headers={**headers, "Merkki-Signature": moved}),
        "invalid_signature",
    )
    # An unknown integration, and a malformed signature.
    unknown = Hook("mki_000000000000", hooks.a.secret)
    _refused(client.post(URL, data=raw, headers=signed(unknown, raw)), "invalid_signature")
    _refused(
        client.post(URL, data=raw, headers={**headers, "Merkki-Signature": "t=1,v1=zz"}),
        "invalid_signature",
    )
    assert credentials_of(app, "a") == 0
    assert jobs_count(app) == 0


def test_a_missing_signature_is_refused(app: Flask, hooks: Hooks) -> None:
    client = app.test_client()
    raw = json.dumps(completion()).encode()
    _refused(client.post(URL, data=raw, content_type="application/json"), "signature_missing")
    headers = signed(hooks.a, raw)
    del headers["Merkki-Integration"]
    _refused(client.post(URL, data=raw, headers=headers), "invalid_signature")
    assert credentials_of(app, "a") == 0


def test_api_tokens_and_hmac_secrets_are_not_bearer_integration_tokens(
    app: Flask, hooks: Hooks
) -> None:
    client = app.test_client()
    for token in (hooks.world.a.token, hooks.a.secret, "mki_x"):
        _refused(client.post(URL, json=completion(), headers=bearer(token)), "unauthorized")
    # A bearer integration cannot sign instead.
    with app.app_context():
        prefix = hooks.a_bearer.split("_")[1]
    as_hmac = Hook(f"mki_{prefix}", hooks.a_bearer)
    raw = json.dumps(completion()).encode()
    _refused(client.post(URL, data=raw, headers=signed(as_hmac, raw)), "invalid_signature")
    assert credentials_of(app, "a") == 0


def test_another_institutions_badge_class_answers_as_one_that_does_not_exist(
    app: Flask, hooks: Hooks
) -> None:
    theirs = post(app, hooks.a, completion("e1", badge_class="b-badge"))
    nothing = post(app, hooks.a, completion("e2", badge_class="zz-badge"))
    assert theirs.status_code == nothing.status_code == 422
    assert theirs.get_json()["fields"].keys() == {"badge_class"}
    assert theirs.get_data(as_text=True).replace("b-badge", "X") == nothing.get_data(
        as_text=True
    ).replace("zz-badge", "X")
    assert credentials_of(app, "a") == 0
    assert jobs_count(app) == 0


def test_a_revoked_integration_is_refused(app: Flask, hooks: Hooks) -> None:
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, "a")
        for found in integrations.list_integrations(session, institution):
            integrations.revoke_integration(session, found, actor=SystemActor())
    response = post(app, hooks.a, completion())
    _refused(response, "invalid_signature")
    raw = json.dumps(completion()).encode()
    response = app.test_client().post(
        URL, data=raw, headers={**bearer(hooks.a_bearer), "Content-Type": "application/json"}
    )
    _refused(response, "unauthorized")
    assert credentials_of(app, "a") == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"event_id", "badge_class", "learner"}),
        (completion(learner={"email": "not-an-address", "name": "X"}), {"learner.email"}),
        (completion(learner={"email": "a@example.fi", "name": " "}), {"learner.name"}),
        (
            completion(learner={"email": "a@example.fi", "name": "A", "lang": "de"}),
            {"learner.lang"},
        ),
        (completion(learner={"email": "a@example.fi", "name": "A", "age": 3}), {"learner.age"}),
        (completion(surprise=1), {"surprise"}),
        (completion(event_id=""), {"event_id"}),
        (completion(event_id="x" * 256), {"event_id"}),
        (completion(event_id="a\nb"), {"event_id"}),
        (completion(grade=5), {"grade"}),
    ],
)
def test_invalid_completions_are_422_naming_the_fields(
    app: Flask, hooks: Hooks, body: dict[str, Any], fields: set[str]
) -> None:
    response = post(app, hooks.a, body)
    assert response.status_code == 422, response.text
    assert response.get_json()["error"] == "invalid_input"
    assert fields <= set(response.get_json()["fields"]), response.get_json()
    assert jobs_count(app) == 0


def test_a_body_that_is_not_json_is_400_and_a_huge_one_413(app: Flask, hooks: Hooks) -> None:
    client = app.test_client()
    raw = b"{not json"
    response = client.post(URL, data=raw, headers=signed(hooks.a, raw))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    huge = b" " * (integrations.MAX_BODY_BYTES + 1)
    assert client.post(URL, data=huge, headers=signed(hooks.a, huge)).status_code == 413


def test_an_integration_sees_only_its_own_jobs(app: Flask, hooks: Hooks) -> None:
    url = post(app, hooks.a, completion()).get_json()["url"]
    assert poll(app, hooks.a, url).status_code == 200
    assert poll(app, hooks.b, url).status_code == 404
    # The signature of a poll covers its path: it cannot be used for another job.
    headers = signed(hooks.a, url.encode())
    other = app.test_client().get(url.replace("/jobs/", "/jobs/9"), headers=headers)
    assert other.status_code == 401
    assert app.test_client().get(url, headers=bearer(hooks.a_bearer)).status_code == 404
    assert app.test_client().get(url).status_code == 401


def test_secrets_appear_in_no_answer_and_no_log(
    app: Flask, hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        post(app, hooks.a, completion()),
        post(app, hooks.a, completion()),
        post(app, hooks.a, completion(), at=time.time() - 1000),
        post(app, Hook(hooks.a.key_id, hooks.b.secret), completion("2")),
        app.test_client().post(URL, json=completion("3"), headers=bearer(hooks.a_bearer)),
        app.test_client().post(URL, json=completion("4"), headers=bearer(hooks.a_bearer + "x")),
    ]
    text = "\n".join(answer.get_data(as_text=True) for answer in answers)
    text += "\n".join(str(answer.headers) for answer in answers)
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    for secret in (hooks.a.secret, hooks.b.secret, hooks.a_bearer, hooks.a_bearer.split("_", 2)[2]):
        assert secret not in text
        assert secret not in logged
    with app.app_context():
        sealed = [
            found.secret_sealed
            for found in integrations.list_integrations(
                get_session(), institutions.get_institution(get_session(), "a")
            )
        ]
    assert all(hooks.a.secret not in (value or "") for value in sealed)


def test_fifty_completions_sent_twice_concurrently_issue_fifty_credentials(
    app: Flask, hooks: Hooks
) -> None:
    """100 calls, each completion twice in a row, on as many threads as the app's connection
    pool serves at once (5 + 10 overflow; a server's worker threads cap it the same way): the
    two copies of an event race each other, and different events race for the database."""
    bodies = [
        completion(
            f"event-{number}",
            learner={"email": f"learner{number}@example.fi", "name": f"Oppija {number}"},
        )
        for number in range(50)
    ]
    calls = [body for body in bodies for _ in range(2)]

    def send(body: dict[str, Any]) -> tuple[str, int, Any]:
        raw = json.dumps(body).encode()
        response = app.test_client().post(URL, data=raw, headers=signed(hooks.a, raw))
        return body["event_id"], response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, calls))
    assert [status for _, status, _ in answers] == [202] * 100, answers
    jobs_by_event: dict[str, set[int]] = {}
    for event_id, _, body in answers:
        jobs_by_event.setdefault(event_id, set()).add(body["id"])
    assert len(jobs_by_event) == 50
    assert all(len(ids) == 1 for ids in jobs_by_event.values()), jobs_by_event
    assert credentials_of(app, "a") == 50
    assert jobs_count(app) == 50
