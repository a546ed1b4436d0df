"""Browser tests: Playwright driving Debian's Chromium, headless, against the real app.

* ``live_server`` (one for the browser tests): ``create_app`` on a temporary SQLite database and a
  temporary keys folder, served by werkzeug's threaded ``make_server`` on a free loopback port;
  ``ISSUER_BASE_URL`` is that address, so credential ids, QR codes and links point back to it.
  It holds one institution with an admin and a published micro-credential; tests issue and
  revoke their own credentials through the services (``LiveServer.issue``/``revoke``).
* ``browser`` (one for the browser tests): Chromium from Debian (``/usr/bin/chromium``, or
  ``MERKKI_CHROMIUM``), never a browser download. Missing: the tests skip, except in CI (``CI``
  set), where they fail, as the PostgreSQL and specification tests do.
* ``browse`` (one per test): opens pages in fresh contexts (a language each) and collects
  console errors, uncaught page errors and Content-Security-Policy violations; the test fails
  if any were seen and not expected.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from issuer import create_app
from issuer.config import get_settings
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session, unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.services import (
    accounts,
    badge_class_admin,
    badge_classes,
    institutions,
    issue_input,
    issuing,
    migrate,
    revocation,
)
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from issuer.services.issuing_context import IssuingContext
from tests.browser.site import Site, build_site
from tests.conftest import PASSPHRASE
from tests.web.staff.support import complete_micro_credential

LANGUAGES = ("fi", "sv", "en")
STAFF_PASSWORD = "a long enough browser test password"
ADMIN_EMAIL = "admin@hamk.test"
INSTITUTION = InstitutionDetails(
    slug="hamk",
    name_fi="Hämeen ammattikorkeakoulu",
    name_sv="Tavastlands yrkeshögskola",
    name_en="Häme University of Applied Sciences",
    # The profile's facts the verification page shows once the signature confirms the issuer.
    url="https://www.hamk.fi/",
    business_id="1234567-1",
    oid="1.2.246.562.10.12345678901",
)
MICRO_SLUG = "tyoturvallisuus"

#: The flags the workplace notes give for headless Chromium here: without the background
#: networking ones Chromium keeps trying Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Reports every CSP violation to the console, where ``browse`` collects it. Chromium logs most
#: violations itself; the event also catches the ones it only reports to listeners.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    "CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline")
    + " in " + (event.sourceFile || document.location.href) + ":" + event.lineNumber
  );
}, true);
"""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must not skip the browser tests", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or ``MERKKI_CHROMIUM``."""
    configured = os.environ.get("MERKKI_CHROMIUM", "").strip()
    candidates = [configured] if configured else ["/usr/bin/chromium", "chromium"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


# --- the live server -----------------------------------------------------------------------------


class _LateApp:
    """A WSGI app whose target is set after the server has its port: the app's base URL must
    name the port, and binding port 0 first is the race-free way to get a free one."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "the live server was called before its app was set"
        return self.app(environ, start_response)


@dataclass
class LiveServer:
    url: str
    app: Flask
    institution: str
    admin_email: str
    password: str
    badge_slug: str

    def issue(
        self,
        name: str = "Liisa Virtanen",
        *,
        email: str = "liisa@example.fi",
        now: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Issue the micro-credential to ``name`` and commit, as a request would; its id."""
        return self.issue_managed(name, email=email, now=now, valid_until=valid_until)[0]

    def issue_managed(
        self,
        name: str,
        *,
        email: str,
        now: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> tuple[str, str]:
        """Like ``issue``; the id and the learner's private manage link's token (``now``: the
        moment of issue, which is also when it becomes valid)."""
        with self.app.app_context(), unit_of_work() as session:
            issued = issuing.issue(
                session,
                IssuingContext.from_settings(get_settings()),
                institutions.get_institution(session, self.institution),
                badge_classes.get_badge_class(session, self.badge_slug),
                email,
                name,
                issue_input.IssueOptions(lang="fi", valid_until=valid_until),
                now=now,
            )
            return issued.credential.id, issued.manage_token

    def revoke(self, credential_id: str, reason: str) -> None:
        with self.app.app_context(), unit_of_work() as session:
            credential = session.get(Credential, credential_id)
            assert credential is not None
            revocation.revoke(
                session,
                credential,
                actor=SystemActor(kind="cli", label="browser test"),
                reason=reason,
            )

    def signed_json(self, credential_id: str) -> str:
        """The credential's text exactly as it was issued."""
        with self.app.app_context():
            credential = get_session().get(Credential, credential_id)
            assert credential is not None
            return credential.signed_json

    def issued_at(self, credential_id: str) -> datetime:
        with self.app.app_context():
            credential = get_session().get(Credential, credential_id)
            assert credential is not None
            return credential.issued_at

    def translate(self, lang: str, message: str) -> str:
        """``message`` as the app's catalogs give it in ``lang``."""
        from flask_babel import force_locale, gettext

        with self.app.test_request_context(), force_locale(lang):
            return str(gettext(message))


def _seed(app: Flask, keys_dir: Path) -> None:
    with app.app_context(), unit_of_work() as session:
        institution = institutions.create_institution(
            session, INSTITUTION, KeyStore(keys_dir, PASSPHRASE)
        )
        accounts.create_user(
            session,
            institution=institution,
            email=ADMIN_EMAIL,
            role=Role.INSTITUTION_ADMIN,
            name="Hanna Admin",
            password=STAFF_PASSWORD,
        )
        badge_class_admin.create_badge_class(
            session,
            institution,
            complete_micro_credential(MICRO_SLUG),
            published=True,
            auto_issue=False,
        )


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("browser")
    templates = root / "badge_templates"
    templates.mkdir()
    late = _LateApp()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    database_url = f"sqlite:///{root / 'merkki.sqlite3'}"
    config: dict[str, Any] = {
        "TESTING": False,  # the app as it runs in production: errors become pages, not raises
        "BASE_URL": url,
        "DATABASE_URL": database_url,
        "KEYS_DIR": root / "keys",
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "browser test secret key",
        "BADGE_TEMPLATES_DIR": templates,
        "REMOTE_FETCH": "off",
        "JOB_RUNNER": "inline",
        "MAIL_DELIVERY": "sync",
        "LOG_FORMAT": "text",
        # Every test signs in from 127.0.0.1; the production limit (10 a minute) would start
        # answering 429 once the browser tests outgrow it. Rate limits have tests of their own.
        "RATE_LIMIT_LOGIN": "100 per minute",
    }
    app = create_app(config)
    migrate.upgrade(database_url)
    _seed(app, root / "keys")
    late.app = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(
            url=url,
            app=app,
            institution=INSTITUTION.slug,
            admin_email=ADMIN_EMAIL,
            password=STAFF_PASSWORD,
            badge_slug=MICRO_SLUG,
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        dispose(app)


# --- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        _unavailable(
            "Chromium not found (install Debian's package: apt-get install chromium, "
            "or set MERKKI_CHROMIUM)"
        )
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
    except Exception as error:
        playwright.stop()
        _unavailable(f"Chromium at {executable} did not start: {error}")
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@dataclass
class Browse:
    """Pages in fresh browser contexts, with their console errors and CSP violations."""

    browser: Browser
    base_url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, lang: str = "en", *, permissions: Iterable[str] = ()) -> Page:
        """A new page in a new context whose browser language is ``lang`` (both
        ``navigator.language`` and the ``Accept-Language`` header)."""
        context = self.browser.new_context(
            base_url=self.base_url,
            locale=lang,
            extra_http_headers={"Accept-Language": lang},
            permissions=list(permissions),
        )
        self.contexts.append(context)
        context.add_init_script(CSP_REPORTER)
        page = context.new_page()
        self.watch(page)
        return page

    def watch(self, page: Page) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                source = message.location.get("url") or page.url
                if urlsplit(source).path == "/favicon.ico":
                    # Chromium asks for it on its own, not the page; the app has none (404).
                    return
                self._problem(f"console error on {page.url} ({source}): {message.text}")

        def on_page_error(error: Any) -> None:
            self._problem(f"uncaught error on {page.url}: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (e.g. a 422 answer the test asks for)."""
        self.allowed.append(re.compile(pattern))

    def _problem(self, text: str) -> None:
        if not any(pattern.search(text) for pattern in self.allowed):
            self.problems.append(text)

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(browser: Browser, live_server: LiveServer) -> Iterator[Browse]:
    opened = Browse(browser, live_server.url)
    try:
        yield opened
        opened.assert_clean()
    finally:
        opened.close()


@pytest.fixture(scope="package")
def site(live_server: LiveServer) -> Site:
    """Credentials in every state and the other records the page sweeps need (``site.py``)."""
    return build_site(live_server)


@pytest.fixture
def sign_in(live_server: LiveServer) -> Callable[[Page], None]:
    """Sign ``page`` in as the institution admin through the sign-in form."""

    def signed_in(page: Page) -> None:
        sign_in_as_admin(page, live_server)

    return signed_in


def sign_in_as_admin(page: Page, live_server: LiveServer) -> None:
    page.goto("/staff/login")
    page.locator("#email").fill(live_server.admin_email)
    page.locator("#password").fill(live_server.password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/staff/$"))
