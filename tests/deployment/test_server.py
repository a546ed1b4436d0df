"""The deployment helper itself: a prepared instance served by gunicorn answers, issues and
stops."""

from __future__ import annotations

import pytest

from tests.deployment.conftest import Deploy
from tests.deployment.server import child_pids, stop


@pytest.mark.slow
def test_deployment_serves_issues_and_stops(deploy: Deploy) -> None:
    # SQLite here; the PostgreSQL deployments are exercised by the issuing tests beside this.
    deployment = deploy("sqlite", workers=2)
    workers = deployment.worker_pids()
    assert len(workers) == 2
    assert deployment.master_pid not in workers
    with deployment.client() as client:
        assert client.get("/healthz").status == 200
        answer = client.post_json(
            "/api/v1/credentials",
            {
                "badge_class": deployment.badge_class_slug,
                "recipient": {"email": "maija@example.fi", "name": "Maija Meikäläinen"},
            },
        )
        assert answer.status == 201, answer.body
        credential = answer.json()["credential"]
        assert credential["issuer"]["id"] == deployment.institution_did
        assert client.get(f"/credentials/{answer.json()['id']}").status == 200
    with deployment.client(token=False) as anonymous:
        assert anonymous.post_json("/api/v1/credentials", {}).status == 401
    assert "Booting worker" in deployment.log()

    stop(deployment)
    assert deployment.process is not None
    assert deployment.process.returncode is not None
    assert child_pids(deployment.master_pid) == []
