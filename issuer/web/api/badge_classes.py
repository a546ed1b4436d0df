"""Badge classes in the JSON API (bearer token; ``issuer.web.auth.api_auth``).

| Method and path | What |
|---|---|
| ``GET /api/v1/badge-classes`` | the token's institution's badge classes and the national ones |
| ``POST /api/v1/badge-classes`` | create one (201, ``Location``) |
| ``GET /api/v1/badge-classes/<slug>`` | one |
| ``PUT /api/v1/badge-classes/<slug>`` | replace its content (a new version once issued) |
| ``PUT /api/v1/badge-classes/<slug>/image`` | new artwork: the PNG or SVG bytes as the body |
| ``POST /api/v1/badge-classes/<slug>/copy`` | copy (e.g. a national one) as the institution's own |

A request body is a badge class in the badge.json format (badge_templates/README.md), plus two
optional keys that are not part of the format: ``published`` and ``auto_issue`` (booleans).
Invalid content answers 422 ``{"error": "validation_failed", "errors": [{"field", "code",
"message"}, ...]}`` with one error per field: for a ``MicroCredential`` every missing EU element
is listed. Another institution's badge classes are 404; national ones are read-only (403).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.core.badgeclass.fields import FieldError
from issuer.core.badgeclass.model import LANGUAGES
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, Institution
from issuer.models.accounts import Role
from issuer.services import badge_class_admin, badge_classes, images
from issuer.services.badge_class_admin import BadgeClassInvalidError
from issuer.web.api import bp
from issuer.web.auth import actor_may_act_for, api_auth, current_actor, institution_for_actor
from issuer.web.errors import error_response
from issuer.web.ratelimit import limit_api

#: Keys of a request body that are settings, not badge-class content.
SETTINGS_KEYS = ("published", "auto_issue")


def _validation_failed(errors: list[FieldError]) -> Response:
    response = jsonify(
        {
            "error": "validation_failed",
            "message": f"the badge class is not valid ({len(errors)} field(s))",
            "errors": [
                {"field": error.field, "code": error.code, "message": error.message}
                for error in errors
            ],
        }
    )
    response.status_code = 422
    return response


def _body() -> tuple[dict[str, Any], dict[str, bool], list[FieldError]] | Response:
    """The badge-class content and the settings of the request body; settings of the wrong
    type are field errors."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(
            400, "the body must be a JSON object (Content-Type: application/json)", code="bad_json"
        )
    data = {key: value for key, value in body.items() if key not in SETTINGS_KEYS}
    settings: dict[str, bool] = {}
    errors = []
    for key in SETTINGS_KEYS:
        if key not in body or body[key] is None:
            continue
        if isinstance(body[key], bool):
            settings[key] = body[key]
        else:
            errors.append(FieldError(key, "type", "expected true or false"))
    return data, settings, errors


def _representation(
    session: Session, badge_class: BadgeClass, institution: Institution
) -> dict[str, Any]:
    base_url = get_settings().base_url
    version = badge_classes.current_version(session, badge_class)
    extension = badge_classes.image_extension(version)
    slug = badge_class.slug
    return {
        "id": badge_class.id,
        "slug": slug,
        "institution": badge_class.institution.slug if badge_class.institution else None,
        "national": badge_class.institution_id is None,
        "published": badge_class.published,
        "auto_issue": badge_class_admin.auto_issue(session, institution, badge_class),
        "current_version": version.version,
        "achievement_ids": {
            lang: urls.achievement_url(base_url, slug, version.version, lang) for lang in LANGUAGES
        },
        "image_url": urls.artwork_url(base_url, slug, version.version, extension),
        "page_url": urls.badge_page_url(base_url, slug),
        "versions": [
            {
                "version": v.version,
                "created_at": v.created_at.isoformat(),
                "issued": badge_class_admin.issued_count(session, v),
            }
            for v in badge_class.versions
        ],
        "created_at": badge_class.created_at.isoformat(),
        "updated_at": badge_class.updated_at.isoformat(),
        "data": version.data,
    }


def _visible(session: Session, institution: Institution, slug: str) -> BadgeClass:
    # Another institution's badge class is "not found", like one that does not exist.
    return badge_class_admin.get_visible(session, institution, slug)


def _read_only(badge_class: BadgeClass) -> Response | None:
    if actor_may_act_for(current_actor(), badge_class.institution_id):
        return None
    return error_response(
        403,
        "national badge classes are read-only; copy one to adapt it",
        code="forbidden",
    )


@bp.get("/badge-classes")
@limit_api
@api_auth()
def list_badge_classes() -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    return jsonify(
        {
            "badge_classes": [
                _representation(session, badge_class, institution)
                for badge_class in badge_class_admin.visible_to(session, institution)
            ]
        }
    )


@bp.post("/badge-classes")
@limit_api
@api_auth(Role.ISSUER)
def create_badge_class() -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    parsed = _body()
    if isinstance(parsed, Response):
        return parsed
    data, settings, errors = parsed
    if errors:
        return _validation_failed(badge_class_admin.validate(session, data, institution) + errors)
    try:
        with unit_of_work() as write:
            saved = badge_class_admin.create_badge_class(
                write,
                institution,
                data,
                published=settings.get("published", False),
                auto_issue=settings.get("auto_issue"),
            )
            body = _representation(write, saved.badge_class, institution)
    except BadgeClassInvalidError as error:
        return _validation_failed(error.errors)
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = urls.api_badge_class_url(get_settings().base_url, body["slug"])
    return response


@bp.get("/badge-classes/<slug>")
@limit_api
@api_auth()
def get_badge_class(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    return jsonify(_representation(session, _visible(session, institution, slug), institution))


@bp.put("/badge-classes/<slug>")
@limit_api
@api_auth(Role.ISSUER)
def update_badge_class(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    badge_class = _visible(session, institution, slug)
    refused = _read_only(badge_class)
    if refused is not None:
        return refused
    parsed = _body()
    if isinstance(parsed, Response):
        return parsed
    data, settings, errors = parsed
    data.setdefault("slug", slug)
    if errors:
        return _validation_failed(
            badge_class_admin.validate(session, data, institution, existing=badge_class) + errors
        )
    try:
        with unit_of_work() as write:
            saved = badge_class_admin.update_badge_class(write, badge_class, data)
            if "published" in settings:
                badge_class_admin.set_published(write, badge_class, settings["published"])
            if "auto_issue" in settings:
                badge_class_admin.set_auto_issue(
                    write, institution, badge_class, settings["auto_issue"]
                )
            body = _representation(write, badge_class, institution)
            body["new_version"] = saved.new_version and saved.changed
    except BadgeClassInvalidError as error:
        return _validation_failed(error.errors)
    return jsonify(body)


@bp.put("/badge-classes/<slug>/image")
@limit_api
@api_auth(Role.ISSUER)
def put_badge_class_image(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    badge_class = _visible(session, institution, slug)
    refused = _read_only(badge_class)
    if refused is not None:
        return refused
    if request.content_length is not None and request.content_length > images.MAX_IMAGE_BYTES:
        return error_response(
            413, f"at most {images.MAX_IMAGE_BYTES // 1024} KiB", code="image_too_large"
        )
    data = request.stream.read(images.MAX_IMAGE_BYTES + 1)
    try:
        image = images.check_image(data, content_type=request.content_type)
    except images.ImageTooLargeError as error:
        return error_response(413, error.message, code=error.code)
    except images.UnsupportedImageTypeError as error:
        return error_response(415, error.message, code=error.code)
    except images.ImageError as error:
        return error_response(422, error.message, code=error.code)
    current = badge_classes.current_version(session, badge_class)
    with unit_of_work() as write:
        saved = badge_class_admin.update_badge_class(write, badge_class, current.data, image=image)
        body = _representation(write, badge_class, institution)
        body["new_version"] = saved.new_version and saved.changed
        body["removed_from_svg"] = list(image.removed)
    return jsonify(body)


@bp.post("/badge-classes/<slug>/copy")
@limit_api
@api_auth(Role.ISSUER)
def copy_badge_class(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_for_actor(session)
    source = _visible(session, institution, slug)
    body = request.get_json(silent=True)
    new_slug = body.get("slug") if isinstance(body, dict) else None
    if not isinstance(new_slug, str):
        return _validation_failed([FieldError("slug", "required", "the copy's slug is required")])
    try:
        with unit_of_work() as write:
            saved = badge_class_admin.copy_badge_class(write, source, institution, new_slug)
            result = _representation(write, saved.badge_class, institution)
    except BadgeClassInvalidError as error:
        return _validation_failed(error.errors)
    response = jsonify(result)
    response.status_code = 201
    response.headers["Location"] = urls.api_badge_class_url(get_settings().base_url, new_slug)
    return response
