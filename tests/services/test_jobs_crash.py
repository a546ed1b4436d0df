"""Acceptance (issue 7): a bulk job killed with SIGKILL at 50 % completes after restart with
exactly the expected credentials.

Real processes on SQLite and PostgreSQL, for both ways a job runs: in-process
(``merkki jobs run``, restarted as ``merkki jobs run --wait``) and on the RQ queue
(``merkki jobs worker``, restarted as another ``merkki jobs worker``). Small batches (5 rows)
and a short stale threshold (2 s) make the kill land mid-job and the takeover quick; the kill
itself is SIGKILL, so nothing in the worker gets to clean up.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from issuer.config import get_settings
from issuer.db import get_database, unit_of_work
from issuer.models import Credential
from issuer.models.issuing import BulkJob, BulkJobRow, JobState, RowState, StatusAllocation
from issuer.services import badge_classes, bulk, bulk_csv, institutions, learner_keys, verification
from issuer.services.audit import SystemActor
from issuer.services.issuing_context import IssuingContext
from tests.conftest import BASE_URL
from tests.redis_server import (
    redis_server_fixture,  # noqa: F401 - fixture
    redis_url_fixture,  # noqa: F401 - fixture
)
from tests.services.job_workers import (
    job_state,
    merkki_process,
    processed_rows,
    wait_for,
    worker_environment,
)
from tests.web.learner.support import (
    World,
    auth,
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

ROWS = 300
BATCH = "5"
STALE_SECONDS = "2"
#: Bound of every wait for a worker (a generous one: the machine is shared).
WAIT_SECONDS = 180.0


def _cohort() -> list[tuple[str, str]]:
    return [(f"kill{n}@example.fi", f"Oppija {n} Ääkkönen") for n in range(ROWS)]


def _csv(rows: list[tuple[str, str]]) -> bytes:
    return ("email,name\n" + "".join(f"{e},{n}\n" for e, n in rows)).encode("utf-8")


def _store_job(app: Flask, data: bytes) -> int:
    with app.app_context(), unit_of_work() as session:
        job = bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "test-badge"),
            bulk_csv.parse_csv(data),
            actor=SystemActor(),
            file_name="cohort.csv",
        )
        return job.id


def _post_job(app: Flask, world: World, data: bytes) -> int:
    response = app.test_client().post(
        "/api/v1/credentials/bulk?badge_class=test-badge",
        data=data,
        content_type="text/csv",
        headers=auth(world.hamk_token),
    )
    assert response.status_code == 202, response.text
    return int(response.get_json()["id"])


def _done(app: Flask, job_id: int) -> BulkJob | None:
    job = job_state(app, job_id)
    return job if job.state is JobState.DONE else None


@pytest.mark.slow
@pytest.mark.parametrize("way", ["in-process", "rq"])
def test_a_job_killed_at_half_way_completes_after_restart_with_exactly_the_credentials(
    way: str,
    app_config: dict[str, Any],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    variables = {"ISSUER_JOB_STALE_SECONDS": STALE_SECONDS, "ISSUER_JOB_BATCH_SIZE": BATCH}
    if way == "rq":
        redis_url: str = request.getfixturevalue("redis_url")
        app_config["REDIS_URL"] = redis_url  # the web side enqueues
        variables["ISSUER_REDIS_URL"] = redis_url
        first_command: tuple[str, ...] = ("jobs", "worker")
        restart_command: tuple[str, ...] = ("jobs", "worker")
    else:
        app_config["JOB_RUNNER"] = "inline"  # never used: the job is only stored
        first_command = ("jobs", "run")
        restart_command = ("jobs", "run", "--wait")
    app: Flask = request.getfixturevalue("app")
    world: World = request.getfixturevalue("world")
    cohort = _cohort()
    data = _csv(cohort)
    job_id = _post_job(app, world, data) if way == "rq" else _store_job(app, data)
    assert job_state(app, job_id).state is JobState.PENDING
    environment = worker_environment(app_config, **variables)

    # 1. A worker starts on the job; at half way it is killed with SIGKILL.
    with merkki_process(environment, tmp_path / "first.log", *first_command) as first:
        wait_for(
            lambda: processed_rows(app, job_id) >= ROWS // 2,
            WAIT_SECONDS,
            "half of the rows processed",
            interval=0.005,
            worker=first,
        )
        first.kill()
    at_kill = processed_rows(app, job_id)
    assert ROWS // 2 <= at_kill < ROWS, f"the kill landed at {at_kill} of {ROWS} rows"
    killed = job_state(app, job_id)
    assert killed.state is JobState.RUNNING  # nobody finished or failed it
    dead_worker = killed.worker

    # 2. A new worker finishes it: the abandoned job is taken over once its heartbeat is stale.
    with merkki_process(environment, tmp_path / "restart.log", *restart_command) as restart:
        done = wait_for(
            lambda: _done(app, job_id),
            WAIT_SECONDS,
            "completed job after the restart",
            interval=0.05,
            worker=restart if way == "rq" else None,
        )
        if way == "in-process":  # `jobs run --wait` ends by itself, with a JSON summary
            assert restart.wait(WAIT_SECONDS) == 0, restart.output()
            [summary] = [
                json.loads(line)
                for line in restart.output().splitlines()
                if line.startswith('{"job"')
            ]
            assert (summary["job"], summary["state"], summary["issued"]) == (job_id, "done", ROWS)
    assert done.worker != dead_worker
    assert (done.total, done.issued, done.skipped, done.failed) == (ROWS, ROWS, 0, 0)
    assert done.finished_at is not None
    _assert_exactly_the_expected_credentials(app, job_id, cohort)


def _assert_exactly_the_expected_credentials(
    app: Flask, job_id: int, cohort: list[tuple[str, str]]
) -> None:
    with app.app_context():
        session = get_database(app).sessionmaker()
        try:
            # Every CSV row issued, each with its own credential.
            rows = session.execute(
                select(BulkJobRow.state, BulkJobRow.credential_id).where(
                    BulkJobRow.job_id == job_id
                )
            ).all()
            assert len(rows) == ROWS
            assert {state for state, _ in rows} == {RowState.ISSUED}
            row_credentials = {credential for _, credential in rows}
            assert None not in row_credentials
            assert len(row_credentials) == ROWS

            # Exactly those credentials exist: no extra one from the batch the kill interrupted,
            # and one per learner of the file (the recipient key is the e-mail's keyed hash).
            credentials = session.execute(
                select(Credential.id, Credential.recipient_key, Credential.recipient_name)
            ).all()
            assert {c.id for c in credentials} == row_credentials
            secret = IssuingContext.from_settings(get_settings()).secret
            expected_keys = {learner_keys.recipient_key(secret, email) for email, _ in cohort}
            assert Counter(c.recipient_key for c in credentials) == Counter(expected_keys)
            assert Counter(c.recipient_name for c in credentials) == Counter(n for _, n in cohort)

            # One revocation and one suspension index each, all distinct, none left unused.
            for purpose in ("revocation", "suspension"):
                allocations = session.execute(
                    select(
                        StatusAllocation.status_list_id,
                        StatusAllocation.index,
                        StatusAllocation.credential_id,
                    ).where(StatusAllocation.purpose == purpose)
                ).all()
                assert len(allocations) == ROWS
                assert len({(a.status_list_id, a.index) for a in allocations}) == ROWS
                assert {a.credential_id for a in allocations} == row_credentials
            assert session.scalar(select(func.count()).select_from(BulkJob)) == 1

            # And every credential verifies, without the network.
            def no_network(url: str) -> Any:
                raise AssertionError(f"fetched {url}")

            for credential_id in sorted(str(c) for c in row_credentials):
                result = verification.verify_stored(
                    session, credential_id, base_url=BASE_URL, fetch=no_network
                )
                assert result.verified, (credential_id, result.to_dict())
        finally:
            session.close()
