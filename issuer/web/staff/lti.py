"""Institution admins: the LTI 1.3 platforms (Moodle sites and others) that launch Merkki in
their courses, on the integrations page (``/staff/integrations``; docs/integrations.md, LTI).

A platform is added by hand (the details the platform shows when the tool is configured
manually) or registers itself: "Create a registration link" makes a one-time URL to paste into
Moodle's "Register a tool" (LTI Dynamic Registration). Removing a platform refuses its
launches from then on; the badges issued through it stay.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.services import lti
from issuer.services.errors import ConflictError
from issuer.web.auth import current_actor, login_required
from issuer.web.staff import bp
from issuer.web.staff.common import acting_institution, institution_url
from issuer.web.staff.forms import ActionForm


class PlatformForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _("Name"),
        validators=[DataRequired(), Length(max=lti.MAX_NAME)],
        description=_("E.g. the Moodle site's address."),
    )
    issuer = URLField(
        _("Platform ID (issuer)"),
        validators=[DataRequired(), Length(max=2048)],
        description=_("In Moodle: the site's address, e.g. https://moodle.example.fi"),
    )
    client_id = StringField(_("Client ID"), validators=[DataRequired(), Length(max=255)])
    deployment_ids = TextAreaField(
        _("Deployment IDs"),
        validators=[DataRequired(), Length(max=5000)],
        description=_("One per line."),
    )
    auth_login_url = URLField(
        _("Authentication request URL"), validators=[DataRequired(), Length(max=2048)]
    )
    auth_token_url = URLField(_("Access token URL"), validators=[DataRequired(), Length(max=2048)])
    key_set_url = URLField(_("Public keyset URL"), validators=[DataRequired(), Length(max=2048)])


def platform_form(**kwargs: Any) -> PlatformForm:
    # Prefixed: the page's webhook form has a "name" field too, and ids must be unique.
    return PlatformForm(prefix="lti", **kwargs)


def tool_urls() -> dict[str, str]:
    """What a platform administrator types into a manual tool configuration."""
    base = get_settings().base_url
    return {
        "login": urls.lti_login_url(base),
        "launch": urls.lti_launch_url(base),
        "jwks": urls.lti_jwks_url(base),
    }


def page_context(
    session: Session,
    institution: Institution,
    *,
    form: PlatformForm | None = None,
    invite_url: str | None = None,
) -> dict[str, Any]:
    """The LTI part of the integrations page."""
    return {
        "lti_platforms": lti.list_platforms(session, institution),
        "lti_deployments": lti.deployments,
        "lti_form": form or platform_form(formdata=None),
        "lti_urls": tool_urls(),
        "lti_invite_url": invite_url,
    }


def _institution() -> tuple[Session, Institution]:
    session = get_session()
    institution = acting_institution(session)
    if institution is None:
        abort(404)
    return session, institution


@bp.post("/integrations/lti")
@login_required(Role.INSTITUTION_ADMIN)
def add_lti_platform() -> ResponseReturnValue:
    from issuer.web.staff.integrations import render_page

    session, institution = _institution()
    form = platform_form()
    if not form.validate_on_submit():
        return render_page(
            session, institution, status=400 if not form.errors else 422, lti_form=form
        )
    try:
        with unit_of_work() as write:
            lti.register_platform(
                write,
                institution,
                lti.PlatformDetails(
                    name=form.name.data or "",
                    issuer=form.issuer.data or "",
                    client_id=form.client_id.data or "",
                    deployment_ids=form.deployment_ids.data or "",
                    auth_login_url=form.auth_login_url.data or "",
                    auth_token_url=form.auth_token_url.data or "",
                    key_set_url=form.key_set_url.data or "",
                ),
                actor=current_actor(),
                development=lti.development_mode(get_settings().base_url),
            )
    except lti.LtiError as error:
        field = {
            "invalid_deployments": form.deployment_ids,
            "invalid_reference": form.client_id,
        }.get(error.code)
        if field is not None:
            field.errors = [gettext("Check this value.")]
        else:
            for url_field in (
                form.issuer,
                form.auth_login_url,
                form.auth_token_url,
                form.key_set_url,
            ):
                url_field.errors = [gettext("Give an https address.")]
        return render_page(session, institution, status=422, lti_form=form)
    except ConflictError:
        form.client_id.errors = [
            gettext("This platform and client ID are registered in Merkki already.")
        ]
        return render_page(session, institution, status=409, lti_form=form)
    flash(gettext("The platform has been registered."), "success")
    return redirect(institution_url("staff.integrations_page", institution))


@bp.post("/integrations/lti/invite")
@login_required(Role.INSTITUTION_ADMIN)
def create_lti_invite() -> ResponseReturnValue:
    from issuer.web.staff.integrations import render_page

    session, institution = _institution()
    if not ActionForm().validate_on_submit():
        abort(400)
    with unit_of_work() as write:
        token = lti.create_invite(write, institution, actor=current_actor())
    url = urls.lti_register_url(get_settings().base_url, token)
    return render_page(session, institution, status=200, invite_url=url)


@bp.post("/integrations/lti/<int:platform_id>/remove")
@login_required(Role.INSTITUTION_ADMIN)
def remove_lti_platform(platform_id: int) -> ResponseReturnValue:
    session, institution = _institution()
    if not ActionForm().validate_on_submit():
        abort(400)
    found = lti.get_platform(session, institution, platform_id)
    with unit_of_work() as write:
        lti.remove_platform(write, found, actor=current_actor())
    flash(gettext("The platform has been removed."), "success")
    return redirect(institution_url("staff.integrations_page", institution))
