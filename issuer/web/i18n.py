"""Languages: every page and message in Finnish, Swedish and English (DESIGN.md "Languages").

The reader chooses: an explicit ``?lang=`` (remembered in a cookie), then the cookie, then the
browser's ``Accept-Language``, then Finnish. Source strings are English; catalogs live in
``issuer/translations/<lang>/LC_MESSAGES/messages.po`` and are compiled to ``.mo`` on start-up
when missing or older than the ``.po`` (so a fresh checkout works without a build step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_translations, gettext
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from issuer.services import dates, submissions
from issuer.services.errors import InvalidInputError
from issuer.services.translation import (
    TRANSLATIONS_DIR,
    compile_catalogs,
    english,
    use_reader_translator,
)
from issuer.web import vocabulary

SUPPORTED_LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}
COOKIE = "merkki_lang"

babel = Babel()


def normalize_language(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else None


def _default_language() -> str:
    """The language when the request names none: Finnish for people, but English for the JSON
    APIs, whose scripts and integrations were written against its English messages before
    they followed ``Accept-Language``."""
    if request.path.startswith(("/api/", "/vc-api/")):
        return "en"
    return DEFAULT_LANGUAGE


def select_locale() -> str:
    """The reader's language for this request (stored on ``g.lang`` for templates)."""
    known = g.get("lang")
    if isinstance(known, str):
        # Chosen already in this request (``current_language`` runs before Flask-Babel asks):
        # the same request gives the same answer, so the headers are not parsed twice.
        return known
    chosen = (
        normalize_language(request.args.get("lang"))
        or normalize_language(request.cookies.get(COOKIE))
        or request.accept_languages.best_match(SUPPORTED_LANGUAGES)
        or _default_language()
    )
    g.lang = chosen
    return chosen


def current_language() -> str:
    lang = getattr(g, "lang", None)
    return lang if isinstance(lang, str) else select_locale()


def _remember_language(response: Response) -> Response:
    chosen = normalize_language(request.args.get("lang"))
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(
            COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    vary = response.headers.get("Vary")
    if not vary or "Accept-Language" not in vary:
        response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    return response


#: The template context variable holding the render's translations (see ``_template_gettext``).
_TRANSLATIONS = "_merkki_translations"


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_()`` / ``gettext()`` in templates, with the same result as Jinja's newstyle gettext
    over Flask-Babel's (Markup under autoescape, always ``%``-formatted).

    Why not theirs: a page makes ~20 ``_()`` calls, and each went through Jinja's alias, two
    ``Context.call`` and Flask-Babel's context-local look-ups of the locale and the catalog
    (~1 ms of processor time per verification page). The catalog is looked up once per render
    instead (``language_context``), which is the one the locale of this request selects; a
    template rendered without it (no request context processors) falls back to the look-up.
    """
    translations = context.get(_TRANSLATIONS) or get_translations()
    text: str = translations.ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - our own catalog text, as Jinja does
    return text % variables


@dataclass(frozen=True, slots=True)
class LanguageOption:
    code: str
    name: str
    current: bool
    #: The page in this language: the same path and query string with ``lang`` set (a link, or
    #: the ``formaction`` of a button that sends the page's form again).
    href: str


@dataclass(frozen=True, slots=True)
class LanguageSwitch:
    """The language switcher of the page being rendered (``base.html``)."""

    options: tuple[LanguageOption, ...]
    #: The fields to send again (name, value) when the page is the answer to a form that only
    #: reads (``REPOSTABLE``); None: the languages are plain links.
    repost: tuple[tuple[str, str], ...] | None = None


def _verification_fields() -> list[tuple[str, str]] | None:
    """The verification form's fields, the uploaded file's credential as pasted JSON (a
    browser cannot be made to send a file again); None when the file holds none to paste."""
    try:
        form, files = request.form, request.files
    except HTTPException:
        # The body itself was refused (413, a broken multipart body): the answer is that
        # refusal's page, and there is nothing to send again.
        return None
    fields = [(name, value) for name, value in form.items(multi=True) if name != "json"]
    pasted = form.get("json", "")
    upload = files.get("file")
    if isinstance(upload, FileStorage) and upload.filename:
        try:
            upload.stream.seek(0)
            data = upload.stream.read(submissions.MAX_SUBMISSION_BYTES + 1)
            _, text, _ = submissions.read_submission(data)
        except (OSError, InvalidInputError):
            return None
        if text is None:
            return None
        pasted = text
    return [*fields, ("json", _inert_json(pasted))]


#: In JSON text these can only stand inside strings, where their escapes mean the same.
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _inert_json(text: str) -> str:
    """``text`` with ``<``, ``>`` and ``&`` written as JSON escapes: the same document to any
    JSON reader (so the same verdict), and nothing in the page's source that looks like markup
    or an entity, even escaped: the page of a credential that is not genuine does not carry its
    claims as readable text (``verify/result.html``)."""
    return text.translate(_JSON_ESCAPES)


#: Endpoints whose POST only reads, so sending it again changes nothing (DESIGN.md:
#: "Verifying writes nothing"): on their answers the language switcher sends the same form again
#: in the other language, and the reader keeps the result (a verdict on a pasted credential has
#: no address of its own). Every other POST answer links to the page's address instead: sending
#: again a form that issues or revokes would do it twice.
REPOSTABLE = {"verify.submit": _verification_fields}


def _switch_url(code: str) -> str:
    """The current address with ``lang=code``: the query string (a staff search, its filters
    and page) is kept. A reference of a query alone (RFC 3986 section 5.2.2) keeps the path."""
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    query.append(("lang", code))
    return f"?{urlencode(query)}"


def language_switch() -> LanguageSwitch:
    """The switcher for this request (module docstring of ``base.html``'s language nav)."""
    current = current_language()
    options = tuple(
        LanguageOption(code, LANGUAGE_NAMES[code], code == current, _switch_url(code))
        for code in SUPPORTED_LANGUAGES
    )
    repost = None
    fields_of = REPOSTABLE.get(request.endpoint or "") if request.method == "POST" else None
    fields = fields_of() if fields_of is not None else None
    if fields is not None:
        # A form that needs one gets a fresh CSRF token (the sent one may be the stale cause
        # of the answer).
        repost = tuple(
            (name, generate_csrf() if name == "csrf_token" else value) for name, value in fields
        )
    return LanguageSwitch(options, repost)


def reader_translation(message: str, /, **values: object) -> str:
    """A service's refusal in the reader's language (``issuer.services.translation``): the
    request's, English outside a request (the CLI and background jobs speak English)."""
    if not has_request_context():
        return english(message, **values)
    return str(gettext(message, **values))


def format_when(value: datetime | date | None, what: str = "datetime") -> str:
    """The ``when`` filter of every template: ``{{ moment|when }}`` (date and time) or
    ``{{ moment|when("date") }}``, in Helsinki time and the reader's language
    (``issuer.services.dates``: one place for the formats). Empty for None."""
    if value is None:
        return ""
    if what == "date" or not isinstance(value, datetime):
        return dates.format_date(value, current_language())
    return dates.format_datetime(value, current_language())


def init_app(app: Flask) -> None:
    compile_catalogs()
    use_reader_translator(reader_translation)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    # Flask-Babel's own filters too, should a template still use them: Finnish time.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Helsinki")
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember_language)
    app.jinja_env.globals["_"] = _template_gettext
    app.jinja_env.globals["gettext"] = _template_gettext
    app.jinja_env.filters["when"] = format_when
    vocabulary.init_app(app)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": current_language(),
            "supported_languages": SUPPORTED_LANGUAGES,
            "language_names": LANGUAGE_NAMES,
            "language_switch": language_switch,
            _TRANSLATIONS: get_translations(),
        }
