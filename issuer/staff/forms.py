"""WTForms forms of the staff UI (Flask-WTF: each carries its CSRF token). The badge-class form
is the exception: its fields follow the badge.json format (``issuer.staff.badge_form``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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

from issuer.accounts import Role
from issuer.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

ROLE_CHOICES = [
    SelectChoice(Role.ISSUER.value, _l("Issuer")),
    SelectChoice(Role.INSTITUTION_ADMIN.value, _l("Institution admin")),
]


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: nothing but the CSRF token."""


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_l("At least 12 characters. A few unrelated words make a good password."),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))],
    )


class UserForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=255)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.ISSUER.value)


class TokenForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("What uses the token, e.g. the LMS integration."),
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.ISSUER.value)


class CopyForm(FlaskForm):  # type: ignore[misc]
    slug = StringField(
        _l("Address name (slug) of the copy"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("Lower-case letters, digits and hyphens; used in the badge's addresses."),
    )


class AutoIssueForm(FlaskForm):  # type: ignore[misc]
    auto_issue = BooleanField(_l("Issue automatically when every component is held"))


class ProfileForm(FlaskForm):  # type: ignore[misc]
    name_fi = StringField(_l("Name in Finnish"), validators=[DataRequired(), Length(max=255)])
    name_sv = StringField(_l("Name in Swedish"), validators=[Optional(), Length(max=255)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=255)])
    description_fi = TextAreaField(_l("Description in Finnish"), validators=[Length(max=4000)])
    description_sv = TextAreaField(_l("Description in Swedish"), validators=[Length(max=4000)])
    description_en = TextAreaField(_l("Description in English"), validators=[Length(max=4000)])
    url = StringField(_l("Web site"), validators=[Optional(), Length(max=2048)])
    email = StringField(_l("Contact e-mail address"), validators=[Optional(), Length(max=320)])
    street_address = StringField(_l("Street address"), validators=[Optional(), Length(max=255)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=16)])
    address_locality = StringField(_l("City"), validators=[Optional(), Length(max=128)])
    address_country = StringField(_l("Country"), validators=[Optional(), Length(max=128)])
    address_country_code = StringField(
        _l("Country code (ISO 3166-1)"), validators=[DataRequired(), Length(min=2, max=2)]
    )
    business_id = StringField(_l("Business ID (Y-tunnus)"), validators=[Optional(), Length(max=9)])
    oid = StringField(_l("Opintopolku organisation OID"), validators=[Optional(), Length(max=64)])
    logo = FileField(_l("Logo (PNG or SVG, at most 1 MiB)"))
