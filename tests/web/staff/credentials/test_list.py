"""The staff credential list (issue 15): e-mail, badge class, state and Helsinki dates; search
by name, e-mail or id; filters as GET parameters; pages; CSV export; one institution only."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.models.accounts import Role
from issuer.services import (
    badge_classes,
    credential_list,
    institutions,
    issuing,
    keys,
    learner_keys,
)
from issuer.services.issue_input import IssueOptions
from issuer.services.issuing_context import IssuingContext
from issuer.web.staff import credentials as views
from tests.conftest import BASE_URL
from tests.web.verify.helpers import MICRO, Scenario, create_staff, scenario, sign_in, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

EN = {"Accept-Language": "en"}
FI = {"Accept-Language": "fi"}


def _staff(app: Flask, client: FlaskClient, role: Role = Role.ISSUER) -> None:
    sign_in(client, app, create_staff(app, "hamk", f"{role.value}@hamk.fi", role))


def _issue(
    app: Flask,
    name: str,
    email: str,
    *,
    slug: str = "hamk",
    badge: str = MICRO,
    now: datetime | None = None,
    send_mail: bool = True,
) -> str:
    with app.app_context(), unit_of_work() as session:
        settings = get_settings()
        ctx = IssuingContext(
            base_url=settings.base_url,
            keystore=keys.keystore_for(settings),
            secret=learner_keys.recipient_secret(settings),
        )
        issued = issuing.issue(
            session,
            ctx,
            institutions.get_institution(session, slug),
            badge_classes.get_badge_class(session, badge),
            email,
            name,
            IssueOptions(lang="fi", send_mail=send_mail),
            now=now,
        )
        return issued.credential.id


def _page(client: FlaskClient, query: str = "", headers: dict[str, str] = EN) -> str:
    response = client.get(f"/staff/credentials{query}", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _holders(page: str) -> list[str]:
    """The holders' names in the list's rows, in order."""
    body = page.split('<table class="facts credential-list">', 1)[-1].split("</table>", 1)[0]
    return re.findall(r'<td><a href="/staff/credentials/[0-9a-f]{32}[^"]*">([^<]+)</a></td>', body)


def test_the_list_shows_e_mail_badge_class_state_and_helsinki_date(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    # 23.30 UTC on New Year's Eve is already New Year's Day in Helsinki.
    _issue(
        app, "Uusi Vuosi", "uusi.vuosi@example.fi", now=datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    )
    _staff(app, client)

    page = _page(client, "?q=uusi", FI)

    row = page.split('<table class="facts credential-list">', 1)[1]
    for header in ("Haltija", "Sähköpostiosoite", "Merkki", "Tila", "Myöntämispäivä"):
        assert f'<th scope="col">{header}</th>' in row, header
    assert "uusi.vuosi@example.fi" in row
    assert "Ennakointiosaaminen" in row  # the badge class's Finnish name
    assert "Voimassa" in row
    assert '<time datetime="2026-01-01T01:30+02:00">1.1.2026</time>' in row
    english = _page(client, "?q=uusi", EN)
    assert '<time datetime="2026-01-01T01:30+02:00">1 January 2026</time>' in english


def test_search_by_name_e_mail_or_id(app: Flask, client: FlaskClient, scenario: Scenario) -> None:
    # Namesakes: only the e-mail address tells them apart.
    first = _issue(app, "Matti Meikäläinen", "matti.m@example.fi")
    second = _issue(app, "Matti Meikäläinen", "matti.meikalainen@koulu.example")
    unmailed = _issue(app, "Liisa Postiton", "liisa.postiton@example.fi", send_mail=False)
    _staff(app, client)

    both = _page(client, "?q=meik%C3%A4l%C3%A4inen")
    assert _holders(both) == ["Matti Meikäläinen", "Matti Meikäläinen"]
    assert "matti.m@example.fi" in both
    assert "matti.meikalainen@koulu.example" in both

    by_domain = _page(client, "?q=koulu.example")
    assert _holders(by_domain) == ["Matti Meikäläinen"]
    assert second in by_domain
    assert first not in by_domain
    # Upper case and spaces around the address do not matter.
    assert first in _page(client, "?q=+MATTI.M%40EXAMPLE.FI+")
    # No mail was queued for this one: the whole address still finds it (by its key).
    found = _page(client, "?q=Liisa.Postiton%40example.fi")
    assert _holders(found) == ["Liisa Postiton"]
    assert unmailed in found
    assert _holders(_page(client, "?q=liisa.postiton%40")) == []  # not a whole address
    # The id, its start, a uuid with hyphens, the credential URL.
    for query in (
        unmailed,
        unmailed[:10],
        f"{unmailed[:8]}-{unmailed[8:12]}-{unmailed[12:16]}-{unmailed[16:20]}-{unmailed[20:]}",
        f"{BASE_URL}/credentials/{unmailed}",
    ):
        assert _holders(_page(client, f"?q={query}")) == ["Liisa Postiton"], query
    # Wildcards are text.
    assert _holders(_page(client, "?q=%25")) == []
    assert _holders(_page(client, "?q=_")) == []


def test_filters_by_badge_class_state_and_dates_are_links(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _issue(app, "Kevät Merkki", "kevat@example.fi", now=datetime(2024, 4, 15, 12, tzinfo=UTC))
    # 22.30 UTC on 31 May is 1 June in Helsinki: outside a range that ends in May.
    _issue(app, "Kesä Merkki", "kesa@example.fi", now=datetime(2024, 5, 31, 22, 30, tzinfo=UTC))
    _staff(app, client)

    plain = _page(client, "?badge=test-badge")
    assert _holders(plain) == ["Daniel Koski"]
    micro = _holders(_page(client, f"?badge={MICRO}"))
    assert "Daniel Koski" not in micro
    assert {"Aino Virtanen", "Bertil Holm", "Carla Niemi", "Kevät Merkki"} <= set(micro)
    assert _holders(_page(client, "?state=suspended")) == ["Carla Niemi"]
    spring = _page(client, "?from=2024-04-01&to=2024-05-31")
    assert _holders(spring) == ["Kevät Merkki"]
    assert _holders(_page(client, "?from=2024-06-01&to=2024-06-01")) == ["Kesä Merkki"]
    assert _holders(
        _page(client, f"?badge={MICRO}&state=active&from=2024-01-01&to=2024-12-31")
    ) == [
        "Kesä Merkki",
        "Kevät Merkki",
    ]
    # The form shows the filters it was given (a link to the list opens it as it was).
    assert 'name="from" type="date" value="2024-04-01"' in spring
    assert 'name="to" type="date" value="2024-05-31"' in spring
    assert f'<option value="{MICRO}" selected>' in _page(client, f"?badge={MICRO}")
    # Nonsense is ignored, not an error.
    for query in ("?state=gone&from=yesterday&to=2024-13-01&page=x", "?badge=no-such-badge"):
        assert client.get(f"/staff/credentials{query}").status_code == 200
    assert _holders(_page(client, "?badge=no-such-badge")) == []


def test_pages_keep_the_filters(
    app: Flask, client: FlaskClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for number in range(3):
        _issue(app, f"Sivu Henkilö {number}", f"sivu{number}@example.fi")
    _staff(app, client)

    first = _page(client, "?q=sivu&state=active")
    assert len(_holders(first)) == 2
    assert "Page 1 of 2" in first
    next_link = re.search(r'<a class="button secondary" href="([^"]+)">Next</a>', first)
    assert next_link is not None
    href = next_link.group(1).replace("&amp;", "&")
    assert "q=sivu" in href
    assert "state=active" in href
    assert "page=2" in href
    second = client.get(href, headers=EN).get_data(as_text=True)
    assert len(_holders(second)) == 1
    assert set(_holders(first) + _holders(second)) == {f"Sivu Henkilö {n}" for n in range(3)}


def test_csv_export_of_the_filtered_list(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    tricky = _issue(app, '=HYPERLINK("http://x","y")', "kaava@example.fi")
    _issue(app, "+Plus Nimi", "plus@example.fi")
    _staff(app, client)

    response = client.get("/staff/credentials.csv?state=active", headers=FI)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the UTF-8
    text = response.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    names = {row["name"] for row in rows}
    # Only the filtered (active) ones, of this institution only.
    assert "Bertil Holm" not in names
    assert "Carla Niemi" not in names
    assert "Eeva Oulu" not in names
    assert scenario.credentials["other"].id not in text
    assert "Aino Virtanen" in names
    mine = next(row for row in rows if row["id"] == tricky)
    assert mine["name"] == '\'=HYPERLINK("http://x","y")'
    assert mine["email"] == "kaava@example.fi"
    assert mine["badge_class"] == MICRO
    assert mine["state"] == "active"
    assert mine["url"] == f"{BASE_URL}/credentials/{tricky}"
    assert mine["issued"].endswith(("+02:00", "+03:00"))  # Helsinki time
    assert "'+Plus Nimi" in names
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    # The page links to the export with the same filters.
    page = _page(client, "?q=aino&state=active")
    assert 'href="/staff/credentials.csv?q=aino&amp;state=active"' in page
    only_aino = client.get("/staff/credentials.csv?q=aino").data.decode("utf-8-sig")
    assert [row["name"] for row in csv.DictReader(io.StringIO(only_aino))] == ["Aino Virtanen"]


def test_one_institution_never_sees_anothers(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    # OAMK issues the plain badge class, which HAMK has also issued, and a name HAMK searches.
    oamk_only = _issue(app, "Aino Oulusta", "aino@oamk.example", slug="oamk", badge="test-badge")
    _staff(app, client)

    for query in ("?q=aino", "?q=oamk.example", f"?q={oamk_only}", "?badge=test-badge"):
        page = _page(client, query)
        assert "Aino Oulusta" not in page, query
        assert "Eeva Oulu" not in page, query
    export = client.get("/staff/credentials.csv").data.decode("utf-8-sig")
    assert "Aino Oulusta" not in export
    assert "Eeva Oulu" not in export


def test_the_badge_class_filter_offers_only_what_the_institution_issued(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    _staff(app, client)
    page = _page(client)
    offered = re.findall(
        r'<option value="([^"]+)"', page.split('id="badge"', 1)[1].split("</select>", 1)[0]
    )
    assert sorted(offered) == sorted([MICRO, "test-badge"])
    # OAMK has issued only the micro-credential: the plain badge class is not offered to it.
    with app.app_context(), unit_of_work() as session:
        oamk = institutions.get_institution(session, "oamk")
        choices = credential_list.badge_class_choices(session, oamk.id, "fi")
    assert [choice.slug for choice in choices] == [MICRO]


def test_a_service_admin_exports_only_the_chosen_institution(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    sign_in(client, app, create_staff(app, None, "root@service.fi", Role.SERVICE_ADMIN))
    assert client.get("/staff/credentials.csv").status_code == 404
    text = client.get("/staff/credentials.csv?institution=oamk").data.decode("utf-8-sig")
    assert [row["name"] for row in csv.DictReader(io.StringIO(text))] == ["Eeva Oulu"]
    page = _page(client, "?institution=oamk&q=eeva")
    assert 'href="/staff/credentials.csv?q=eeva&amp;institution=oamk"' in page


def test_the_export_needs_a_signed_in_issuer(client: FlaskClient, scenario: Scenario) -> None:
    response = client.get("/staff/credentials.csv")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]
