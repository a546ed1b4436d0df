"""The LTI 1.3 tool's records (models; issue 17, LTI part; ``issuer.services.lti``).

* ``LtiPlatform``: one platform registration (a Moodle site, say) of one institution: the
  platform's issuer, the client id it gave Merkki, its deployment ids and its endpoints
  (LTI 1.3 Core section 4.1, "Tool registration"). (issuer, client id) is UNIQUE across the
  service: a launch names only those two, and must find exactly one institution.
* ``LtiRegistrationInvite``: a one-time Dynamic Registration URL an institution's staff made
  (LTI Dynamic Registration 1.0); only its SHA-256 is stored.
* ``LtiToolKey``: the tool's own RSA key (RS256, the only algorithm LTI 1.3 requires,
  IMS Security Framework 1.0 section 6.1), its private half sealed with the service's key
  passphrase (``issuer.core.secret_box``) so every app server opens it; the public half is
  published at ``/lti/jwks.json``.
* ``LtiState``: short-lived values the launch flow keeps between requests (the OIDC nonce,
  the launch data a teacher's later clicks refer to), in the database so that any app server
  answers the next request; a nonce row is deleted when used (replay refusal).
* ``LtiPlacement``: "award badge class X" placed in a course by Deep Linking, optionally tied
  to an Assignment and Grade Services line item and a score threshold.
* ``LtiAward``: one learner of one course awarded a badge class through LTI; UNIQUE per
  platform, deployment, course, user and badge class, so issuing again (a second click, a
  second grade poll) issues nothing new. ``job_id`` is the bulk job that issued it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import BadgeClass, Institution
from issuer.models.issuing import BulkJob

#: Identifiers a platform sends (issuer, client id, deployment, context, user, line item URL).
REFERENCE = 255
URL = 2048


class LtiPlatform(Base):
    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(REFERENCE))
    client_id: Mapped[str] = mapped_column(String(REFERENCE))
    # JSON list of strings: a platform may deploy the tool several times (LTI 1.3 Core
    # section 3.1.3); a launch from any other deployment is refused.
    deployment_ids: Mapped[str] = mapped_column(Text)
    auth_login_url: Mapped[str] = mapped_column(String(URL))
    auth_token_url: Mapped[str] = mapped_column(String(URL))
    key_set_url: Mapped[str] = mapped_column(String(URL))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    institution: Mapped[Institution] = relationship()


class LtiRegistrationInvite(Base):
    __tablename__ = "lti_registration_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("lti_platform.id"))

    institution: Mapped[Institution] = relationship()


class LtiToolKey(Base):
    __tablename__ = "lti_tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    public_pem: Mapped[str] = mapped_column(Text)
    sealed_private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class LtiState(Base):
    __tablename__ = "lti_state"

    key: Mapped[str] = mapped_column(String(REFERENCE), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LtiPlacement(Base):
    __tablename__ = "lti_placement"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(REFERENCE))
    context_id: Mapped[str] = mapped_column(String(REFERENCE))
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    # Assignment and Grade Services: the line item whose results are polled, and the score
    # (resultScore / resultMaximum, 0..1) that earns the badge.
    line_item_url: Mapped[str | None] = mapped_column(String(URL))
    threshold: Mapped[float | None]
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    polled_at: Mapped[datetime | None]

    platform: Mapped[LtiPlatform] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()


class LtiAward(Base):
    __tablename__ = "lti_award"
    __table_args__ = (
        # Named here: the generated name would pass PostgreSQL's 63-character limit.
        UniqueConstraint(
            "platform_id",
            "deployment_id",
            "context_id",
            "user_id",
            "badge_class_id",
            name="uq_lti_award_once",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(REFERENCE))
    context_id: Mapped[str] = mapped_column(String(REFERENCE))
    user_id: Mapped[str] = mapped_column(String(REFERENCE))
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    line: Mapped[int]
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_job.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    job: Mapped[BulkJob] = relationship()
