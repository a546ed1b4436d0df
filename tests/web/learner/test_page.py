"""The learner page, its downloads (baked images, JSON, QR) and the private manage link."""

from __future__ import annotations

import html
import io
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from flask import Flask
from PIL import Image

from issuer.core.baking import unbake
from issuer.db import get_session
from issuer.models import Credential
from issuer.services import verification
from tests.web.learner.support import (
    BASE_URL,
    CSRF,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TITLES = {"fi": "Merkki test-badge", "sv": "Märke test-badge", "en": "Badge test-badge"}


def _meta(page: str, attribute: str, name: str) -> str:
    found = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)"', page)
    assert found, f"no {name} meta tag"
    return html.unescape(found.group(1))


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_page_renders_in_each_language_with_linkedin_and_open_graph(
    app: Flask, world: World, lang: str
) -> None:
    issued = issue(app, name="Liisa Virtanen")
    response = app.test_client().get(f"/credentials/{issued.id}?lang={lang}", headers=BROWSER)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert TITLES[lang] in page
    assert "Liisa Virtanen" in page
    assert _meta(page, "property", "og:title") == f"{TITLES[lang]} · Liisa Virtanen"
    assert _meta(page, "property", "og:url") == f"{BASE_URL}/credentials/{issued.id}"
    assert _meta(page, "property", "og:image") == f"{BASE_URL}/credentials/{issued.id}/badge.png"
    assert _meta(page, "name", "twitter:card") == "summary"
    assert _meta(page, "name", "robots") == "noindex"

    linkedin = html.unescape(re.search(r'href="(https://www.linkedin.com/[^"]+)"', page).group(1))  # type: ignore[union-attr]
    query = parse_qs(urlsplit(linkedin).query)
    assert urlsplit(linkedin).path == "/profile/add"
    assert query["startTask"] == ["CERTIFICATION_NAME"]
    assert query["name"] == [TITLES[lang]]
    assert query["organizationName"] == [{"fi": "HAMK fi", "sv": "HAMK sv", "en": "HAMK"}[lang]]
    assert query["certUrl"] == [f"{BASE_URL}/credentials/{issued.id}"]
    assert query["certId"] == [issued.id]
    assert query["issueYear"][0].isdigit()
    # test-badge is valid for 24 months.
    assert int(query["expirationYear"][0]) == int(query["issueYear"][0]) + 2
    for download in ("badge.png", "badge.svg", "credential.json", "qr.png", "qr.svg"):
        assert f"/credentials/{issued.id}/{download}" in page
    assert '<script src="/static/learner.js" defer></script>' in page
    assert "<script>" not in page  # no inline script


def test_the_page_shows_the_eu_facts_of_a_shipped_micro_credential(
    app: Flask, world: World, templates_dir: object
) -> None:
    from issuer import paths
    from issuer.db import unit_of_work
    from issuer.services import badge_classes

    with app.app_context(), unit_of_work() as session:
        badge_classes.load_templates(session, paths.BADGE_TEMPLATES_DIR)
    issued = issue(app, badge="pokot-ennakointiosaaminen")
    page = app.test_client().get(f"/credentials/{issued.id}?lang=en", headers=BROWSER).text
    for label in ("Learning outcomes", "Awarding body", "Country", "Date of issue", "Level"):
        assert label.lower() in page.lower(), label
    assert "Finland" in page
    assert "EQF" in page


def test_a_recipient_name_is_escaped(app: Flask, world: World) -> None:
    issued = issue(app, name="<script>alert(1)</script>")
    page = app.test_client().get(f"/credentials/{issued.id}", headers=BROWSER).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_json_clients_get_the_signed_bytes_as_before(app: Flask, world: World) -> None:
    issued = issue(app)
    client = app.test_client()
    with app.app_context():
        stored = get_session().get(Credential, issued.id)
        assert stored is not None
        signed = stored.signed_json.encode("utf-8")
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):
        response = client.get(f"/credentials/{issued.id}", headers=headers)
        assert response.data == signed
        assert response.mimetype != "text/html"


def test_an_unknown_credential_is_a_404_page_for_browsers(app: Flask, world: World) -> None:
    response = app.test_client().get("/credentials/" + "0" * 32, headers=BROWSER)
    assert response.status_code == 404
    assert "text/html" in response.content_type


def _baked(app: Flask, credential_id: str, extension: str) -> bytes:
    response = app.test_client().get(f"/credentials/{credential_id}/badge.{extension}")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response.data


@pytest.mark.parametrize("extension", ["png", "svg"])
def test_baked_images_carry_the_exact_signed_credential_which_verifies(
    app: Flask, world: World, extension: str
) -> None:
    issued = issue(app)
    data = _baked(app, issued.id, extension)
    unbaked = unbake(data)
    assert unbaked is not None
    with app.app_context():
        stored = get_session().get(Credential, issued.id)
        assert stored is not None
        assert unbaked.text == stored.signed_json
        report = verification.verify(get_session(), json.loads(unbaked.text), base_url=BASE_URL)
    assert report.verified, report.to_dict()
    if extension == "png":
        # Rendered from the SVG artwork (a black square): painted, not an empty canvas.
        image = Image.open(io.BytesIO(data)).convert("RGBA")
        assert image.size == (512, 512)
        assert image.getchannel("A").getextrema() == (255, 255)
        assert image.getchannel("R").getextrema() == (0, 0)


def test_png_artwork_is_baked_as_is_and_wrapped_for_svg(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.web.learner import artwork

    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(picture, "PNG")
    png = picture.getvalue()
    baked_png = artwork.bake_png(png, '{"a": 1}')
    assert unbake(baked_png).text == '{"a": 1}'  # type: ignore[union-attr]
    svg = artwork.wrap_png_in_svg(png)
    assert b'width="40" height="30"' in svg
    assert unbake(artwork.bake_svg(svg, '{"a": 1}')).text == '{"a": 1}'  # type: ignore[union-attr]


def test_external_references_are_removed_before_rendering() -> None:
    from issuer.web.learner import artwork

    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'width="8" height="8"><image href="/etc/passwd" width="8" height="8"/>'
        b'<image xlink:href="file:///etc/hosts"/><use href="#ok"/>'
        b'<rect style="fill: url(http://evil.example/x)" width="8" height="8"/></svg>'
    )
    cleaned = artwork._without_external_references(svg)
    assert "/etc/passwd" not in cleaned
    assert "/etc/hosts" not in cleaned
    assert "evil.example" not in cleaned
    assert "#ok" in cleaned
    assert artwork.render_png(svg).startswith(b"\x89PNG")


def test_the_json_download_is_the_exact_signed_bytes(app: Flask, world: World) -> None:
    issued = issue(app)
    response = app.test_client().get(f"/credentials/{issued.id}/credential.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    with app.app_context():
        stored = get_session().get(Credential, issued.id)
        assert stored is not None
        assert response.data == stored.signed_json.encode("utf-8")


@pytest.mark.parametrize("extension", ["png", "svg"])
def test_the_qr_code_decodes_to_the_verification_url(
    app: Flask, world: World, extension: str
) -> None:
    issued = issue(app)
    response = app.test_client().get(f"/credentials/{issued.id}/qr.{extension}")
    assert response.status_code == 200
    if extension == "png":
        image = Image.open(io.BytesIO(response.data))
    else:
        import resvg_py

        assert response.content_type.startswith("image/svg+xml")
        image = Image.open(
            io.BytesIO(resvg_py.svg_to_bytes(svg_string=response.data.decode(), dpi=300.0))
        )
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image.convert("RGBA"))
    [result] = zxingcpp.read_barcodes(image.convert("L"))
    assert result.text == f"{BASE_URL}/verify/{issued.id}"


def test_downloads_of_unknown_credentials_are_404(app: Flask, world: World) -> None:
    client = app.test_client()
    for path in ("badge.png", "badge.svg", "credential.json", "qr.png", "qr.svg"):
        assert client.get(f"/credentials/{'0' * 32}/{path}").status_code == 404
        assert client.get(f"/credentials/not-an-id/{path}").status_code == 404


def test_the_manage_link_hides_the_page_and_opts_into_indexing(app: Flask, world: World) -> None:
    issued = issue(app, name="Liisa Virtanen")
    client = app.test_client()
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"

    form = client.get(manage)
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]

    # Without the CSRF token nothing changes.
    refused = client.post(manage, data={"hidden": "y"})
    assert refused.status_code in (400, 422)
    assert "Liisa Virtanen" in client.get(f"/credentials/{issued.id}", headers=BROWSER).text

    saved = client.post(manage, data={"hidden": "y", "csrf_token": token})
    assert saved.status_code == 302
    hidden = client.get(f"/credentials/{issued.id}", headers=BROWSER).text
    assert "Liisa Virtanen" not in hidden
    assert f"/verify/{issued.id}" in hidden
    assert 'content="noindex"' in hidden

    client.post(manage, data={"indexable": "y", "csrf_token": token})
    shown = client.get(f"/credentials/{issued.id}", headers=BROWSER)
    assert "Liisa Virtanen" in shown.text
    assert 'name="robots"' not in shown.text
    assert "X-Robots-Tag" not in shown.headers


def test_a_wrong_manage_token_is_404(app: Flask, world: World) -> None:
    issued = issue(app)
    client = app.test_client()
    assert client.get(f"/credentials/{issued.id}/manage/wrong").status_code == 404
    other = issue(app, email="other@example.fi")
    assert client.get(f"/credentials/{issued.id}/manage/{other.manage_token}").status_code == 404


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_manage_link_tokens_never_reach_the_logs(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request to a manage URL is logged with the token replaced (issue 13): the access
    log, a request no route accepts, and the unexpected-error log with its traceback."""
    issued = issue(app)
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    captured = _Records()
    loggers = [logging.getLogger("merkki"), logging.getLogger("issuer"), app.logger]
    for logger in loggers:
        logger.addHandler(captured)
    client = app.test_client()
    try:
        page = client.get(manage)
        assert page.status_code == 200
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        assert client.post(manage, data={"hidden": "y", "csrf_token": token}).status_code == 302
        assert client.post(manage, data={"hidden": "y"}).status_code in (400, 422)
        assert client.put(manage).status_code == 405
        assert client.get(manage + "/more", query_string={"x": "1"}).status_code == 404

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("page facts are broken")

        monkeypatch.setattr("issuer.web.learner.page_facts", broken)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        assert client.get(manage).status_code == 500
    finally:
        for logger in loggers:
            logger.removeHandler(captured)

    access = [r for r in captured.records if r.name == "merkki.access"]
    assert len(access) == 6
    for record in access:
        assert getattr(record, "path").startswith(  # noqa: B009 - set through ``extra``
            f"/credentials/{issued.id}/manage/[redacted]"
        )
    errors = [r for r in captured.records if "unhandled error" in r.getMessage()]
    assert len(errors) == 1
    assert "/manage/[redacted]" in errors[0].getMessage()
    formatter = logging.Formatter()
    for record in captured.records:
        written = formatter.format(record) + json.dumps(
            {key: str(value) for key, value in vars(record).items()}
        )
        assert issued.manage_token not in written, record.getMessage()


def test_every_answer_to_a_manage_url_keeps_the_token_out_of_referrers(
    app: Flask, world: World
) -> None:
    issued = issue(app)
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    client = app.test_client()
    page = client.get(manage)
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    answers = [
        page,
        client.post(manage, data={"hidden": "y", "csrf_token": token}),  # the redirect
        client.post(manage, data={"hidden": "y"}),  # no CSRF token: an error page
        client.get(f"/credentials/{issued.id}/manage/wrong"),  # 404 page
        client.put(manage),  # 405
    ]
    for answer in answers:
        assert answer.headers["Referrer-Policy"] == "no-referrer", answer.status
        assert answer.headers["Cache-Control"] == "no-store", answer.status
    # Other pages keep the site-wide policy.
    public = client.get(f"/credentials/{issued.id}", headers=BROWSER)
    assert public.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
