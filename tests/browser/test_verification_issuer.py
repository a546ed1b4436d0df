"""The employer's verification page in a browser (issue 15): the issuer's confirmed facts as
trust signals and what the verdict means, for a genuine credential; for a tampered one, why it
failed and none of its claims. In Finnish, Swedish and English, at 1280 and 390 px, with no
sideways scrolling and nothing for the accessibility checker to find."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import axe, measure
from tests.browser.conftest import INSTITUTION, LANGUAGES, Browse, LiveServer
from tests.browser.site import Site

pytestmark = pytest.mark.browser

NAMES = {"fi": INSTITUTION.name_fi, "sv": INSTITUTION.name_sv, "en": INSTITUTION.name_en}
COUNTRY = {"fi": "Suomi", "sv": "Finland", "en": "Finland"}
ADVICE = {
    "valid": (
        "You can rely on what this credential says: the issuer named here vouches for it and it "
        "is in force today. To be sure it belongs to the person in front of you, compare the "
        "holder's name with their identity document."
    ),
    "revoked": (
        "Do not rely on this credential: the issuer has withdrawn it for good. It no longer "
        "shows that the holder has this competence. If you need to know more, contact the "
        "issuer."
    ),
    "not_genuine": (
        "Do not rely on this credential: it has been altered, or it was not issued by the "
        "issuer it names. Ask the holder for the link to the original, or ask the issuer "
        "directly."
    ),
}


def _page(browse: Browse, lang: str, width: int) -> Page:
    page = browse.page(lang)
    # axe goes in as an init script, outside the page's Content-Security-Policy (``axe.py``).
    page.context.add_init_script(axe.source())
    page.set_viewport_size({"width": width, "height": 844})
    return page


def _clean(page: Page, where: str) -> None:
    found = measure.overflow(page)
    assert not found.scrolls_sideways, found
    assert axe.violations(page, where) == []


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("state", ["valid", "revoked"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_issuers_confirmed_facts_and_what_the_verdict_means(
    browse: Browse, live_server: LiveServer, site: Site, lang: str, state: str, width: int
) -> None:
    page = _page(browse, lang, width)
    page.goto(f"/verify/{site.credentials[state]}")
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == state
    card = page.locator(".issuer-card")
    expect(card.get_by_role("heading", level=2)).to_have_text(
        live_server.translate(lang, "About the issuer")
    )
    expect(card.locator(".issuer-official-name")).to_have_text(NAMES[lang])
    expect(card.locator(".issuer-business-id")).to_have_text(str(INSTITUTION.business_id))
    expect(card.locator(".issuer-oid")).to_have_text(str(INSTITUTION.oid))
    expect(card.locator(".issuer-country")).to_have_text(COUNTRY[lang])
    website = card.get_by_role("link", name=str(INSTITUTION.url))
    expect(website).to_have_attribute("href", str(INSTITUTION.url))
    advice = page.locator(".advice")
    expect(advice.get_by_role("heading", level=2)).to_have_text(
        live_server.translate(lang, "What this means")
    )
    expect(advice.locator("p")).to_have_text(live_server.translate(lang, ADVICE[state]))
    _clean(page, f"verification {state} [{lang}] {width} px")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_tampered_credential_shows_why_and_not_its_claims(
    browse: Browse, live_server: LiveServer, site: Site, lang: str, width: int
) -> None:
    page = _page(browse, lang, width)
    page.goto(f"/verify?lang={lang}")
    page.locator("#json").fill(site.tampered)
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "not_genuine")
    # Neither the altered name nor anything else it claims, nor the issuer's facts.
    body = page.locator("main")
    expect(body).not_to_contain_text("Someone Else")
    expect(body).not_to_contain_text("Aino Virtanen")
    for selector in ("td.holder", "td.achievement", "td.issuer", ".issuer-card"):
        expect(page.locator(selector)).to_have_count(0)
    expect(body).not_to_contain_text(str(INSTITUTION.business_id))
    # Why, in the reader's language: the failed check and what it means.
    failed = page.locator(".failed-checks")
    expect(failed).to_contain_text(live_server.translate(lang, "Checks that failed:"))
    expect(failed).to_contain_text(live_server.translate(lang, "Digital signature"))
    expect(page.locator(".advice p")).to_have_text(
        live_server.translate(lang, ADVICE["not_genuine"])
    )
    _clean(page, f"verification not genuine [{lang}] {width} px")
