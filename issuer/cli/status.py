"""``merkki revoke|suspend|unsuspend`` and ``merkki key rotate|compromised|list|migrate|rewrap``.

Attached to the ``merkki`` group by the import at the bottom of ``issuer/cli.py``. Each command
is one unit of work: the change, the status list bit and the audit event are committed together
or not at all. The actor in the audit log is ``cli``.
"""

from __future__ import annotations

import os
from typing import Any

import click
from sqlalchemy.orm import Session

from issuer import urls
from issuer.cli.base import echo_json, main, settings_and_keystore, with_app
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Credential, Institution, KeyStatus, SigningKey
from issuer.services import institutions, integrations, keys, lti, oidc, revocation
from issuer.services.actors import CLI_ACTOR
from issuer.services.audit import AuditActor


def _credential_json(credential: Credential, base_url: str) -> dict[str, Any]:
    return {
        "id": credential.id,
        "url": urls.credential_url(base_url, credential.id),
        "institution": credential.institution.slug,
        "recipient": credential.recipient_name,
        "state": revocation.credential_state(credential),
        "revoked_at": _time(credential.revoked_at),
        "revocation_reason": credential.revocation_reason,
        "suspended_at": _time(credential.suspended_at),
    }


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _act(reference: str, action: str, reason: str | None) -> None:
    base_url = get_settings().base_url
    actor: AuditActor = CLI_ACTOR
    with unit_of_work() as session:
        credential = revocation.find_credential(session, reference, base_url)
        revocation.change_status(session, credential, action, actor=actor, reason=reason)
        result = _credential_json(credential, base_url)
    echo_json(result)


@main.command(help="Revoke a credential for good (CREDENTIAL_ID: its uuid or full URL).")
@click.argument("credential_id")
@click.option("--reason", required=True, help="Why; shown on the verification page.")
@with_app
def revoke(credential_id: str, reason: str) -> None:
    _act(credential_id, "revoke", reason)


@main.command(help="Suspend a credential until it is unsuspended.")
@click.argument("credential_id")
@click.option("--reason", help="Why (kept in the audit log).")
@with_app
def suspend(credential_id: str, reason: str | None) -> None:
    _act(credential_id, "suspend", reason)


@main.command(help="Lift the suspension of a credential.")
@click.argument("credential_id")
@click.option("--reason", help="Why (kept in the audit log).")
@with_app
def unsuspend(credential_id: str, reason: str | None) -> None:
    _act(credential_id, "unsuspend", reason)


# --------------------------------------------------------------------------------------- keys


@main.group(help="Signing keys of an institution.")
def key() -> None:
    pass


def _key_json(signing_key: SigningKey, did: str) -> dict[str, Any]:
    return {
        "key_id": signing_key.key_id,
        "status": signing_key.status.value,
        "verification_method": f"{did}#{signing_key.public_key_multibase}",
        "public_key_multibase": signing_key.public_key_multibase,
        "created_at": _time(signing_key.created_at),
        "retired_at": _time(signing_key.retired_at),
        "in_did_document": signing_key.status is not KeyStatus.COMPROMISED,
    }


def _institution(session: Session, slug: str) -> Institution:
    return institutions.get_institution(session, slug)


@key.command("list", help="List the institution's keys (active, retired, compromised).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_app
def key_list(institution_slug: str, as_json: bool) -> None:
    session = get_session()
    found = _institution(session, institution_slug)
    did = institutions.institution_did(found, get_settings().base_url)
    rows = [_key_json(k, did) for k in revocation.list_keys(session, found)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['status']:<12} {row['key_id']:<40} {row['public_key_multibase']}")


@key.command("rotate", help="Make a new key active; the old one stays in the DID document.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def key_rotate(institution_slug: str) -> None:
    settings, keystore = settings_and_keystore()
    with unit_of_work() as session:
        found = _institution(session, institution_slug)
        change = revocation.rotate_key(session, found, keystore, actor=CLI_ACTOR)
        did = institutions.institution_did(found, settings.base_url)
        rows = [_key_json(k, did) for k in revocation.list_keys(session, found)]
    click.echo(f"new active key {change.key.key_id}", err=True)
    echo_json(rows)


@key.command(
    "compromised",
    help="Withdraw a key (KEY_ID: key id or publicKeyMultibase) from the DID document; "
    "what it signed stops verifying.",
)
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.argument("key_id")
@click.option("--reason", help="What happened (kept in the audit log).")
@with_app
def key_compromised(institution_slug: str, key_id: str, reason: str | None) -> None:
    settings, keystore = settings_and_keystore()
    with unit_of_work() as session:
        found = _institution(session, institution_slug)
        change = revocation.withdraw_compromised_key(
            session, found, key_id, keystore, actor=CLI_ACTOR, reason=reason
        )
        did = institutions.institution_did(found, settings.base_url)
        rows = [_key_json(k, did) for k in revocation.list_keys(session, found)]
        withdrawn = change.key.key_id
        new_active = change.new_active.key_id if change.new_active is not None else None
    click.echo(
        f"key {withdrawn} withdrawn; credentials it signed no longer verify"
        + (f"; new active key {new_active}" if new_active else ""),
        err=True,
    )
    echo_json(rows)


@key.command(
    "migrate",
    help="Seal the private keys in ISSUER_KEYS_DIR into the database (under "
    "ISSUER_KEY_PASSPHRASE), all in one transaction; the files are left for you to remove.",
)
@click.option(
    "--to",
    "target",
    type=click.Choice(["database"]),
    required=True,
    help="The store to move the keys to.",
)
@with_app
def key_migrate(target: str) -> None:
    settings = get_settings()
    with unit_of_work() as session:
        moved = keys.migrate_to_database(
            session, keys.file_keystore(settings), keys.database_keystore(settings)
        )
        key_ids = [k.key_id for k in moved]
    click.echo(
        f"{len(key_ids)} key(s) sealed into the {target}"
        + ("" if settings.key_store == "database" else "; now set ISSUER_KEY_STORE=database"),
        err=True,
    )
    echo_json(key_ids)


@key.command(
    "rewrap",
    help="Re-wrap every key and integration secret sealed in the database under a new "
    "passphrase, in one transaction. Without --new-passphrase-env: under "
    "ISSUER_KEY_PASSPHRASE (what is still under ISSUER_KEY_PASSPHRASE_PREVIOUS moves to it).",
)
@click.option(
    "--new-passphrase-env",
    "variable",
    metavar="VAR",
    help="The environment variable that holds the new passphrase (never on the command line).",
)
@with_app
def key_rewrap(variable: str | None) -> None:
    settings = get_settings()
    if variable is None:
        new_passphrase = settings.key_passphrase
    else:
        new_passphrase = os.environ.get(variable, "")
        if not new_passphrase.strip():
            raise click.ClickException(f"the environment variable {variable} holds no passphrase")
    # Everything sealed under the passphrase moves together: the signing keys and the webhook
    # integrations' HMAC secrets (issuer.core.secret_box). A key or secret that does not open
    # rolls the whole change back, so nothing stays under a passphrase about to be dropped.
    with unit_of_work() as session:
        count = keys.rewrap(session, keys.database_keystore(settings), new_passphrase)
        opening = (settings.key_passphrase, *settings.key_passphrase_previous)
        resealed = integrations.reseal_secrets(session, opening, new_passphrase)
        providers = oidc.reseal_secrets(session, opening, new_passphrase)
        # The LTI tool's key is sealed under the same passphrase (issuer.services.lti).
        tool_keys = lti.reseal_tool_keys(session, opening, new_passphrase)
    click.echo(
        f"{count} key(s), {resealed} integration secret(s) and {providers} sign-in provider "
        f"secret(s) re-wrapped under the new passphrase, with {tool_keys} LTI tool key(s)",
        err=True,
    )
    echo_json({"rewrapped": count})
