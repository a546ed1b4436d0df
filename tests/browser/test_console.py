"""No console errors, uncaught script errors or Content-Security-Policy violations on the pages
the browser tests visit (the ``browse`` fixture fails a test that saw any), and proof that the
watch would see one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LANGUAGES, Browse, LiveServer

pytestmark = pytest.mark.browser

STAFF_PAGES = ("/staff/", "/staff/badge-classes", "/staff/badge-classes/new", "/staff/issue/")


def test_pages_run_without_errors_or_csp_violations(
    browse: Browse, live_server: LiveServer, sign_in: Callable[[Page], None]
) -> None:
    credential_id = live_server.issue("Erkki Virheetön", email="erkki@example.fi")
    page = browse.page("fi", permissions=["clipboard-read", "clipboard-write"])
    public = (
        "/staff/login",
        f"/credentials/{credential_id}",
        f"/verify/{credential_id}",
        "/verify",
        "/catalog",
    )
    for lang in LANGUAGES:
        for path in public:
            response = page.goto(f"{path}?lang={lang}")
            assert response is not None, path
            assert response.status == 200, path
            # Scripts that run on use, too: the copy and print buttons.
            if path.startswith("/credentials/"):
                page.locator("button[data-copy]").click()
            if path.startswith("/verify/"):
                page.evaluate("() => { window.print = () => {}; }")
                page.locator("[data-print]").click()
    sign_in(page)
    for lang in LANGUAGES:
        for path in STAFF_PAGES:
            response = page.goto(f"{path}?lang={lang}")
            assert response is not None, path
            assert response.status == 200, path
    # Every page carries the strict policy the checks above were made under.
    policy = page.request.get("/verify").headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_the_watch_sees_csp_violations_and_script_errors(
    browse: Browse, live_server: LiveServer
) -> None:
    page = browse.page("en")
    page.goto("/verify")
    assert browse.problems == []
    # An inline style attribute is what the policy forbids (style-src 'self').
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")
    page.evaluate("() => setTimeout(() => { throw new Error('boom from the page'); }, 0)")
    page.wait_for_timeout(200)
    assert any("CSP violation: style-src" in problem for problem in browse.problems), (
        browse.problems
    )
    assert any("boom from the page" in problem for problem in browse.problems), browse.problems
    browse.problems.clear()  # seen on purpose
