"""Stacking: completing the last module of a package issues it (automatically or after approval),
never twice, and also from a bulk job."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, BadgeClassVersion, Credential
from issuer.models.issuing import OfferState, PackageOffer
from issuer.services import (
    audit,
    badge_class_admin,
    badge_classes,
    bulk,
    bulk_csv,
    institutions,
    issue_input,
    jobs,
    learner_keys,
    stacking,
    status,
)
from issuer.services.errors import ConflictError
from issuer.services.issuing_context import IssuingContext
from issuer.wiring.jobs import job_host
from tests.web.learner.support import (
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)


def _auto(app: Flask, value: bool) -> None:
    with app.app_context(), unit_of_work() as session:
        badge_class_admin.set_auto_issue(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "package-ab"),
            value,
        )


def _packages(app: Flask, email: str = "liisa@example.fi") -> list[str]:
    with app.app_context():
        key = learner_keys.recipient_key(IssuingContext.from_settings(get_settings()).secret, email)
        return list(
            get_session().scalars(
                select(Credential.id)
                .join(BadgeClassVersion)
                .join(BadgeClass)
                .where(BadgeClass.slug == "package-ab", Credential.recipient_key == key)
            )
        )


def test_completing_the_last_module_issues_the_package(app: Flask, world: World) -> None:
    _auto(app, True)
    first = issue(app, badge="module-a")
    assert first.packages == ()
    assert _packages(app) == []

    last = issue(app, badge="module-b", options=issue_input.IssueOptions(lang="sv"))
    assert len(last.packages) == 1
    assert _packages(app) == list(last.packages)
    with app.app_context():
        package = get_session().get(Credential, last.packages[0])
        assert package is not None
        document = json.loads(package.signed_json)
        assert package.lang == "sv"
        achievement = document["credentialSubject"]["achievement"]
        assert achievement["name"] == "Märke package-ab"
        # The package carries its own status entry like any credential.
        assert document["credentialStatus"]["statusPurpose"] == "revocation"

    # Another module issue later does not issue the package again.
    issue(app, badge="module-a")
    assert len(_packages(app)) == 1


def test_other_learners_and_other_institutions_do_not_count(app: Flask, world: World) -> None:
    _auto(app, True)
    issue(app, badge="module-a", email="liisa@example.fi")
    issue(app, badge="module-b", email="matti@example.fi")
    issue(app, badge="module-b", email="liisa@example.fi", institution="tamk")
    assert _packages(app, "liisa@example.fi") == []
    assert _packages(app, "matti@example.fi") == []
    # The address is matched whatever its case.
    issue(app, badge="module-b", email="LIISA@Example.fi")
    assert len(_packages(app, "liisa@example.fi")) == 1


def test_a_revoked_module_does_not_count(app: Flask, world: World) -> None:
    _auto(app, True)
    module_a = issue(app, badge="module-a")
    with app.app_context(), unit_of_work() as session:
        status.set_status(session, module_a.id, "revocation", True)
    issue(app, badge="module-b")
    assert _packages(app) == []


def test_without_auto_issue_the_package_waits_for_approval(app: Flask, world: World) -> None:
    issue(app, badge="module-a", name="Liisa Virtanen")
    last = issue(app, badge="module-b", name="Liisa Virtanen")
    assert last.packages == ()
    assert _packages(app) == []
    with app.app_context():
        session = get_session()
        [offer] = stacking.pending_offers(session, institutions.get_institution(session, "hamk"))
        assert offer.recipient_name == "Liisa Virtanen"
        offer_id = offer.id

    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, "hamk")
        offer = stacking.get_offer(session, institution, offer_id)
        issued = stacking.approve(
            session,
            IssuingContext.from_settings(get_settings()),
            institution,
            offer,
            actor=audit.SystemActor(label="staff@hamk.fi"),
        )
        assert len(issued) == 1
    assert len(_packages(app)) == 1
    with app.app_context(), unit_of_work() as session:
        offer = session.get(PackageOffer, offer_id)
        assert offer is not None
        assert offer.state is OfferState.ISSUED
        assert offer.email is None
        assert offer.decided_by == "staff@hamk.fi"
        with pytest.raises(ConflictError):
            stacking.approve(
                session,
                IssuingContext.from_settings(get_settings()),
                institutions.get_institution(session, "hamk"),
                offer,
                actor=audit.SystemActor(),
            )
    # Completing the modules again (new credentials) does not offer the package twice.
    issue(app, badge="module-b")
    with app.app_context():
        session = get_session()
        assert stacking.pending_offers(session, institutions.get_institution(session, "hamk")) == []


def test_a_rejected_offer_forgets_the_address(app: Flask, world: World) -> None:
    issue(app, badge="module-a")
    issue(app, badge="module-b")
    with app.app_context(), unit_of_work() as session:
        institution = institutions.get_institution(session, "hamk")
        [offer] = stacking.pending_offers(session, institution)
        stacking.reject(session, offer, actor=audit.SystemActor())
        assert offer.email is None
        assert offer.state is OfferState.REJECTED
    assert _packages(app) == []


def test_a_bulk_job_completes_packages_too(app: Flask, world: World) -> None:
    _auto(app, True)
    issue(app, badge="module-a", email="a@example.fi")
    with app.app_context(), unit_of_work() as session:
        parsed = bulk_csv.parse_csv(b"email,name\na@example.fi,A\nb@example.fi,B\n")
        job = bulk.create_job(
            session,
            institutions.get_institution(session, "hamk"),
            badge_classes.get_badge_class(session, "module-b"),
            parsed,
            actor=audit.SystemActor(),
        )
        job_id = job.id
    assert jobs.run_job(job_host(app), job_id)
    assert len(_packages(app, "a@example.fi")) == 1
    assert _packages(app, "b@example.fi") == []


def test_only_packages_the_institution_may_issue_are_considered(app: Flask, world: World) -> None:
    def requiring_module_a(institution: str) -> list[int]:
        with app.app_context():
            session = get_session()
            found = stacking.packages_requiring(
                session, institutions.get_institution(session, institution), "module-a"
            )
            return [badge_class_id for badge_class_id, _requires, _auto in found]

    with app.app_context():
        package_id = badge_classes.get_badge_class(get_session(), "package-ab").id
    assert requiring_module_a("hamk") == [package_id]
    assert requiring_module_a("tamk") == [package_id]  # national: every institution

    with app.app_context(), unit_of_work() as session:
        package = badge_classes.get_badge_class(session, "package-ab")
        package.institution_id = institutions.get_institution(session, "tamk").id
    assert requiring_module_a("hamk") == []  # another institution's own package
    assert requiring_module_a("tamk") == [package_id]

    with app.app_context(), unit_of_work() as session:
        badge_classes.get_badge_class(session, "package-ab").published = False
    assert requiring_module_a("tamk") == []  # withdrawn
