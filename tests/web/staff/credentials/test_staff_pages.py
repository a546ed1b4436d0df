"""The staff area around the credentials (issue 15): one staff layout with the menu and
sign-out on every page, labels that mean one thing each, the audit log with names instead of
ids, and revocation as a separate, confirmed step."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.db import unit_of_work
from issuer.models.accounts import Role, StaffUser
from issuer.services import audit, institutions
from issuer.services.audit import SystemActor
from tests.web.verify.helpers import (
    Scenario,
    create_staff,
    csrf_token,
    scenario,
    sign_in,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below

EN = {"Accept-Language": "en"}


def _admin(app: Flask, client: FlaskClient, name: str | None = None) -> None:
    user_id = create_staff(app, "hamk", "admin@hamk.fi", Role.INSTITUTION_ADMIN)
    if name:
        with app.app_context(), unit_of_work() as session:
            user = session.get(StaffUser, user_id)
            assert user is not None
            user.name = name
    sign_in(client, app, user_id)


def _verdict(client: FlaskClient, credential_id: str) -> str:
    page = client.get(f"/verify/{credential_id}").get_data(as_text=True)
    return page.split('data-verdict="', 1)[1].split('"', 1)[0]


def _header(page: str) -> str:
    return page.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]


def test_every_credential_page_has_the_staff_menu_and_sign_out(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _admin(app, client)
    valid = scenario.credentials["valid"].id
    for path in (
        "/staff/credentials",
        f"/staff/credentials/{valid}",
        f"/staff/credentials/{valid}/revoke",
        "/staff/audit",
        "/staff/",
    ):
        page = client.get(path, headers=EN).get_data(as_text=True)
        header = _header(page)
        assert '<body class="staff">' in page, path
        assert 'class="staff-menu"' in header, path
        assert 'action="/staff/logout"' in header, path
        for link in ("/staff/badge-classes", "/staff/issue/", "/staff/credentials", "/staff/audit"):
            assert f'href="{link}"' in header, (path, link)
        # The public menu is not there.
        assert 'href="/staff/">Staff<' not in header, path


def test_the_menu_marks_the_current_section(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _admin(app, client)
    detail = client.get(f"/staff/credentials/{scenario.credentials['valid'].id}", headers=EN)
    header = _header(detail.get_data(as_text=True))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', header) == ["/staff/credentials"]
    audit = _header(client.get("/staff/audit", headers=EN).get_data(as_text=True))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', audit) == ["/staff/audit"]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_no_menu_label_means_two_things(
    app: Flask, client: FlaskClient, scenario: Scenario, lang: str
) -> None:
    # "Henkilöstö" named both the way into the staff area (public menu) and the staff accounts
    # (staff menu).
    public = _header(client.get(f"/catalog?lang={lang}").get_data(as_text=True))
    into_staff = re.search(r'<a href="/staff/">([^<]+)</a>', public)
    assert into_staff is not None
    _admin(app, client)
    staff = _header(client.get(f"/staff/credentials?lang={lang}").get_data(as_text=True))
    labels = re.findall(r"<a [^>]*>([^<]+)</a>", staff.split('class="language-switcher"')[0])
    accounts = re.search(r'<a href="/staff/users"[^>]*>([^<]+)</a>', staff)
    assert accounts is not None
    assert accounts.group(1) != into_staff.group(1)
    assert into_staff.group(1) not in labels
    assert len(labels) == len(set(labels)), labels
    if lang == "fi":
        assert into_staff.group(1) == "Henkilöstölle"
        assert accounts.group(1) == "Käyttäjät"


def test_the_audit_log_names_people_and_credentials(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _admin(app, client, name="Hanna Hallinto")
    credential_id = scenario.credentials["valid"].id
    detail = f"/staff/credentials/{credential_id}"
    client.post(
        f"{detail}/revoke", data={"csrf_token": csrf_token(client, detail), "reason": "Väärin"}
    )

    page = client.get("/staff/audit?action=revoke", headers=EN).get_data(as_text=True)

    row = next(part for part in page.split("<tr>") if credential_id in part)
    # Who: the staff member's name, with the e-mail address under it.
    assert "Hanna Hallinto" in row
    assert "admin@hamk.fi" in row
    # What: the holder, linked to the credential's page, and the badge class; the id in small.
    assert f'<a href="/staff/credentials/{credential_id}">Aino Virtanen</a>' in row
    assert "Foresight competence" in row
    assert f'<small class="muted"><code>{credential_id}</code></small>' in row
    # The holder's name stays text (escaped), like every name.
    assert "<b>" not in row
    # The credential's own history names the person too.
    history = client.get(detail, headers=EN).get_data(as_text=True)
    assert "Hanna Hallinto" in history.split("<h2>History</h2>", 1)[1]


def test_the_audit_log_shows_times_in_helsinki(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _admin(app, client)
    page = client.get("/staff/audit?lang=fi").get_data(as_text=True)
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert times
    for machine, shown in times:
        assert machine.endswith(("+02:00", "+03:00")), machine
        assert re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4} klo \d{1,2}\.\d{2}", shown), shown
    assert "UTC" not in page.split("<main", 1)[1]


def test_the_detail_page_does_not_revoke_in_one_click(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _admin(app, client)
    detail = f"/staff/credentials/{scenario.credentials['valid'].id}"
    page = client.get(detail, headers=EN).get_data(as_text=True)
    assert f'action="{detail}/revoke"' not in page  # no form that revokes from here
    link = re.search(rf'<a class="([^"]+)" href="{detail}/revoke">', page)
    assert link is not None
    # Styled as a danger action beside the others, not as the page's primary button.
    assert "danger-secondary" in link.group(1).split()


def test_the_confirmation_step_revokes(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _admin(app, client)
    credential_id = scenario.credentials["valid"].id
    confirm = f"/staff/credentials/{credential_id}/revoke"

    page = client.get(confirm, headers=EN).get_data(as_text=True)

    main = page.split("<main", 1)[1]
    assert "Revocation is permanent: it cannot be undone." in main
    assert "Aino Virtanen" in main
    assert "Foresight competence" in main
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', main, re.S)
    assert form is not None
    assert form.group(1) == confirm
    assert 'name="csrf_token"' in form.group(2)
    assert re.search(r'<input id="revoke-reason" name="reason"[^>]* required', form.group(2))
    assert '<button type="submit" class="danger">Revoke permanently</button>' in form.group(2)
    assert _verdict(client, credential_id) == "valid"  # looking at the step changes nothing

    # Without a reason: back to the step, nothing revoked.
    token = csrf_token(client, confirm)
    empty = client.post(confirm, data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 303
    assert empty.headers["Location"].endswith(confirm)
    assert _verdict(client, credential_id) == "valid"

    done = client.post(confirm, data={"csrf_token": token, "reason": "Väärä henkilö"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/staff/credentials/{credential_id}")
    assert _verdict(client, credential_id) == "revoked"
    # Revoked: the step is not offered again.
    again = client.get(confirm)
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/staff/credentials/{credential_id}")


def test_the_confirmation_step_is_for_the_institutions_own_issuers(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    other = f"/staff/credentials/{scenario.credentials['other'].id}/revoke"
    signed_out = client.get(other)
    assert signed_out.status_code == 302
    assert "/staff/login" in signed_out.headers["Location"]
    _admin(app, client)
    assert client.get(other).status_code == 404
    assert client.get("/staff/credentials/" + "0" * 32 + "/revoke").status_code == 404


def test_the_audit_log_names_nothing_of_another_institution(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    # An event (as a bug or a hand-made row could leave) that points at OAMK's credential and
    # at an OAMK staff member: HAMK's log shows the stored texts, never their names.
    other_id = scenario.credentials["other"].id
    oamk_user = create_staff(app, "oamk", "olli@oamk.fi", Role.ISSUER)
    with app.app_context(), unit_of_work() as session:
        session.get(StaffUser, oamk_user).name = "Olli Oulusta"  # type: ignore[union-attr]
        hamk = institutions.get_institution(session, "hamk")
        audit.record(
            session,
            actor=SystemActor(kind="user", id=str(oamk_user), label="olli@oamk.fi"),
            action="suspend",
            institution_id=hamk.id,
            target=other_id,
        )
    _admin(app, client)

    page = client.get("/staff/audit?action=suspend", headers=EN).get_data(as_text=True)

    row = next(part for part in page.split("<tr>") if other_id in part)
    assert "Eeva Oulu" not in row
    assert "Olli Oulusta" not in row
    assert "olli@oamk.fi" in row
    assert f"<code>{other_id}</code>" in row
