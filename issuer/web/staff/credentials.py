"""Staff pages for issued credentials and the audit log, in the staff layout (its menu and
sign-out on every page).

* ``/staff/credentials``: the institution's credentials with the holder's e-mail address, badge
  class, state and date of issue; search by name, e-mail address or id; filters by badge class,
  state and issue dates; all GET parameters, so a filtered list is a link
  (``issuer.services.credential_list``). ``/staff/credentials.csv`` exports the filtered list.
* ``/staff/credentials/<id>``: one credential, where institution admins and issuers suspend and
  unsuspend (with an optional reason) and start a revocation. Revoking is permanent, so it is a
  separate step: ``GET /staff/credentials/<id>/revoke`` says so, names the holder and the badge
  and asks for the reason; its form posts to the same address. Every action is one transaction
  with its audit event and its status list bit.
* ``/staff/audit``: the institution's audit log (issue, revoke, suspend, unsuspend, key
  events) with the names of who acted and of what was acted on, filterable, for institution
  admins only; ``/staff/audit.csv`` exports it.

Dates and times are shown in Europe/Helsinki, in one format per language (the ``when``
filter, ``issuer.services.dates``).
Staff of one institution never see another's credentials or events: the institution comes from
``issuer.web.auth.institution_for_actor`` (a service admin picks one with ``?institution=<slug>``),
and a credential of another institution is "not found".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Credential, Institution
from issuer.models.audit import AuditEvent
from issuer.services import (
    audit,
    badge_classes,
    credential_list,
    dates,
    learner_keys,
    revocation,
)
from issuer.services.errors import ConflictError, InvalidInputError
from issuer.web.auth import Role, current_actor, institution_for_actor, login_required
from issuer.web.i18n import current_language

bp = Blueprint("staff_credentials", __name__, url_prefix="/staff")

PAGE_SIZE = 50
STATES = credential_list.STATES


def action_labels() -> dict[str, str]:
    """Audit actions in the current language."""
    return {
        "issue": gettext("Issued"),
        "issue_bulk": gettext("Bulk issue started"),
        "revoke": gettext("Revoked"),
        "suspend": gettext("Suspended"),
        "unsuspend": gettext("Unsuspended"),
        "key.create": gettext("Key created"),
        "key.rotate": gettext("Key rotated"),
        "key.compromised": gettext("Key withdrawn as compromised"),
        "mail.resend": gettext("E-mail sent again"),
        "learners.export": gettext("Learner list downloaded"),
        "integration.create": gettext("Integration created"),
        "integration.revoke": gettext("Integration revoked"),
        "lti.register": gettext("LTI platform registered"),
        "lti.remove": gettext("LTI platform removed"),
        "lti.invite": gettext("LTI registration link made"),
        "oidc.configure": gettext("Sign-in provider set"),
        "oidc.disable": gettext("Sign-in provider switched off"),
        "oidc.sign_in": gettext("Signed in through the provider"),
        "oidc.refused": gettext("Sign-in through the provider refused"),
        "wallet.copy": gettext("Copy sent to a wallet"),
    }


def state_labels() -> dict[str, str]:
    return {
        "active": gettext("Valid"),
        "suspended": gettext("Suspended"),
        "revoked": gettext("Revoked"),
    }


def _institution(session: Session) -> Institution:
    """The institution acted for (404 for anyone else's; a service admin must choose one)."""
    chosen = request.values.get("institution") or None
    if current_actor().institution_id is None and chosen is None:
        abort(404)
    return institution_for_actor(session, chosen)


def _institution_args(institution: Institution) -> dict[str, Any]:
    """Keeps a service admin's choice of institution in the links."""
    return {"institution": institution.slug} if current_actor().institution_id is None else {}


def _page() -> int:
    value = request.args.get("page", "1")
    return max(1, int(value)) if value.isdigit() and len(value) < 7 else 1


# ------------------------------------------------------------------------------------ dates


def _helsinki_iso(moment: datetime) -> str:
    """The machine-readable form of a shown time (``<time datetime>``), in the Helsinki time
    that the ``when`` filter shows (``issuer.services.dates``)."""
    return dates.helsinki(moment).isoformat(timespec="minutes")


@bp.context_processor
def _dates() -> dict[str, Any]:
    return {"iso_time": _helsinki_iso}


# ------------------------------------------------------------------------------- credentials


def _day_arg(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _list_filter() -> credential_list.CredentialFilter:
    """The list's filters from the GET parameters (nonsense is ignored, not an error)."""
    return credential_list.CredentialFilter(
        search=request.args.get("q", "")[: credential_list.MAX_SEARCH_LENGTH],
        badge_class=request.args.get("badge", "").strip()[:100] or None,
        state=credential_list.choose(request.args.get("state"), STATES),
        since=_day_arg("from"),
        until=_day_arg("to"),
    )


def _filter_args(filters: credential_list.CredentialFilter) -> dict[str, str]:
    """The GET parameters that give ``filters`` (for the pages' and the export's links)."""
    values = {
        "q": filters.search.strip(),
        "badge": filters.badge_class or "",
        "state": filters.state or "",
        "from": filters.since.isoformat() if filters.since else "",
        "to": filters.until.isoformat() if filters.until else "",
    }
    return {key: value for key, value in values.items() if value}


@bp.get("/credentials")
@login_required(Role.ISSUER)
def credentials() -> ResponseReturnValue:
    session = get_session()
    institution = _institution(session)
    filters = _list_filter()
    page = _page()
    settings = get_settings()
    lang = current_language()
    total, rows = credential_list.list_credentials(
        session,
        institution.id,
        filters,
        lang=lang,
        base_url=settings.base_url,
        secret=learner_keys.recipient_secret(settings),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    extra_args = _institution_args(institution)
    return render_template(
        "staff_credentials/list.html",
        institution=institution,
        rows=rows,
        filters=filters,
        badge_choices=credential_list.badge_class_choices(session, institution.id, lang),
        states=STATES,
        state_labels=state_labels(),
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        total=total,
        extra_args=extra_args,
        args={**_filter_args(filters), **extra_args},
    )


@bp.get("/credentials.csv")
@login_required(Role.ISSUER)
def credentials_csv() -> ResponseReturnValue:
    """The filtered list (every page of it) as CSV, for a spreadsheet."""
    session = get_session()
    institution = _institution(session)
    settings = get_settings()
    _, rows = credential_list.list_credentials(
        session,
        institution.id,
        _list_filter(),
        lang=current_language(),
        base_url=settings.base_url,
        secret=learner_keys.recipient_secret(settings),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    # With a byte order mark, spreadsheet programs read the UTF-8 (ä, ö, å) correctly.
    response = Response(
        credential_list.export_csv(rows, settings.base_url).encode("utf-8-sig"),
        content_type="text/csv; charset=utf-8",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="merkki-credentials-{institution.slug}-{stamp}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _own_credential(session: Session, institution: Institution, credential_id: str) -> Credential:
    credential = session.get(Credential, credential_id) if len(credential_id) == 32 else None
    if credential is None or credential.institution_id != institution.id:
        abort(404)
    return credential


@bp.get("/credentials/<credential_id>")
@login_required(Role.ISSUER)
def credential(credential_id: str) -> ResponseReturnValue:
    session = get_session()
    institution = _institution(session)
    found = _own_credential(session, institution, credential_id)
    base_url = get_settings().base_url
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.institution_id == institution.id,
            AuditEvent.target == found.id,
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    ).all()
    return render_template(
        "staff_credentials/detail.html",
        institution=institution,
        credential=found,
        badge=badge_classes.parsed(found.badge_class_version).name.get(current_language()),
        state=revocation.credential_state(found),
        state_labels=state_labels(),
        credential_url=urls.credential_url(base_url, found.id),
        verify_url=url_for("verify.credential", credential_id=found.id),
        events=events,
        names=audit.event_names(session, institution.id, events, current_language()),
        action_labels=action_labels(),
        extra_args=_institution_args(institution),
    )


@bp.get("/credentials/<credential_id>/revoke")
@login_required(Role.ISSUER)
def credential_revoke_confirm(credential_id: str) -> ResponseReturnValue:
    """The separate step before a revocation: it says that revocation is permanent, whose badge
    is revoked, and asks for the reason verifiers will see. Its form posts to ``revoke``."""
    session = get_session()
    institution = _institution(session)
    found = _own_credential(session, institution, credential_id)
    if found.revoked_at is not None:
        flash(gettext("The credential has already been revoked."), "error")
        return _back(credential_id)
    return render_template(
        "staff_credentials/revoke.html",
        institution=institution,
        credential=found,
        badge=badge_classes.parsed(found.badge_class_version).name.get(current_language()),
        state=revocation.credential_state(found),
        state_labels=state_labels(),
        extra_args=_institution_args(institution),
    )


def _act(credential_id: str, action: str) -> ResponseReturnValue:
    reason = request.form.get("reason", "")
    try:
        with unit_of_work() as session:
            institution = _institution(session)
            found = _own_credential(session, institution, credential_id)
            extra = _institution_args(institution)
            revocation.change_status(session, found, action, actor=current_actor(), reason=reason)
            message = {
                "revoke": gettext("The credential was revoked."),
                "suspend": gettext("The credential was suspended."),
                "unsuspend": gettext("The suspension was lifted."),
            }[action]
    except InvalidInputError:
        flash(gettext("Give a reason for the revocation; it is shown to verifiers."), "error")
        return _back(credential_id, endpoint="staff_credentials.credential_revoke_confirm")
    except ConflictError:
        flash(gettext("That is not possible in the credential's current state."), "error")
        return _back(credential_id)
    flash(message, "success")
    return redirect(
        url_for("staff_credentials.credential", credential_id=credential_id, **extra), 303
    )


def _back(
    credential_id: str, endpoint: str = "staff_credentials.credential"
) -> ResponseReturnValue:
    chosen = request.values.get("institution")
    extra: dict[str, Any] = {"institution": chosen} if chosen else {}
    return redirect(url_for(endpoint, credential_id=credential_id, **extra), 303)


@bp.post("/credentials/<credential_id>/revoke")
@login_required(Role.ISSUER)
def revoke(credential_id: str) -> ResponseReturnValue:
    return _act(credential_id, "revoke")


@bp.post("/credentials/<credential_id>/suspend")
@login_required(Role.ISSUER)
def suspend(credential_id: str) -> ResponseReturnValue:
    return _act(credential_id, "suspend")


@bp.post("/credentials/<credential_id>/unsuspend")
@login_required(Role.ISSUER)
def unsuspend(credential_id: str) -> ResponseReturnValue:
    return _act(credential_id, "unsuspend")


# ------------------------------------------------------------------------------------- audit


def _date_arg(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _audit_filter() -> audit.AuditFilter:
    action = request.args.get("action", "")
    until = _date_arg("until")
    return audit.AuditFilter(
        action=action if action in audit.ACTIONS else None,
        target=request.args.get("target", "").strip()[:200] or None,
        actor=request.args.get("actor", "").strip()[:200] or None,
        since=_date_arg("since"),
        # "until 2026-11-30" includes that whole day.
        until=until + timedelta(days=1) if until is not None else None,
    )


@bp.get("/audit")
@login_required(Role.INSTITUTION_ADMIN)
def audit_log() -> ResponseReturnValue:
    session = get_session()
    institution = _institution(session)
    filters = _audit_filter()
    page = _page()
    events = audit.list_events(
        session, institution.id, filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    shown = events[:PAGE_SIZE]
    return render_template(
        "staff_credentials/audit.html",
        institution=institution,
        events=shown,
        names=audit.event_names(session, institution.id, shown, current_language()),
        has_next=len(events) > PAGE_SIZE,
        page=page,
        actions=audit.ACTIONS,
        action_labels=action_labels(),
        args={k: v for k, v in request.args.items() if k != "page"},
        extra_args=_institution_args(institution),
    )


@bp.get("/audit.csv")
@login_required(Role.INSTITUTION_ADMIN)
def audit_csv() -> ResponseReturnValue:
    session = get_session()
    institution = _institution(session)
    events = audit.list_events(session, institution.id, _audit_filter())
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    # With a byte order mark, spreadsheet programs read the UTF-8 (ä, ö, å) correctly.
    response = Response(
        audit.export_csv(events).encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="merkki-audit-{institution.slug}-{stamp}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
