"""``merkki init``, institutions, badge classes, ``merkki issue`` and ``merkki verify``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from issuer import urls
from issuer.cli.accounts import DEMO_ADMIN_EMAIL, ensure_demo_admin
from issuer.cli.base import echo_json, main, settings_and_keystore, with_app
from issuer.config import Settings, get_settings, parse_smtp_url
from issuer.core.safe_fetch import SafeFetcher
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, Institution
from issuer.services import (
    badge_classes,
    institutions,
    issue_input,
    issuing,
    keys,
    migrate,
    status_publishing,
    submissions,
    verification,
)
from issuer.services.actors import CLI_ACTOR
from issuer.services.learner_keys import recipient_secret


@main.command(help="Create or upgrade the database and load badge_templates/ (idempotent).")
@with_app
def init() -> None:
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    click.echo(f"database at revision {migrate.head_revision()}")
    with unit_of_work() as session:
        loads = badge_classes.load_templates(session, settings.badge_templates_dir)
    counts = {
        outcome: sum(1 for load in loads if load.outcome == outcome)
        for outcome in ("created", "updated", "unchanged")
    }
    click.echo(
        f"badge templates: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged"
    )
    # Lists left unsigned by a version of Merkki that signed them lazily, on their first GET:
    # reads never sign now (issuer.services.status_publishing), so they are signed here, once.
    _settings, keystore = settings_and_keystore()
    with unit_of_work() as session:
        signed = status_publishing.sign_unsigned_lists(
            session, base_url=settings.base_url, keystore=keystore
        )
    if signed:
        click.echo(f"status lists: {signed} signed")


@main.group(help="Institutions (issuers).")
def institution() -> None:
    pass


def _institution_json(session: Session, found: Institution, settings: Settings) -> dict[str, Any]:
    key = keys.active_key(session, found)
    did = institutions.institution_did(found, settings.base_url)
    return {
        "slug": found.slug,
        "did": did,
        "name": found.name_fi,
        "profile": urls.profile_url(settings.base_url, found.slug),
        "did_document": urls.did_document_url(settings.base_url, found.slug),
        "key_id": key.key_id,
        "public_key_multibase": key.public_key_multibase,
    }


@institution.command("create", help="Create an institution with a fresh signing key.")
@click.argument("slug")
@click.option("--name", required=True, help="Name (Finnish, or the official name).")
@click.option("--name-sv", help="Name in Swedish.")
@click.option("--name-en", help="Name in English.")
@click.option("--url", help="Web site.")
@click.option("--email", help="Contact e-mail address.")
@click.option("--street-address")
@click.option("--postal-code")
@click.option("--locality", help="City or town.")
@click.option("--country", help="Country name, e.g. Suomi.")
@click.option("--country-code", default="FI", show_default=True, help="ISO 3166-1 alpha-2.")
@click.option("--business-id", help="Y-tunnus, e.g. 0123456-7 (check digit is verified).")
@click.option("--oid", help="Opintopolku organisation OID (1.2.246.562.10.N).")
@with_app
def institution_create(
    slug: str,
    name: str,
    name_sv: str | None,
    name_en: str | None,
    url: str | None,
    email: str | None,
    street_address: str | None,
    postal_code: str | None,
    locality: str | None,
    country: str | None,
    country_code: str,
    business_id: str | None,
    oid: str | None,
) -> None:
    settings, keystore = settings_and_keystore()
    details = institutions.InstitutionDetails(
        slug=slug,
        name_fi=name,
        name_sv=name_sv,
        name_en=name_en,
        url=url,
        email=email,
        street_address=street_address,
        postal_code=postal_code,
        address_locality=locality,
        address_country=country,
        address_country_code=country_code.upper(),
        business_id=business_id,
        oid=oid,
    )
    with unit_of_work() as session:
        created = institutions.create_institution(session, details, keystore)
        result = _institution_json(session, created, settings)
    echo_json(result)


@institution.command(
    "ensure-demo",
    help="Create the demo institution if missing; print its DID, then how to reach the service "
    "(on stderr, the demo admin's sign-in last).",
)
@with_app
def institution_ensure_demo() -> None:
    settings, keystore = settings_and_keystore()
    with unit_of_work() as session:
        demo, created = institutions.ensure_demo_institution(session, keystore)
        did = institutions.institution_did(demo, settings.base_url)
        admin_password = ensure_demo_admin(session, demo)
    click.echo(did)
    # What the operator of ``make run`` needs, on stderr (stdout stays the DID alone, for
    # scripts), with the sign-in line last so that it is not lost among the server's messages.
    click.echo(f"{'created' if created else 'found'} demo institution {demo.slug!r}", err=True)
    for line in service_summary(settings, admin_password):
        click.echo(line, err=True)


def mail_delivery(settings: Settings) -> str:
    """How learners' mails leave the service: ``ISSUER_SMTP_URL`` (without its password), or
    the outbox where they wait when it is unset."""
    if settings.smtp_url is None:
        return (
            "mail: ISSUER_SMTP_URL is not set, so no mail is sent: mails to learners wait in "
            f"the outbox at {urls.staff_outbox_url(settings.base_url)}"
        )
    smtp = parse_smtp_url(settings.smtp_url)
    security = "TLS" if smtp.use_ssl else "STARTTLS" if smtp.starttls else "no encryption"
    return f"mail: sent through {smtp.host}:{smtp.port} ({security}), set by ISSUER_SMTP_URL"


def service_summary(settings: Settings, admin_password: str | None) -> list[str]:
    """The lines ``make run`` prints once the server answers: the base URL, mail delivery,
    and how to sign in (last)."""
    login = urls.staff_login_url(settings.base_url)
    if admin_password is not None:
        sign_in = (
            f"demo admin: sign in at {login} as {DEMO_ADMIN_EMAIL} with the password "
            f"{admin_password} (shown only now; you choose your own at the first sign-in)"
        )
    else:
        sign_in = (
            f"staff: sign in at {login} (forgotten the password? "
            "`merkki user password --email ADDRESS` prints a new one-time password)"
        )
    return [
        f"service: {settings.base_url} (ISSUER_BASE_URL: every issued credential's id and the "
        "issuers' DIDs contain it, so keep it once credentials are issued)",
        mail_delivery(settings),
        sign_in,
    ]


@main.group(help="Badge classes.")
def badge() -> None:
    pass


@badge.command("list", help="List badge classes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_app
def badge_list(as_json: bool) -> None:
    session = get_session()
    rows = [_badge_json(session, found) for found in badge_classes.list_badge_classes(session)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['slug']:<48} v{row['version']:<3} {row['title']}")


def _badge_json(session: Session, found: BadgeClass) -> dict[str, Any]:
    version = badge_classes.current_version(session, found)
    data = badge_classes.parsed(version)
    return {
        "id": found.id,
        "slug": found.slug,
        "version": version.version,
        "title": data.name.get("fi"),
        "name": data.name.as_dict(),
        "achievement_type": data.achievement_type,
        "institution": found.institution.slug if found.institution else None,
        "published": found.published,
    }


@main.command(help="Issue a badge; prints the signed credential JSON.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--badge", "badge_reference", required=True, help="Badge class slug or id.")
@click.option("--email", required=True, help="Recipient's e-mail address (stored hashed).")
@click.option("--name", required=True, help="Recipient's name.")
@click.option("--lang", type=click.Choice(["fi", "sv", "en"]), default="fi", show_default=True)
@with_app
def issue(institution_slug: str, badge_reference: str, email: str, name: str, lang: str) -> None:
    settings, keystore = settings_and_keystore()
    try:
        with unit_of_work() as session:
            issuer = institutions.get_institution(session, institution_slug)
            badge_class = badge_classes.get_badge_class(session, badge_reference)
            # The rules every front end shares; the first problem is the command's error line.
            raw = issue_input.IssueInput(email=email, name=name, lang=lang)
            recipient = issue_input.validate(raw, now=datetime.now(UTC))
            credential = issuing.issue_credential(
                session,
                issuer,
                badge_class,
                recipient.email,
                recipient.name,
                recipient.options.lang,
                base_url=settings.base_url,
                keystore=keystore,
                secret=recipient_secret(settings),
                actor=CLI_ACTOR,
            )
            signed_json = credential.signed_json
    except issue_input.FieldErrors as error:
        raise click.ClickException(error.errors[0].text) from None
    click.echo(signed_json)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(submissions.MAX_SUBMISSION_BYTES + 1)
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    if len(data) > submissions.MAX_SUBMISSION_BYTES:
        raise click.ClickException(
            f"{path} is larger than {submissions.MAX_SUBMISSION_BYTES // (1024 * 1024)} MiB"
        )
    return data


def _check_json_object(path: Path, data: bytes) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{path} does not hold a JSON object (a credential)")


@main.command(
    help="Verify a credential (.json, or a baked .png or .svg badge); prints the report; "
    "exit status 0 if and only if it verifies."
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@with_app
def verify(file: Path) -> None:
    data = _read_file(file)
    if file.suffix.lower() not in (".png", ".svg"):
        _check_json_object(file, data)
    settings = get_settings()
    # The same service function as the verification page and POST /api/v1/verify, with the
    # same guarded fetcher for other issuers' documents (one verification: its own fetcher).
    result = verification.verify_submission(
        get_session(),
        data,
        base_url=settings.base_url,
        fetch=SafeFetcher(enabled=settings.remote_fetch),
    )
    echo_json(result.to_dict())
    if not result.verified:
        click.get_current_context().exit(1)
