"""Issuing one credential, and finding issued ones.

``issue`` issues one credential through ``issue_many`` (``issuer.services.issue_many``: how a
credential is built, signed and stored, in the caller's transaction), with what the input must
satisfy in ``issuer.services.issue_input`` and what is made once per context in
``issuer.services.issuing_context``. ``issue_credential`` is the contract of ``merkki issue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.core.keys import SigningKeyStore
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.services import audit
from issuer.services.errors import NotFoundError
from issuer.services.issue_input import IssueOptions, Recipient
from issuer.services.issue_many import issue_many
from issuer.services.issuing_context import IssuingContext

_NO_OPTIONS = IssueOptions()


@dataclass(frozen=True, slots=True)
class Issued:
    credential: Credential
    #: The private manage link's token (only here and in the learner's e-mail).
    manage_token: str
    #: Packages issued automatically because this credential completed them.
    packages: tuple[Credential, ...] = ()


def issue(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    badge_class: BadgeClass,
    email: str,
    name: str,
    options: IssueOptions = _NO_OPTIONS,
    *,
    actor: audit.AuditActor | None = None,
    now: datetime | None = None,
    via: str = "single",
    check_packages: bool = True,
) -> Issued:
    """Issue ``badge_class`` to ``name`` <``email``> (see the module docstring). Everything is
    added to ``session``'s transaction; nothing is committed."""
    [done] = issue_many(
        session,
        ctx,
        institution,
        badge_class,
        [Recipient(email, name, options)],
        actor=actor,
        now=now,
        via=via,
        check_packages=check_packages,
    )
    credential = session.get(Credential, done.credential_id)
    assert credential is not None  # inserted just now, in this transaction
    return Issued(credential, done.manage_token, done.packages)


def issue_credential(
    session: Session,
    institution: Institution,
    badge_class: BadgeClass,
    email: str,
    name: str,
    lang: str,
    *,
    base_url: str,
    keystore: SigningKeyStore,
    secret: str,
    now: datetime | None = None,
    actor: audit.AuditActor | None = None,
) -> Credential:
    """Issue ``badge_class`` to the person ``name`` <``email``> in ``lang`` (the contract of
    ``merkki issue``); the stored ``Credential`` holds the signed JSON text. ``secret`` keys the
    learner's ``recipient_key`` (``learner_keys.recipient_secret`` of the settings); ``actor``
    is who the audit log names (``merkki issue``: the CLI operator). Bad input raises
    ``FieldErrors``, for the caller to render."""
    ctx = IssuingContext(base_url=base_url, keystore=keystore, secret=secret)
    return issue(
        session,
        ctx,
        institution,
        badge_class,
        email,
        name,
        IssueOptions(lang=lang),
        now=now,
        actor=actor,
    ).credential


def get_credential(session: Session, credential_id: str) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id!r}")
    return credential


def find_credentials(
    session: Session, institution: Institution, badge_class: BadgeClass, keys_: Sequence[str]
) -> dict[str, str]:
    """recipient_key -> id of an existing credential of ``badge_class`` (any version) from
    ``institution``, for the given keys."""
    if not keys_:
        return {}
    rows = session.execute(
        select(Credential.recipient_key, Credential.id)
        .join(BadgeClassVersion, BadgeClassVersion.id == Credential.badge_class_version_id)
        .where(
            Credential.institution_id == institution.id,
            BadgeClassVersion.badge_class_id == badge_class.id,
            Credential.recipient_key.in_(list(keys_)),
        )
    )
    return {key: credential_id for key, credential_id in rows if key is not None}
