"""``merkki publish --to DIR``: a static copy of every institution's DID document and current
signed status lists, laid out by their URL paths (``issuer.services.static_copy``), for a web
server or CDN that keeps verification working while the app servers are down. Run it on a
schedule and after key changes (docs/operations.md "Publishing for outages")."""

from __future__ import annotations

from pathlib import Path

import click

from issuer.cli.base import echo_json, main, with_app
from issuer.config import get_settings
from issuer.db import get_session
from issuer.services import static_copy


@main.command(
    help="Write every institution's DID document and signed status lists as static files "
    "under DIR (DIR is the document root of the service's host); only changed files are "
    "written, each atomically."
)
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (created when missing).",
)
@with_app
def publish(directory: Path) -> None:
    try:
        report = static_copy.publish(get_session(), get_settings().base_url, directory)
    except static_copy.PublishError as error:
        raise click.ClickException(str(error)) from None
    finally:
        get_session().rollback()  # read only: end the transaction
    for path in report.skipped:
        click.echo(f"skipped {path}: not signed yet (run `merkki init`)", err=True)
    echo_json(report.as_json())
