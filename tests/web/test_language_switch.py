"""Switching the language keeps the page's state (issue 15): the address and its query string
(a staff search and its filters), and on a verification result the result itself."""

from __future__ import annotations

import html
import io
import json
import re

from flask import Flask
from flask.testing import FlaskClient

from issuer.models.accounts import Role
from tests.web.verify.helpers import (
    Scenario,
    baked,
    create_staff,
    csrf_token,
    scenario,
    sign_in,
    tampered_text,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below


def _switcher(page: str) -> str:
    return page.split('<nav class="language-switcher"', 1)[1].split("</nav>", 1)[0]


def _links(page: str) -> dict[str, str]:
    """language -> where the switcher's link for it goes."""
    return {
        lang: html.unescape(href)
        for href, lang in re.findall(r'<a href="([^"]+)" lang="([a-z]+)"', _switcher(page))
    }


def _verdict(page: str) -> str:
    match = re.search(r'data-verdict="([a-z_]+)"', page)
    assert match is not None
    return match.group(1)


def test_the_links_keep_the_path_and_the_query(client: FlaskClient, scenario: Scenario) -> None:
    page = client.get("/catalog?q=ty%C3%B6&eqf=4&lang=en").get_data(as_text=True)
    links = _links(page)
    assert set(links) == {"fi", "sv"}  # English is the current one, not a link
    assert links["sv"] == "?q=ty%C3%B6&eqf=4&lang=sv"  # the path stays what it is
    # Followed, the link gives the same page in the other language, and remembers it.
    answer = client.get("/catalog" + links["fi"])
    assert '<html lang="fi">' in answer.get_data(as_text=True)
    assert "merkki_lang=fi" in answer.headers.get("Set-Cookie", "")


def test_the_staff_search_survives_a_language_switch(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    sign_in(client, app, create_staff(app, "hamk", "issuer@hamk.fi", Role.ISSUER))
    page = client.get("/staff/credentials?q=aino&state=active&page=1&lang=fi").get_data(
        as_text=True
    )
    links = _links(page)
    assert links["sv"] == "?q=aino&state=active&page=1&lang=sv"
    swedish = client.get("/staff/credentials" + links["sv"]).get_data(as_text=True)
    assert '<html lang="sv">' in swedish
    assert 'id="q" name="q" type="search" value="aino"' in swedish
    assert "Aino Virtanen" in swedish
    assert "Carla Niemi" not in swedish


def test_a_pasted_verification_result_is_sent_again_in_the_other_language(
    client: FlaskClient, scenario: Scenario
) -> None:
    # A tampered copy: its verdict is its own (not the stored credential's), so only sending
    # the same text again can keep it.
    text = tampered_text(scenario.credentials["valid"].text)
    page = client.post("/verify", data={"json": text}, headers={"Accept-Language": "fi"})
    body = page.get_data(as_text=True)
    assert _verdict(body) == "not_genuine"
    switcher = _switcher(body)
    form = re.search(r'<form method="post" action="/verify">(.*?)</form>', switcher, re.S)
    assert form is not None
    sent = re.search(r'<input type="hidden" name="json" value="([^"]*)">', form.group(1))
    assert sent is not None
    assert json.loads(html.unescape(sent.group(1))) == json.loads(text)
    buttons = {
        lang: html.unescape(action)
        for action, lang in re.findall(
            r'<button type="submit" formaction="([^"]+)" lang="([a-z]+)">', form.group(1)
        )
    }
    assert buttons == {"sv": "?lang=sv", "en": "?lang=en"}

    again = client.post("/verify" + buttons["sv"], data={"json": html.unescape(sent.group(1))})

    swedish = again.get_data(as_text=True)
    assert '<html lang="sv">' in swedish
    assert _verdict(swedish) == "not_genuine"


def test_an_uploaded_badge_image_is_sent_again_as_its_credential(
    client: FlaskClient, scenario: Scenario
) -> None:
    issued = scenario.credentials["revoked"]
    page = client.post(
        "/verify",
        data={"file": (io.BytesIO(baked("png", issued.text)), "merkki.png")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    ).get_data(as_text=True)
    assert _verdict(page) == "revoked"
    sent = re.search(r'<input type="hidden" name="json" value="([^"]*)">', _switcher(page))
    assert sent is not None
    assert json.loads(html.unescape(sent.group(1))) == json.loads(issued.text)
    again = client.post("/verify?lang=fi", data={"json": html.unescape(sent.group(1))})
    assert _verdict(again.get_data(as_text=True)) == "revoked"


def test_a_form_that_changes_something_is_never_sent_again(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    # Sending a revocation or an issuing form again would do it twice: the answer's switcher
    # links to the page's address instead.
    sign_in(client, app, create_staff(app, "hamk", "issuer@hamk.fi", Role.ISSUER))
    token = csrf_token(client, "/staff/issue/")
    answer = client.post(
        "/staff/issue/", data={"csrf_token": token, "email": "x"}, headers={"Accept-Language": "en"}
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422, answer.status_code  # the form's errors, not a CSRF refusal
    assert "<form" not in _switcher(page)
    assert _links(page)["fi"] == "?lang=fi"


def test_what_is_sent_again_holds_no_markup(client: FlaskClient, scenario: Scenario) -> None:
    # The claims of a credential that is not genuine are not on its page, not even escaped in
    # the form that sends it again: < > & are JSON escapes there, which mean the same.
    document = json.loads(scenario.credentials["valid"].text)
    document["credentialSubject"]["name"] = '<script>alert("x")</script> & Co'
    text = json.dumps(document)
    page = client.post("/verify", data={"json": text}).get_data(as_text=True)
    assert _verdict(page) == "not_genuine"
    sent = re.search(r'<input type="hidden" name="json" value="([^"]*)">', _switcher(page))
    assert sent is not None
    assert "&lt;" not in sent.group(1)
    assert "&amp;" not in sent.group(1)
    assert json.loads(html.unescape(sent.group(1))) == document


def test_a_refused_body_gets_its_refusal_page_with_plain_links(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    """Too large a verification body: the 413 page, whose switcher cannot read the body to
    send it again (reading it raises the refusal again) and so links instead."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = client.post(
            "/verify?lang=sv", data=b"x" * (limit + 1), content_type=content_type
        )
        assert response.status_code == 413, content_type
        page = response.get_data(as_text=True)
        assert '<html lang="sv">' in page
        assert set(_links(page)) == {"fi", "en"}  # the other two languages
        assert '<input type="hidden" name="json"' not in page
