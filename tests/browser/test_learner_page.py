"""The learner's page in a browser: the badge image, the holder and the issuer, the LinkedIn
link's fields, the copy-link button, and the downloads it offers; a revoked or suspended
badge's page with the reason and without any of them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser import axe, measure
from tests.browser.conftest import INSTITUTION, LANGUAGES, Browse, LiveServer
from tests.browser.site import Site
from tests.web.staff.support import complete_micro_credential

pytestmark = pytest.mark.browser

HOLDER = "Liisa Lataaja"
BADGE_NAME = complete_micro_credential("x")["name"]
#: Link text -> (path after the credential's page, content type, how the body starts).
DOWNLOADS = {
    "Badge image (PNG)": ("/badge.png?download=1", "image/png", b"\x89PNG\r\n\x1a\n"),
    "Badge image (SVG)": ("/badge.svg?download=1", "image/svg+xml", b"<"),
    "Signed credential (JSON)": ("/credential.json", "application/vc+ld+json", b"{"),
    "QR code (PNG)": ("/qr.png?download=1", "image/png", b"\x89PNG\r\n\x1a\n"),
    "QR code (SVG)": ("/qr.svg?download=1", "image/svg+xml", b"<"),
}


@pytest.fixture(scope="module")
def credential_id(live_server: LiveServer) -> str:
    return live_server.issue(HOLDER, email="liisa.lataaja@example.fi")


@pytest.mark.parametrize(
    ("lang", "issuer"),
    [("fi", INSTITUTION.name_fi), ("sv", INSTITUTION.name_sv), ("en", INSTITUTION.name_en)],
)
def test_page_shows_image_holder_and_issuer(
    browse: Browse, live_server: LiveServer, credential_id: str, lang: str, issuer: str
) -> None:
    page = browse.page(lang)
    response = page.goto(f"/credentials/{credential_id}")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert page.evaluate("() => document.documentElement.lang") == lang

    image = page.locator("img.badge-image")
    expect(image).to_have_attribute("alt", BADGE_NAME[lang])
    image.scroll_into_view_if_needed()
    loaded = page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0",
        arg=image.element_handle(),
    )
    assert loaded.json_value() > 0
    expect(page.get_by_role("heading", level=2, name=BADGE_NAME[lang])).to_be_visible()
    expect(page.locator("strong", has_text=HOLDER)).to_be_visible()
    expect(page.locator("strong", has_text=issuer)).to_be_visible()
    expect(page.locator(".verdict h1")).to_have_text(live_server.translate(lang, "Valid badge"))


def test_linkedin_link_carries_the_certification(
    browse: Browse, live_server: LiveServer, credential_id: str
) -> None:
    page = browse.page("en")
    page.goto(f"/credentials/{credential_id}")
    link = page.get_by_role("link", name="Add to LinkedIn profile")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    href = link.get_attribute("href")
    assert href is not None
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    params = parse_qs(parts.query, strict_parsing=True)
    issued_at = live_server.issued_at(credential_id)
    page_url = f"{live_server.url}/credentials/{credential_id}"
    assert params == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": [BADGE_NAME["en"]],
        "organizationName": [INSTITUTION.name_en],
        "issueYear": [str(issued_at.year)],
        "issueMonth": [str(issued_at.month)],
        "certUrl": [page_url],
        "certId": [credential_id],
    }


def test_copy_link_button_puts_the_page_address_on_the_clipboard(
    browse: Browse, live_server: LiveServer, credential_id: str
) -> None:
    page = browse.page("fi", permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"/credentials/{credential_id}")
    page_url = f"{live_server.url}/credentials/{credential_id}"
    # The script shows the button only where the clipboard can be written.
    expect(
        page.get_by_role("button", name=live_server.translate("fi", "Copy link"))
    ).to_be_visible()
    button = page.locator("button[data-copy]")  # its name changes when it is used
    page.evaluate("() => navigator.clipboard.writeText('something else')")
    # By keyboard, as anyone can: focus and Enter.
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_text(live_server.translate("fi", "Link copied"))
    assert page.evaluate("() => navigator.clipboard.readText()") == page_url
    # The label comes back after a moment.
    expect(button).to_have_text(live_server.translate("fi", "Copy link"), timeout=5000)


def test_copy_link_button_stays_hidden_without_a_clipboard(
    browse: Browse, credential_id: str
) -> None:
    page = browse.page("en")
    page.context.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {value: undefined})"
    )
    page.goto(f"/credentials/{credential_id}")
    expect(page.locator("button[data-copy]")).to_be_hidden()


def test_download_links_answer_with_the_right_types(
    browse: Browse, live_server: LiveServer, credential_id: str
) -> None:
    page = browse.page("en")
    page.goto(f"/credentials/{credential_id}")
    page_url = f"{live_server.url}/credentials/{credential_id}"
    for text, (suffix, content_type, magic) in DOWNLOADS.items():
        link = page.get_by_role("link", name=text, exact=True)
        expect(link).to_have_attribute("href", page_url + suffix)
        expect(link).to_have_attribute("download", "")
        answer = page.request.get(page_url + suffix)
        assert answer.status == 200, text
        assert answer.headers["content-type"].split(";")[0] == content_type, text
        body = answer.body()
        assert body.startswith(magic), text
        if content_type.endswith("json"):
            assert json.loads(body)["id"].endswith(credential_id)

    # A real download through the browser, as a click on the link starts it.
    with page.expect_download() as started:
        page.get_by_role("link", name="Signed credential (JSON)", exact=True).click()
    download = started.value
    assert download.suggested_filename == f"credential-{credential_id}.json"
    path = download.path()
    assert json.loads(path.read_text("utf-8"))["id"].endswith(credential_id)


#: The sharing and downloads a withdrawn badge's page must not offer: link text -> the end of
#: the address it would point to.
SHARING = {
    "Add to LinkedIn profile": "linkedin.com",
    "Copy link": None,
    "Badge image (PNG)": "/badge.png?download=1",
    "Badge image (SVG)": "/badge.svg?download=1",
    "Signed credential (JSON)": "/credential.json",
    "QR code (PNG)": "/qr.png?download=1",
    "Printable certificate (PDF)": "/certificate.pdf",
}
WITHDRAWN = {
    "revoked": (
        "This badge has been revoked",
        "Näyttö arvioitiin virheellisesti väärälle henkilölle",
    ),
    "suspended": ("This badge is suspended", "Selvitys kesken"),
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("state", ["revoked", "suspended"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_withdrawn_badge_shows_the_reason_and_offers_no_sharing(
    browse: Browse, live_server: LiveServer, site: Site, lang: str, state: str, width: int
) -> None:
    """Issue 15: a revoked or suspended badge's page says so with the issuer's reason, on the
    first screen, and offers nothing to share or download, nor a validity date."""
    headline, reason = WITHDRAWN[state]
    page = browse.page(lang)
    # axe goes in as an init script, outside the page's Content-Security-Policy (``axe.py``).
    page.context.add_init_script(axe.source())
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"/credentials/{site.credentials[state]}")
    assert page.evaluate("() => document.documentElement.lang") == lang
    expect(page.locator(".verdict h1")).to_have_text(live_server.translate(lang, headline))
    shown = page.locator(".verdict .status-reason")
    expect(shown).to_have_text(reason)
    expect(page.locator(".verdict")).to_contain_text(
        live_server.translate(lang, "Reason given by the issuer:")
    )
    box = shown.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 844, "the reason is not on the first screen"
    for text, address in SHARING.items():
        expect(page.get_by_text(live_server.translate(lang, text), exact=True)).to_have_count(0)
        if address is not None:
            assert page.locator(f'a[href*="{address}"]').count() == 0, address
    assert page.locator("[data-copy]").count() == 0
    assert page.get_by_text(live_server.translate(lang, "Share and download")).count() == 0
    # The employer's way to check it stays.
    expect(page.locator(f'a[href$="/verify/{site.credentials[state]}"]').first).to_be_visible()
    # No sideways scrolling, and nothing for the accessibility checker to find.
    found = measure.overflow(page)
    assert not found.scrolls_sideways, found
    assert axe.violations(page, f"learner page {state} [{lang}] {width} px") == []
