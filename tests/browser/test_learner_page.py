"""The learner's page in a browser: the badge image, the holder and the issuer, the LinkedIn
link's fields, the copy-link button, and the downloads it offers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import INSTITUTION, Browse, LiveServer
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
