"""The staff area in a browser (issue 15): the staff header is two rows at 1280 px in every
language (the brand and the languages, then the whole staff menu with the account's links) and
wraps between its links on a phone; a revocation goes through its confirmation step; switching
the language keeps the staff search."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LANGUAGES, Browse, LiveServer

pytestmark = pytest.mark.browser

#: What the header holds, by selector.
HEADER_ITEMS = ", ".join(
    (".site-header .brand", ".site-nav a", ".site-nav button", ".language-switcher > *")
)


def _rows(page: Page) -> list[list[str]]:
    """The header's items grouped into the rows they are laid out in (by vertical centre)."""
    boxes = page.eval_on_selector_all(
        HEADER_ITEMS,
        """(items) => items.map((item) => {
            const box = item.getBoundingClientRect();
            return [item.textContent.trim(), box.top + box.height / 2, box.right];
        })""",
    )
    rows: list[tuple[float, list[str]]] = []
    for text, middle, _ in sorted(boxes, key=lambda box: box[1]):
        if rows and abs(rows[-1][0] - middle) < 8:
            rows[-1][1].append(text)
        else:
            rows.append((middle, [text]))
    return [items for _, items in rows]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_staff_header_is_two_rows_at_1280_px(
    browse: Browse, sign_in: Callable[[Page], None], lang: str
) -> None:
    page = browse.page(lang)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page)
    page.goto(f"/staff/credentials?lang={lang}")

    rows = _rows(page)

    assert len(rows) == 2, rows
    assert "Merkki" in rows[0][0]  # the brand, then the languages
    menu = page.locator(".staff-menu a")
    assert menu.count() == 7  # an institution admin's whole menu
    assert all(menu.nth(i).text_content() in rows[1] for i in range(menu.count())), rows
    sign_out = page.locator(".staff-account button")
    assert sign_out.text_content() in rows[1]
    # Nothing sticks out of the page.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1280


def test_the_staff_header_wraps_between_links_on_a_phone(
    browse: Browse, sign_in: Callable[[Page], None]
) -> None:
    page = browse.page("fi")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page)
    page.goto("/staff/audit?lang=fi")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for link in page.locator(".site-nav a").all():
        box = link.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390, link.text_content()
        # Each link is whole on one line: the menu wraps between links, not inside them.
        assert box["height"] < 40, link.text_content()


def test_a_revocation_goes_through_its_confirmation_step(
    browse: Browse, live_server: LiveServer, sign_in: Callable[[Page], None]
) -> None:
    credential_id = live_server.issue("Risto Peruttava", email="risto@example.fi")
    page = browse.page("en")
    sign_in(page)
    page.goto(f"/staff/credentials/{credential_id}")

    page.get_by_role("link", name="Revoke…").click()

    page.wait_for_url(re.compile(rf"/staff/credentials/{credential_id}/revoke$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the credential")
    expect(page.get_by_text("Revocation is permanent: it cannot be undone.")).to_be_visible()
    expect(page.locator("main").get_by_text("Risto Peruttava")).to_be_visible()
    confirm = page.get_by_role("button", name="Revoke permanently")
    # A red button, not the blue primary one.
    background = confirm.evaluate("(button) => getComputedStyle(button).backgroundColor")
    assert background == "rgb(161, 38, 26)", background
    # The browser asks for the reason before anything is sent.
    confirm.click()
    assert page.url.endswith("/revoke")
    assert page.locator("#revoke-reason:invalid").count() == 1
    page.get_by_label("Reason for the revocation").fill("Suoritus kirjattiin väärälle henkilölle")
    confirm.click()

    page.wait_for_url(re.compile(rf"/staff/credentials/{credential_id}$"))
    expect(page.get_by_text("The credential was revoked.")).to_be_visible()
    expect(page.get_by_text("Suoritus kirjattiin väärälle henkilölle").first).to_be_visible()
    assert page.get_by_role("link", name="Revoke…").count() == 0


def test_switching_the_language_keeps_the_staff_search(
    browse: Browse, live_server: LiveServer, sign_in: Callable[[Page], None]
) -> None:
    live_server.issue("Sanna Hakutesti", email="sanna.hakutesti@example.fi")
    page = browse.page("fi")
    sign_in(page)
    page.goto("/staff/credentials?lang=fi")
    page.get_by_label("Hae nimellä, sähköpostiosoitteella tai merkin tunnisteella").fill(
        "hakutesti@"
    )
    page.get_by_role("button", name="Hae", exact=True).click()
    page.wait_for_url(re.compile(r"q=hakutesti"))
    expect(page.locator(".credential-list tbody tr")).to_have_count(1)

    page.locator(".language-switcher").get_by_role("link", name="svenska").click()

    page.wait_for_url(re.compile(r"lang=sv"))
    assert "q=hakutesti" in page.url
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_label("Sök på namn, e-postadress eller märkets id")).to_have_value(
        "hakutesti@"
    )
    expect(page.locator(".credential-list tbody tr")).to_have_count(1)
    expect(page.locator(".credential-list")).to_contain_text("sanna.hakutesti@example.fi")


def test_switching_the_language_keeps_a_verification_result(
    browse: Browse, live_server: LiveServer
) -> None:
    # A pasted copy whose holder was changed: the result exists only as the answer to the form.
    credential_id = live_server.issue("Vilma Vaihdettu", email="vilma@example.fi")
    text = live_server.signed_json(credential_id).replace("Vilma Vaihdettu", "Someone Else")
    page = browse.page("en")
    page.goto("/verify?lang=en")
    page.locator("#json").fill(text)
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_load_state()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "not_genuine")

    page.locator(".language-switcher").get_by_role("button", name="suomi").click()

    page.wait_for_url(re.compile(r"/verify\?lang=fi$"))
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "not_genuine")
    # ... and the choice is remembered: the next page is in Finnish too.
    page.goto("/verify")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
