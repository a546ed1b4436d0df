"""The verification page as an employer reaches it: by scanning the QR code on the learner's
page, in Finnish, Swedish and English; valid first, then revoked with the issuer's reason."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import LANGUAGES, Browse, LiveServer

pytestmark = pytest.mark.browser

VALID_EXPLANATION = (
    "This credential is genuine: it was issued by the issuer named below, it has not "
    "been altered, and it is in force."
)
REVOKED_EXPLANATION = "The issuer has revoked this credential. It is no longer valid."
REASON = "Näyttö arvioitiin virheellisesti <b>väärälle</b> henkilölle"


def _decode(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, f"expected one QR code, found {len(found)}"
    text: str = found[0].text
    return text


def _qr_url(browse: Browse, credential_id: str) -> str:
    """The URL in the QR code, read twice: from the code the learner's page shows (as a phone
    would, from the rendered page) and from the PNG it offers for download."""
    page = browse.page("en")
    page.set_viewport_size({"width": 1000, "height": 1200})
    page.goto(f"/credentials/{credential_id}")
    shown = page.get_by_role("img", name="QR code of the verification page")
    shown.scroll_into_view_if_needed()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=shown.element_handle()
    )
    from_screen = _decode(shown.screenshot())
    href = page.get_by_role("link", name="QR code (PNG)", exact=True).get_attribute("href")
    assert href is not None
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/png"
    from_download = _decode(answer.body())
    assert from_screen == from_download
    return from_download


def _verdict(page: Page) -> str | None:
    return page.locator("[data-verdict]").get_attribute("data-verdict")


def test_qr_code_leads_to_a_valid_verdict_in_each_language(
    browse: Browse, live_server: LiveServer
) -> None:
    credential_id = live_server.issue("Ville Vahvistettava", email="ville@example.fi")
    url = _qr_url(browse, credential_id)
    assert url == f"{live_server.url}/verify/{credential_id}"

    headlines = set()
    for lang in LANGUAGES:
        page = browse.page(lang)
        response = page.goto(url)
        assert response is not None
        assert response.status == 200
        assert page.evaluate("() => document.documentElement.lang") == lang
        assert _verdict(page) == "valid"
        headline = page.get_by_role("heading", level=1)
        expect(headline).to_have_text(live_server.translate(lang, "Valid"))
        expect(page.locator("[data-verdict] p").first).to_have_text(
            live_server.translate(lang, VALID_EXPLANATION)
        )
        expect(page.locator("td.holder")).to_have_text("Ville Vahvistettava")
        # The signature and the revocation status were checked and passed.
        page.get_by_text(live_server.translate(lang, "How this was checked")).click()
        for check in ("proof", "status:revocation"):
            expect(page.locator(f'[data-check="{check}"]')).to_have_class("ok")
        headlines.add(headline.inner_text())
    assert len(headlines) == len(LANGUAGES), f"the verdict is not translated: {headlines}"


def test_revoked_credential_shows_revoked_and_the_reason(
    browse: Browse, live_server: LiveServer
) -> None:
    credential_id = live_server.issue("Riikka Peruttu", email="riikka@example.fi")
    url = _qr_url(browse, credential_id)
    page = browse.page("fi")
    page.goto(url)
    assert _verdict(page) == "valid"

    live_server.revoke(credential_id, REASON)

    for lang in LANGUAGES:
        page = browse.page(lang)
        page.goto(url)
        assert page.evaluate("() => document.documentElement.lang") == lang
        assert _verdict(page) == "revoked"
        expect(page.get_by_role("heading", level=1)).to_have_text(
            live_server.translate(lang, "Revoked")
        )
        expect(page.locator("[data-verdict] p").first).to_have_text(
            live_server.translate(lang, REVOKED_EXPLANATION)
        )
        # The reason, as the issuer wrote it: text, not markup.
        expect(page.locator(".revocation-reason")).to_have_text(REASON)
        assert page.locator(".revocation-reason b").count() == 0
        expect(page.locator('[data-check="status:revocation"]')).to_have_class("fail")

    # The learner's page says so too.
    page = browse.page("en")
    page.goto(f"/credentials/{credential_id}")
    expect(page.locator(".verdict h1")).to_have_text(
        live_server.translate("en", "This badge has been revoked")
    )
