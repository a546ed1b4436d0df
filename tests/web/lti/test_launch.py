"""LTI 1.3 launch validation against the ``lti1p3platform`` platform (issue 17): a good launch
opens the course page; a bad signature, a wrong audience, a replayed nonce, an expired token and
an unknown deployment each get a 4xx page in the reader's language and store or issue nothing."""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask

from issuer.web.lti import origin
from tests.web.lti.platform import LIISA, OTHER_KEY, TEACHER, Platform
from tests.web.lti.support import credentials, jobs, launches


def test_the_key_set_is_published_at_a_fixed_url(lti_app: Flask, platform: Platform) -> None:
    answer = lti_app.test_client().get("/lti/jwks.json")
    assert answer.status_code == 200
    keys = answer.get_json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only


def test_a_good_launch_opens_the_course_page(lti_app: Flask, platform: Platform) -> None:
    client = lti_app.test_client()
    before = launches(lti_app)
    answer = client.post("/lti/launch", data=platform.launch(client, LIISA))
    assert answer.status_code == 303
    assert answer.location.startswith("/lti/course?launch=lti1p3-launch-")
    assert launches(lti_app) == before + 1
    page = client.get(answer.location)
    assert page.status_code == 200
    assert "Welding 101" in page.get_data(as_text=True)
    # The platform, and only it, may frame the page; it is never cached (its address holds the
    # launch id).
    assert f"frame-ancestors 'self' {platform.base}" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_only_a_plain_origin_reaches_a_csp_header() -> None:
    assert origin("https://moodle.example.fi:8443/path?q") == "https://moodle.example.fi:8443"
    assert origin("https://x; script-src *") == "'none'"
    assert origin("javascript:alert(1)") == "'none'"


def _tampered(token: str) -> str:
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["name"] = "Somebody Else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("case", "status", "text"),
    [
        ("bad signature", 401, "not signed by the registered platform"),
        ("other key", 401, "not signed by the registered platform"),
        ("wrong audience", 401, "not registered in Merkki"),
        ("replayed nonce", 403, "used already"),
        ("expired", 401, "expired"),
        ("unknown deployment", 403, "deployment of the tool is not registered"),
    ],
)
def test_a_bad_launch_is_refused_and_issues_nothing(
    lti_app: Flask, platform: Platform, case: str, status: int, text: str
) -> None:
    client = lti_app.test_client()
    if case == "replayed nonce":
        sent = platform.launch(client, TEACHER)
        assert client.post("/lti/launch", data=sent).status_code == 303
    elif case == "bad signature":
        sent = platform.launch(client, TEACHER)
        sent["id_token"] = _tampered(sent["id_token"])
    elif case == "other key":
        sent = platform.launch(client, TEACHER, key=OTHER_KEY)
    elif case == "wrong audience":
        sent = platform.launch(client, TEACHER, claims={"aud": "somebody-else"})
    elif case == "expired":
        sent = platform.launch(client, TEACHER, expires_in=-60)
    else:
        sent = platform.launch(client, TEACHER, deployment_id="99")
    before = (launches(lti_app), credentials(lti_app), jobs(lti_app))
    answer = client.post("/lti/launch", data=sent, headers={"Accept-Language": "en"})
    assert answer.status_code == status
    assert text in answer.get_data(as_text=True)
    assert (launches(lti_app), credentials(lti_app), jobs(lti_app)) == before


def test_the_refusal_is_in_finnish_and_swedish(lti_app: Flask, platform: Platform) -> None:
    client = lti_app.test_client()
    sent = platform.launch(client, TEACHER, deployment_id="99")
    for lang in ("fi", "sv"):
        answer = client.post("/lti/launch", data=sent, headers={"Accept-Language": lang})
        assert answer.status_code == 403
        assert "deployment of the tool" not in answer.get_data(as_text=True)
        assert f'lang="{lang}"' in answer.get_data(as_text=True)
