"""What a course does with Merkki through LTI: placements, roster and grade awards, a learner's
badges from the course (issue 17, LTI part).

* A teacher's Deep Linking choice is a ``LtiPlacement`` ("award badge class X" in this course,
  LTI Deep Linking 2.0); its id travels back in the resource link's custom parameters.
* Awards go through the bulk path (``issuer.services.bulk``): one job per teacher's click or
  grade poll, so the job runners issue them like a cohort. An ``LtiAward`` row per (platform,
  deployment, course, user, badge class) is written with the job, and a learner who has one
  is left out of the next job: issuing again, or polling grades again, issues nothing new.
  (The bulk path would skip a learner holding the badge anyway; the award row also covers a
  learner whose e-mail address changed on the platform.)
* A learner's badges from a course are the awards of that user in that course whose job row
  has a credential.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.models import BadgeClass, Credential, Institution
from issuer.models.issuing import BulkJob, BulkJobRow
from issuer.models.lti import LtiAward, LtiPlacement, LtiPlatform
from issuer.services import badge_classes, bulk, bulk_csv, issue_input
from issuer.services.errors import InvalidInputError, NotFoundError
from issuer.services.issue_input import FieldErrors
from issuer.services.lti_launch import LaunchFacts

LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@dataclass(frozen=True, slots=True)
class Member:
    """A course participant as the platform's roster (NRPS 2.0 section 2.2) gives them."""

    user_id: str
    name: str
    email: str | None
    learner: bool

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Member | None:
        user_id = str(raw.get("user_id") or "").strip()
        if not user_id or str(raw.get("status") or "Active") != "Active":
            return None
        roles = raw.get("roles") or []
        name = (
            str(raw.get("name") or "").strip()
            or " ".join(str(raw.get(part) or "") for part in ("given_name", "family_name")).strip()
        )
        email = raw.get("email")
        return cls(
            user_id=user_id,
            name=name or user_id,
            email=email.strip() if isinstance(email, str) and email.strip() else None,
            learner=any(str(role).endswith("#Learner") or role == "Learner" for role in roles),
        )


def members_of(raw: Iterable[Mapping[str, Any]]) -> list[Member]:
    found = [Member.of(item) for item in raw]
    return sorted((m for m in found if m is not None), key=lambda m: (m.name.casefold(), m.user_id))


@dataclass(frozen=True, slots=True)
class LtiActor:
    """Who the audit log and the job name: the teacher, through the platform."""

    label: str
    kind: str = "lti"
    id: int | None = None


def actor_of(facts: LaunchFacts) -> LtiActor:
    who = facts.email or facts.user_id
    return LtiActor(f"lti:{facts.platform.name}:{who}"[:320])


# --- badge classes and placements ----------------------------------------------------------------


def badge_classes_for(session: Session, institution: Institution) -> list[BadgeClass]:
    return [
        found
        for found in badge_classes.list_badge_classes(session)
        if badge_classes.usable_by(found, institution)
    ]


def badge_class_for(session: Session, institution: Institution, badge_class_id: int) -> BadgeClass:
    found = session.get(BadgeClass, badge_class_id)
    if found is None or not badge_classes.usable_by(found, institution):
        raise NotFoundError(f"no badge class {badge_class_id}")
    return found


def badge_name(session: Session, badge_class: BadgeClass, lang: str) -> str:
    data = badge_classes.parsed(badge_classes.current_version(session, badge_class))
    return str(data.name.get(lang) or data.name.get("fi") or badge_class.slug)


def create_placement(
    session: Session, facts: LaunchFacts, badge_class: BadgeClass, *, now: datetime | None = None
) -> LtiPlacement:
    placement = LtiPlacement(
        platform_id=facts.platform.id,
        deployment_id=facts.deployment_id,
        context_id=facts.context_id,
        badge_class_id=badge_class.id,
        created_by=actor_of(facts).label,
        created_at=now or datetime.now(UTC),
    )
    session.add(placement)
    session.flush()
    return placement


def placement_for(session: Session, facts: LaunchFacts, placement_id: str) -> LtiPlacement:
    """The placement a launch's custom parameter names, if it was made in the same course of
    the same platform and deployment; "not found" otherwise (a copied link names nothing)."""
    found = session.get(LtiPlacement, int(placement_id)) if placement_id.isdigit() else None
    if (
        found is None
        or found.platform_id != facts.platform.id
        or found.deployment_id != facts.deployment_id
        or found.context_id != facts.context_id
    ):
        raise NotFoundError(f"no placement {placement_id}")
    return found


def set_grade_rule(placement: LtiPlacement, line_item_url: str, threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise InvalidInputError("the threshold is a share of the maximum score, 0-1")
    placement.line_item_url = line_item_url[:2048]
    placement.threshold = threshold


# --- awards ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AwardResult:
    job: BulkJob | None
    #: Chosen members already awarded this badge class in this course (nothing new issued).
    already: list[Member]
    #: Chosen members the platform shares no usable e-mail address of.
    unreachable: list[Member]


def award(
    session: Session,
    platform: LtiPlatform,
    deployment_id: str,
    context_id: str,
    badge_class: BadgeClass,
    chosen: Sequence[Member],
    *,
    actor: LtiActor,
    lang: str,
    now: datetime | None = None,
) -> AwardResult:
    """Issue ``badge_class`` to ``chosen`` through one bulk job (in the caller's transaction;
    the caller submits the job after commit). A concurrent award of the same learner fails on
    the UNIQUE constraint and issues nothing twice."""
    moment = now or datetime.now(UTC)
    institution = platform.institution
    languages = issue_input.complete_languages(
        badge_classes.parsed(badge_classes.current_version(session, badge_class))
    )
    lang = lang if lang in languages else (languages[0] if languages else "fi")
    awarded = set(
        session.scalars(
            select(LtiAward.user_id).where(
                LtiAward.platform_id == platform.id,
                LtiAward.deployment_id == deployment_id,
                LtiAward.context_id == context_id,
                LtiAward.badge_class_id == badge_class.id,
                LtiAward.user_id.in_([member.user_id for member in chosen]),
            )
        )
    )
    already: list[Member] = []
    unreachable: list[Member] = []
    rows: list[tuple[Member, bulk_csv.CsvRow]] = []
    for member in chosen:
        if member.user_id in awarded:
            already.append(member)
            continue
        try:
            checked = issue_input.validate(
                issue_input.IssueInput(email=member.email, name=member.name, lang=lang),
                now=moment,
                languages=languages,
            )
        except FieldErrors:
            unreachable.append(member)
            continue
        awarded.add(member.user_id)  # a member listed twice is issued once
        rows.append(
            (
                member,
                bulk_csv.CsvRow(
                    line=len(rows) + 1,
                    email=checked.email,
                    name=checked.name,
                    lang=checked.options.lang,
                ),
            )
        )
    if not rows:
        return AwardResult(None, already, unreachable)
    digest = hashlib.sha256(
        "\n".join(f"{row.line}:{member.user_id}" for member, row in rows).encode()
    ).hexdigest()
    job = bulk.create_job(
        session,
        institution,
        badge_class,
        bulk_csv.ParsedCsv(rows=[row for _, row in rows], sha256=digest),
        actor=actor,
        file_name=f"LTI {platform.name}: {context_id}",
    )
    session.add_all(
        LtiAward(
            platform_id=platform.id,
            deployment_id=deployment_id,
            context_id=context_id,
            user_id=member.user_id,
            badge_class_id=badge_class.id,
            line=row.line,
            job_id=job.id,
            created_at=moment,
        )
        for member, row in rows
    )
    session.flush()
    return AwardResult(job, already, unreachable)


def reaching(results: Iterable[Mapping[str, Any]], threshold: float) -> set[str]:
    """The user ids whose result reaches ``threshold`` of the maximum (AGS 2.0 section 3.3:
    ``resultMaximum`` defaults to 1)."""
    found: set[str] = set()
    for result in results:
        score, maximum = result.get("resultScore"), result.get("resultMaximum", 1)
        if not isinstance(score, int | float) or not isinstance(maximum, int | float):
            continue
        if maximum > 0 and score / maximum >= threshold - 1e-9:
            found.add(str(result.get("userId", "")))
    return found


def poll_grades(
    session: Session,
    placement: LtiPlacement,
    members: Sequence[Member],
    results: Iterable[Mapping[str, Any]],
    *,
    actor: LtiActor,
    lang: str,
    now: datetime | None = None,
) -> AwardResult:
    """Award the placement's badge class to the learners whose result on its line item reaches
    its threshold; learners awarded before are left out, so polling again issues nothing."""
    if placement.threshold is None:
        raise InvalidInputError("the placement has no grade rule")
    passed = reaching(results, placement.threshold)
    chosen = [member for member in members if member.learner and member.user_id in passed]
    moment = now or datetime.now(UTC)
    placement.polled_at = moment
    return award(
        session,
        placement.platform,
        placement.deployment_id,
        placement.context_id,
        placement.badge_class,
        chosen,
        actor=actor,
        lang=lang,
        now=moment,
    )


def awarded_users(session: Session, facts: LaunchFacts, badge_class: BadgeClass) -> set[str]:
    return set(
        session.scalars(
            select(LtiAward.user_id).where(
                LtiAward.platform_id == facts.platform.id,
                LtiAward.deployment_id == facts.deployment_id,
                LtiAward.context_id == facts.context_id,
                LtiAward.badge_class_id == badge_class.id,
            )
        )
    )


@dataclass(frozen=True, slots=True)
class Held:
    badge_class: BadgeClass
    credential_id: str


def held(session: Session, facts: LaunchFacts) -> list[Held]:
    """The badges the launching user holds from this course (awarded here and issued)."""
    rows = session.execute(
        select(BadgeClass, BulkJobRow.credential_id)
        .join(LtiAward, LtiAward.badge_class_id == BadgeClass.id)
        .join(
            BulkJobRow,
            (BulkJobRow.job_id == LtiAward.job_id) & (BulkJobRow.line == LtiAward.line),
        )
        .join(Credential, Credential.id == BulkJobRow.credential_id)
        .where(
            LtiAward.platform_id == facts.platform.id,
            LtiAward.deployment_id == facts.deployment_id,
            LtiAward.context_id == facts.context_id,
            LtiAward.user_id == facts.user_id,
            Credential.institution_id == facts.platform.institution_id,
        )
        .order_by(LtiAward.id)
    )
    return [Held(badge_class, str(credential_id)) for badge_class, credential_id in rows]
