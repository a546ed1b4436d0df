"""Stacking: packages issued when a learner completes every badge class they require.

A package is a badge class whose data lists ``requires`` (badge-class slugs). After every
issuance (``issue_many.issue_many``: one or many, also in bulk jobs), in the same transaction,
the packages that require the badge class just issued are checked: when the learner (same
``recipient_key`` at the same institution) holds a credential of every required badge class
that is neither revoked nor suspended, the package is

* issued at once, if the package is configured to issue automatically (``auto_issue``), or
* offered to staff, who approve or reject it at ``/staff/issue/approvals``.

Either way a ``PackageOffer`` row records it. Its UNIQUE (institution, package, learner)
constraint is what makes "never issued twice" hold, also when two component credentials complete
the package in concurrent transactions: the second insert fails (in a savepoint) and that
transaction leaves the package alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.models.issuing import OfferState, PackageOffer
from issuer.services import audit, badge_classes, status
from issuer.services.errors import ConflictError, NotFoundError
from issuer.services.issue_input import IssueOptions, complete_languages
from issuer.services.issuing_context import IssuingContext

#: Packages may themselves be parts of bigger packages; this bounds the chain.
MAX_DEPTH = 5


def auto_issue(session: Session, institution: Institution, badge_class: BadgeClass) -> bool:
    """Does ``institution`` issue the package without staff approval? Its package setting
    (``badge_class_admin``; staff switch it on the badge class page); absent means approval."""
    from issuer.services import badge_class_admin

    return badge_class_admin.auto_issue(session, institution, badge_class)


def packages_requiring(
    session: Session, institution: Institution, slug: str
) -> list[tuple[int, tuple[str, ...], bool]]:
    """(badge class id, required slugs, issued automatically) of the packages the institution
    may issue whose current version requires ``slug``."""
    # Asked after every issuance: one query for the current versions' data of the badge classes
    # the institution may issue (``badge_classes.usable_by``), never their artwork.
    rows = session.execute(
        select(BadgeClass, BadgeClassVersion.data)
        .join(
            BadgeClassVersion,
            (BadgeClassVersion.badge_class_id == BadgeClass.id)
            & (BadgeClassVersion.version == BadgeClass.current_version),
        )
        .where(
            BadgeClass.published.is_(True),
            or_(BadgeClass.institution_id.is_(None), BadgeClass.institution_id == institution.id),
        )
        .order_by(BadgeClass.slug)
    )
    found = []
    for badge_class, data in rows:
        requires = tuple(data.get("requires") or ())
        if slug in requires:
            found.append((badge_class.id, requires, auto_issue(session, institution, badge_class)))
    return found


def _cached_packages(
    session: Session, ctx: IssuingContext, institution: Institution, slug: str
) -> list[tuple[int, tuple[str, ...], bool]]:
    # Badge classes do not change within a request or a job batch; a bulk run asks once.
    key = ("packages", institution.id, slug)
    cached = ctx.cache.get(key)
    if cached is None:
        cached = packages_requiring(session, institution, slug)
        ctx.cache[key] = cached
    return list(cached)


def held_slugs(session: Session, institution: Institution, recipient_key: str) -> set[str]:
    """Slugs of the badge classes the learner holds from the institution, counting only
    credentials that are neither revoked nor suspended."""
    rows = list(
        session.execute(
            select(Credential.id, BadgeClass.slug)
            .join(BadgeClassVersion, BadgeClassVersion.id == Credential.badge_class_version_id)
            .join(BadgeClass, BadgeClass.id == BadgeClassVersion.badge_class_id)
            .where(
                Credential.institution_id == institution.id,
                Credential.recipient_key == recipient_key,
            )
        )
    )
    flags = status.statuses(session, [credential_id for credential_id, _slug in rows])
    return {slug for credential_id, slug in rows if not flags.get(credential_id)}


def _offer(session: Session, offer: PackageOffer) -> bool:
    """Insert ``offer``; False when the learner already has one for this package."""
    try:
        with session.begin_nested():
            session.add(offer)
    except IntegrityError:
        return False
    return True


def after_issue(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    issued: BadgeClass,
    *,
    recipient_key: str,
    email: str,
    name: str,
    lang: str,
    actor: audit.AuditActor | None,
    now: datetime,
    depth: int = 0,
) -> list[Credential]:
    """Check the packages that require ``issued`` (module docstring); returns the package
    credentials issued automatically (including those of packages they completed in turn)."""
    if depth >= MAX_DEPTH:
        return []
    candidates = _cached_packages(session, ctx, institution, issued.slug)
    if not candidates:
        return []
    held = held_slugs(session, institution, recipient_key)
    issued_now: list[Credential] = []
    for package_id, requires, automatic in candidates:
        package = session.get(BadgeClass, package_id)
        if package is None or package.slug in held or not set(requires) <= held:
            continue
        offer = PackageOffer(
            institution_id=institution.id,
            badge_class_id=package.id,
            recipient_key=recipient_key,
            recipient_name=name,
            email=None if automatic else email,
            lang=lang,
            state=OfferState.ISSUED if automatic else OfferState.PENDING,
            created_at=now,
        )
        if not _offer(session, offer):
            continue
        if not automatic:
            continue
        issued_now.extend(
            _issue_package(
                session, ctx, institution, package, offer, email, actor, now, depth=depth + 1
            )
        )
    return issued_now


def _issue_package(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    package: BadgeClass,
    offer: PackageOffer,
    email: str,
    actor: audit.AuditActor | None,
    now: datetime,
    *,
    depth: int,
) -> list[Credential]:
    # Here, not at the top: issuing a credential checks its packages (``issue_many`` calls
    # ``after_issue``), and this issues one.
    from issuer.services.issuing import issue

    result = issue(
        session,
        ctx,
        institution,
        package,
        email,
        offer.recipient_name,
        IssueOptions(lang=_language_for(session, package, offer.lang)),
        actor=actor,
        now=now,
        via="package",
        check_packages=False,
    )
    offer.credential_id = result.credential.id
    offer.state = OfferState.ISSUED
    offer.email = None
    offer.decided_at = now
    session.flush()
    chained = after_issue(
        session,
        ctx,
        institution,
        package,
        recipient_key=offer.recipient_key,
        email=email,
        name=offer.recipient_name,
        lang=offer.lang,
        actor=actor,
        now=now,
        depth=depth,
    )
    return [result.credential, *chained]


def _language_for(session: Session, package: BadgeClass, lang: str) -> str:
    """The learner's language if the package is translated into it, else the first complete
    one (a package must not fail because a component was issued in another language)."""
    languages = complete_languages(
        badge_classes.parsed(badge_classes.current_version(session, package))
    )
    return lang if lang in languages or not languages else languages[0]


# --- the approval queue ----------------------------------------------------------------------


def pending_offers(session: Session, institution: Institution) -> list[PackageOffer]:
    return list(
        session.scalars(
            select(PackageOffer)
            .where(
                PackageOffer.institution_id == institution.id,
                PackageOffer.state == OfferState.PENDING,
            )
            .order_by(PackageOffer.created_at, PackageOffer.id)
        )
    )


def get_offer(session: Session, institution: Institution, offer_id: int) -> PackageOffer:
    offer = session.get(PackageOffer, offer_id)
    if offer is None or offer.institution_id != institution.id:
        raise NotFoundError(f"no package offer {offer_id}")
    return offer


def approve(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    offer: PackageOffer,
    *,
    actor: audit.AuditActor,
    now: datetime | None = None,
) -> list[Credential]:
    """Issue the offered package (and any package it completes in turn)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    # Lock the offer: two staff members approving at once must not issue it twice.
    locked = session.scalar(
        select(PackageOffer)
        .where(PackageOffer.id == offer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.state is not OfferState.PENDING or locked.email is None:
        raise ConflictError("this package offer has already been decided")
    email = locked.email
    credentials = _issue_package(
        session, ctx, institution, locked.badge_class, locked, email, actor, moment, depth=1
    )
    locked.decided_by = actor.label
    return credentials


def reject(
    session: Session, offer: PackageOffer, *, actor: audit.AuditActor, now: datetime | None = None
) -> None:
    locked = session.scalar(
        select(PackageOffer)
        .where(PackageOffer.id == offer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.state is not OfferState.PENDING:
        raise ConflictError("this package offer has already been decided")
    locked.state = OfferState.REJECTED
    locked.email = None
    locked.decided_by = actor.label
    locked.decided_at = (now or datetime.now(UTC)).astimezone(UTC)
    session.flush()
