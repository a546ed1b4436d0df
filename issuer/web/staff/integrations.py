"""Institution admins: the integrations that report completions to the webhook
(``POST /api/v1/completions``, docs/integrations.md). A secret is shown once, when created;
revoking refuses the integration's calls from then on."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

# ``_`` is lazy here, as in ``issuer.web.staff.forms``: the form's labels are made at import time
# and translated when rendered; `pybabel extract` finds ``_`` and ``gettext``.
from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.models.integrations import AuthKind
from issuer.services import integrations
from issuer.services.errors import ServiceError
from issuer.web.auth import current_actor, login_required
from issuer.web.staff import bp
from issuer.web.staff import lti as lti_staff
from issuer.web.staff.common import (
    acting_institution,
    institution_or_chooser,
    institution_url,
)
from issuer.web.staff.forms import ActionForm


class IntegrationForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _("Name"),
        validators=[DataRequired(), Length(max=integrations.MAX_NAME)],
        description=_("What reports completions, e.g. the Moodle site's address."),
    )
    auth = SelectField(
        _("How calls are authenticated"),
        choices=[
            SelectChoice(
                AuthKind.HMAC.value,
                _("Signed with a shared secret (HMAC, recommended)"),
            ),
            SelectChoice(AuthKind.BEARER.value, _("Bearer token")),
        ],
        default=AuthKind.HMAC.value,
    )


@bp.route("/integrations", methods=["GET", "POST"])
@login_required(Role.INSTITUTION_ADMIN)
def integrations_page() -> ResponseReturnValue:
    session = get_session()
    found = institution_or_chooser(session, "staff.integrations_page")
    if not isinstance(found, Institution):
        return found
    institution = found
    form = IntegrationForm()
    created: dict[str, str] | None = None
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work() as write:
                new = integrations.create_integration(
                    write,
                    institution,
                    name=form.name.data or "",
                    auth_kind=AuthKind(form.auth.data),
                    actor=current_actor(),
                    passphrase=get_settings().key_passphrase,
                )
                created = {
                    "key_id": integrations.key_id(new.integration),
                    "secret": new.secret,
                    "auth": new.integration.auth_kind.value,
                }
        except ServiceError:
            form.name.errors = [gettext("Give the integration a name.")]
            status = 422
        else:
            form = IntegrationForm(formdata=None)
    elif request.method == "POST":
        status = 400
    return render_page(session, institution, status=status, form=form, created=created)


def render_page(
    session: Session,
    institution: Institution,
    *,
    status: int,
    form: IntegrationForm | None = None,
    created: dict[str, str] | None = None,
    lti_form: lti_staff.PlatformForm | None = None,
    invite_url: str | None = None,
) -> ResponseReturnValue:
    """The integrations page: the completion webhook's integrations and the LTI platforms
    (``issuer.web.staff.lti``)."""
    page = render_template(
        "staff/integrations.html",
        institution=institution,
        integrations=integrations.list_integrations(session, institution),
        key_id=integrations.key_id,
        form=form or IntegrationForm(formdata=None),
        action_form=ActionForm(),
        created=created,
        endpoint=get_settings().base_url + "/api/v1/completions",
        **lti_staff.page_context(session, institution, form=lti_form, invite_url=invite_url),
    )
    response = make_response(page, status)
    # The page may hold a new secret: no copy in any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/integrations/<int:integration_id>/revoke")
@login_required(Role.INSTITUTION_ADMIN)
def revoke_integration(integration_id: int) -> ResponseReturnValue:
    session = get_session()
    institution = acting_institution(session)
    if institution is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    found = integrations.get_integration(session, institution, integration_id)
    with unit_of_work() as write:
        integrations.revoke_integration(write, found, actor=current_actor())
    flash(gettext("The integration has been revoked."), "success")
    return redirect(institution_url("staff.integrations_page", institution))
