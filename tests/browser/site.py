"""Every page of the app in every state worth seeing, for the sweep that checks them all
(``test_every_page.py``: axe, reflow, contrast): the public pages (catalogue, badge pages,
learner pages, the verification page with each verdict, the forms and their error answers) and
the staff pages (sign-in, dashboard, badge classes, issuing, credentials, audit log,
administration, the sign-in provider, outbox and one of its mails); the LTI tool's pages a
course opens (the Deep Linking badge chooser, a learner's badges from the course, a refused
launch), from launches stored as a validated launch stores them (the teacher's roster page
needs the platform's services and is checked in tests/web/lti instead).

``build_site`` adds to the live server's seeded institution what the pages need to show
something: credentials in each state (valid, revoked, suspended, expired, not yet valid,
hidden by the holder), a second staff member, an API token and a badge class with a name as long
as Finnish and Swedish compounds make them. A ``Visit`` opens one page in
one state, in a language: a plain ``GET`` with ``?lang=``, or the form submission that leads
there (the language is then the cookie the ``?lang=`` visit before it left).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from playwright.sync_api import FilePayload, Page
from sqlalchemy import select

from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.models.issuing import OutboxMail
from issuer.models.lti import LtiPlacement
from issuer.services import (
    accounts,
    badge_class_admin,
    badge_classes,
    institutions,
    lti,
    lti_launch,
    oidc,
    revocation,
    wallet,
)
from issuer.services.audit import SystemActor
from tests.spec_files import SPEC_DIR, load_json
from tests.web.staff.support import complete_micro_credential

if TYPE_CHECKING:
    # Only for the annotation: the conftest imports this module for its fixture.
    from tests.browser.conftest import LiveServer

#: Foreign credentials from the 1EdTech validator's samples (``../shared/spec``) for the verdicts
#: Merkki's own credentials never get: verdict -> sample.
FOREIGN_SAMPLES = {
    "malformed": "samples/1edtech-validator-ob30/simple-err-issued.json",
    "unverifiable": "samples/1edtech-validator-ob30/simple-did-key-method.json",
}
ACTOR = SystemActor(kind="cli", label="browser test")
LONG_SLUG = "sahkoturvallisuus"
LONG_NAME = {
    "fi": "Sähköturvallisuustarkastustoiminnan täydennyskoulutusohjelmakokonaisuus",
    "sv": "Elsäkerhetsinspektionsverksamhetens kompletteringsutbildningsprogramhelhet",
    "en": "Electrical safety inspection: a continuing education programme",
}
#: A cohort file with one line and one with a line the checks refuse.
GOOD_CSV = "email;name\nsanna.sivu@example.fi;Sanna Sivu\n"
BAD_CSV = "email;name\nnot an address;\n"


@dataclass(frozen=True)
class Visit:
    """One page in one state. ``start(page, lang)`` sets off the navigation that brings ``page``
    there and returns as soon as the new document is committed, so that several pages can load
    at once; ``open`` also waits for it to load."""

    name: str
    start: Callable[[Page, str], None]

    def open(self, page: Page, lang: str) -> None:
        self.start(page, lang)
        page.wait_for_load_state()


def with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def get(name: str, path: str) -> Visit:
    def start(page: Page, lang: str) -> None:
        response = page.goto(with_lang(path, lang), wait_until="commit")
        assert response is not None, path

    return Visit(name, start)


def submit(name: str, path: str, fill: Callable[[Page], None]) -> Visit:
    """Open ``path``, let ``fill`` fill in its form, and send it with the browser's own
    validation off (the server's answer to what the browser would refuse is what is seen).

    When the page already shows a form at that address (the visit before was to it, or was
    another answer of it), the form is filled in where it is: the language is the one the
    cookie keeps."""

    def start(page: Page, lang: str) -> None:
        here = urlsplit(page.url).path == urlsplit(path).path
        if not (here and page.locator("main form").count()):
            page.goto(with_lang(path, lang))
        fill(page)
        page.evaluate("() => document.querySelectorAll('form').forEach((f) => f.noValidate = true)")
        _send(page, "main form button[type=submit] >> nth=-1")

    return Visit(name, start)


def _send(page: Page, button: str) -> None:
    """Click ``button`` and wait for the navigation it starts to commit."""
    with page.expect_navigation(wait_until="commit"):
        page.locator(button).click(no_wait_after=True)


def _no_fill(page: Page) -> None:
    pass


@dataclass(frozen=True)
class Site:
    credentials: dict[str, str]
    manage_path: str
    tampered: str
    badge_slug: str
    #: A learner's mail in the staff outbox (``/staff/issue/outbox/<id>``).
    outbox_mail_path: str
    #: An open wallet offer's interaction URL (``/wallet/<token>``, issue 18).
    wallet_path: str
    #: Stored LTI launches: a teacher's Deep Linking request, a learner's resource link.
    lti_deep_link: str
    lti_learner: str

    def public(self) -> list[Visit]:
        ids = self.credentials
        slug = self.badge_slug
        visits = [
            get("start page", "/"),
            get("accessibility statement", "/accessibility"),
            get("unknown address", "/no/such/page"),
            get("catalogue", "/catalog"),
            get("catalogue search", "/catalog?q=ty%C3%B6turvallisuus&eqf=4"),
            get("badge page", f"/badges/{slug}"),
            get("badge page long name", f"/badges/{LONG_SLUG}"),
            get("achievement page", f"/badges/{slug}/v1/fi"),
        ]
        for state in ("valid", "revoked", "suspended", "expired", "hidden"):
            visits.append(get(f"learner page {state}", f"/credentials/{ids[state]}"))
        visits += [
            get("learner page unknown credential", "/credentials/" + "0" * 32),
            get("certificate of a revoked badge", f"/credentials/{ids['revoked']}/certificate.pdf"),
            get("learner manage page", self.manage_path),
            get("learner wallet page", f"{self.manage_path}/wallet"),
            submit("learner wallet offer", f"{self.manage_path}/wallet", _no_fill),
            get("wallet offer", self.wallet_path),
            get("wallet offer unknown", "/wallet/" + "A" * 43),
        ]
        for state in ("valid", "revoked", "suspended", "expired", "not_yet_valid", "hidden"):
            visits.append(get(f"verification {state}", f"/verify/{ids[state]}"))
        visits += [
            get("verification unknown credential", "/verify/" + "0" * 32),
            get("lti badge chooser", f"/lti/course?launch={self.lti_deep_link}"),
            get("lti learner badges", f"/lti/course?launch={self.lti_learner}"),
            get("lti launch refused", "/lti/course?launch=lti1p3-launch-unknown"),
            get("verification form", "/verify"),
            submit("verification form empty", "/verify", _no_fill),
            submit("verification not genuine", "/verify", self._paste(self.tampered)),
            get("staff sign-in", "/staff/login"),
            submit("staff sign-in refused", "/staff/login", _wrong_password),
            submit("form expired", "/staff/login", _stale_form),
        ]
        # The foreign samples live beside the repository; CI has them (and fails without).
        if SPEC_DIR.is_dir() or os.environ.get("CI"):
            for verdict, sample in FOREIGN_SAMPLES.items():
                text = json.dumps(load_json(sample))
                visits.append(submit(f"verification {verdict}", "/verify", self._paste(text)))
        return visits

    @staticmethod
    def _paste(text: str) -> Callable[[Page], None]:
        def fill(page: Page) -> None:
            page.locator("#json").fill(text)

        return fill

    def staff(self) -> list[Visit]:
        """The staff pages, for a page signed in as the institution admin."""
        ids = self.credentials
        slug = self.badge_slug
        return [
            get("staff dashboard", "/staff/"),
            get("badge classes", "/staff/badge-classes"),
            get("badge class", f"/staff/badge-classes/{slug}"),
            get("badge class form", "/staff/badge-classes/new"),
            submit("badge class form errors", "/staff/badge-classes/new", _no_fill),
            get("badge class edit", f"/staff/badge-classes/{slug}/edit"),
            get("badge class copy", f"/staff/badge-classes/{slug}/copy"),
            Visit("badge class outcome added", _add_outcome_row),
            Visit("badge class preview", _preview(f"/staff/badge-classes/{slug}/edit")),
            get("issue form", "/staff/issue/"),
            submit("issue form errors", "/staff/issue/", _bad_recipient),
            submit("issued", "/staff/issue/", _good_recipient),
            get("cohort form", "/staff/issue/bulk"),
            submit("cohort file errors", "/staff/issue/bulk", _csv(BAD_CSV)),
            submit("cohort job", "/staff/issue/bulk", _csv(GOOD_CSV)),
            get("cohort jobs", "/staff/issue/jobs"),
            get("outbox", "/staff/issue/outbox"),
            get("outbox mail", self.outbox_mail_path),
            get("approvals", "/staff/issue/approvals"),
            get("credentials", "/staff/credentials"),
            get(
                "credentials filtered",
                f"/staff/credentials?q=example.fi&badge={slug}&state=active"
                "&from=2020-01-01&to=2099-12-31",
            ),
            get("credentials found nothing", "/staff/credentials?q=nobody%20at%20all"),
            get("credential", f"/staff/credentials/{ids['valid']}"),
            get("credential suspended", f"/staff/credentials/{ids['suspended']}"),
            get("credential revoke step", f"/staff/credentials/{ids['valid']}/revoke"),
            get("credential revoked", f"/staff/credentials/{ids['revoked']}"),
            get("credential unknown", "/staff/credentials/" + "f" * 32),
            get("staff unknown address", "/staff/no/such/page"),
            get("audit log", "/staff/audit"),
            get("institution profile", "/staff/institution"),
            get("staff accounts", "/staff/users"),
            submit("staff account created", "/staff/users", _new_staff_member),
            Visit("new one-time password", _new_one_time_password),
            get("api tokens", "/staff/tokens"),
            submit("api token created", "/staff/tokens", _new_token),
            get("integrations", "/staff/integrations"),
            submit("integration created", "/staff/integrations", _new_integration),
            get("sign-in provider", "/staff/sign-in-provider"),
            submit("sign-in provider errors", "/staff/sign-in-provider", _bad_provider),
            get("sign-in provider unknown", "/staff/sign-in/oidc/nobody"),
            Visit("lti registration link", _lti_invite),
            get("password", "/staff/password"),
            submit("password form errors", "/staff/password", _no_fill),
        ]


def _wrong_password(page: Page) -> None:
    page.locator("#email").fill("nobody@hamk.test")
    page.locator("#password").fill("not the password")


def _stale_form(page: Page) -> None:
    """A form whose CSRF token no longer matches (as after a long pause): the "form expired"
    page."""
    _wrong_password(page)
    page.locator("input[name=csrf_token]").evaluate("(input) => { input.value = 'stale'; }")


def _new_one_time_password(page: Page, lang: str) -> None:
    page.goto(with_lang("/staff/users", lang))
    _send(page, "form[action*='reset-password'] button >> nth=0")


def _add_outcome_row(page: Page, lang: str) -> None:
    """The badge-class form shown again with one more learning-outcome row."""
    page.goto(with_lang("/staff/badge-classes/new", lang))
    _send(page, "button[value=add_outcome]")


def _preview(path: str) -> Callable[[Page, str], None]:
    """The learner-page preview of a badge class, opened in the same tab (the form's button
    opens it in a new one)."""

    def start(page: Page, lang: str) -> None:
        page.goto(with_lang(path, lang))
        button = page.locator("button[value=preview]")
        button.evaluate("(button) => button.removeAttribute('formtarget')")
        _send(page, "button[value=preview]")

    return start


def _bad_recipient(page: Page) -> None:
    page.locator("#email").fill("not an address")


def _good_recipient(page: Page) -> None:
    page.locator("#badge_class").select_option(index=1)
    page.locator("#name").fill("Olli Lomake")
    page.locator("#email").fill("olli.lomake@example.fi")


def _csv(text: str) -> Callable[[Page], None]:
    def fill(page: Page) -> None:
        page.locator("#badge_class").select_option(index=1)
        page.locator("#file").set_input_files(
            files=FilePayload(name="ryhma.csv", mimeType="text/csv", buffer=text.encode())
        )

    return fill


_counter = iter(range(1_000_000))


def _new_staff_member(page: Page) -> None:
    page.locator("#email").fill(f"uusi.{next(_counter)}@hamk.test")
    page.locator("#name").fill("Uusi Henkilö")


def _new_token(page: Page) -> None:
    page.locator("#name").fill(f"Oppimisympäristö {next(_counter)}")


def _new_integration(page: Page) -> None:
    page.locator("#name").fill(f"Moodle {next(_counter)}")


def _bad_provider(page: Page) -> None:
    page.locator("#issuer").fill("http://login.example.fi")
    page.locator("#allowed_domains").fill("not a domain!")


def _lti_invite(page: Page, lang: str) -> None:
    page.goto(with_lang("/staff/integrations", lang))
    _send(page, "form[action*='lti/invite'] button")


LTI_PLATFORM = "https://moodle.example.fi"
_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def _lti_launches(session: object, institution: object, badge_class_id: int) -> tuple[str, str]:
    """A registered platform, a placement and two stored launches (teacher's Deep Linking,
    learner's resource link), as ``lti_launch.validate_launch`` stores them."""
    platform = lti.register_platform(
        session,  # type: ignore[arg-type]
        institution,  # type: ignore[arg-type]
        lti.PlatformDetails(
            name="moodle.example.fi",
            issuer=LTI_PLATFORM,
            client_id="merkki",
            deployment_ids=["1"],
            auth_login_url=f"{LTI_PLATFORM}/mod/lti/auth.php",
            auth_token_url=f"{LTI_PLATFORM}/mod/lti/token.php",
            key_set_url=f"{LTI_PLATFORM}/mod/lti/certs.php",
        ),
        actor=ACTOR,
    )
    placement = LtiPlacement(
        platform_id=platform.id,
        deployment_id="1",
        context_id="c-1",
        badge_class_id=badge_class_id,
        created_by="browser test",
    )
    session.add(placement)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    common = {
        "iss": LTI_PLATFORM,
        "aud": "merkki",
        _CLAIM + "deployment_id": "1",
        _CLAIM + "version": "1.3.0",
        _CLAIM + "context": {"id": "c-1", "title": "Hitsauksen perusteet"},
    }
    storage = lti_launch.DatabaseStorage(session)  # type: ignore[arg-type]
    teacher, learner = "lti1p3-launch-browser-teacher", "lti1p3-launch-browser-learner"
    storage.set_value(
        teacher,
        {
            **common,
            "sub": "t-1",
            _CLAIM + "message_type": "LtiDeepLinkingRequest",
            _CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": f"{LTI_PLATFORM}/mod/lti/contentitem_return.php",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
            },
        },
        exp=86400,
    )
    storage.set_value(
        learner,
        {
            **common,
            "sub": "s-1",
            _CLAIM + "message_type": "LtiResourceLinkRequest",
            _CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            _CLAIM + "resource_link": {"id": "r-1"},
            _CLAIM + "custom": {"merkki_placement": str(placement.id)},
        },
        exp=86400,
    )
    return teacher, learner


def build_site(live_server: LiveServer) -> Site:
    now = datetime.now(UTC)
    ids = {
        "valid": live_server.issue("Aino Virtanen", email="aino.virtanen@example.fi"),
        "revoked": live_server.issue("Bertil Holm", email="bertil@example.fi"),
        "suspended": live_server.issue("Carla Niemi", email="carla@example.fi"),
        "expired": live_server.issue(
            "Daniel Koski",
            email="daniel@example.fi",
            now=now - timedelta(days=800),
            valid_until=now - timedelta(days=30),
        ),
        "not_yet_valid": live_server.issue(
            "Eino Tuleva", email="eino@example.fi", now=now + timedelta(days=30)
        ),
        "hidden": live_server.issue("Fanny Piilo", email="fanny@example.fi"),
    }
    managed, token = live_server.issue_managed("Greta Hallinta", email="greta@example.fi")
    live_server.revoke(ids["revoked"], "Näyttö arvioitiin virheellisesti väärälle henkilölle")
    with live_server.app.app_context(), unit_of_work() as session:
        suspended = session.get(Credential, ids["suspended"])
        hidden = session.get(Credential, ids["hidden"])
        assert suspended is not None
        assert hidden is not None
        revocation.suspend(session, suspended, actor=ACTOR, reason="Selvitys kesken")
        hidden.hidden = True
        institution = institutions.get_institution(session, live_server.institution)
        accounts.create_user(
            session,
            institution=institution,
            email="issuer@hamk.test",
            role=Role.ISSUER,
            name="Ilmari Myöntäjä",
        )
        accounts.create_token(session, institution, name="Moodle", created_by="browser test")
        # A sign-in provider, so that the sign-in page shows its button (nothing is fetched
        # until someone presses it).
        oidc.set_provider(
            session,
            institution,
            oidc.ProviderSettings(
                display_name="Haka",
                issuer="https://login.example.fi",
                client_id="merkki",
                client_secret="browser test secret",
                allowed_domains="hamk.test",
            ),
            actor=ACTOR,
            passphrase=get_settings(live_server.app).key_passphrase,
        )
        mail_id = session.scalar(
            select(OutboxMail.id)
            .where(OutboxMail.credential_id == ids["valid"])
            .order_by(OutboxMail.id)
            .limit(1)
        )
        # Compounds as long as Finnish and Swedish make them, for the catalogue's cards and the
        # badge pages.
        badge_class_admin.create_badge_class(
            session,
            institution,
            complete_micro_credential(LONG_SLUG, name=LONG_NAME),
            published=True,
            auto_issue=False,
        )
        badge = badge_classes.get_badge_class(session, live_server.badge_slug)
        lti_deep_link, lti_learner = _lti_launches(session, institution, badge.id)
    valid_json = live_server.signed_json(ids["valid"])
    document = json.loads(valid_json)
    document["credentialSubject"]["name"] = "Someone Else"
    return Site(
        credentials=ids,
        manage_path=f"/credentials/{managed}/manage/{token}",
        tampered=json.dumps(document, ensure_ascii=False),
        badge_slug=live_server.badge_slug,
        outbox_mail_path=f"/staff/issue/outbox/{mail_id}",
        wallet_path=_wallet_path(live_server, managed),
        lti_deep_link=lti_deep_link,
        lti_learner=lti_learner,
    )


def _wallet_path(live_server: LiveServer, credential_id: str) -> str:
    """An open wallet offer, for as long as the sweep may take."""
    with live_server.app.app_context(), unit_of_work() as session:
        offer = wallet.create_offer(
            session, credential_id, with_tx_code=True, ttl=timedelta(days=1)
        )
    return f"/wallet/{offer.interaction_token}?iuv=1"
