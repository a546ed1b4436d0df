"""The deployment helper itself: a prepared instance served by gunicorn answers, issues and
stops."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deployment.conftest import Deploy
from tests.deployment.server import child_pids, start, stop


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


@pytest.mark.slow
def test_an_operators_metrics_folder_is_emptied_at_start_and_kept_at_exit(
    deploy: Deploy, tmp_path: Path
) -> None:
    # prometheus_client's multiprocess folder must exist and hold no files of an earlier run;
    # gunicorn.conf.py removes only a folder it made itself.
    metrics = tmp_path / "operator" / "metrics"
    metrics.mkdir(parents=True)
    stale = metrics / "counter_999999.db"
    stale.write_bytes(b"left by an earlier run")
    deployment = deploy("sqlite", environment={"PROMETHEUS_MULTIPROC_DIR": str(metrics)})
    assert not stale.exists()
    with deployment.client(token=False) as client:
        assert client.get("/healthz").status == 200
        assert client.get("/metrics").status == 200

    stop(deployment)
    assert metrics.is_dir()
    shutil.rmtree(metrics)  # gone before the next start: made again
    start(deployment)
    with deployment.client(token=False) as client:
        assert client.get("/healthz").status == 200
        answer = client.get("/metrics")
    assert answer.status == 200
    assert b'merkki_http_requests_total{endpoint="public.healthz"' in answer.body
