"""Helpers shared by the staff views: rendering, error pages, the institution acted for."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from issuer.models import Institution
from issuer.services.errors import NotFoundError
from issuer.web import errors
from issuer.web.auth import Role, current_actor, institution_for_actor
from issuer.web.staff import bp


def render(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    return render_template(template, **context), status


def staff_user() -> Any:
    return g.get("staff_user")


def is_service_admin() -> bool:
    return current_actor().role is Role.SERVICE_ADMIN


def acting_institution(session: Session) -> Institution | None:
    """The institution a page acts for: the staff member's own; a service admin's choice
    (``?institution=<slug>``), or None when a service admin has not chosen one."""
    actor = current_actor()
    chosen = request.values.get("institution") or None
    if actor.institution_id is None and chosen is None:
        return None
    return institution_for_actor(session, chosen)


def all_institutions(session: Session) -> list[Institution]:
    return list(session.scalars(select(Institution).order_by(Institution.name_fi)))


def institution_or_chooser(session: Session, endpoint: str) -> Institution | ResponseReturnValue:
    """The institution a page acts for, or (a service admin who has not chosen one yet) the
    page that lets them choose, linking back to ``endpoint``."""
    institution = acting_institution(session)
    if institution is None:
        return render(
            "staff/choose_institution.html",
            institutions=all_institutions(session),
            endpoint=endpoint,
        )
    return institution


def institution_url(endpoint: str, institution: Institution, **values: Any) -> str:
    """``url_for`` that keeps a service admin's chosen institution (``?institution=<slug>``);
    staff of an institution need no such argument."""
    if current_actor().institution_id is None:
        values["institution"] = institution.slug
    return url_for(endpoint, **values)


def error_page(
    status: int, message: str | None = None, *, error: HTTPException | None = None
) -> ResponseReturnValue:
    """The staff layout's error page in the reader's language (``issuer.web.errors``), with
    the headers of ``error`` (Allow, Retry-After) when there is one."""
    headers = error.get_headers() if error is not None else None
    return errors.error_page(status, message, headers=headers)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return error_page(
        400, _("The form has expired or was not sent from this site. Reload the page and retry.")
    )


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    if error.code is None or error.code < 400:
        return error
    return error_page(error.code, errors.reader_message(error), error=error)


@bp.errorhandler(NotFoundError)
def _not_found(error: NotFoundError) -> ResponseReturnValue:
    return error_page(404)
