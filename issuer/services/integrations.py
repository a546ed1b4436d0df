"""Platform integrations and the completions they report (the completion webhook, issue 17).

An integration belongs to one institution and is created by its admin (staff UI) or the
operator (``merkki integration create``); its secret is shown once. It proves its calls in one
of two ways (``AuthKind``):

* ``hmac``: ``Merkki-Integration: mki_<prefix>`` and ``Merkki-Signature: t=..,v1=..`` over the
  exact body (``issuer.core.webhook_signature``); the secret is stored sealed
  (``issuer.core.secret_box``) because checking a signature needs it.
* ``bearer``: ``Authorization: Bearer mki_<prefix>_<secret>``; only the SHA-256 is stored.

A completion (``parse_completion``) names the source event, the badge class (slug) and the
learner. ``record_completion`` stores it once per (integration, source event id) and makes a
one-row bulk job of it (``issuer.services.bulk``), so it is issued by the job runners like a
cohort, skipped when the learner holds the badge class already, and polled like any job. A
repeat of the event answers the first report's job (``find_event``); a concurrent repeat fails
on the UNIQUE constraint and the caller answers with the stored one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.core import secret_box, webhook_signature
from issuer.core.webhook_signature import SignatureError
from issuer.models import BadgeClass, Institution
from issuer.models.integrations import AuthKind, CompletionEvent, Integration
from issuer.models.issuing import BulkJob
from issuer.services import audit, badge_classes, bulk, bulk_csv, issue_input
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.issue_input import FieldError, FieldErrors

SCHEME = "mki"
MAX_NAME = 100
MAX_REFERENCE = 255
#: A completion is a small JSON object; anything much larger is not one.
MAX_BODY_BYTES = 64 * 1024
#: ``last_used_at`` is written at most this often (it costs a write per call).
TOUCH_INTERVAL = timedelta(minutes=5)
KEY_ID = re.compile(rf"{SCHEME}_([0-9a-f]{{12}})")
_BEARER = re.compile(rf"{SCHEME}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}")
COMPLETION_FIELDS = frozenset(
    {
        "event_id",
        "event_type",
        "occurred_at",
        "badge_class",
        "learner",
        "grade",
        "course_id",
        "platform_id",
    }
)
LEARNER_FIELDS = frozenset({"email", "name", "lang"})
#: ``issue_input.validate``'s keys -> this payload's names.
_NAMES: Mapping[str, str] = {
    "recipient.email": "learner.email",
    "recipient.name": "learner.name",
    "lang": "learner.lang",
}


def key_id(integration: Integration) -> str:
    """The public id of an integration (the ``Merkki-Integration`` header)."""
    return f"{SCHEME}_{integration.prefix}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _associated(institution_id: int, prefix: str) -> str:
    # The sealed secret opens only on its own row (secret_box: ``associated``).
    return f"merkki integration {institution_id}/{prefix}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- managing integrations ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewIntegration:
    integration: Integration
    #: Shown once, never stored in clear.
    secret: str


def create_integration(
    session: Session,
    institution: Institution,
    *,
    name: str,
    auth_kind: AuthKind = AuthKind.HMAC,
    actor: audit.AuditActor,
    passphrase: str,
    now: datetime | None = None,
) -> NewIntegration:
    """A new integration of ``institution`` and its secret (``passphrase``: the service's key
    passphrase, which seals an HMAC secret), recorded in the audit log."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("an integration needs a name")
    if len(name) > MAX_NAME:
        raise InvalidInputError(f"an integration's name may have at most {MAX_NAME} characters")
    prefix = secrets.token_hex(6)
    integration = Integration(
        institution_id=institution.id,
        name=name,
        auth_kind=auth_kind,
        prefix=prefix,
        created_by=str(actor.label)[:320],
        created_at=_now(now),
    )
    if auth_kind is AuthKind.HMAC:
        # "whsec_": the prefix senders of Stripe-style signatures know as a signing secret.
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        integration.secret_sealed = secret_box.seal(
            passphrase, secret, _associated(institution.id, prefix)
        )
    else:
        secret = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        integration.secret_hash = _digest(secret)
    session.add(integration)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="integration.create",
        institution_id=institution.id,
        target=f"integration:{integration.id}",
        details={"name": name, "key_id": key_id(integration), "auth": auth_kind.value},
        now=now,
    )
    return NewIntegration(integration, secret)


def list_integrations(session: Session, institution: Institution) -> list[Integration]:
    return list(
        session.scalars(
            select(Integration)
            .where(Integration.institution_id == institution.id)
            .order_by(Integration.created_at.desc(), Integration.id.desc())
        )
    )


def get_integration(session: Session, institution: Institution, integration_id: int) -> Integration:
    """One of ``institution``'s integrations; another institution's is "not found"."""
    found = session.get(Integration, integration_id)
    if found is None or found.institution_id != institution.id:
        raise NotFoundError(f"no integration {integration_id}")
    return found


def revoke_integration(
    session: Session,
    integration: Integration,
    *,
    actor: audit.AuditActor,
    now: datetime | None = None,
) -> None:
    """Refuse its calls from now on; the row stays for the record. Its sealed secret is
    dropped: nothing will check a signature with it again."""
    if integration.revoked_at is None:
        integration.revoked_at = _now(now)
        audit.record(
            session,
            actor=actor,
            action="integration.revoke",
            institution_id=integration.institution_id,
            target=f"integration:{integration.id}",
            details={"name": integration.name, "key_id": key_id(integration)},
            now=now,
        )
    integration.secret_sealed = None
    session.flush()


def integration_json(integration: Integration) -> dict[str, Any]:
    """What the CLI lists (never a secret)."""
    return {
        "id": integration.id,
        "key_id": key_id(integration),
        "name": integration.name,
        "auth": integration.auth_kind.value,
        "created_at": integration.created_at.isoformat(),
        "created_by": integration.created_by,
        "last_used_at": (
            integration.last_used_at.isoformat() if integration.last_used_at else None
        ),
        "revoked": integration.revoked_at is not None,
    }


# --- authenticating calls ----------------------------------------------------------------------


class IntegrationAuthError(InvalidInputError):
    """A call that does not prove it comes from a live integration (401). Unknown, revoked
    and wrongly signed read alike: which integration ids exist is not revealed."""

    code = "unauthorized"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_REFUSED = "the call is not signed by a known, active integration"


def _live(session: Session, prefix: str) -> Integration | None:
    found = session.scalar(select(Integration).where(Integration.prefix == prefix))
    if found is None or found.revoked_at is not None:
        return None
    return found


def authenticate_bearer(session: Session, raw: str) -> Integration:
    """The live bearer integration whose token is ``raw``, or ``IntegrationAuthError``."""
    match = _BEARER.fullmatch(raw)
    found = _live(session, match.group(1)) if match else None
    expected = found.secret_hash if found is not None else None
    # Compared even when nothing was found, so the answer takes as long either way.
    if not hmac.compare_digest((expected or "0" * 64).encode(), _digest(raw).encode()):
        found = None
    if found is None or found.auth_kind is not AuthKind.BEARER:
        raise IntegrationAuthError("unauthorized", "the bearer token is unknown or revoked")
    return found


def _open_secret(integration: Integration, passphrases: Iterable[str]) -> str | None:
    """The HMAC secret sealed in ``integration``'s row, opened with the first of
    ``passphrases`` it opens with; None when it opens with none."""
    if integration.secret_sealed is None:
        return None
    associated = _associated(integration.institution_id, integration.prefix)
    for passphrase in passphrases:
        try:
            return secret_box.open_box(passphrase, integration.secret_sealed, associated)
        except secret_box.SecretBoxError:
            continue
    return None


def authenticate_signature(
    session: Session,
    key: str | None,
    header: str | None,
    signed: bytes,
    *,
    passphrase: str,
    now: float,
    previous: Sequence[str] = (),
) -> Integration:
    """The live HMAC integration ``key`` names whose secret signed ``signed`` (the body, or a
    GET's path) at a time within the window; ``IntegrationAuthError`` otherwise. The signature
    is checked before the time, so that only a holder of the secret learns about clocks.

    ``previous`` (``ISSUER_KEY_PASSPHRASE_PREVIOUS``) also opens a secret: while the passphrase
    changes, secrets sealed under the old one keep working until ``merkki key rewrap`` reseals
    them (README, "Change the key passphrase"), as the signing keys do."""
    try:
        parsed = webhook_signature.parse(header)
    except SignatureError as error:
        raise IntegrationAuthError(error.code, error.message) from None
    match = KEY_ID.fullmatch((key or "").strip())
    found = _live(session, match.group(1)) if match else None
    if found is None or found.auth_kind is not AuthKind.HMAC or found.secret_sealed is None:
        raise IntegrationAuthError("invalid_signature", _REFUSED)
    secret = _open_secret(found, (passphrase, *previous))
    if secret is None:
        # The passphrase changed since the secret was sealed and no passphrase the service
        # holds opens it: the integration needs a new one.
        raise IntegrationAuthError("invalid_signature", _REFUSED)
    if not webhook_signature.matches(secret, parsed, signed):
        raise IntegrationAuthError("invalid_signature", _REFUSED)
    try:
        webhook_signature.check_time(parsed, now)
    except SignatureError as error:
        raise IntegrationAuthError(error.code, error.message) from None
    return found


def reseal_secrets(session: Session, opening: Sequence[str], new_passphrase: str) -> int:
    """Seal every HMAC secret under ``new_passphrase`` (in the caller's one transaction, with
    the signing keys: ``merkki key rewrap``); return how many. Each must open with one of
    ``opening`` (the current and previous passphrases) first: one that does not stops the
    change, as a signing key does (``keys.rewrap``), naming the integration to revoke, rather
    than being left under a passphrase that is about to be forgotten. Revoked integrations hold
    no secret (``revoke_integration``)."""
    rows = list(
        session.scalars(
            select(Integration)
            .where(Integration.secret_sealed.is_not(None))
            .order_by(Integration.id)
        )
    )
    for integration in rows:
        secret = _open_secret(integration, opening)
        if secret is None:
            raise ConflictError(
                f"the secret of integration {key_id(integration)} (institution "
                f"{integration.institution_id}) does not open with the key passphrase; revoke "
                "the integration (merkki integration revoke) and create a new one, then re-wrap"
            )
        integration.secret_sealed = secret_box.seal(
            new_passphrase, secret, _associated(integration.institution_id, integration.prefix)
        )
    session.flush()
    return len(rows)


def touch(session: Session, integration: Integration, *, now: datetime | None = None) -> None:
    """Record use, at most once per ``TOUCH_INTERVAL``."""
    moment = _now(now)
    last = integration.last_used_at
    if last is None or moment - last >= TOUCH_INTERVAL:
        integration.last_used_at = moment
        session.flush()


@dataclass(frozen=True, slots=True)
class IntegrationActor:
    """Who the audit log and the job name for a completion: the integration."""

    id: int
    label: str
    kind: str = "integration"

    @classmethod
    def of(cls, integration: Integration) -> IntegrationActor:
        return cls(integration.id, f"integration:{integration.name}"[:320])


# --- completions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completion:
    """A completion as reported, shape-checked (values are checked by ``record_completion``)."""

    event_id: str
    event_type: str | None
    badge_class: str
    email: str | None
    name: str | None
    lang: str | None
    grade: str | None
    course_id: str | None
    platform_id: str | None
    #: SHA-256 of the canonical JSON payload: a repeat of the event must be the same report.
    request_hash: str


def _reference(
    body: Mapping[str, Any], name: str, errors: list[FieldError], *, required: bool = False
) -> str | None:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Moodle's ids are numbers
    if value is not None and not isinstance(value, str):
        errors.append(FieldError(name, "type", "must be a string"))
        return None
    value = (value or "").strip()
    if not value:
        if required:
            errors.append(FieldError(name, "required", "required"))
        return None
    if len(value) > MAX_REFERENCE or not value.isprintable():
        errors.append(
            FieldError(name, "invalid", f"must be 1-{MAX_REFERENCE} printable characters")
        )
        return None
    return value


def _text(body: Mapping[str, Any], name: str, where: str, errors: list[FieldError]) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    errors.append(FieldError(where, "type", "must be a string"))
    return None


def parse_completion(raw: bytes) -> Completion:
    """The completion in a request body, or ``FieldErrors`` naming what does not have the
    payload's shape (documented in docs/integrations.md)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise FieldErrors([FieldError("body", "invalid_json", "the body is not JSON")]) from None
    if not isinstance(body, dict):
        raise FieldErrors([FieldError("body", "type", "must be a JSON object")])
    errors = [
        FieldError(unknown, "unknown_field", "unknown field")
        for unknown in sorted(set(body) - COMPLETION_FIELDS)
    ]
    event_id = _reference(body, "event_id", errors, required=True)
    badge = _reference(body, "badge_class", errors, required=True)
    event_type = _reference(body, "event_type", errors)
    _text(body, "occurred_at", "occurred_at", errors)
    learner = body.get("learner")
    email = name = lang = None
    if not isinstance(learner, dict):
        errors.append(FieldError("learner", "required", "required: an object with email and name"))
    else:
        for extra in sorted(set(learner) - LEARNER_FIELDS):
            errors.append(FieldError(f"learner.{extra}", "unknown_field", "unknown field"))
        email = _text(learner, "email", "learner.email", errors)
        name = _text(learner, "name", "learner.name", errors)
        lang = _text(learner, "lang", "learner.lang", errors)
    grade = _text(body, "grade", "grade", errors)
    course_id = _reference(body, "course_id", errors)
    platform_id = _reference(body, "platform_id", errors)
    if errors:
        raise FieldErrors(errors)
    # Both are required: without them ``errors`` was not empty.
    assert event_id is not None
    assert badge is not None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Completion(
        event_id=event_id,
        event_type=event_type,
        badge_class=badge,
        email=email,
        name=name,
        lang=lang,
        grade=grade,
        course_id=course_id,
        platform_id=platform_id,
        request_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def find_event(session: Session, integration: Integration, event_id: str) -> CompletionEvent | None:
    return session.scalar(
        select(CompletionEvent).where(
            CompletionEvent.integration_id == integration.id,
            CompletionEvent.source_event_id == event_id,
        )
    )


def repeated(event: CompletionEvent, completion: Completion) -> CompletionEvent:
    """``event`` when ``completion`` repeats it; ``ConflictError`` when the event id was used
    for another report (a sender's bug that would otherwise lose a learner's badge unseen)."""
    if event.request_hash != completion.request_hash:
        raise ConflictError(
            f"event {completion.event_id!r} was reported before with a different payload"
        )
    return event


def _badge_class(session: Session, institution: Institution, reference: str) -> BadgeClass:
    """The badge class ``reference`` (a slug) names, if ``institution`` may issue it. Another
    institution's answers word for word as one that does not exist."""
    try:
        found = badge_classes.get_badge_class(session, reference)
    except NotFoundError:
        found = None
    if found is None or not badge_classes.usable_by(found, institution):
        raise FieldErrors([FieldError("badge_class", "not_found", f"no badge class {reference!r}")])
    return found


def record_completion(
    session: Session,
    integration: Integration,
    completion: Completion,
    *,
    now: datetime | None = None,
) -> CompletionEvent:
    """Check ``completion`` against the badge class and store it with its one-row job (in the
    caller's transaction; the caller submits the job after commit). The event row is inserted
    first: a concurrent report of the same event waits on the UNIQUE constraint and fails."""
    moment = _now(now)
    institution = integration.institution
    problems: list[FieldError] = []
    badge_class: BadgeClass | None = None
    languages: list[str] | None = None
    try:
        badge_class = _badge_class(session, institution, completion.badge_class)
        languages = issue_input.complete_languages(
            badge_classes.parsed(badge_classes.current_version(session, badge_class))
        )
    except FieldErrors as error:
        problems.extend(error.errors)
    raw = issue_input.IssueInput(
        email=completion.email,
        name=completion.name,
        lang=completion.lang or "fi",
        grade=completion.grade,
    )
    try:
        checked = issue_input.validate(
            raw, now=moment, languages=languages, badge_class=completion.badge_class, names=_NAMES
        )
    except FieldErrors as error:
        problems.extend(error.errors)
    if problems:
        raise FieldErrors(problems)
    assert badge_class is not None
    event = CompletionEvent(
        integration_id=integration.id,
        institution_id=institution.id,
        source_event_id=completion.event_id,
        event_type=completion.event_type,
        course_id=completion.course_id,
        platform_id=completion.platform_id,
        request_hash=completion.request_hash,
        created_at=moment,
    )
    session.add(event)
    session.flush()
    options = checked.options
    parsed = bulk_csv.ParsedCsv(
        rows=[
            bulk_csv.CsvRow(
                line=1,
                email=checked.email,
                name=checked.name,
                lang=options.lang,
                grade=options.grade,
            )
        ],
        sha256=completion.request_hash,
    )
    job: BulkJob = bulk.create_job(
        session,
        institution,
        badge_class,
        parsed,
        actor=IntegrationActor.of(integration),
        file_name=f"{integration.name}: {completion.event_id}",
    )
    event.job_id = job.id
    touch(session, integration, now=moment)
    session.flush()
    return event


def job_for(session: Session, integration: Integration, job_id: int) -> BulkJob:
    """A job this integration's completions made; any other is "not found"."""
    job = session.scalar(
        select(BulkJob)
        .join(CompletionEvent, CompletionEvent.job_id == BulkJob.id)
        .where(BulkJob.id == job_id, CompletionEvent.integration_id == integration.id)
    )
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job
