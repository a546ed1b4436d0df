"""``merkki issue-bulk``, ``merkki jobs run`` and ``merkki jobs worker``.

Attached to the ``merkki`` group by ``issuer/cli/__init__.py``.

``issue-bulk`` checks the whole CSV file first (every bad line is reported, nothing is issued
if any is bad), stores it as a job, and works the job off in this process with a progress bar
on stderr, one transaction per batch. If it is interrupted, the committed batches stay issued;
``merkki jobs run`` (or the web service, on its first request) finishes the job, and running the
same file again issues nothing new for rows already issued. The audit actor is ``cli``.

``jobs worker`` runs an RQ worker on the Redis queue (``ISSUER_REDIS_URL``;
``issuer.services.jobs_rq``), handing it this command's app.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import current_app

from issuer.cli.base import main, with_app
from issuer.db import get_database, get_session, unit_of_work
from issuer.models.issuing import BulkJob
from issuer.services import badge_classes, bulk, bulk_csv, institutions, issue_input, jobs
from issuer.services.actors import CLI_ACTOR
from issuer.wiring import mail as app_mail
from issuer.wiring.jobs import job_host


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > bulk_csv.MAX_CSV_BYTES:
            raise click.ClickException(
                f"{path} is larger than {bulk_csv.MAX_CSV_BYTES // (1024 * 1024)} MB"
            )
        return path.read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None


def _report_csv_errors(path: Path, error: bulk_csv.CsvError) -> None:
    click.echo(f"Error: {path} cannot be issued ({error.total_errors} problem(s)):", err=True)
    for row in error.errors:
        where = f"line {row.line}" if row.line else "file"
        click.echo(f"  {where}: {row.message}", err=True)
    if error.total_errors > len(error.errors):
        click.echo(f"  ... and {error.total_errors - len(error.errors)} more", err=True)
    click.echo("Nothing was issued.", err=True)


def _summary(job: BulkJob, seconds: float) -> dict[str, object]:
    return {
        "job": job.id,
        "state": job.state.value,
        "total": job.total,
        "issued": job.issued,
        "skipped": job.skipped,
        "failed": job.failed,
        "seconds": round(seconds, 1),
    }


def _run_with_progress(job_id: int, total: int) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with click.progressbar(length=total, label="Issuing", file=sys.stderr, show_pos=True) as bar:
        done = 0

        def progress(job: BulkJob) -> None:
            nonlocal done
            processed = job.issued + job.skipped + job.failed
            bar.update(processed - done)
            done = processed

        if not jobs.run_job(job_host(app), job_id, progress=progress):
            raise click.ClickException(f"job {job_id} is being run by another process")


@main.command("issue-bulk", help="Issue a badge to everyone in a CSV file (email,name,...).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--badge", "badge_reference", required=True, help="Badge class slug or id.")
@click.option(
    "--lang",
    type=click.Choice(["fi", "sv", "en"]),
    default="fi",
    show_default=True,
    help="Language for rows without a lang column value.",
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@with_app
def issue_bulk(institution_slug: str, badge_reference: str, lang: str, file: Path) -> None:
    actor = CLI_ACTOR
    session = get_session()
    institution = institutions.get_institution(session, institution_slug)
    badge_class = badge_classes.get_badge_class(session, badge_reference)
    if not badge_classes.usable_by(badge_class, institution):
        raise click.ClickException(
            f"institution {institution.slug!r} cannot issue badge class {badge_class.slug!r}"
        )
    parsed_class = badge_classes.parsed(badge_classes.current_version(session, badge_class))
    try:
        parsed = bulk_csv.parse_csv(
            _read(file),
            default_lang=lang,
            languages=issue_input.complete_languages(parsed_class),
            missing=issue_input.missing_fields(parsed_class),
        )
    except bulk_csv.CsvError as error:
        _report_csv_errors(file, error)
        click.get_current_context().exit(1)
    with unit_of_work() as write:
        job = bulk.create_job(
            write, institution, badge_class, parsed, actor=actor, file_name=file.name
        )
        job_id, total = job.id, job.total
    started = time.monotonic()
    _run_with_progress(job_id, total)
    _finish(job_id, started)


def _finish(job_id: int, started: float) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app_mail.wait_idle(app)
    session = get_database(app).sessionmaker()
    try:
        job = session.get(BulkJob, job_id)
        assert job is not None
        summary = _summary(job, time.monotonic() - started)
        failures = bulk.job_errors(session, job)
    finally:
        session.close()
    click.echo(
        f"Issued {summary['issued']}, skipped {summary['skipped']} (already had the badge), "
        f"failed {summary['failed']} of {summary['total']} in {summary['seconds']} s.",
        err=True,
    )
    for failure in failures:
        click.echo(f"  line {failure.line}: {failure.message}", err=True)
    click.echo(json.dumps(summary))
    if summary["failed"]:
        click.get_current_context().exit(1)


@main.group(help="Background jobs (cohort issuing).")
def jobs_group() -> None:
    pass


jobs_group.name = "jobs"


@jobs_group.command("run", help="Finish every pending or abandoned job in this process.")
@click.option(
    "--wait",
    is_flag=True,
    help="Also wait for jobs other processes hold, and take over those whose worker died "
    "(heartbeat older than ISSUER_JOB_STALE_SECONDS); ends when no job is left unfinished.",
)
@with_app
def jobs_run(wait: bool) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    started = time.monotonic()

    def finished(job_id: int) -> None:
        nonlocal started
        _finish(job_id, started)
        started = time.monotonic()

    if not jobs.work_off(job_host(app), wait=wait, finished=finished):
        click.echo("no jobs to run", err=True)


@jobs_group.command(
    "worker",
    help="Run an RQ worker on the Redis queue (ISSUER_REDIS_URL) until stopped (SIGTERM).",
)
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_app
def jobs_worker(burst: bool) -> None:
    from redis.exceptions import RedisError

    from issuer.services import jobs_rq

    host = job_host(current_app._get_current_object())  # type: ignore[attr-defined]
    url = host.settings.redis_url
    if url is None:
        raise click.ClickException(
            "ISSUER_REDIS_URL is not set: without a queue, bulk jobs run inside the web "
            "process, and `merkki jobs run` finishes them from the command line"
        )
    try:
        jobs_rq.run_worker(host, burst=burst)
    except RedisError as error:
        raise click.ClickException(
            f"cannot reach Redis at {jobs_rq.redacted(url)}: {error}"
        ) from None
