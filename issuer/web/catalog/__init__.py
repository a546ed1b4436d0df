"""The public catalogue (``/catalog``) and the public page of each badge class.

``/badges/<slug>/v<version>/<lang>`` is the ``achievement.id`` of every credential issued from
that version in that language: a page for people by default, the OB 3.0 ``Achievement`` as
JSON-LD for programs that ask for ``application/ld+json`` or ``application/json``. The page
carries the anchors the achievement's alignment entries point at (``#workload``,
``#competence-points``, ``#nqf-level``, ``#assessment``, ``#participation``, ``#supervision``,
``#quality-assurance``). ``/badges/<slug>`` shows the current version in the reader's language.

"Which institutions award it": a badge class of an institution is awarded by that institution;
a national one by every institution that has issued it at least once or has said, in the staff
UI, that it awards it ("adopted"), so that it is findable before its first credential.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.core.badgeclass.model import (
    COMPETENCE_AREAS,
    LANGUAGES,
    BadgeClassData,
    missing_translations,
)
from issuer.core.contexts import OB_V3, VC_V2
from issuer.db import get_session
from issuer.models import BadgeClass, BadgeClassVersion, Institution
from issuer.services import badge_class_admin, badge_classes, institutions
from issuer.services.accounts import institution_description
from issuer.services.errors import NotFoundError
from issuer.web.catalog import search
from issuer.web.i18n import current_language

bp = Blueprint("catalog", __name__)

JSON_LD = "application/ld+json"
PAGE_TYPES = ("text/html", JSON_LD, "application/json")

#: Fact keys of ``eu_facts`` -> the row's anchor. The alignment entries of the achievement
#: point at some of these (issuer.core.eu_vocabularies ``*_ANCHOR`` and vocabulary anchors).
FACT_ANCHORS = {
    "learning_outcomes": "learning-outcomes",
    "workload": vocab.WORKLOAD_HOURS_ANCHOR,
    "level": "level",
    "assessment_type": vocab.ASSESSMENT_TYPES.anchor,
    "participation_form": vocab.PARTICIPATION_FORMS.anchor,
    "quality_assurance": vocab.QUALITY_ASSURANCE_ANCHOR,
    "prerequisites": "prerequisites",
    "supervision": vocab.SUPERVISION.anchor,
    "stackability": "stackability",
    "further_information": "further-information",
    "validity": "validity",
}
#: Row labels the EU facts table adds (content in the page's language, like ``vocab.LABELS``).
COMPETENCE_POINTS_LABEL = {
    "fi": "Osaamispisteet",
    "sv": "Kompetenspoäng",
    "en": "VET competence points (osaamispisteet)",
}
NQF_LABEL = {
    "fi": "Kansallinen viitekehys (NQF)",
    "sv": "Nationell referensram (NQF)",
    "en": "National qualifications framework (NQF)",
}


@bp.after_request
def _public_documents(response: Response) -> Response:
    # The JSON-LD is fetched by verifiers and wallets from other origins.
    if response.mimetype in (JSON_LD, "application/json"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- helpers shared with the catalogue listing --------------------------------------------------


achievement_url = urls.achievement_url
image_url = badge_classes.image_url


def complete_languages(bc: BadgeClassData) -> list[str]:
    """Languages in which every text of the badge class exists."""
    return [lang for lang in LANGUAGES if not missing_translations(bc, [lang])]


def _components(
    session: Session, bc: BadgeClassData, base_url: str, lang: str
) -> list[tuple[str, str, str]]:
    """(name, achievement id, slug) of the badge classes a package requires."""
    components = []
    for slug in bc.requires:
        required = badge_classes.find_badge_class(session, slug)
        if required is None:
            continue
        version = badge_classes.current_version(session, required)
        name = badge_classes.parsed(version).name.get(lang)
        components.append((name, achievement_url(base_url, slug, version.version, lang), slug))
    return components


def _facts(bc: BadgeClassData, lang: str) -> list[tuple[str, str, str]]:
    """(anchor, label, value) rows: the engine's EU facts, with workload and level split so
    that competence points and the NQF level have rows (and anchors) of their own."""
    keys_by_label = {vocab.label(key, lang): key for key in FACT_ANCHORS}
    rows: list[tuple[str, str, str]] = []
    for label, value in eu_facts(bc, lang):
        key = keys_by_label.get(label, "")
        if key == "workload" and bc.workload is not None:
            amounts = [
                vocab.format_quantity(amount, unit, lang)
                for amount, unit in ((bc.workload.ects, "ects"), (bc.workload.hours, "hours"))
                if amount is not None
            ]
            if amounts:
                rows.append((FACT_ANCHORS["workload"], label, ", ".join(amounts)))
            if bc.workload.competence_points is not None:
                rows.append(
                    (
                        vocab.COMPETENCE_POINTS_ANCHOR,
                        COMPETENCE_POINTS_LABEL[lang],
                        vocab.format_quantity(
                            bc.workload.competence_points, "competence_points", lang
                        ),
                    )
                )
        elif key == "level":
            if bc.eqf_level is not None:
                rows.append(
                    ("level", label, vocab.LEVEL_NAMES["eqf"][lang].format(level=bc.eqf_level))
                )
            if bc.nqf_level is not None:
                rows.append(
                    (
                        vocab.NQF_ANCHOR,
                        NQF_LABEL[lang],
                        vocab.LEVEL_NAMES["nqf"][lang].format(level=bc.nqf_level),
                    )
                )
        else:
            rows.append((FACT_ANCHORS.get(key, key.replace("_", "-")), label, value))
    return rows


def _document(
    session: Session, badge_class: BadgeClass, version: BadgeClassVersion, lang: str
) -> dict[str, Any]:
    """The OB 3.0 Achievement of ``version`` in ``lang`` as a standalone JSON-LD document:
    what credentials issued from it carry, with the owner's Profile as ``creator`` for an
    institution's own badge class (a national one names its ``creator`` itself)."""
    base_url = get_settings().base_url
    bc = badge_classes.parsed(version)
    creator = None
    if badge_class.institution is not None and bc.creator is None:
        creator = institutions.profile(badge_class.institution, base_url, lang)
    achievement = achievement_json(
        bc,
        lang=lang,
        achievement_id=achievement_url(base_url, badge_class.slug, version.version, lang),
        image_url=image_url(base_url, version),
        related=[
            (other, achievement_url(base_url, badge_class.slug, version.version, other))
            for other in complete_languages(bc)
            if other != lang
        ],
        creator_profile=creator,
        components=[(name, url) for name, url, _ in _components(session, bc, base_url, lang)],
    )
    return {"@context": [VC_V2, OB_V3], **achievement}


def _page(
    session: Session, badge_class: BadgeClass, version: BadgeClassVersion, lang: str
) -> ResponseReturnValue:
    base_url = get_settings().base_url
    bc = badge_classes.parsed(version)
    awarding = badge_class_admin.awarding_institutions(session, badge_class)
    languages = complete_languages(bc)
    context = {
        "badge_class": badge_class,
        "version": version,
        "bc": bc,
        "lang": lang,
        "name": bc.name.get(lang),
        "description": bc.description.get(lang),
        "criteria": bc.criteria_narrative.get(lang) if bc.criteria_narrative else None,
        "outcomes": [outcome.get(lang) for outcome in bc.learning_outcomes],
        "facts": _facts(bc, lang),
        "awarding": [
            (institution, institution.name(lang), institution_description(institution, lang))
            for institution in awarding
        ],
        "areas": [COMPETENCE_AREAS[area].get(lang) for area in bc.competence_areas],
        "skills": [(skill.uri, skill.name.get(lang)) for skill in bc.esco_skills],
        "components": _components(session, bc, base_url, lang),
        "creator": bc.creator,
        "creator_name": bc.creator.name.get(lang) if bc.creator else None,
        "image": url_for(
            "public.badge_image",
            slug=badge_class.slug,
            version=version.version,
            extension=badge_classes.image_extension(version),
        ),
        "versions": [
            (
                other,
                url_for(
                    "catalog.achievement",
                    slug=badge_class.slug,
                    version=version.version,
                    lang=other,
                ),
            )
            for other in languages
        ],
        "achievement_id": achievement_url(base_url, badge_class.slug, version.version, lang),
        "is_current": version.version == badge_class.current_version,
        "current_url": url_for("catalog.badge_page", slug=badge_class.slug),
        "labels": {key: vocab.label(key, lang) for key in vocab.LABELS},
        "title_label": vocab.label("title", lang),
        "awarding_label": vocab.label("awarding_body", lang),
        "country_label": vocab.label("issuer_country", lang),
    }
    response = Response(render_template("catalog/badge.html", **context), mimetype="text/html")
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    if not accept:
        return False
    best = accept.best_match(PAGE_TYPES, default="text/html")
    return best in (JSON_LD, "application/json")


def _version_or_404(
    session: Session, slug: str, number: int
) -> tuple[BadgeClass, BadgeClassVersion]:
    try:
        version = badge_classes.get_version(session, slug, number)
    except NotFoundError:
        abort(404)
    badge_class = version.badge_class
    if not badge_class_admin.is_public(session, badge_class, version):
        abort(404)
    return badge_class, version


# --- routes ------------------------------------------------------------------------------------


@bp.get("/badges/<slug>/v<int:version>/<any(fi, sv, en):lang>")
def achievement(slug: str, version: int, lang: str) -> ResponseReturnValue:
    """The achievement id: HTML for people, JSON-LD by content negotiation."""
    session = get_session()
    badge_class, stored = _version_or_404(session, slug, version)
    if _wants_json():
        document = _document(session, badge_class, stored, lang)
        response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype=JSON_LD)
        response.headers["Vary"] = "Accept"
        return response
    return _page(session, badge_class, stored, lang)


@bp.get("/badges/<slug>")
def badge_page(slug: str) -> ResponseReturnValue:
    """The current version of a badge class, in the reader's language."""
    session = get_session()
    badge_class = badge_classes.find_badge_class(session, slug)
    if badge_class is None:
        abort(404)
    _, stored = _version_or_404(session, slug, badge_class.current_version)
    lang = current_language()
    if _wants_json():
        document = _document(session, badge_class, stored, lang)
        response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype=JSON_LD)
        response.headers["Vary"] = "Accept, Accept-Language"
        return response
    return _page(session, badge_class, stored, lang)


@bp.get("/catalog")
def catalog() -> ResponseReturnValue:
    session = get_session()
    lang = current_language()
    query = search.CatalogQuery.from_args(request.args)
    entries = search.published_entries(session, lang)
    results = search.filter_entries(entries, query)
    institutions_list = list(session.scalars(select(Institution).order_by(Institution.name_fi)))
    return render_template(
        "catalog/index.html",
        query=query,
        results=results,
        total=len(entries),
        institutions=[(i.slug, i.name(lang)) for i in institutions_list],
        areas=[(key, text.get(lang)) for key, text in COMPETENCE_AREAS.items()],
        levels=range(1, 9),
    )


@bp.get("/catalog/institutions/<slug>/logo")
def institution_logo(slug: str) -> ResponseReturnValue:
    institution = institutions.find_institution(get_session(), slug)
    if institution is None or institution.logo is None or institution.logo_media_type is None:
        abort(404)
    response = Response(institution.logo, content_type=institution.logo_media_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
