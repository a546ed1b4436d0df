"""Signing in and out, changing one's password, the staff start page."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from issuer.db import get_session, unit_of_work
from issuer.services import accounts, oidc
from issuer.services.errors import InvalidInputError
from issuer.web.auth import login_required, safe_next, sign_in, sign_out
from issuer.web.ratelimit import limit_login
from issuer.web.staff import bp
from issuer.web.staff.common import render, staff_user
from issuer.web.staff.forms import ChangePasswordForm, LoginForm


def _login_page(
    status: int, form: LoginForm, error: str | None, target: str | None
) -> ResponseReturnValue:
    """The sign-in page: the password form, and a button for each institution whose staff may
    sign in through its own provider (``issuer.web.staff.oidc``)."""
    return render(
        "staff/login.html",
        status,
        form=form,
        error=error,
        oidc_choices=oidc.sign_in_choices(get_session()),
        next_url=target,
    )


def _client_address() -> str:
    # The peer address as the WSGI server reports it. Behind a reverse proxy, configure
    # werkzeug's ProxyFix in the deployment so that this is the client, not the proxy.
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@limit_login
def login() -> ResponseReturnValue:
    """Sign-in. Two limits apply: ``ISSUER_RATE_LIMIT_LOGIN`` posts per client address (any
    e-mail address, against credential stuffing) and ``accounts.MAX_FAILURES`` failures per
    address and e-mail (against guessing one password)."""
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _login_page(status, form, None, target)
    try:
        with unit_of_work() as session:
            user = accounts.authenticate(
                session, form.email.data or "", form.password.data or "", client=_client_address()
            )
            stamp = accounts.session_stamp(user) if user is not None else None
            user_id = user.id if user is not None else None
    except accounts.ThrottledError:
        error = _("Too many failed sign-ins. Wait 15 minutes and try again.")
        return _login_page(429, form, error, target)
    if user_id is None or stamp is None:
        # One message for an unknown address, a wrong password and a deactivated account.
        error = _("The e-mail address or the password is not right.")
        return _login_page(200, form, error, target)
    sign_in(user_id, stamp)
    return redirect(target or url_for("staff.index"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    # CSRF-protected like every POST (a forged sign-out is a nuisance, not harmless).
    sign_out()
    flash(_("You have signed out."), "success")
    return redirect(url_for("staff.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required()
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    user = staff_user()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                session.add(user)
                accounts.change_password(
                    session, user, form.current.data or "", form.new.data or ""
                )
                stamp = accounts.session_stamp(user)
                user_id = user.id
        except InvalidInputError:
            form.current.errors = [
                _("The current password is not right, or the new one is the same.")
            ]
        else:
            # The password changed, so other sessions end; this one continues.
            sign_in(user_id, stamp)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("staff.index"))
    return render(
        "staff/password.html",
        400 if request.method == "POST" else 200,
        form=form,
        forced=user.must_change_password,
    )


@bp.get("/")
@login_required()
def index() -> ResponseReturnValue:
    user = staff_user()
    institution = user.institution if user.institution_id is not None else None
    return render("staff/index.html", user=user, institution=institution)
