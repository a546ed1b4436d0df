"""Badge classes in the staff UI: list, create, view, edit, copy, publish, adopt a national
one, and how a package is awarded.

National badge classes (no institution) are read-only here except for service admins; any
institution may copy one and adapt the copy, or adopt it as it is.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.fields import FieldError
from issuer.core.badgeclass.model import ACHIEVEMENT_TYPES, COMPETENCE_AREAS, MICRO_CREDENTIAL
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, Institution
from issuer.models.accounts import Role
from issuer.services import badge_class_admin, badge_classes, images
from issuer.services.badge_class_admin import BadgeClassInvalidError
from issuer.services.errors import InvalidInputError
from issuer.web.auth import actor_may_act_for, current_actor, login_required
from issuer.web.i18n import current_language
from issuer.web.staff import badge_form, badge_preview, bp
from issuer.web.staff.badge_form import data_to_form, errors_by_field, form_to_data
from issuer.web.staff.common import acting_institution, render
from issuer.web.staff.forms import ActionForm, AutoIssueForm, CopyForm

#: AchievementType choices: the EU micro-credential first, the rest alphabetically.
TYPE_CHOICES = [MICRO_CREDENTIAL, *sorted(ACHIEVEMENT_TYPES - {MICRO_CREDENTIAL})]


def _visible(session: Session, slug: str) -> tuple[Institution | None, BadgeClass]:
    institution = acting_institution(session)
    return institution, badge_class_admin.get_visible(session, institution, slug)


def _require_writable(badge_class: BadgeClass) -> None:
    """National badge classes are read-only except for service admins (403: they are
    visible); other institutions' were already "not found"."""
    if not actor_may_act_for(current_actor(), badge_class.institution_id):
        abort(403)


def _url(endpoint: str, **values: Any) -> str:
    chosen = request.values.get("institution")
    if chosen and current_actor().institution_id is None:
        values["institution"] = chosen
    return url_for(endpoint, **values)


def _form_context(
    session: Session, institution: Institution | None, exclude: str | None
) -> dict[str, Any]:
    lang = current_language()
    candidates = [
        bc
        for bc in badge_class_admin.visible_to(session, institution)
        if bc.slug != exclude and (institution is not None or bc.institution_id is None)
    ]
    names = {
        bc.slug: badge_classes.parsed(badge_classes.current_version(session, bc)).name.get(lang)
        for bc in candidates
    }

    def choices(vocabulary: vocab.Vocabulary) -> list[tuple[str, str]]:
        return [(key, concept.labels[lang]) for key, concept in vocabulary.concepts.items()]

    return {
        "type_choices": TYPE_CHOICES,
        "assessment_choices": choices(vocab.ASSESSMENT_TYPES),
        "participation_choices": choices(vocab.PARTICIPATION_FORMS),
        "supervision_choices": choices(vocab.SUPERVISION),
        "area_choices": [(key, text.get(lang)) for key, text in COMPETENCE_AREAS.items()],
        "require_choices": sorted(names.items(), key=lambda item: item[1].lower()),
        "levels": range(1, 9),
        "languages": (("fi", _("Finnish")), ("sv", _("Swedish")), ("en", _("English"))),
        "action_form": ActionForm(),
    }


def _read_upload(errors: list[FieldError]) -> images.CleanImage | None:
    """The uploaded artwork, checked and cleaned; JPEG and WebP are converted to PNG
    (``issuer.services.images``). A refusal is a translated error on the image field that
    says what is wrong with the file."""
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        return None
    try:
        image = images.check_image(
            upload.read(images.MAX_IMAGE_BYTES + 1),
            filename=upload.filename,
            content_type=upload.mimetype,
            convert=True,
        )
    except images.ImageTooLargeError:
        errors.append(FieldError("image", "too_large", _("The image is larger than 1 MiB.")))
        return None
    except images.ImageDimensionsError:
        errors.append(
            FieldError(
                "image",
                "too_many_pixels",
                _(
                    "The image has too many pixels: at most %(side)s × %(side)s are accepted.",
                    side=images.MAX_SIDE,
                ),
            )
        )
        return None
    except images.UnsupportedImageTypeError:
        errors.append(
            FieldError(
                "image",
                "unsupported",
                _(
                    "This type of file cannot be used as artwork. Upload a PNG, JPEG, WebP or "
                    "SVG image."
                ),
            )
        )
        return None
    except images.ImageError:
        errors.append(
            FieldError(
                "image",
                "invalid",
                _(
                    "The file could not be read as an image: it is damaged, or its content is "
                    "not what its name says. Upload a PNG, JPEG, WebP or SVG image whose "
                    "content matches its file name."
                ),
            )
        )
        return None
    if image.removed:
        flash(
            _(
                "Unsafe parts were removed from the SVG image: %(parts)s",
                parts="; ".join(sorted(set(image.removed))),
            ),
            "warning",
        )
    return image


def _render_form(
    session: Session,
    institution: Institution | None,
    *,
    values: dict[str, Any],
    errors: list[FieldError],
    badge_class: BadgeClass | None,
    published: bool,
    auto_issue: bool,
    status: int = 200,
    focus: str = "",
) -> ResponseReturnValue:
    by_field = errors_by_field(errors)
    # The image's own errors are already translated (raised here, not by the engine).
    by_field.update({e.field: e.message for e in errors if e.field == "image"})
    return render(
        "staff/badge_class_form.html",
        status,
        values=values,
        errors=by_field,
        error_targets=badge_form.error_targets(by_field),
        focus=focus,
        badge_class=badge_class,
        institution=institution,
        published=published,
        auto_issue=auto_issue,
        url=_url,
        **_form_context(session, institution, badge_class.slug if badge_class else None),
    )


# --- list and view -----------------------------------------------------------------------------


@bp.get("/badge-classes")
@login_required()
def badge_classes_list() -> ResponseReturnValue:
    session = get_session()
    institution = acting_institution(session)
    lang = current_language()
    rows = []
    for bc in badge_class_admin.visible_to(session, institution):
        version = badge_classes.current_version(session, bc)
        data = badge_classes.parsed(version)
        rows.append(
            {
                "badge_class": bc,
                "name": data.name.get(lang),
                "type": data.achievement_type,
                "version": version.version,
                "national": bc.institution_id is None,
                "package": bool(data.requires),
                "adopted": institution is not None
                and bc.institution_id is None
                and badge_class_admin.is_adopted(session, institution, bc),
            }
        )
    return render("staff/badge_classes.html", rows=rows, institution=institution, url=_url)


@bp.get("/badge-classes/<slug>")
@login_required()
def badge_class_view(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution, badge_class = _visible(session, slug)
    lang = current_language()
    version = badge_classes.current_version(session, badge_class)
    data = badge_classes.parsed(version)
    return render(
        "staff/badge_class.html",
        badge_class=badge_class,
        version=version,
        versions=[(v, badge_class_admin.issued_count(session, v)) for v in badge_class.versions],
        data=data,
        name=data.name.get(lang),
        institution=institution,
        writable=actor_may_act_for(current_actor(), badge_class.institution_id),
        adopted=institution is not None
        and badge_class.institution_id is None
        and badge_class_admin.is_adopted(session, institution, badge_class),
        auto_issue=institution is not None
        and badge_class_admin.auto_issue(session, institution, badge_class),
        action_form=ActionForm(),
        auto_form=AutoIssueForm(),
        url=_url,
        lang=lang,
    )


def _copy_slug(session: Session, slug: str) -> str:
    candidate = f"{slug}-oma"[: badge_class_admin.MAX_SLUG]
    number = 2
    while badge_classes.find_badge_class(session, candidate) is not None:
        candidate = f"{slug}-oma-{number}"[: badge_class_admin.MAX_SLUG]
        number += 1
    return candidate


# --- create and edit ---------------------------------------------------------------------------


def _not_saving(
    session: Session,
    institution: Institution | None,
    badge_class: BadgeClass | None,
    owner: Institution | None,
) -> ResponseReturnValue | None:
    """The answer to a button that does not save: a learning-outcome or skill row added or
    removed (the form again, as typed), or the preview of the learner page. None for Save."""
    action = request.form.get("action") or badge_form.SAVE
    published = request.form.get("published") == "1"
    auto_issue = request.form.get("auto_issue") == "1"
    if badge_form.is_row_action(action):
        rearranged = badge_form.rearrange(request.form, action)
        if badge_class is not None:
            rearranged.values["slug"] = badge_class.slug
        return _render_form(
            session,
            institution,
            values=rearranged.values,
            errors=[],
            badge_class=badge_class,
            published=published,
            auto_issue=auto_issue,
            focus=rearranged.focus,
        )
    if action == badge_form.PREVIEW:
        data = form_to_data(request.form)
        if badge_class is not None:
            data["slug"] = badge_class.slug
        image_errors: list[FieldError] = []
        image = _read_upload(image_errors)
        return badge_preview.render_preview(
            session, data, institution=owner, badge_class=badge_class, image=image
        )
    return None


@bp.route("/badge-classes/new", methods=["GET", "POST"])
@login_required(Role.ISSUER)
def badge_class_new() -> ResponseReturnValue:
    session = get_session()
    institution = acting_institution(session)
    if request.method == "GET":
        values = data_to_form({"version": "1.0", "achievement_type": MICRO_CREDENTIAL})
        return _render_form(
            session,
            institution,
            values=values,
            errors=[],
            badge_class=None,
            published=False,
            auto_issue=False,
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    answer = _not_saving(session, institution, None, institution)
    if answer is not None:
        return answer
    data = form_to_data(request.form)
    published = request.form.get("published") == "1"
    auto_issue = request.form.get("auto_issue") == "1"
    errors: list[FieldError] = []
    image = _read_upload(errors)
    if not errors:
        try:
            with unit_of_work() as write:
                saved = badge_class_admin.create_badge_class(
                    write,
                    institution,
                    data,
                    image=image,
                    published=published,
                    auto_issue=auto_issue,
                )
                slug = saved.badge_class.slug
        except BadgeClassInvalidError as error:
            errors = error.errors
        else:
            flash(_("The badge class has been created."), "success")
            return redirect(_url("staff.badge_class_view", slug=slug))
    else:
        errors += badge_class_admin.validate(session, data, institution)
    values = data_to_form(data)
    return _render_form(
        session,
        institution,
        values=values,
        errors=errors,
        badge_class=None,
        published=published,
        auto_issue=auto_issue,
        status=422,
    )


@bp.route("/badge-classes/<slug>/edit", methods=["GET", "POST"])
@login_required(Role.ISSUER)
def badge_class_edit(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution, badge_class = _visible(session, slug)
    _require_writable(badge_class)
    owner = badge_class.institution
    current = badge_classes.current_version(session, badge_class)
    if request.method == "GET":
        return _render_form(
            session,
            institution,
            values=data_to_form(current.data),
            errors=[],
            badge_class=badge_class,
            published=badge_class.published,
            auto_issue=owner is not None
            and badge_class_admin.auto_issue(session, owner, badge_class),
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    answer = _not_saving(session, institution, badge_class, owner)
    if answer is not None:
        return answer
    data = form_to_data(request.form)
    data["slug"] = badge_class.slug  # the slug never changes (URLs are built from it)
    published = request.form.get("published") == "1"
    auto_issue = request.form.get("auto_issue") == "1"
    errors: list[FieldError] = []
    image = _read_upload(errors)
    if not errors:
        try:
            with unit_of_work() as write:
                saved = badge_class_admin.update_badge_class(write, badge_class, data, image=image)
                badge_class_admin.set_published(write, badge_class, published)
                if owner is not None:
                    badge_class_admin.set_auto_issue(write, owner, badge_class, auto_issue)
                new_version = saved.new_version and saved.changed
                number = saved.version.version
        except BadgeClassInvalidError as error:
            errors = error.errors
        else:
            if new_version:
                flash(
                    _(
                        "Saved as version %(number)s. Credentials already issued keep the "
                        "version they were issued from.",
                        number=number,
                    ),
                    "success",
                )
            else:
                flash(_("The badge class has been saved."), "success")
            return redirect(_url("staff.badge_class_view", slug=slug))
    else:
        errors += badge_class_admin.validate(session, data, owner, existing=badge_class)
    return _render_form(
        session,
        institution,
        values=data_to_form(data),
        errors=errors,
        badge_class=badge_class,
        published=published,
        auto_issue=auto_issue,
        status=422,
    )


# --- copy, publish, adopt, auto-issue ---------------------------------------------------------


@bp.route("/badge-classes/<slug>/copy", methods=["GET", "POST"])
@login_required(Role.ISSUER)
def badge_class_copy(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution, badge_class = _visible(session, slug)
    if institution is None:
        # A copy belongs to an institution; a service admin picks which one first.
        abort(404)
    form = CopyForm()
    if request.method == "GET":
        form = CopyForm(formdata=None, slug=_copy_slug(session, slug))
        return render("staff/copy.html", form=form, badge_class=badge_class, url=_url)
    status = 400
    if form.validate_on_submit():
        try:
            with unit_of_work() as write:
                saved = badge_class_admin.copy_badge_class(
                    write, badge_class, institution, (form.slug.data or "").strip()
                )
                new_slug = saved.badge_class.slug
        except BadgeClassInvalidError as error:
            form.slug.errors = [
                errors_by_field(error.errors).get("slug")
                or _("The copy could not be made: %(reason)s", reason=error.message)
            ]
            status = 422
        else:
            flash(_("A copy has been made. Adapt it and publish it when it is ready."), "success")
            return redirect(_url("staff.badge_class_edit", slug=new_slug))
    return render("staff/copy.html", status, form=form, badge_class=badge_class, url=_url)


@bp.post("/badge-classes/<slug>/publish")
@login_required(Role.ISSUER)
def badge_class_publish(slug: str) -> ResponseReturnValue:
    session = get_session()
    _owner, badge_class = _visible(session, slug)
    _require_writable(badge_class)
    if not ActionForm().validate_on_submit():
        abort(400)
    published = request.form.get("published") == "1"
    with unit_of_work() as write:
        badge_class_admin.set_published(write, badge_class, published)
    flash(
        _("The badge class is now public in the catalogue.")
        if published
        else _("The badge class has been withdrawn from the catalogue."),
        "success",
    )
    return redirect(_url("staff.badge_class_view", slug=slug))


@bp.post("/badge-classes/<slug>/adopt")
@login_required(Role.ISSUER)
def badge_class_adopt(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution, badge_class = _visible(session, slug)
    if institution is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    adopted = request.form.get("adopted") == "1"
    try:
        with unit_of_work() as write:
            badge_class_admin.set_adopted(write, institution, badge_class, adopted)
    except InvalidInputError:
        abort(400)
    flash(
        _("The catalogue now lists your institution as awarding this badge.")
        if adopted
        else _("Your institution is no longer listed as awarding this badge."),
        "success",
    )
    return redirect(_url("staff.badge_class_view", slug=slug))


@bp.post("/badge-classes/<slug>/auto-issue")
@login_required(Role.ISSUER)
def badge_class_auto_issue(slug: str) -> ResponseReturnValue:
    session = get_session()
    institution, badge_class = _visible(session, slug)
    if institution is None:
        abort(404)
    form = AutoIssueForm()
    if not form.validate_on_submit():
        abort(400)
    with unit_of_work() as write:
        badge_class_admin.set_auto_issue(
            write, institution, badge_class, bool(form.auto_issue.data)
        )
    flash(_("The setting has been saved."), "success")
    return redirect(_url("staff.badge_class_view", slug=slug))
