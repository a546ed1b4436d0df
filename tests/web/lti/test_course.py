"""Inside the course, end to end with the ``lti1p3platform`` platform (issue 17): a teacher
places "award badge class X" by Deep Linking, issues it to chosen learners of the roster (Names
and Role Provisioning) through one bulk job, ties it to a line item and a threshold (Assignment
and Grade Services) and polls; a learner sees the badges they hold from the course.

One story per module app: the steps build on each other, as a course's life does."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer.db import get_session
from issuer.models.issuing import BulkJob
from issuer.models.lti import LtiAward
from tests.web.lti.platform import LIISA, MATTI, NOMAIL, TEACHER, Platform
from tests.web.lti.support import credentials, jobs

_JWT = re.compile(r'name="JWT" value="([^"]+)"')
_ACTION = re.compile(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="JWT"')


def _open(client: FlaskClient, platform: Platform, user: object, **kwargs: object) -> str:
    """Launch and follow to the course page; its address (holding the launch id)."""
    answer = client.post("/lti/launch", data=platform.launch(client, user, **kwargs))  # type: ignore[arg-type]
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return str(answer.location)


def _launch_id(address: str) -> str:
    return parse_qs(urlsplit(address).query)["launch"][0]


@pytest.fixture(scope="module")
def placement(lti_app: Flask, platform: Platform) -> int:
    """Deep Linking: the teacher places the badge class "welding-basics" in the course."""
    platform.members = [TEACHER.member(), LIISA.member(), MATTI.member(), NOMAIL.member()]
    client = lti_app.test_client()
    page = _open(client, platform, TEACHER, deep_link=True)
    chooser = client.get(page)
    assert chooser.status_code == 200
    text = chooser.get_data(as_text=True)
    assert "Place a badge in the course" in text or "merkki kurssille" in text.lower()
    badge_id = re.search(
        r'value="(\d+)"[^>]*>\s*<label for="badge-\d+">Merkki welding-basics', text
    )
    assert badge_id, text
    placed = client.post(
        f"/lti/course/place?launch={_launch_id(page)}", data={"badge_class": badge_id.group(1)}
    )
    assert placed.status_code == 303
    answer = client.get(placed.location)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    # The page posts the signed answer back to the platform's return URL ...
    assert _ACTION.search(html).group(1) == f"{platform.base}/deep-link-return"  # type: ignore[union-attr]
    assert f"form-action 'self' {platform.base}" in answer.headers["Content-Security-Policy"]
    # ... and the platform accepts it: one LTI resource link carrying the placement.
    items = platform.validate_deep_link_answer(_JWT.search(html).group(1))  # type: ignore[union-attr]
    assert len(items) == 1
    assert items[0]["type"] == "ltiResourceLink"
    assert items[0]["url"].endswith("/lti/launch")
    return int(items[0]["custom"]["merkki_placement"])


def test_a_learner_cannot_place_a_badge(lti_app: Flask, platform: Platform) -> None:
    client = lti_app.test_client()
    page = _open(client, platform, LIISA, deep_link=True)
    assert client.get(page).status_code == 403
    refused = client.post(f"/lti/course/place?launch={_launch_id(page)}", data={"badge_class": 1})
    assert refused.status_code == 403


def test_the_teacher_issues_to_chosen_learners_once(
    lti_app: Flask, platform: Platform, placement: int
) -> None:
    client = lti_app.test_client()
    page = _open(client, platform, TEACHER, placement=placement)
    roster = client.get(page)
    assert roster.status_code == 200
    text = roster.get_data(as_text=True)
    for member in (LIISA, MATTI, NOMAIL):
        assert member.name in text
    assert TEACHER.name not in text  # learners only
    before_jobs, before = jobs(lti_app), credentials(lti_app)
    launch = _launch_id(page)
    answer = client.post(
        f"/lti/course/award?launch={launch}", data={"user": [LIISA.user_id, NOMAIL.user_id]}
    )
    assert answer.status_code == 303
    assert "issued=1" in answer.location
    assert "unreachable=1" in answer.location
    assert jobs(lti_app) == before_jobs + 1  # one job
    assert credentials(lti_app) == before + 1
    # Again, with Liisa and Matti: only Matti is new; still one job per click.
    again = client.post(
        f"/lti/course/award?launch={launch}", data={"user": [LIISA.user_id, MATTI.user_id]}
    )
    assert "issued=1" in again.location
    assert "already=1" in again.location
    assert credentials(lti_app) == before + 2
    # And again: nothing new, no job.
    third = client.post(f"/lti/course/award?launch={launch}", data={"user": [LIISA.user_id]})
    assert "issued=0" in third.location
    assert (jobs(lti_app), credentials(lti_app)) == (before_jobs + 2, before + 2)
    with lti_app.app_context():
        awards = get_session().scalars(select(LtiAward)).all()
        assert sorted(award.user_id for award in awards) == [LIISA.user_id, MATTI.user_id]
        job = get_session().get(BulkJob, awards[0].job_id)
        assert job is not None
        assert job.state.value == "done"


def test_a_learner_sees_the_badges_they_hold_from_the_course(
    lti_app: Flask, platform: Platform, placement: int
) -> None:
    client = lti_app.test_client()
    teacher = _launch_id(_open(client, platform, TEACHER, placement=placement))
    client.post(f"/lti/course/award?launch={teacher}", data={"user": [LIISA.user_id]})
    page = client.get(_open(client, platform, LIISA, placement=placement))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    link = re.search(r'href="(http://127\.0\.0\.1:5000/credentials/[0-9a-f]{32})"', text)
    assert link, text
    assert "Badge welding-basics" in text or "Merkki welding-basics" in text
    # Her page is the credential's public page.
    assert client.get(urlsplit(link.group(1)).path).status_code == 200
    # A learner of the course without badges sees none; no teacher's forms for learners.
    other = client.get(_open(client, platform, NOMAIL, placement=placement)).get_data(as_text=True)
    assert "/credentials/" not in other
    assert "/lti/course/award" not in other


def test_grades_reaching_the_threshold_issue_once(
    lti_app: Flask, platform: Platform, placement: int
) -> None:
    line_item = f"{platform.base}/lineitems/9"
    platform.line_items = [{"id": line_item, "label": "Final test", "scoreMaximum": 10}]
    platform.results = {
        "9": [
            {"userId": NOMAIL.user_id, "resultScore": 9, "resultMaximum": 10},
            {"userId": MATTI.user_id, "resultScore": 4, "resultMaximum": 10},
        ]
    }
    # A learner with a high grade appears: the new one reaches 60 %, the others not or issued.
    kaisa = {
        "user_id": "s-4",
        "roles": [LIISA.roles[0]],
        "name": "Kaisa Grade",
        "email": "kaisa@example.fi",
    }
    platform.members = [*platform.members, kaisa]
    platform.results["9"].append({"userId": "s-4", "resultScore": 6, "resultMaximum": 10})
    client = lti_app.test_client()
    launch = _launch_id(_open(client, platform, TEACHER, placement=placement))
    page = client.get(f"/lti/course?launch={launch}").get_data(as_text=True)
    assert "Final test" in page
    rule = client.post(
        f"/lti/course/grade-rule?launch={launch}",
        data={"line_item": line_item, "threshold": "60"},
    )
    assert rule.status_code == 303
    before_jobs, before = jobs(lti_app), credentials(lti_app)
    polled = client.post(f"/lti/course/poll?launch={launch}")
    assert polled.status_code == 303
    # Kaisa (60 %) is issued; the 9/10 learner has no address; Matti (40 %) does not pass.
    assert "issued=1" in polled.location
    assert "unreachable=1" in polled.location
    assert (jobs(lti_app), credentials(lti_app)) == (before_jobs + 1, before + 1)
    again = client.post(f"/lti/course/poll?launch={launch}")
    assert "issued=0" in again.location
    assert (jobs(lti_app), credentials(lti_app)) == (before_jobs + 1, before + 1)


def test_a_line_item_the_platform_does_not_list_is_refused(
    lti_app: Flask, platform: Platform, placement: int
) -> None:
    client = lti_app.test_client()
    launch = _launch_id(_open(client, platform, TEACHER, placement=placement))
    answer = client.post(
        f"/lti/course/grade-rule?launch={launch}",
        data={"line_item": "http://elsewhere.example/lineitems/1", "threshold": "50"},
    )
    assert answer.status_code == 422


def test_a_wrong_launch_id_is_refused(lti_app: Flask, platform: Platform) -> None:
    client = lti_app.test_client()
    assert client.get("/lti/course?launch=lti1p3-launch-nothing").status_code == 404
    assert client.post("/lti/course/award?launch=x", data={"user": ["s-1"]}).status_code == 404
