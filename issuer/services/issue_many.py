"""Issuing many credentials at once: ``issue_many`` (a cohort job's batch, and through
``issuing.issue`` every single issuance too).

Each recipient's credential is built in the recipient's language, given its status list
positions (``issuer.services.status``), signed with the institution's active key
(``eddsa-rdfc-2022``, verification method ``DID#multibase``) and stored as the exact signed JSON
text: that text is what the recipient holds, and the public route serves it unchanged. In the
same transaction (the caller's unit of work) the audit events and the learners' e-mails (sent
after the commit, ``issuer.services.mail``) are written, and each credential is checked for
completing a package (``issuer.services.stacking``). What is the same for every credential is
made once (``issuer.services.issuing_context``); each table is written with one statement.
"""

from __future__ import annotations

import calendar
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.credential import build_credential, evidence_entry, identity_hash, xsd_datetime
from issuer.models import BadgeClass, Credential, Institution
from issuer.models.audit import AuditEvent
from issuer.models.issuing import MailState, OutboxMail
from issuer.services import audit, badge_classes, issue_input, mail, stacking, status_publishing
from issuer.services.credential_json import serialize_reusing
from issuer.services.errors import NotFoundError
from issuer.services.issue_input import Evidence, FieldErrors, Recipient
from issuer.services.issuing_context import IssuingContext, mail_text
from issuer.services.learner_keys import recipient_key, token_hash
from issuer.services.translation import N_, Message

# In the reader's language; a cohort row keeps the message to show it later (``bulk``).
_CANNOT_ISSUE = N_("institution %(institution)s cannot issue badge class %(badge)s")

SALT_BYTES = 16


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months; the day is clamped to the month's length
    (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _results(achievement: dict[str, Any], grade: str | None) -> list[dict[str, Any]] | None:
    """OB 3.0 ``Result``: linked to the achievement's first ``resultDescription`` when it has
    one (OB 3.0 §"Result": ``resultDescription`` is the id of one in the same achievement)."""
    if grade is None:
        return None
    result: dict[str, Any] = {"type": ["Result"], "value": grade}
    descriptions = achievement.get("resultDescription")
    if isinstance(descriptions, list) and descriptions and isinstance(descriptions[0], dict):
        description_id = descriptions[0].get("id")
        if isinstance(description_id, str):
            result["resultDescription"] = description_id
    return [result]


def _evidence(items: Sequence[Evidence]) -> list[dict[str, Any]] | None:
    entries = [evidence_entry(url=item.url, narrative=item.narrative) for item in items]
    return entries or None


@dataclass(frozen=True, slots=True)
class IssuedId:
    """What ``issue_many`` issued to one recipient (the credential row is in the session's
    transaction; load it when needed)."""

    credential_id: str
    manage_token: str
    packages: tuple[Credential, ...] = ()


@dataclass(frozen=True, slots=True)
class _Checked:
    """A recipient whose input passed the checks, with its credential's id and salt."""

    email: str
    name: str
    options: issue_input.IssueOptions
    credential_id: str
    salt: str


def _check_recipient(recipient: Recipient, valid_from: datetime) -> _Checked:
    checked = issue_input.check(recipient, now=valid_from)
    return _Checked(
        checked.email,
        checked.name,
        checked.options,
        uuid.uuid4().hex,
        secrets.token_hex(SALT_BYTES),
    )


def _clip(value: str, limit: int) -> str:
    # As audit.record clips what it stores.
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _actor_columns(actor: audit.AuditActor) -> dict[str, Any]:
    """The actor columns of an ``AuditEvent`` (what ``audit.record`` stores)."""
    actor_id = getattr(actor, "id", None)
    return {
        "actor_kind": _clip(str(actor.kind), 32),
        "actor_id": None if actor_id is None else _clip(str(actor_id), 64),
        "actor_label": _clip(str(actor.label), audit.MAX_LABEL_LENGTH),
    }


def issue_many(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    badge_class: BadgeClass,
    recipients: Sequence[Recipient],
    *,
    actor: audit.AuditActor | None = None,
    now: datetime | None = None,
    via: str = "bulk",
    check_packages: bool = True,
) -> list[IssuedId]:
    """Issue ``badge_class`` to every recipient, in ``session``'s transaction (see the module
    docstring): one credential, two status positions, one audit event and one mail each.

    What is the same for every credential (badge-class version, achievement, profile, key,
    proof configuration, mail text) is made once; the status positions of all of them are
    written with one statement per purpose, the credentials, audit events and mails with one
    each. All or nothing: the first invalid recipient raises ``FieldErrors`` before anything is
    written; any later error leaves writes behind that the caller must roll back (a savepoint
    or the transaction).
    """
    if not recipients:
        return []
    valid_from = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    checked = [_check_recipient(recipient, valid_from) for recipient in recipients]
    if not badge_classes.usable_by(badge_class, institution):
        raise NotFoundError(
            Message(_CANNOT_ISSUE, institution=repr(institution.slug), badge=repr(badge_class.slug))
        )
    version, bc, languages = ctx.badge_class_version(session, badge_class)
    for one in checked:
        if one.options.lang not in languages:
            lang = one.options.lang
            fields = issue_input.missing_fields(bc).get(lang, ())
            raise FieldErrors([issue_input.untranslated(lang, bc.slug, fields)])
    method, private_key = ctx.signing_key(session, institution)
    created = xsd_datetime(valid_from)
    # Who acts is the caller's to say (the web layer passes the signed-in staff member or the
    # API token, the CLI its operator); a service never asks the web layer. Without one, the
    # event names the system (a package issued by a rule, a test).
    actor = actor if actor is not None else audit.SystemActor()
    actor_columns = _actor_columns(actor)
    details = {"badge_class": badge_class.slug, "version": version.version, "via": via}

    # Status positions first: the revocation entry goes into what is signed.
    entries = ctx.allocator(session, institution).allocate_many(
        [one.credential_id for one in checked]
    )
    # A list opened for this batch is published signed in this transaction
    # (``status_publishing``), with the key already decrypted for the credentials; a batch
    # opening no list signs nothing.
    status_publishing.sign_changed_lists(
        session, base_url=ctx.base_url, signer=lambda owner: ctx.signing_key(session, owner)
    )
    credentials: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    mails: list[dict[str, Any]] = []
    issued: list[tuple[_Checked, str, str]] = []
    for one in checked:
        options, lang = one.options, one.options.lang
        # VC 2.0 §4.9: validFrom; whole seconds, as the engine writes xsd:dateTime.
        valid_until = options.valid_until
        if valid_until is None and bc.validity_months:
            valid_until = add_months(valid_from, bc.validity_months)
        if valid_until is not None:
            valid_until = valid_until.astimezone(UTC).replace(microsecond=0)
        achievement = ctx.achievement(session, institution, badge_class, version, bc, lang)
        profile = ctx.profile(institution, lang)
        unsigned = build_credential(
            credential_id=urls.credential_url(ctx.base_url, one.credential_id),
            issuer=profile,
            achievement=achievement,
            recipient_name=one.name,
            recipient_email=one.email,
            salt=one.salt,
            valid_from=valid_from,
            valid_until=valid_until,
            credential_status=entries[one.credential_id],
            evidence=_evidence(options.evidence),
            results=_results(achievement, options.grade),
            activity_start=options.activity_start_date.isoformat()
            if options.activity_start_date
            else None,
            activity_end=options.activity_end_date.isoformat()
            if options.activity_end_date
            else None,
        )
        signed = ctx.sign(unsigned, private_key, method, created)
        text = serialize_reusing(
            signed,
            {
                ("issuer",): ctx.text(profile),
                ("credentialSubject", "achievement"): ctx.text(achievement),
            },
        )
        manage_token = secrets.token_urlsafe(32)
        key = recipient_key(ctx.secret, one.email)
        credentials.append(
            {
                "id": one.credential_id,
                "institution_id": institution.id,
                "badge_class_version_id": version.id,
                "recipient_name": one.name,
                "recipient_identity_hash": identity_hash(one.email, one.salt),
                "salt": one.salt,
                "lang": lang,
                "signed_json": text,
                "issued_at": valid_from,
                "valid_until": valid_until,
                "recipient_key": key,
                "hidden": False,
                "indexable": False,
                "manage_token_hash": token_hash(manage_token),
            }
        )
        events.append(
            {
                "institution_id": institution.id,
                "occurred_at": valid_from,
                **actor_columns,
                "action": "issue",
                "target": one.credential_id,
                "reason": None,
                "details": details,
            }
        )
        if options.send_mail:
            subject, body = ctx.mail_template(institution, lang, bc.name.get(lang))
            link = urls.manage_url(ctx.base_url, one.credential_id, manage_token)
            mails.append(
                {
                    "institution_id": institution.id,
                    "credential_id": one.credential_id,
                    "to_address": one.email,
                    "lang": lang,
                    "subject": subject,
                    "body": mail_text(body, one.credential_id, one.name, link),
                    "state": MailState.PENDING,
                    "attempts": 0,
                }
            )
        issued.append((one, key, manage_token))

    session.execute(insert(Credential), credentials)
    session.execute(insert(AuditEvent), events)
    if mails:
        session.execute(insert(OutboxMail), mails)
        # What queue_credential_mail marks: the sender delivers them after the commit.
        mail.mark_queued(session)
    results = []
    for one, key, manage_token in issued:
        packages: tuple[Credential, ...] = ()
        if check_packages:
            packages = tuple(
                stacking.after_issue(
                    session,
                    ctx,
                    institution,
                    badge_class,
                    recipient_key=key,
                    email=one.email,
                    name=one.name,
                    lang=one.options.lang,
                    actor=actor,
                    now=valid_from,
                )
            )
        results.append(IssuedId(one.credential_id, manage_token, packages))
    return results
