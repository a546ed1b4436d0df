"""Institution admins: the institution's profile and logo, its staff, its API tokens.

A service admin reaches any institution's pages with ``?institution=<slug>`` (without it, a
list to choose from); everybody else only ever sees their own institution's.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.services import accounts, images
from issuer.services.errors import ServiceError
from issuer.services.institutions import InstitutionDetailError, InstitutionDetails
from issuer.web.auth import current_actor, login_required
from issuer.web.staff import bp
from issuer.web.staff.common import (
    acting_institution,
    institution_or_chooser,
    institution_url,
    render,
)
from issuer.web.staff.forms import ActionForm, ProfileForm, TokenForm, UserForm

# --- profile -----------------------------------------------------------------------------------


@bp.route("/institution", methods=["GET", "POST"])
@login_required(Role.INSTITUTION_ADMIN)
def institution_profile() -> ResponseReturnValue:
    session = get_session()
    found = institution_or_chooser(session, "staff.institution_profile")
    if not isinstance(found, Institution):
        return found
    institution = found
    form = ProfileForm(obj=institution)
    status = 200
    if form.validate_on_submit():
        details = InstitutionDetails(
            slug=institution.slug,
            name_fi=form.name_fi.data or "",
            name_sv=form.name_sv.data,
            name_en=form.name_en.data,
            url=form.url.data,
            email=form.email.data,
            street_address=form.street_address.data,
            postal_code=form.postal_code.data,
            address_locality=form.address_locality.data,
            address_country=form.address_country.data,
            address_country_code=(form.address_country_code.data or "").strip().upper(),
            business_id=form.business_id.data,
            oid=form.oid.data,
        )
        descriptions = {
            "fi": form.description_fi.data,
            "sv": form.description_sv.data,
            "en": form.description_en.data,
        }
        upload = request.files.get("logo")
        try:
            logo = None
            if upload is not None and upload.filename:
                logo = images.check_image(
                    upload.read(images.MAX_IMAGE_BYTES + 1),
                    filename=upload.filename,
                    content_type=upload.mimetype,
                )
            with unit_of_work() as write:
                accounts.update_profile(
                    write,
                    institution,
                    details,
                    descriptions,
                    logo=logo,
                    remove_logo=request.form.get("remove_logo") == "1",
                )
        except images.ImageTooLargeError:
            form.logo.errors = [_("The image is larger than 1 MiB.")]
            status = 413
        except images.ImageError:
            form.logo.errors = [
                _("The logo must be a PNG or SVG image whose content matches its name.")
            ]
            status = 422
        except InstitutionDetailError as error:
            # At its field (and in the form's error summary), in the reader's language: the
            # service raised the message, not its English text (issue 15).
            getattr(form, error.field).errors = [error.message]
            status = 422
        except ServiceError as error:
            flash(_("The profile could not be saved: %(reason)s", reason=error.message), "error")
            status = 422
        else:
            flash(_("The profile has been saved."), "success")
            return redirect(institution_url("staff.institution_profile", institution))
    elif request.method == "POST":
        status = 400
    return render("staff/institution.html", status, form=form, institution=institution)


# --- staff -------------------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@login_required(Role.INSTITUTION_ADMIN)
def users() -> ResponseReturnValue:
    session = get_session()
    found = institution_or_chooser(session, "staff.users")
    if not isinstance(found, Institution):
        return found
    institution = found
    form = UserForm()
    one_time: tuple[str, str] | None = None
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work() as write:
                created = accounts.create_user(
                    write,
                    institution=institution,
                    email=form.email.data or "",
                    role=Role(form.role.data),
                    name=form.name.data,
                )
                one_time = (created.user.email, created.one_time_password or "")
        except ServiceError as error:
            form.email.errors = [
                _("This e-mail address already has an account.")
                if error.code == "conflict"
                else _("This is not an e-mail address.")
            ]
            status = 422
        else:
            form = UserForm(formdata=None)
    elif request.method == "POST":
        status = 400
    return render(
        "staff/users.html",
        status,
        institution=institution,
        users=accounts.list_users(session, institution),
        form=form,
        action_form=ActionForm(),
        one_time=one_time,
        me=current_actor().id,
    )


def _user_action(user_id: int, action: str) -> ResponseReturnValue:
    session = get_session()
    institution = acting_institution(session)
    if institution is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    user = accounts.get_user(session, institution, user_id)
    one_time = None
    with unit_of_work() as write:
        if action == "deactivate":
            accounts.set_active(write, user, False, by_user_id=current_actor().id)
            flash(_("The account has been deactivated."), "success")
        elif action == "activate":
            accounts.set_active(write, user, True)
            flash(_("The account has been activated."), "success")
        else:
            one_time = accounts.reset_password(write, user)
        email = user.email
    if one_time is not None:
        return render(
            "staff/one_time_password.html",
            institution=institution,
            email=email,
            password=one_time,
        )
    return redirect(institution_url("staff.users", institution))


@bp.post("/users/<int:user_id>/deactivate")
@login_required(Role.INSTITUTION_ADMIN)
def deactivate_user(user_id: int) -> ResponseReturnValue:
    try:
        return _user_action(user_id, "deactivate")
    except ServiceError as error:
        if error.code == "not_found":
            raise
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(request.referrer or url_for("staff.users"))


@bp.post("/users/<int:user_id>/activate")
@login_required(Role.INSTITUTION_ADMIN)
def activate_user(user_id: int) -> ResponseReturnValue:
    return _user_action(user_id, "activate")


@bp.post("/users/<int:user_id>/reset-password")
@login_required(Role.INSTITUTION_ADMIN)
def reset_user_password(user_id: int) -> ResponseReturnValue:
    return _user_action(user_id, "reset")


# --- API tokens --------------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@login_required(Role.INSTITUTION_ADMIN)
def tokens() -> ResponseReturnValue:
    session = get_session()
    found = institution_or_chooser(session, "staff.tokens")
    if not isinstance(found, Institution):
        return found
    institution = found
    form = TokenForm()
    secret = None
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work() as write:
                created = accounts.create_token(
                    write,
                    institution,
                    name=form.name.data or "",
                    role=Role(form.role.data),
                    created_by=current_actor().label,
                )
                secret = created.secret
        except ServiceError:
            form.name.errors = [_("Give the token a name.")]
            status = 422
        else:
            form = TokenForm(formdata=None)
    elif request.method == "POST":
        status = 400
    return render(
        "staff/tokens.html",
        status,
        institution=institution,
        tokens=accounts.list_tokens(session, institution),
        form=form,
        action_form=ActionForm(),
        secret=secret,
    )


@bp.post("/tokens/<int:token_id>/revoke")
@login_required(Role.INSTITUTION_ADMIN)
def revoke_token(token_id: int) -> ResponseReturnValue:
    session = get_session()
    institution = acting_institution(session)
    if institution is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    token = accounts.get_token(session, institution, token_id)
    with unit_of_work() as write:
        accounts.revoke_token(write, token)
    flash(_("The token has been revoked."), "success")
    return redirect(institution_url("staff.tokens", institution))
