"""Staff sign-in through the institution's OpenID Connect provider, and its settings page.

``/staff/sign-in/oidc/<slug>`` starts the Authorization Code flow with PKCE
(``issuer.core.oidc``): ``state``, ``nonce`` and the code verifier wait in the signed session
cookie, for this browser only, until ``/staff/sign-in/oidc/<slug>/callback``. The callback takes
them out (once: a replayed callback finds nothing), compares ``state``, redeems the code, checks
the ID token and lets ``issuer.services.oidc.sign_in`` find or provision the account; the
session then starts as a password sign-in does (``issuer.web.auth.sign_in``: a fresh session
with the account's stamp, so the session epoch rules apply alike). Every failure is a readable
page in the reader's language, never a 500; what went wrong in detail goes to the log.

``/staff/sign-in-provider``: institution admins set their provider (the redirect URI to
register is shown there).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext

# ``_`` is lazy here, as in ``issuer.web.staff.forms``: labels are made at import time.
from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from issuer.config import get_settings
from issuer.core import oidc as protocol
from issuer.core.safe_fetch import FetchPolicy, SafeFetcher
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.services import accounts, oidc
from issuer.services.errors import NotFoundError
from issuer.services.issue_input import FieldErrors
from issuer.web.auth import current_actor, login_required, safe_next, sign_in
from issuer.web.staff import bp
from issuer.web.staff.common import error_page, institution_or_chooser, institution_url

#: ``app.extensions`` key of the fetcher for discovery, key sets and token requests; tests put
#: one there that trusts their provider's certificate on the loopback interface.
OIDC_FETCHER_EXTENSION = "issuer.oidc_fetcher"
#: The session key of a sign-in under way.
SESSION_FLOW = "oidc_flow"
#: A person gets this long at the provider before the started sign-in is forgotten.
FLOW_SECONDS = 600


def oidc_fetcher() -> protocol.Fetcher:
    """The app's guarded fetcher for providers (``issuer.core.safe_fetch``: https, public
    addresses, one deadline per fetch; discovery documents and key sets cached for minutes)."""
    fetcher = current_app.extensions.get(OIDC_FETCHER_EXTENSION)
    if fetcher is None:
        fetcher = SafeFetcher(FetchPolicy(timeout_s=5.0, user_agent="Merkki-sign-in/1.0"))
        current_app.extensions[OIDC_FETCHER_EXTENSION] = fetcher
    assert isinstance(fetcher, SafeFetcher)
    return fetcher


def redirect_uri(slug: str) -> str:
    """The callback address an admin registers at the provider (absolute, under the public
    base URL, so that it matches behind a proxy too)."""
    return get_settings().base_url + f"/staff/sign-in/oidc/{slug}/callback"


def _messages() -> dict[str, str]:
    """What a person reads for each failure (``code`` of ``OidcError`` or ``SignInRefused``)."""
    again = gettext("Start the sign-in again.")
    return {
        "no_provider": gettext("This institution has no sign-in provider in use."),
        "no_flow": gettext("The sign-in was not started in this browser, or it took too long.")
        + " "
        + again,
        "state_mismatch": gettext(
            "The answer from the sign-in service does not belong to this sign-in."
        )
        + " "
        + again,
        "provider_error": gettext("The sign-in service did not sign you in.") + " " + again,
        "discovery_failed": gettext(
            "The sign-in service cannot be reached or is set up wrongly. Tell your institution's"
            " Merkki administrator."
        ),
        "token_failed": gettext("The sign-in service did not confirm the sign-in.") + " " + again,
        "invalid_id_token": gettext("The sign-in service's answer could not be verified.")
        + " "
        + again,
        "nonce_mismatch": gettext("The sign-in service's answer could not be verified.")
        + " "
        + again,
        "expired": gettext("The sign-in service's answer has expired.") + " " + again,
        "wrong_issuer": gettext("The sign-in service's answer could not be verified.")
        + " "
        + again,
        "wrong_audience": gettext("The sign-in service's answer could not be verified.")
        + " "
        + again,
        "secret_unreadable": gettext(
            "The sign-in settings need to be saved again. Tell your institution's Merkki"
            " administrator."
        ),
        "no_email": gettext("The sign-in service did not give your e-mail address."),
        "email_unverified": gettext("The sign-in service has not verified your e-mail address."),
        "domain_not_allowed": gettext(
            "Your e-mail address is not one of those that may sign in to this institution."
        ),
        "other_institution": gettext(
            "Your staff account belongs to another institution. Sign in there, or with your"
            " password."
        ),
        "other_person": gettext(
            "A staff account with your e-mail address is linked to another person. Ask your"
            " institution's Merkki administrator."
        ),
        "deactivated": gettext("Your staff account has been deactivated."),
    }


def _failure(code: str, status: int, detail: str | None = None) -> ResponseReturnValue:
    if detail:
        current_app.logger.warning("OIDC sign-in failed (%s): %s", code, detail)
    message = _messages().get(code) or _messages()["provider_error"]
    return error_page(status, message)


#: HTTP status per failure: the person's flow (400), refused (403), the provider (502).
_STATUS = {
    "discovery_failed": 502,
    "token_failed": 502,
    "secret_unreadable": 503,
}


@bp.get("/sign-in/oidc/<institution_slug>")
def oidc_start(institution_slug: str) -> ResponseReturnValue:
    try:
        institution, provider = oidc.provider_for_sign_in(get_session(), institution_slug)
    except NotFoundError:
        return _failure("no_provider", 404)
    try:
        metadata = protocol.discover(oidc_fetcher(), provider.issuer)
    except protocol.OidcError as error:
        return _failure(error.code, _STATUS.get(error.code, 502), error.message)
    started = protocol.authorization_request(
        metadata, client_id=provider.client_id, redirect_uri=redirect_uri(institution.slug)
    )
    session[SESSION_FLOW] = {
        "institution": institution.slug,
        "issuer": provider.issuer,
        "state": started.state,
        "nonce": started.nonce,
        "verifier": started.code_verifier,
        "next": safe_next(request.args.get("next")),
        "started": int(time.time()),
    }
    return redirect(started.url)


def _flow(slug: str) -> dict[str, Any] | None:
    """The sign-in under way for ``slug``, taken out of the session (used once)."""
    flow = session.pop(SESSION_FLOW, None)
    if not isinstance(flow, dict) or flow.get("institution") != slug:
        return None
    started = flow.get("started")
    if not isinstance(started, int) or not 0 <= time.time() - started <= FLOW_SECONDS:
        return None
    if not all(isinstance(flow.get(key), str) for key in ("state", "nonce", "verifier", "issuer")):
        return None
    return flow


@bp.get("/sign-in/oidc/<institution_slug>/callback")
def oidc_callback(institution_slug: str) -> ResponseReturnValue:
    flow = _flow(institution_slug)
    if flow is None:
        return _failure("no_flow", 400)
    state = request.args.get("state", "")
    if not hmac.compare_digest(state.encode("utf-8"), flow["state"].encode("utf-8")):
        return _failure("state_mismatch", 400, "state differs")
    if "error" in request.args:
        # RFC 6749 section 4.1.2.1: the person cancelled, or the provider refused the client.
        return _failure("provider_error", 400, request.args.get("error", "")[:64])
    code = request.args.get("code", "")
    if not code or len(code) > 2048 or not code.isprintable():
        return _failure("provider_error", 400, "no usable code")
    db = get_session()
    try:
        institution, provider = oidc.provider_for_sign_in(db, institution_slug)
    except NotFoundError:
        return _failure("no_provider", 404)
    if provider.issuer != flow["issuer"]:
        return _failure("no_flow", 400, "the provider changed during the sign-in")
    fetcher = oidc_fetcher()
    try:
        settings = get_settings()
        secret = oidc.client_secret(
            provider, settings.key_passphrase, settings.key_passphrase_previous
        )
        metadata = protocol.discover(fetcher, provider.issuer)
        tokens = protocol.redeem_code(
            fetcher,
            metadata,
            code=code,
            redirect_uri=redirect_uri(institution.slug),
            client_id=provider.client_id,
            client_secret=secret,
            code_verifier=flow["verifier"],
        )
        access_token = tokens.get("access_token")
        claims = protocol.verify_id_token(
            fetcher,
            metadata,
            tokens["id_token"],
            client_id=provider.client_id,
            nonce=flow["nonce"],
            access_token=access_token if isinstance(access_token, str) else None,
        )
    except oidc.SecretUnreadableError as error:
        return _failure(error.code, 503, error.message)
    except protocol.OidcError as error:
        return _failure(error.code, _STATUS.get(error.code, 400), error.message)
    try:
        with unit_of_work() as write:
            user = oidc.sign_in(write, institution, provider, claims)
            user_id, stamp = user.id, accounts.session_stamp(user)
    except IntegrityError:
        # The same person's first sign-in twice at once (two tabs): the other one made the
        # account or the link; this one starts again and finds it.
        return _failure("provider_error", 409, "a concurrent first sign-in")
    except oidc.SignInRefused as refused:
        with unit_of_work() as write:
            oidc.record_refusal(write, institution, provider, claims, refused)
        return _failure(refused.code, 403, refused.message)
    sign_in(user_id, stamp)
    target = flow.get("next")
    return redirect(
        safe_next(target if isinstance(target, str) else None) or url_for("staff.index")
    )


# --- the settings page -------------------------------------------------------------------------


class ProviderForm(FlaskForm):  # type: ignore[misc]
    display_name = StringField(
        _("Name on the sign-in button"),
        validators=[DataRequired(), Length(max=oidc.MAX_DISPLAY_NAME)],
        description=_("For example MPASSid, Haka or Microsoft."),
    )
    issuer = StringField(
        _("Issuer URL"),
        validators=[DataRequired(), Length(max=protocol.MAX_ISSUER_LENGTH)],
        description=_(
            "The provider's issuer identifier, an https address; its settings are read from"
            " /.well-known/openid-configuration under it."
        ),
    )
    client_id = StringField(
        _("Client ID"), validators=[DataRequired(), Length(max=oidc.MAX_CLIENT_ID)]
    )
    client_secret = PasswordField(
        _("Client secret"),
        validators=[Length(max=oidc.MAX_SECRET)],
        description=_("Leave empty to keep the saved secret."),
    )
    allowed_domains = StringField(
        _("E-mail domains that may sign in"),
        validators=[DataRequired(), Length(max=4000)],
        description=_("Separated by spaces, for example hamk.fi edu.hamk.fi."),
    )
    email_claim = StringField(
        _("Claim holding the e-mail address"),
        default="email",
        validators=[DataRequired(), Length(max=oidc.MAX_CLAIM_NAME)],
    )
    default_role = SelectField(
        _("Role at the first sign-in"),
        choices=[
            SelectChoice(Role.ISSUER.value, _("Issuer")),
            SelectChoice(Role.INSTITUTION_ADMIN.value, _("Institution admin")),
        ],
        default=Role.ISSUER.value,
    )
    role_claim = StringField(
        _("Claim for the role mapping"),
        validators=[Length(max=oidc.MAX_CLAIM_NAME)],
        description=_("Optional, for example groups or roles."),
    )
    role_map = TextAreaField(
        _("Role mapping"),
        validators=[Length(max=20000)],
        description=_(
            "One per line: claim value = role, where the role is issuer or institution_admin."
        ),
    )
    update_role = BooleanField(_("Set the role from the mapping at every sign-in"))
    enabled = BooleanField(_("Staff may sign in through this provider"), default=True)


def _field_messages() -> dict[str, str]:
    return {
        "required": gettext("This field is required."),
        "invalid_issuer": gettext("Give an https address without a query or a fragment."),
        "invalid_domain": gettext("Give domains such as hamk.fi, separated by spaces."),
        "invalid_role_map": gettext(
            "Write one mapping per line: claim value = issuer or institution_admin."
        ),
        "invalid_claim": gettext("Give a claim name such as email or groups."),
        "too_many": gettext("Give fewer values."),
    }


@bp.route("/sign-in-provider", methods=["GET", "POST"])
@login_required(Role.INSTITUTION_ADMIN)
def oidc_settings() -> ResponseReturnValue:
    db = get_session()
    found = institution_or_chooser(db, "staff.oidc_settings")
    if not isinstance(found, Institution):
        return found
    institution = found
    provider = oidc.get_provider(db, institution)
    form = ProviderForm(obj=provider) if request.method == "GET" and provider else ProviderForm()
    if request.method == "GET" and provider is not None:
        form.role_map.data = oidc.role_map_text(provider)
        form.allowed_domains.data = provider.allowed_domains
        form.role_claim.data = provider.role_claim or ""
        form.default_role.data = provider.default_role.value
    status = 200
    if form.validate_on_submit():
        settings = oidc.ProviderSettings(
            display_name=form.display_name.data or "",
            issuer=(form.issuer.data or "").strip(),
            client_id=form.client_id.data or "",
            client_secret=form.client_secret.data or None,
            allowed_domains=form.allowed_domains.data or "",
            default_role=Role(form.default_role.data),
            email_claim=(form.email_claim.data or "").strip(),
            role_claim=(form.role_claim.data or "").strip(),
            role_map=form.role_map.data or "",
            update_role=bool(form.update_role.data),
            enabled=bool(form.enabled.data),
        )
        try:
            with unit_of_work() as write:
                oidc.set_provider(
                    write,
                    institution,
                    settings,
                    actor=current_actor(),
                    passphrase=get_settings().key_passphrase,
                )
        except FieldErrors as error:
            messages = _field_messages()
            for problem in error.errors:
                field = getattr(form, problem.field, None)
                if field is not None:
                    field.errors = [messages.get(problem.code, messages["required"])]
            status = 422
        else:
            flash(gettext("The sign-in settings have been saved."), "success")
            return redirect(institution_url("staff.oidc_settings", institution))
    elif request.method == "POST":
        status = 400
    page = render_template(
        "staff/oidc_settings.html",
        institution=institution,
        provider=provider,
        form=form,
        redirect_uri=redirect_uri(institution.slug),
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response
