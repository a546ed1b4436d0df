"""The employer's first screen after scanning the QR code with a phone: the verification page
at 390 x 844 CSS pixels shows the verdict, the holder, the badge's name and the issuer without
scrolling, in Finnish, Swedish and English, for a valid and for a revoked credential (whose
verdict carries the revocation's date and reason as well)."""

from __future__ import annotations

import pytest
from playwright.sync_api import ViewportSize

from tests.browser.conftest import LANGUAGES, Browse
from tests.browser.site import Site

pytestmark = pytest.mark.browser

PHONE = ViewportSize(width=390, height=844)
#: What the first screen must hold, whole: the verdict's headline, the holder, the badge's name
#: and the issuer.
FIRST_SCREEN = {
    "verdict": "#verdict-title",
    "holder": "td.holder",
    "badge": "td.achievement",
    "issuer": "td.issuer",
}


@pytest.mark.parametrize("state", ["valid", "revoked"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_verification_page_first_screen_on_a_phone(
    browse: Browse, site: Site, lang: str, state: str
) -> None:
    page = browse.page(lang)
    page.set_viewport_size(PHONE)
    page.goto(f"/verify/{site.credentials[state]}")
    assert page.evaluate("() => document.documentElement.lang") == lang
    outside = {}
    for name, selector in FIRST_SCREEN.items():
        box = page.locator(selector).bounding_box()
        assert box is not None, f"{name} ({selector}) is not shown"
        inside = (
            box["x"] >= 0
            and box["y"] >= 0
            and box["x"] + box["width"] <= PHONE["width"]
            and box["y"] + box["height"] <= PHONE["height"]
        )
        if not inside:
            outside[name] = box
    assert outside == {}, f"not on the first screen ({PHONE}): {outside}"
