"""Staff pages: issued credentials with revoke/suspend/unsuspend, and the audit log."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.models.accounts import Role
from tests.web.verify.helpers import (
    Scenario,
    create_staff,
    csrf_token,
    scenario,
    sign_in,
    templates_dir,
)

__all__ = ["scenario", "templates_dir"]  # fixtures used below


def _staff(app: Flask, client: FlaskClient, role: Role, slug: str | None = "hamk") -> None:
    user_id = create_staff(app, slug, f"{role.value}@{slug or 'service'}.fi", role)
    sign_in(client, app, user_id)


def _verdict(client: FlaskClient, credential_id: str) -> str:
    page = client.get(f"/verify/{credential_id}").get_data(as_text=True)
    return page.split('data-verdict="', 1)[1].split('"', 1)[0]


def test_sign_in_is_required(client: FlaskClient, scenario: Scenario) -> None:
    for path in ("/staff/credentials", "/staff/audit", "/staff/audit.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
    response = client.post(f"/staff/credentials/{scenario.credentials['valid'].id}/revoke")
    assert response.status_code in (302, 400)  # no session: sign-in (or no form token)
    assert _verdict(client, scenario.credentials["valid"].id) == "valid"


def test_the_list_shows_only_the_institutions_own(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _staff(app, client, Role.ISSUER)
    page = client.get("/staff/credentials", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    for name in ("Aino Virtanen", "Bertil Holm", "Carla Niemi", "Daniel Koski"):
        assert name in page
    assert "Eeva Oulu" not in page  # OAMK's

    revoked = client.get("/staff/credentials?state=revoked").get_data(as_text=True)
    assert "Bertil Holm" in revoked
    assert "Aino Virtanen" not in revoked
    found = client.get("/staff/credentials?q=aino").get_data(as_text=True)
    assert "Aino Virtanen" in found
    assert "Carla Niemi" not in found
    by_id = client.get(f"/staff/credentials?q={scenario.credentials['suspended'].url}").get_data(
        as_text=True
    )
    assert "Carla Niemi" in by_id
    assert "Aino Virtanen" not in by_id


def test_another_institutions_credential_is_not_found(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _staff(app, client, Role.INSTITUTION_ADMIN)
    other = scenario.credentials["other"].id
    assert client.get(f"/staff/credentials/{other}").status_code == 404
    assert client.get(f"/staff/credentials/{'0' * 32}").status_code == 404
    # A valid form token from our own page does not help.
    token = csrf_token(client, f"/staff/credentials/{scenario.credentials['valid'].id}")
    response = client.post(
        f"/staff/credentials/{other}/revoke", data={"csrf_token": token, "reason": "x"}
    )
    assert response.status_code == 404
    assert _verdict(client, other) == "valid"


def test_revoke_from_the_detail_page(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _staff(app, client, Role.ISSUER)
    credential_id = scenario.credentials["valid"].id
    detail = f"/staff/credentials/{credential_id}"
    token = csrf_token(client, detail)

    no_reason = client.post(f"{detail}/revoke", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 303
    assert _verdict(client, credential_id) == "valid"

    response = client.post(
        f"{detail}/revoke",
        data={"csrf_token": token, "reason": "Väärä henkilö"},
        headers={"Accept-Language": "fi"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(detail)
    page = client.get(detail, headers={"Accept-Language": "fi"}).get_data(as_text=True)
    assert "Merkki peruttiin." in page
    assert "Väärä henkilö" in page
    assert "issuer@hamk.fi" in page  # the history names who did it
    assert _verdict(client, credential_id) == "revoked"
    # No forms for a revoked credential any more; posting anyway is refused.
    assert f"{detail}/suspend" not in page
    again = client.post(f"{detail}/suspend", data={"csrf_token": token})
    assert again.status_code == 303
    assert _verdict(client, credential_id) == "revoked"


def test_forms_need_the_csrf_token(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _staff(app, client, Role.ISSUER)
    credential_id = scenario.credentials["valid"].id
    response = client.post(f"/staff/credentials/{credential_id}/revoke", data={"reason": "x"})
    assert response.status_code == 400
    assert _verdict(client, credential_id) == "valid"


def test_suspend_and_unsuspend(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _staff(app, client, Role.ISSUER)
    credential_id = scenario.credentials["valid"].id
    detail = f"/staff/credentials/{credential_id}"
    token = csrf_token(client, detail)
    client.post(f"{detail}/suspend", data={"csrf_token": token, "reason": "selvitys"})
    assert _verdict(client, credential_id) == "suspended"
    page = client.get(detail, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f"{detail}/unsuspend" in page
    client.post(f"{detail}/unsuspend", data={"csrf_token": token})
    assert _verdict(client, credential_id) == "valid"


def test_the_audit_log_is_for_institution_admins(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _staff(app, client, Role.ISSUER)
    assert client.get("/staff/audit").status_code == 403
    assert client.get("/staff/audit.csv").status_code == 403


def test_audit_log_page_and_filters(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _staff(app, client, Role.INSTITUTION_ADMIN)
    page = client.get("/staff/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert scenario.credentials["revoked"].id in page
    assert scenario.credentials["suspended"].id in page
    assert scenario.credentials["other"].id not in page  # OAMK's events
    revokes = client.get("/staff/audit?action=revoke").get_data(as_text=True)
    assert scenario.credentials["revoked"].id in revokes
    assert scenario.credentials["suspended"].id not in revokes
    # Nonsense filters are ignored, not errors.
    assert client.get("/staff/audit?action=drop&since=yesterday&page=-1").status_code == 200


def test_audit_csv_export(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    _staff(app, client, Role.INSTITUTION_ADMIN)
    credential_id = scenario.credentials["valid"].id
    detail = f"/staff/credentials/{credential_id}"
    token = csrf_token(client, detail)
    client.post(
        f"{detail}/revoke", data={"csrf_token": token, "reason": '=HYPERLINK("http://x","y")'}
    )

    response = client.get("/staff/audit.csv?action=revoke")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["action"] for row in rows} == {"revoke"}
    mine = next(row for row in rows if row["target"] == credential_id)
    assert mine["reason"] == '\'=HYPERLINK("http://x","y")'
    assert mine["actor"] == "institution_admin@hamk.fi"
    assert scenario.credentials["other"].id not in text


@pytest.mark.parametrize("path", ["/staff/credentials", "/staff/audit"])
def test_a_service_admin_chooses_the_institution(
    app: Flask, client: FlaskClient, scenario: Scenario, path: str
) -> None:
    _staff(app, client, Role.SERVICE_ADMIN, slug=None)
    assert client.get(path).status_code == 404
    response = client.get(f"{path}?institution=oamk")
    assert response.status_code == 200
    assert scenario.credentials["revoked"].id not in response.get_data(as_text=True)


def test_audit_csv_export_starts_no_formula_split_on_comma_or_semicolon(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    # Finnish Excel splits a CSV file on ";": a formula hidden after a ";" (or a ",") inside a
    # revocation reason must not start a cell either way (issue 13).
    _staff(app, client, Role.INSTITUTION_ADMIN)
    credential_id = scenario.credentials["valid"].id
    detail = f"/staff/credentials/{credential_id}"
    reason = 'Väärä henkilö;=HYPERLINK("http://x","y"), -2+3; @SUM(A1)'
    client.post(
        f"{detail}/revoke", data={"csrf_token": csrf_token(client, detail), "reason": reason}
    )

    text = client.get("/staff/audit.csv?action=revoke").data.decode("utf-8-sig")

    for delimiter in (",", ";"):
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            for cell in row:
                assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    mine = next(row for row in rows if row["target"] == credential_id)
    assert mine["reason"] == 'Väärä henkilö;\'=HYPERLINK("http://x","y"),\' -2+3;\' @SUM(A1)'
