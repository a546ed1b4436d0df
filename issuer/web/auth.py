"""Who is acting: staff sessions, API bearer tokens and the CLI, as one ``Actor``.

* Staff UI views use ``@login_required(...)``: not signed in -> redirect to the sign-in page;
  signed in without the role -> 403.
* JSON API views use ``@api_auth(...)``: ``Authorization: Bearer <token>`` (RFC 6750); a
  missing, unknown or revoked token -> 401 with ``WWW-Authenticate: Bearer``; a token without
  the role -> 403. Both answers are JSON.
* CLI commands use ``cli_actor()``, which may act for any institution.

``institution_for_actor`` is the one place that decides which institution an actor may act for:
any other institution's objects are "not found" (404), so their existence is not revealed.

Roles: a service admin passes every role check; an institution admin passes the issuer check
too (it manages the staff who issue, so it may issue itself).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    g,
    has_app_context,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.services import accounts
from issuer.services.actors import CLI_ACTOR, Actor, actor_may_act_for, has_role, institution_for
from issuer.services.errors import NotFoundError
from issuer.web.errors import error_response, wants_json

__all__ = [
    "Actor",
    "Role",
    "actor_may_act_for",
    "api_auth",
    "cli_actor",
    "csrf",
    "current_actor",
    "ensure_same_institution",
    "has_role",
    "init_app",
    "institution_for_actor",
    "login_required",
    "sign_in",
    "sign_out",
    "use_actor",
]

P = ParamSpec("P")
R = TypeVar("R")

#: Flask session keys of a signed-in staff member.
SESSION_USER = "staff_user_id"
SESSION_STAMP = "staff_stamp"

_ACTOR_KEY = "merkki_actor"

#: App-wide CSRF protection for every form (Flask-WTF). The JSON API is exempt: it is
#: authenticated by a bearer token that a browser never attaches on its own, so a cross-site
#: request cannot ride on it (OWASP CSRF Prevention Cheat Sheet, "token-based" APIs).
csrf = CSRFProtect()


class NotAuthenticatedError(RuntimeError):
    """``current_actor()`` was called where nobody is signed in (a programming error: the
    view lacks ``login_required``/``api_auth``)."""


def current_actor() -> Actor:
    """The actor of this request or command (set by the decorators or ``cli_actor``)."""
    actor = g.get(_ACTOR_KEY) if has_app_context() else None
    if not isinstance(actor, Actor):
        raise NotAuthenticatedError("no signed-in actor in this context")
    return actor


def _set_actor(actor: Actor) -> None:
    setattr(g, _ACTOR_KEY, actor)


@contextmanager
def use_actor(actor: Actor) -> Iterator[Actor]:
    """Run a block as ``actor`` (CLI commands, background jobs, tests)."""
    previous = g.get(_ACTOR_KEY)
    _set_actor(actor)
    try:
        yield actor
    finally:
        setattr(g, _ACTOR_KEY, previous)


def cli_actor() -> Actor:
    """The actor of a ``merkki`` command: the operator, who may act for any institution.

    Inside an app context it also becomes ``current_actor()``.
    """
    if has_app_context():
        _set_actor(CLI_ACTOR)
    return CLI_ACTOR


def _not_found(message: str) -> NotFoundError:
    return NotFoundError(message)


def ensure_same_institution(institution_id: int | None) -> None:
    """404 unless the current actor may act on objects of ``institution_id``."""
    if not actor_may_act_for(current_actor(), institution_id):
        if has_request_context():
            abort(404)
        raise _not_found("not found")


def institution_for_actor(session: Session, slug_or_id: str | int | None = None) -> Institution:
    """The institution the current actor acts for (``issuer.services.actors.institution_for``);
    one it may not act for, or that does not exist, is a 404 in a request."""
    try:
        return institution_for(session, current_actor(), slug_or_id)
    except NotFoundError:
        if has_request_context():
            abort(404)
        raise


# --- staff sessions ----------------------------------------------------------------------------


def sign_in(user_id: int, stamp: str) -> None:
    """Start a staff session. The old session is dropped first (no session fixation)."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = user_id
    session[SESSION_STAMP] = stamp


def sign_out() -> None:
    """End this staff session on the server, not only in this browser: the user's session
    epoch is raised, so a copy of the cookie replayed later is refused
    (``accounts.sign_out``; one transaction)."""
    user_id = session.get(SESSION_USER)
    stamp = session.get(SESSION_STAMP)
    if isinstance(user_id, int) and isinstance(stamp, str):
        with unit_of_work() as db:
            accounts.sign_out(db, user_id, stamp)
    _forget_user()


def _forget_user() -> None:
    session.pop(SESSION_USER, None)
    session.pop(SESSION_STAMP, None)


def _session_actor() -> Actor | None:
    """The staff member of this session, if still active and with an unchanged password."""
    user_id = session.get(SESSION_USER)
    stamp = session.get(SESSION_STAMP)
    if not isinstance(user_id, int) or not isinstance(stamp, str):
        return None
    user = accounts.get_active_user(get_session(), user_id)
    if user is None or not hmac.compare_digest(
        accounts.session_stamp(user).encode(), stamp.encode()
    ):
        _forget_user()
        return None
    g.staff_user = user
    return Actor(
        kind="user",
        id=user.id,
        institution_id=user.institution_id,
        role=user.role,
        label=user.email,
    )


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no open redirect), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _login_url() -> str:
    path = request.full_path if request.query_string else request.path
    return url_for("staff.login", next=path)


#: Views a signed-in user with a one-time password may still use.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"staff.change_password", "staff.logout"})


def login_required(
    *roles: Role,
) -> Callable[[Callable[P, R]], Callable[P, R | ResponseReturnValue]]:
    """Decorator for staff UI views: sign-in required, and one of ``roles`` (none: any staff).

    Not signed in -> redirect to ``/staff/login?next=<this page>``; without the role -> 403.
    A user whose password was generated by someone else is sent to change it first.
    """
    for role in roles:
        if not isinstance(role, Role):
            raise TypeError("use @login_required() or @login_required(Role.X, ...)")

    def decorator(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
            actor = _session_actor()
            if actor is None:
                return redirect(_login_url())
            _set_actor(actor)
            user = g.staff_user
            if user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                return redirect(url_for("staff.change_password"))
            if not has_role(actor, roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


# --- API tokens --------------------------------------------------------------------------------


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _unauthorized(message: str) -> ResponseReturnValue:
    response = error_response(401, message, code="unauthorized")
    # RFC 6750 §3: the challenge, with error="invalid_token" when a token was presented.
    challenge = 'Bearer realm="merkki"'
    if _bearer_token() is not None:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def api_auth(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R | ResponseReturnValue]]:
    """Decorator for JSON API views: a valid bearer token with one of ``roles`` (none: any)."""
    for role in roles:
        if not isinstance(role, Role):
            raise TypeError("use @api_auth() or @api_auth(Role.X, ...)")

    def decorator(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
            raw = _bearer_token()
            if raw is None:
                return _unauthorized("an API token is required (Authorization: Bearer <token>)")
            session = get_session()
            token = accounts.authenticate_token(session, raw)
            if token is None:
                return _unauthorized("the API token is unknown or revoked")
            # The token's "last used" time, committed before the view starts its own unit of
            # work (nothing else is pending in the session yet).
            session.commit()
            actor = Actor(
                kind="token",
                id=token.id,
                institution_id=token.institution_id,
                role=token.role,
                label=f"token:{token.name}",
            )
            _set_actor(actor)
            if not has_role(actor, roles):
                return error_response(
                    403, "this API token's role does not allow this", code="forbidden"
                )
            return view(*args, **kwargs)

        return wrapper

    return decorator


# --- set-up ------------------------------------------------------------------------------------


def _csrf_refused(error: CSRFError) -> ResponseReturnValue:
    if wants_json():
        return error_response(400, error.description, code="csrf_failed")
    return render_template("form_expired.html"), 400


def init_app(app: Flask) -> None:
    """Switch on CSRF protection for every form. (The session cookie's HttpOnly, SameSite=Lax,
    Secure-under-https and lifetime are set by ``issuer.web.security``.)"""
    https = get_settings(app).base_url.startswith("https://")
    app.config.update(
        # Form tokens live as long as the session (the default one hour loses a long form).
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=https,
    )
    csrf.init_app(app)
    # A refused form gets a readable page (blueprints with their own layout, such as the staff
    # UI, register their own handler, which wins), JSON clients a JSON error.
    app.register_error_handler(CSRFError, _csrf_refused)
    # The JSON API authenticates with bearer tokens, never cookies (see ``csrf`` above). Call
    # this after the blueprints are registered, so that nested API blueprints are found too.
    for name, blueprint in app.blueprints.items():
        # The VC-API verifier (``vcapi``) is public and reads no session either; OpenID4VCI
        # (``oid4vci``) authenticates with a pre-authorized code or an access token.
        if name in ("api", "vcapi", "oid4vci") or name.startswith("api."):
            csrf.exempt(blueprint)
