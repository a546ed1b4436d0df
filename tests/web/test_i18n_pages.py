"""No English on Finnish and Swedish pages (issue 15, "Complete fi/sv/en").

Every page reachable from the start page, the catalogue, the verification pages and the staff
area is crawled with the app's test client in Finnish and in Swedish, and every form and cohort
CSV error is triggered; each answer's visible text (and its ``alt``, ``title``, ``aria-label``
and ``placeholder`` texts) is compared against the message catalogues: a source string
(``msgid``) that appears verbatim where its translation differs is a failure, because the
reader got the English text. Parts marked ``lang="en"`` (the language switch's "English", a
check's technical detail from the verification engine) are English on purpose and skipped.
"""

from __future__ import annotations

import codecs
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.accounts import Role
from issuer.models.issuing import OutboxMail
from issuer.services import (
    accounts,
    badge_class_admin,
    badge_classes,
    institutions,
    issue_input,
    revocation,
)
from issuer.services.audit import SystemActor
from issuer.services.translation import TRANSLATIONS_DIR
from issuer.web.i18n import LANGUAGE_NAMES
from tests.test_issue_input_front_ends import OPTION_CASES, RECIPIENT_CASES
from tests.web.learner.support import (
    CSRF,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)

LANGS = ("fi", "sv")
ADMIN = "admin@hamk.fi"
PASSWORD = "a long enough test password"
#: An unpublished badge class whose name is in Finnish and Swedish but whose other texts are
#: only in Finnish: it cannot be published, nor issued in Swedish.
HALF_SWEDISH = "puoliksi-ruotsiksi"
#: Answers that are not pages, and the one link that would end the session.
_NOT_PAGES = re.compile(r"\.(json|png|svg|pdf|csv|jsonld|txt|xml)$|/logout|/did\.json|/status/")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
#: Most pages crawled per language: every kind of page is reached well below it.
MAX_PAGES = 120


# --- the catalogues ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    msgid: str
    pattern: re.Pattern[str]


@cache
def english_sources(lang: str) -> tuple[Source, ...]:
    """The source strings whose ``lang`` translation differs from them, as patterns of their
    literal parts (placeholders match anything). Left out: strings too short to tell English
    from a name or a code (under two words or 12 letters), and those that occur inside a
    translation (there they are no sign of English)."""
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=lang)
    translations = [m for m in catalog if m.id and isinstance(m.id, str)]
    texts = " \n ".join(str(m.string) for m in translations)
    found = []
    for message in translations:
        msgid = _squash(message.id)
        if not message.string or _squash(str(message.string)) == msgid:
            continue
        parts = [part.strip() for part in _PLACEHOLDER.split(msgid)]
        literal = " ".join(part for part in parts if part)
        if len(literal) < 12 or " " not in literal or literal in texts:
            continue
        pattern = ".+?".join(re.escape(part) for part in parts if part)
        found.append(Source(message.id, re.compile(pattern)))
    return tuple(found)


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_the_catalogues_have_no_untranslated_or_fuzzy_entries() -> None:
    for lang in LANGS:
        with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        bad = [m.id for m in catalog if m.id and (m.fuzzy or not m.string)]
        assert bad == [], f"{lang}: untranslated or fuzzy: {bad}"


# --- what a reader sees -----------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text a reader sees or hears, without parts in another language (``lang="en"``),
    scripts and styles."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
    VOID |= {"source", "track", "wbr"}
    SPOKEN = ("alt", "title", "aria-label", "placeholder")

    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.stack: list[bool] = []  # per open element: is it skipped?
        self.chunks: list[str] = []
        self.links: list[str] = []

    @property
    def skipping(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang")
        # A part in another language than the page's (``<html lang>`` is the page's own).
        other = tag != "html" and lang is not None and lang != self.lang
        skip = tag in ("script", "style") or other
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if not (skip or self.skipping):
            self.chunks += [str(values[name]) for name in self.SPOKEN if values.get(name)]
            if tag == "input" and values.get("type") in ("submit", "button"):
                self.chunks.append(str(values.get("value") or ""))
        if tag not in self.VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


def _read(response: TestResponse, lang: str) -> _VisibleText:
    parser = _VisibleText(lang)
    parser.feed(response.get_data(as_text=True))
    return parser


@cache
def short_sources(lang: str) -> frozenset[str]:
    """Every source string whose ``lang`` translation differs from it, without placeholders:
    a text of the page that is exactly one of them (a heading "Name", a state "Revoked") is
    English, however short."""
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=lang)
    # The language names are autonyms ("English" on every page), as language choosers write
    # them.
    return frozenset(
        _squash(m.id)
        for m in catalog
        if m.id
        and isinstance(m.id, str)
        and m.string
        and _squash(str(m.string)) != _squash(m.id)
        and not _PLACEHOLDER.search(m.id)
        and m.id not in LANGUAGE_NAMES.values()
    )


def english_in(page: str, lang: str) -> list[str]:
    """The source strings that the HTML ``page`` shows untranslated."""
    parser = _VisibleText(lang)
    parser.feed(page)
    text = _squash(" ".join(parser.chunks))
    found = [source.msgid for source in english_sources(lang) if source.pattern.search(text)]
    short = short_sources(lang)
    found += sorted({_squash(c) for c in parser.chunks if _squash(c) in short} - set(found))
    return found


#: English words that neither Finnish nor Swedish has: a text that is not in the catalogues
#: (an engine's message, a string nobody marked for translation) shows itself by them.
_ENGLISH_WORDS = re.compile(r"\b(?:the|is not|must be|does not|has no|cannot|could not)\b")


def english_words_in(page: str, lang: str) -> list[str]:
    """The stretches of ``page`` around English words, for text outside the catalogues."""
    parser = _VisibleText(lang)
    parser.feed(page)
    text = _squash(" ".join(parser.chunks))
    return [text[max(0, m.start() - 40) : m.end() + 40] for m in _ENGLISH_WORDS.finditer(text)]


def english_on(response: TestResponse, lang: str) -> list[str]:
    if not response.content_type.startswith("text/html"):
        return []
    page = response.get_data(as_text=True)
    return english_in(page, lang) + english_words_in(page, lang)


@dataclass
class Seen:
    """What the crawl found: page -> the English strings on it."""

    lang: str
    english: dict[str, list[str]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return len(self.seen)

    def check(self, what: str, response: TestResponse) -> None:
        self.seen.append(what)
        found = english_on(response, self.lang)
        if found:
            self.english[what] = found


# --- the set-up -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    credential: str
    revoked: str
    manage: str


@pytest.fixture
def site(app: Flask, world: World) -> Site:
    valid = issue(app, name="Aino Virtanen", email="aino@example.fi")
    revoked = issue(app, name="Bertil Holm", email="bertil@example.fi")
    issue(
        app,
        name="Sixten Svensk",
        email="sixten@example.fi",
        options=issue_input.IssueOptions(lang="sv"),
    )
    with app.app_context(), unit_of_work() as session:
        hamk = institutions.get_institution(session, "hamk")
        accounts.create_user(
            session,
            institution=hamk,
            email=ADMIN,
            role=Role.INSTITUTION_ADMIN,
            password=PASSWORD,
        )
        credential = session.get(Credential, revoked.id)
        assert credential is not None
        revocation.revoke(
            session, credential, actor=SystemActor(kind="cli", label="test"), reason="Virhe"
        )
        badge_class_admin.create_badge_class(
            session,
            hamk,
            {
                "slug": HALF_SWEDISH,
                "version": "1.0",
                "achievement_type": "Badge",
                "name": {"fi": "Puoliksi ruotsiksi", "sv": "Halvt på svenska"},
                "description": {"fi": "Kuvaus."},
                "criteria_narrative": {"fi": "Kriteerit."},
            },
        )
    return Site(valid.id, revoked.id, f"/credentials/{valid.id}/manage/{valid.manage_token}")


def _signed_in(app: Flask, lang: str) -> FlaskClient:
    client = app.test_client()
    client.get(f"/staff/login?lang={lang}")
    response = client.post(
        "/staff/login",
        data={"email": ADMIN, "password": PASSWORD, "csrf_token": _csrf(client, "/staff/login")},
    )
    assert response.status_code == 302, response.text
    return client


def _csrf(client: FlaskClient, url: str) -> str:
    found = CSRF.search(client.get(url).text)
    assert found is not None, url
    return found.group(1)


def _badge_id(app: Flask, slug: str) -> str:
    with app.app_context():
        return str(badge_classes.get_badge_class(get_session(), slug).id)


# --- every page -------------------------------------------------------------------------------


def _start_pages(site: Site) -> list[str]:
    return [
        "/",
        "/catalog",
        "/catalog?q=merkki&eqf=4",
        "/verify",
        f"/verify/{site.credential}",
        f"/verify/{site.revoked}",
        f"/verify/{'0' * 32}",
        f"/credentials/{site.credential}",
        f"/credentials/{site.revoked}",
        f"/credentials/{'0' * 32}",
        site.manage,
        "/no/such/page",
        "/staff/",
        "/staff/badge-classes",
        f"/staff/badge-classes/{HALF_SWEDISH}",
        f"/staff/badge-classes/{HALF_SWEDISH}/edit",
        "/staff/badge-classes/new",
        "/staff/issue/",
        "/staff/issue/bulk",
        "/staff/issue/jobs",
        "/staff/issue/outbox",
        "/staff/issue/approvals",
        "/staff/credentials",
        f"/staff/credentials/{site.credential}",
        f"/staff/credentials/{site.revoked}",
        "/staff/audit",
        "/staff/institution",
        "/staff/users",
        "/staff/tokens",
        "/staff/password",
        "/staff/no/such/page",
    ]


def _local(href: str, lang: str) -> str | None:
    """``href`` as a path to crawl in ``lang``, or None when it leaves the site or is no page."""
    parts = urlsplit(href)
    if parts.scheme not in ("", "http", "https") or not parts.path.startswith("/"):
        return None
    if parts.netloc and parts.netloc not in ("localhost", "issuer.test"):
        return None
    if _NOT_PAGES.search(parts.path):
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"] + [("lang", lang)]
    return f"{parts.path}?{urlencode(query)}"


def _crawl(client: FlaskClient, seen: Seen, starts: list[str]) -> Iterator[str]:
    queue = [path for start in starts if (path := _local(start, seen.lang))]
    visited: set[str] = set()
    while queue and len(visited) < MAX_PAGES:
        path = queue.pop(0)
        key = path.split("?", 1)[0]
        if key in visited:
            continue
        visited.add(key)
        response = client.get(path)
        seen.check(path, response)
        yield path
        if response.content_type.startswith("text/html"):
            for href in _read(response, seen.lang).links:
                found = _local(href, seen.lang)
                if found is not None and found.split("?", 1)[0] not in visited:
                    queue.append(found)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_in_the_readers_language(
    app: Flask, site: Site, world: World, lang: str
) -> None:
    seen = Seen(lang)
    crawled = list(_crawl(_signed_in(app, lang), seen, _start_pages(site)))
    # The crawl reached the areas: public pages, the learner's, verification and staff pages.
    for part in ("/catalog", "/badges/", "/credentials/", "/verify/", "/staff/badge-classes/"):
        assert any(part in path for path in crawled), (part, crawled)
    assert seen.english == {}, f"English on {lang} pages: {seen.english}"


# --- every form error -------------------------------------------------------------------------


def _issue_form_errors(app: Flask, client: FlaskClient, seen: Seen) -> None:
    cases = {**RECIPIENT_CASES, **OPTION_CASES}
    for name, bad in cases.items():
        data = {
            "csrf_token": _csrf(client, "/staff/issue/"),
            "badge_class": _badge_id(app, bad.badge),
            "email": bad.email,
            "name": bad.name,
            "lang": bad.lang,
            "evidence_url": bad.evidence_url,
            "evidence_narrative": bad.evidence_narrative,
            "grade": bad.grade,
            "valid_until": bad.valid_until,
        }
        response = client.post("/staff/issue/", data=data)
        assert response.status_code == 422, name
        seen.check(f"issue form: {name}", response)
    more = {
        "no badge class": {"badge_class": "", "email": "a@b.fi", "name": "A"},
        "dates": {
            "badge_class": _badge_id(app, "test-badge"),
            "email": "a@b.fi",
            "name": "A",
            "activity_start_date": "2026-03-01",
            "activity_end_date": "2026-02-01",
            "valid_until": "2030-06-30T12:00:00",
        },
        "not a date": {
            "badge_class": _badge_id(app, "test-badge"),
            "email": "a@b.fi",
            "name": "A",
            "activity_start_date": "maaliskuussa",
        },
        "language the badge class lacks": {
            "badge_class": _badge_id(app, HALF_SWEDISH),
            "email": "a@b.fi",
            "name": "A",
            "lang": "sv",
        },
    }
    for name, data in more.items():
        data["csrf_token"] = _csrf(client, "/staff/issue/")
        response = client.post("/staff/issue/", data=data)
        assert response.status_code == 422, name
        seen.check(f"issue form: {name}", response)


#: Cohort files, each with problems the check reports (every message ``bulk_csv.parse_csv`` has,
#: but for the 10 MB and 50,000-row limits).
BAD_FILES: dict[str, bytes] = {
    "UTF-16": codecs.BOM_UTF16_LE + "email;name\n".encode("utf-16-le"),
    "Latin-1": "email;name\nmatti@example.fi;Mätti\n".encode("latin-1"),
    "no header": b"matti@example.fi\n",
    "header": b"email;name;;nimi;name;" + b";".join(b"x%d" % i for i in range(12)) + b"\n",
    "missing columns": b"email;lang\nmatti@example.fi;fi\n",
    "only a header": b"email;name\n",
    "rows": (
        "email;name;lang;evidence_url;evidence_narrative;grade;valid_until\n"
        "not an address;Matti;fi;;;;\n"
        "a@example.fi;;fi;;;;\n"
        "b@example.fi;Mat\bti;fi;;;;\n"
        f"c@example.fi;{'M' * 256};fi;;;;\n"
        "d@example.fi;Matti;de;;;;\n"
        "e@example.fi;Matti;sv;;;;\n"
        "f@example.fi;Matti;fi;ftp://x.example/a;;;\n"
        f"g@example.fi;Matti;fi;;{'n' * 10_001};;\n"
        f"h@example.fi;Matti;fi;;;{'5' * 256};\n"
        "i@example.fi;Matti;fi;;;;2001-01-01\n"
        "j@example.fi;Matti;fi;;;;someday\n"
        "k@example.fi;Matti;fi;;;;2030-06-30T12:00:00\n"
        "l@example.fi;Matti;fi;;;;2030-02-30\n"
        "m@example.fi;Matti;fi;;;\n"
        "n@example.fi;Matti;fi;;;;\n"
        "n@example.fi;Matti;fi;;;;\n"
        'o@example.fi;"Matti"x;fi;;;;\n'
    ).encode(),
}


def _csv_errors(app: Flask, client: FlaskClient, seen: Seen) -> None:
    for name, content in BAD_FILES.items():
        for badge in ("test-badge", HALF_SWEDISH):
            response = client.post(
                "/staff/issue/bulk",
                data={
                    "csrf_token": _csrf(client, "/staff/issue/bulk"),
                    "badge_class": _badge_id(app, badge),
                    "lang": "fi",
                    "file": (io.BytesIO(content), "ryhma.csv", "text/csv"),
                },
                content_type="multipart/form-data",
            )
            assert response.status_code == 422, (name, response.text)
            seen.check(f"cohort file: {name} ({badge})", response)


def _badge_form_errors(app: Flask, client: FlaskClient, seen: Seen) -> None:
    empty = client.post(
        "/staff/badge-classes/new",
        data={"csrf_token": _csrf(client, "/staff/badge-classes/new")},
    )
    assert empty.status_code == 422
    seen.check("badge class form: empty", empty)
    edit = f"/staff/badge-classes/{HALF_SWEDISH}/edit"
    untranslated = client.post(
        edit,
        data={
            "csrf_token": _csrf(client, edit),
            "slug": HALF_SWEDISH,
            "version": "1.0",
            "achievement_type": "MicroCredential",
            "name.fi": "Puoliksi ruotsiksi",
            "name.sv": "Halvt på svenska",
            "description.fi": "Kuvaus.",
            "criteria_narrative.fi": "Kriteerit.",
            "eqf_level": "12",
            "published": "1",
        },
    )
    assert untranslated.status_code == 422
    seen.check("badge class form: untranslated", untranslated)
    view = f"/staff/badge-classes/{HALF_SWEDISH}"
    published = client.post(
        f"{view}/publish",
        data={"csrf_token": _csrf(client, view), "published": "1"},
        follow_redirects=True,
    )
    seen.check("publishing an untranslated badge class", published)


@pytest.mark.parametrize("lang", LANGS)
def test_every_form_and_csv_error_is_in_the_readers_language(
    app: Flask, site: Site, world: World, lang: str
) -> None:
    client = _signed_in(app, lang)
    seen = Seen(lang)
    _issue_form_errors(app, client, seen)
    _csv_errors(app, client, seen)
    _badge_form_errors(app, client, seen)
    assert seen.pages > 30
    assert seen.english == {}, f"English on {lang} pages: {seen.english}"


# --- the test tests ---------------------------------------------------------------------------


def test_an_english_message_on_a_finnish_page_is_found() -> None:
    """The comparison finds a source string shown as it is, with its placeholders filled, and
    not one marked as English."""
    page = (
        '<html lang="fi"><body><main><p>the recipient\'s name is required</p>'
        "<p>'ftp://x' is not an http(s) URL</p>"
        '<span lang="en">The digital signature matches the content.</span>'
        "<p>vastaanottajan nimi on pakollinen</p></main></body></html>"
    )
    assert english_words_in("<p>Allekirjoitus: the signature could not be checked</p>", "fi")
    assert english_words_in("<p>Merkki on voimassa.</p><p>Märket är giltigt.</p>", "fi") == []
    assert english_in("<table><tr><th>Revoked</th><td>English</td></tr></table>", "fi") == [
        "Revoked"
    ]
    assert sorted(english_in(page, "fi")) == [
        "%(value)s is not an http(s) URL",
        "the recipient's name is required",
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_the_english_pages_would_fail(app: Flask, site: Site, world: World, lang: str) -> None:
    """The same form errors and pages in English, read as if they were Finnish or Swedish:
    the comparison finds the English messages (so the tests above could fail)."""
    client = _signed_in(app, "en")
    seen = Seen(lang)
    _issue_form_errors(app, client, seen)
    for path in ("/staff/issue/", f"/verify/{site.credential}", "/catalog"):
        seen.check(path, client.get(path))
    assert [what for what in seen.seen if what not in seen.english] == []
    found = {msgid for messages in seen.english.values() for msgid in messages}
    for msgid in (
        "the recipient's name is required",
        "%(value)s is not an http(s) URL",
        "The digital signature matches the content.",
        "How this was checked",
    ):
        assert msgid in found


# --- publishing and issuing check translation --------------------------------------------------


def test_publishing_names_the_missing_fields_in_the_readers_language(
    app: Flask, site: Site, world: World
) -> None:
    client = _signed_in(app, "fi")
    view = f"/staff/badge-classes/{HALF_SWEDISH}"
    answer = client.post(
        f"{view}/publish",
        data={"csrf_token": _csrf(client, view), "published": "1"},
        follow_redirects=True,
    )
    text = _squash(" ".join(_read(answer, "fi").chunks))
    assert (
        "Merkkiluokkaa ei voi julkaista ennen kuin se on käännetty kokonaan. "
        "Puuttuu: Kuvaus (ruotsi), Kriteerit (ruotsi)"
    ) in text
    with app.app_context():
        assert not badge_classes.get_badge_class(get_session(), HALF_SWEDISH).published


def test_the_badge_form_summary_names_fields_by_their_labels(
    app: Flask, site: Site, world: World
) -> None:
    client = _signed_in(app, "sv")
    answer = client.post(
        "/staff/badge-classes/new",
        data={"csrf_token": _csrf(client, "/staff/badge-classes/new"), "eqf_level": "12"},
    )
    assert answer.status_code == 422
    summary = answer.text.split('id="form-errors"', 1)[1].split("</div>", 1)[0]
    links = re.findall(r'<a href="#field-[^"]*">([^<]*)</a>', summary)
    assert "Adressnamn" in links, links
    assert "EQF-nivå" in links, links
    for key in ("slug", "criteria_narrative", "eqf_level", "achievement_type"):
        assert key not in links


def test_the_issue_form_offers_only_complete_languages(
    app: Flask, site: Site, world: World
) -> None:
    client = _signed_in(app, "fi")
    page = client.get(f"/staff/issue/?badge_class={_badge_id(app, 'finnish-only')}").text
    languages = page.split('id="lang"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', languages) == ["fi"]
    assert "(vain kielellä: suomi)" in page
    cohort = client.get(f"/staff/issue/bulk?badge_class={_badge_id(app, 'finnish-only')}").text
    languages = cohort.split('id="lang"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', languages) == ["fi"]
    everything = client.get(f"/staff/issue/?badge_class={_badge_id(app, 'test-badge')}").text
    languages = everything.split('id="lang"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', languages) == ["fi", "sv", "en"]


def test_the_api_refuses_to_publish_or_issue_an_untranslated_language(
    app: Flask, site: Site, world: World
) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.hamk_token}", "Accept-Language": "en"}
    created = client.post(
        "/api/v1/badge-classes",
        json={
            "slug": "half-api",
            "version": "1.0",
            "achievement_type": "Badge",
            "name": {"fi": "Puoliksi", "en": "Half"},
            "description": {"fi": "Kuvaus."},
            "criteria_narrative": {"fi": "Kriteerit.", "en": "Criteria."},
            "published": True,
        },
        headers=headers,
    )
    assert created.status_code == 422
    body = created.get_json()
    assert body["error"] == "validation_failed"
    assert body["errors"] == [
        {
            "field": "description",
            "code": "not_translated",
            "message": "Missing in English: the badge class's name is given in it.",
        }
    ]
    issued = client.post(
        "/api/v1/credentials",
        json={
            "badge_class": "finnish-only",
            "recipient": {"email": "a@example.fi", "name": "A"},
            "lang": "sv",
        },
        headers=headers,
    )
    assert issued.status_code == 422
    assert issued.get_json()["fields"]["lang"] == (
        "badge class 'finnish-only' is not fully translated into Swedish; "
        "missing: Name, Description, Criteria"
    )


# --- vocabulary and verification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "label", "level"),
    [("fi", "Merkki", "EQF-taso 4"), ("sv", "Märke", "EQF-nivå 4"), ("en", "Badge", "EQF level 4")],
)
def test_catalogue_cards_name_the_type_and_level_in_the_readers_language(
    app: Flask, site: Site, world: World, lang: str, label: str, level: str
) -> None:
    client = _signed_in(app, lang)
    with app.app_context(), unit_of_work() as session:
        badge_class_admin.create_badge_class(
            session,
            institutions.get_institution(session, "hamk"),
            {
                "slug": "eqf-four",
                "version": "1.0",
                "achievement_type": "Badge",
                "name": {"fi": "Neljäs", "sv": "Fjärde", "en": "Fourth"},
                "description": {"fi": "K.", "sv": "B.", "en": "D."},
                "criteria_narrative": {"fi": "K.", "sv": "K.", "en": "C."},
                "eqf_level": 4,
            },
            published=True,
        )
    page = client.get(f"/catalog?lang={lang}").text
    card = page.split('data-slug="eqf-four"', 1)[1].split("</article>", 1)[0]
    assert f"{label}\n" in card or f"{label} " in card, card
    assert level in card


def test_verification_checks_are_explained_in_the_readers_language(
    app: Flask, site: Site, world: World
) -> None:
    client = app.test_client()
    page = client.get(f"/verify/{site.revoked}?lang=sv")
    text = _squash(" ".join(_read(page, "sv").chunks))
    assert "Den digitala signaturen stämmer med innehållet." in text
    assert "Utfärdaren har återkallat det." in text
    # The engine's own words stay for whoever repeats the check, marked as English.
    assert re.search(r'<span class="muted" lang="en">\(revoked by the issuer on ', page.text)


def test_the_learners_mails_are_in_their_language(app: Flask, site: Site, world: World) -> None:
    """Every mail in the outbox (issued in Finnish and in Swedish, revoked) speaks the
    credential's language: no source string and no English words in its subject or body."""
    with app.app_context():
        mails = list(get_session().scalars(select(OutboxMail)))
    assert {mail.lang for mail in mails} >= {"fi", "sv"}
    for mail in mails:
        if mail.lang in LANGS:
            text = html.escape(f"{mail.subject}\n{mail.body}")
            assert english_in(text, mail.lang) == [], mail.body
            assert english_words_in(text, mail.lang) == [], mail.body
