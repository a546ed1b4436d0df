"""Who acts, and for which institution: a staff member, an API token or the ``merkki`` command.

The web layer finds the actor of a request (``issuer.web.auth``); the CLI acts as ``CLI_ACTOR``.
Services take the actor as an argument and never look it up themselves.

``institution_for`` is the one place that decides which institution an actor may act for: any
other institution is "not found", so its existence is not revealed to other institutions' staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.services.errors import NotFoundError

__all__ = ["CLI_ACTOR", "Actor", "ActorKind", "actor_may_act_for", "has_role", "institution_for"]

ActorKind = Literal["user", "token", "cli"]


@dataclass(frozen=True)
class Actor:
    """Whoever a request or command acts as.

    ``label`` names it in the audit log: the user's e-mail address, ``token:<name>`` or ``cli``.
    ``institution_id`` is None only for a service admin and for the CLI.
    """

    kind: ActorKind
    id: int | None
    institution_id: int | None
    role: Role
    label: str


def has_role(actor: Actor, roles: tuple[Role, ...]) -> bool:
    """Does ``actor`` satisfy one of ``roles``? No roles: any actor does."""
    if not roles or actor.role is Role.SERVICE_ADMIN:
        return True
    if actor.role in roles:
        return True
    return actor.role is Role.INSTITUTION_ADMIN and Role.ISSUER in roles


#: The actor of a ``merkki`` command: the operator, who may act for any institution.
CLI_ACTOR = Actor(kind="cli", id=None, institution_id=None, role=Role.SERVICE_ADMIN, label="cli")


def actor_may_act_for(actor: Actor, institution_id: int | None) -> bool:
    """May ``actor`` act on objects of ``institution_id``? National objects (None) are only
    writable by service admins and the CLI; callers that merely read them check that
    themselves."""
    if actor.kind == "cli" or actor.role is Role.SERVICE_ADMIN:
        return True
    return institution_id is not None and institution_id == actor.institution_id


def institution_for(
    session: Session, actor: Actor, slug_or_id: str | int | None = None
) -> Institution:
    """The institution ``actor`` acts for.

    Without ``slug_or_id``: the actor's own institution. With it: that institution, if the actor
    may act for it (service admins and the CLI: any). Otherwise, and when it does not exist,
    ``NotFoundError`` — the same answer either way.
    """
    institution: Institution | None
    if slug_or_id is None:
        institution = (
            session.get(Institution, actor.institution_id)
            if actor.institution_id is not None
            else None
        )
    elif isinstance(slug_or_id, int):
        institution = session.get(Institution, slug_or_id)
    else:
        institution = session.scalar(select(Institution).where(Institution.slug == slug_or_id))
    if institution is None or not actor_may_act_for(actor, institution.id):
        raise NotFoundError(f"no institution {slug_or_id!r}")
    return institution
