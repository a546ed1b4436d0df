"""The start page, the accessibility statement and the error pages in a browser (issue 15): they
fit a phone without sideways scrolling, work by keyboard with labelled controls in fi/sv/en,
and the start page's upload and links lead where they say."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import assert_keyboard_reachable, assert_labelled
from tests.browser.conftest import LANGUAGES, Browse, LiveServer

pytestmark = pytest.mark.browser

PAGES = ("/", "/accessibility", "/no/such/page")

#: Is the page wider than the viewport (WCAG 1.4.10 Reflow)?
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("path", PAGES, ids=["start", "statement", "not-found"])
def test_by_keyboard_with_labels_in_each_language(browse: Browse, path: str) -> None:
    page = browse.page("fi")
    browse.allow(r"404 \(NOT FOUND\)")  # the not-found page's own status
    page.goto(path)
    assert_labelled(page, "fi")
    assert_keyboard_reachable(page)
    for lang in LANGUAGES:
        page.goto(f"{path}?lang={lang}")
        assert_labelled(page, lang)


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_no_sideways_scrolling(browse: Browse, width: int) -> None:
    browse.allow(r"404 \(NOT FOUND\)")
    page = browse.page("fi")
    page.set_viewport_size({"width": width, "height": 800})
    for lang in LANGUAGES:
        for path in PAGES:
            page.goto(f"{path}?lang={lang}")
            assert page.evaluate(OVERFLOW_JS) <= 0, f"{path} in {lang} at {width} px"


def test_the_upload_on_the_start_page_verifies(browse: Browse, live_server: LiveServer) -> None:
    credential_id = live_server.issue("Aino Etusivu", email="aino@example.fi")
    page = browse.page("sv")
    page.goto("/")
    credential = page.request.get(f"/credentials/{credential_id}/credential.json").body()
    page.locator("#start-file").set_input_files(
        files=[{"name": "credential.json", "mimeType": "application/json", "buffer": credential}]
    )
    page.locator("#verify button[type=submit]").click()
    page.wait_for_url(re.compile(r"/verify$"))
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "valid"
    expect(page.locator("html")).to_have_attribute("lang", "sv")


def test_the_links_lead_to_the_catalogue_and_the_sign_in(browse: Browse) -> None:
    page = browse.page("en")
    page.goto("/")
    page.locator("#start-q").fill("safety")
    page.locator("#catalogue button[type=submit]").click()
    page.wait_for_url(re.compile(r"/catalog\?q=safety$"))
    page.goto("/")
    page.get_by_role("link", name="Staff sign-in").click()
    page.wait_for_url(re.compile(r"/staff/login$"))
    page.get_by_role("link", name="Accessibility statement").click()
    page.wait_for_url(re.compile(r"/accessibility$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Accessibility statement")
    page.locator("a.brand").click()
    page.wait_for_url(re.compile(r"/$"))
