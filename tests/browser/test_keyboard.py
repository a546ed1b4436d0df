"""Keyboard-only use and form labels on the pages people reach first: staff sign-in, the
badge-class form, the learner page and the verification pages.

Each page is walked with Tab in Finnish (the browser's language), then its labels and document
language are checked in Finnish, Swedish and English (switched with the language menu's
``?lang=``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.browser.a11y import assert_keyboard_reachable, assert_labelled
from tests.browser.conftest import LANGUAGES, Browse, LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def credential_id(live_server: LiveServer) -> str:
    return live_server.issue("Kaisa Näppäimistö", email="kaisa@example.fi")


def _check_page(page: Page, path: str) -> None:
    page.goto(path)
    assert_labelled(page, "fi")  # from the browser's Accept-Language
    assert_keyboard_reachable(page)
    for lang in LANGUAGES:
        page.goto(f"{path}?lang={lang}")
        assert_labelled(page, lang)


@pytest.mark.parametrize(
    "path",
    ["/staff/login", "/credentials/{id}", "/verify/{id}", "/verify"],
    ids=["sign-in", "learner", "verification", "verification-form"],
)
def test_public_page_by_keyboard(browse: Browse, credential_id: str, path: str) -> None:
    # With the clipboard allowed the learner page shows its copy button, one more stop.
    page = browse.page("fi", permissions=["clipboard-read", "clipboard-write"])
    _check_page(page, path.format(id=credential_id))


def test_badge_class_form_by_keyboard(browse: Browse, sign_in: Callable[[Page], None]) -> None:
    page = browse.page("fi")
    sign_in(page)
    _check_page(page, "/staff/badge-classes/new")


def test_issuing_form_by_keyboard(browse: Browse, sign_in: Callable[[Page], None]) -> None:
    page = browse.page("fi")
    sign_in(page)
    page.goto("/staff/issue/")
    # The optional fields are folded away; open them from the keyboard to check them too.
    page.locator("details > summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("details").get_attribute("open") is not None
    assert_labelled(page, "fi")
    page.goto("/staff/issue/")
    assert_keyboard_reachable(page)
