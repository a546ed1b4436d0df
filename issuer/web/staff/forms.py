"""WTForms forms of the staff UI (Flask-WTF: each carries its CSRF token). The badge-class form
is the exception: its fields follow the badge.json format (``issuer.web.staff.badge_form``)."""

from __future__ import annotations

# ``_`` is lazy here: form labels are made at import time and translated when rendered. The
# name ``_`` is what `pybabel extract` (default keywords) looks for.
from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from issuer.models.accounts import Role
from issuer.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

ROLE_CHOICES = [
    SelectChoice(Role.ISSUER.value, _("Issuer")),
    SelectChoice(Role.INSTITUTION_ADMIN.value, _("Institution admin")),
]


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: nothing but the CSRF token."""


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        _("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField(_("Current password"), validators=[DataRequired()])
    new = PasswordField(
        _("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_("At least 12 characters. A few unrelated words make a good password."),
    )
    confirm = PasswordField(
        _("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_("The passwords differ."))],
    )


class UserForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_("E-mail address"), validators=[DataRequired(), Length(max=320)])
    name = StringField(_("Name"), validators=[Optional(), Length(max=255)])
    role = SelectField(_("Role"), choices=ROLE_CHOICES, default=Role.ISSUER.value)


class TokenForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _("Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_("What uses the token, e.g. the LMS integration."),
    )
    role = SelectField(_("Role"), choices=ROLE_CHOICES, default=Role.ISSUER.value)


class CopyForm(FlaskForm):  # type: ignore[misc]
    slug = StringField(
        _("Web address name of the copy"),
        validators=[DataRequired(), Length(max=100)],
        description=_(
            "A short name for the copy's web addresses: lower-case letters a–z, digits and "
            "hyphens. It cannot be changed later."
        ),
    )


class AutoIssueForm(FlaskForm):  # type: ignore[misc]
    auto_issue = BooleanField(_("Issue automatically when every component is held"))


class ProfileForm(FlaskForm):  # type: ignore[misc]
    name_fi = StringField(_("Name in Finnish"), validators=[DataRequired(), Length(max=255)])
    name_sv = StringField(_("Name in Swedish"), validators=[Optional(), Length(max=255)])
    name_en = StringField(_("Name in English"), validators=[Optional(), Length(max=255)])
    description_fi = TextAreaField(_("Description in Finnish"), validators=[Length(max=4000)])
    description_sv = TextAreaField(_("Description in Swedish"), validators=[Length(max=4000)])
    description_en = TextAreaField(_("Description in English"), validators=[Length(max=4000)])
    url = StringField(_("Web site"), validators=[Optional(), Length(max=2048)])
    email = StringField(_("Contact e-mail address"), validators=[Optional(), Length(max=320)])
    street_address = StringField(_("Street address"), validators=[Optional(), Length(max=255)])
    postal_code = StringField(_("Postal code"), validators=[Optional(), Length(max=16)])
    address_locality = StringField(_("City"), validators=[Optional(), Length(max=128)])
    address_country = StringField(_("Country"), validators=[Optional(), Length(max=128)])
    address_country_code = StringField(
        _("Country code (ISO 3166-1)"), validators=[DataRequired(), Length(min=2, max=2)]
    )
    business_id = StringField(_("Business ID (Y-tunnus)"), validators=[Optional(), Length(max=9)])
    oid = StringField(_("Opintopolku organisation OID"), validators=[Optional(), Length(max=64)])
    logo = FileField(_("Logo (PNG or SVG, at most 1 MiB)"))
