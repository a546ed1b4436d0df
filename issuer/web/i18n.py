"""Languages: every page and message in Finnish, Swedish and English (DESIGN.md "Languages").

The reader chooses: an explicit ``?lang=`` (remembered in a cookie), then the cookie, then the
browser's ``Accept-Language``, then Finnish. Source strings are English; catalogs live in
``issuer/translations/<lang>/LC_MESSAGES/messages.po`` and are compiled to ``.mo`` on start-up
when missing or older than the ``.po`` (so a fresh checkout works without a build step).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_translations, gettext
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from issuer.services import dates
from issuer.services.translation import (
    TRANSLATIONS_DIR,
    compile_catalogs,
    english,
    use_reader_translator,
)

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
        or DEFAULT_LANGUAGE
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

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": current_language(),
            "supported_languages": SUPPORTED_LANGUAGES,
            "language_names": LANGUAGE_NAMES,
            _TRANSLATIONS: get_translations(),
        }
