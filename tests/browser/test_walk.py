"""Issue 15's acceptance walk, in Finnish, Swedish and English: the start page and its links, a
staff member signing in, creating a badge class, issuing it, finding the credential and revoking
it with a reason; then the learner's page (revoked: the reason, nothing to share) and the
employer's verification page (the issuer's confirmed facts).

Every page on the way is measured at 1280 and at 390 px on the same page (resized, not
reloaded): it must not scroll sideways, and on a Finnish or Swedish page no message may be
left in English (the message-catalogue check of ``tests/web/test_i18n_pages.py``, on the
rendered page). One walk per language, one page each: the walks share the package's browser
and live server.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser import measure
from tests.browser.conftest import INSTITUTION, LANGUAGES, Browse, LiveServer
from tests.web.test_i18n_pages import english_in

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
NAMES = {"fi": INSTITUTION.name_fi, "sv": INSTITUTION.name_sv, "en": INSTITUTION.name_en}
BADGE = {
    "name": {"fi": "Ensiapu kävellen", "sv": "Första hjälpen till fots", "en": "First aid on foot"},
    "description": {
        "fi": "Ensiavun perusteet.",
        "sv": "Grunderna i första hjälpen.",
        "en": "First aid basics.",
    },
    "criteria_narrative": {
        "fi": "Hyväksytty harjoitus.",
        "sv": "Godkänd övning.",
        "en": "A passed exercise.",
    },
}
REASON = "Suoritus kirjattiin väärälle henkilölle"
#: Links and buttons of the learner's page that a revoked badge must not offer.
SHARING = ("linkedin.com", "/badge.png?download=1", "/credential.json", "/certificate.pdf")


def _checked(page: Page, lang: str, where: str) -> None:
    """The page in ``lang``, without sideways scrolling at either width, and (fi, sv) with no
    message left in English."""
    assert page.evaluate("() => document.documentElement.lang") == lang, where
    # At the width the page was opened at, then at the other one, where the next page opens.
    current = page.viewport_size
    first = current["width"] if current is not None else WIDTHS[0]
    for width in (first, *(other for other in WIDTHS if other != first)):
        if width != first:
            page.set_viewport_size({"width": width, "height": 844})
        found = measure.overflow(page)
        assert not found.scrolls_sideways, f"{where} [{lang}] at {width} px: {found}"
    if lang != "en":
        assert english_in(page.content(), lang) == [], f"{where} [{lang}]"


def _path(page: Page) -> str:
    return urlsplit(page.url).path


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_walk_through_staff_learner_and_employer_pages(
    browse: Browse, live_server: LiveServer, lang: str
) -> None:
    page = browse.page(lang)
    page.set_viewport_size({"width": WIDTHS[0], "height": 844})

    # The start page: verify a badge, browse the catalogue, staff sign-in.
    page.goto("/")
    _checked(page, lang, "start page")
    main = page.locator("main")
    assert main.locator('form[action="/verify"] input[type=file]').count() == 1
    expect(main.locator('a[href="/verify"]')).to_be_visible()
    expect(main.locator('form[action="/catalog"] input[name="q"]')).to_be_visible()
    expect(main.locator('a[href="/catalog"]')).to_be_visible()
    for href in ("/verify", "/catalog"):
        response = page.request.get(f"{href}?lang={lang}")
        assert response.ok, (href, response.status)
    main.locator('a[href="/staff/login"]').click()
    page.wait_for_url(re.compile(r"/staff/login$"))
    _checked(page, lang, "sign-in")

    page.locator("#email").fill(live_server.admin_email)
    page.locator("#password").fill(live_server.password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/staff/$"))
    _checked(page, lang, "staff start")

    # A plain badge class, named in all three languages, published.
    slug = f"kavelly-{lang}"
    page.goto("/staff/badge-classes/new")
    _checked(page, lang, "badge-class form")
    page.locator("#slug").fill(slug)
    page.locator("#achievement_type").select_option("Badge")
    for field, texts in BADGE.items():
        for text_lang, text in texts.items():
            page.locator(f'[id="{field}.{text_lang}"]').fill(text)
    page.locator('input[name="published"]').check()
    page.locator('#badge-class-form button[value="save"]:not(.implicit-submit)').click()
    page.wait_for_url(re.compile(rf"/staff/badge-classes/{slug}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(BADGE["name"][lang])
    _checked(page, lang, "badge class")

    # Issue it to one learner, in the walk's language.
    page.goto("/staff/issue/")
    page.locator("#badge_class").select_option(label=BADGE["name"][lang])
    page.locator("#name").fill("Kalle Kävelijä")
    page.locator("#email").fill(f"kalle.{lang}@example.fi")
    page.locator("#lang").select_option(lang)
    _checked(page, lang, "issue form")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/staff/issue/issued/[0-9a-f]{32}$"))
    credential_id = _path(page).rsplit("/", 1)[1]
    _checked(page, lang, "issued")

    # The credential in the staff list and its page; then revoked with a reason.
    page.goto(f"/staff/credentials?q=kalle.{lang}@")
    rows = page.locator(".credential-list tbody tr")
    expect(rows).to_have_count(1)
    _checked(page, lang, "credential list")
    rows.first.locator(f'a[href$="/staff/credentials/{credential_id}"]').first.click()
    page.wait_for_url(re.compile(rf"/staff/credentials/{credential_id}$"))
    expect(page.locator("main")).to_contain_text("Kalle Kävelijä")
    _checked(page, lang, "credential")
    page.locator(f'a[href$="/staff/credentials/{credential_id}/revoke"]').click()
    page.wait_for_url(re.compile(r"/revoke$"))
    _checked(page, lang, "revoke confirmation")
    page.locator("#revoke-reason").fill(REASON)
    page.locator("main form button.danger").click()
    page.wait_for_url(re.compile(rf"/staff/credentials/{credential_id}$"))
    expect(page.locator("main")).to_contain_text(REASON)
    _checked(page, lang, "revoked credential")

    # The learner's page: revoked, with the reason, nothing to share or download.
    page.goto(f"/credentials/{credential_id}")
    expect(page.locator(".verdict .status-reason")).to_have_text(REASON)
    expect(page.locator(".verdict h1")).to_have_text(
        live_server.translate(lang, "This badge has been revoked")
    )
    for address in SHARING:
        assert page.locator(f'a[href*="{address}"]').count() == 0, address
    assert page.locator("[data-copy]").count() == 0
    _checked(page, lang, "learner page")

    # The employer's verification page: the verdict, the reason and the issuer's facts.
    page.locator(f'a[href$="/verify/{credential_id}"]').first.click()
    page.wait_for_url(re.compile(rf"/verify/{credential_id}$"))
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "revoked"
    expect(page.locator(".revocation-reason")).to_have_text(REASON)
    card = page.locator(".issuer-card")
    expect(card.locator(".issuer-official-name")).to_have_text(NAMES[lang])
    expect(card.locator(".issuer-business-id")).to_have_text(str(INSTITUTION.business_id))
    expect(card.locator(".issuer-oid")).to_have_text(str(INSTITUTION.oid))
    expect(card.get_by_role("link", name=str(INSTITUTION.url))).to_be_visible()
    _checked(page, lang, "verification page")
