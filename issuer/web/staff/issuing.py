"""Staff UI for issuing (``/staff/issue/...``): issue one credential, upload a cohort CSV and
follow its job (and download its learners' links as CSV), the mail outbox (each mail as the
learner reads it, with its links to copy, and sent again on request), and the package
approval queue.

What staff are told after issuing is what happened to the learner's mail: sent, being sent,
failed, or waiting in the outbox because no mail server is configured (``ISSUER_SMTP_URL``);
never that a mail will arrive when nothing can send it.

Every view needs a signed-in staff member with the issuer role (``issuer.web.auth``) and acts for
the staff member's institution (a service admin chooses one with ``?institution=<slug>``);
another institution's jobs, mails and offers are "not found". Forms carry the app-wide CSRF
token; there is no inline script (the job page refreshes itself with a meta refresh).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import BadgeClass, Institution
from issuer.models.issuing import BulkJob, MailState
from issuer.services import (
    badge_classes,
    bulk,
    bulk_csv,
    cohort,
    issue_input,
    issuing,
    mail,
    stacking,
)
from issuer.services.errors import ConflictError, NotFoundError
from issuer.services.issue_input import FieldError, FieldErrors, IssueInput
from issuer.web import issuing_context
from issuer.web.auth import Role, current_actor, login_required
from issuer.web.i18n import LANGUAGE_NAMES, current_language
from issuer.web.staff.common import error_page, institution_or_chooser, institution_url, render
from issuer.web.staff.dates import typed_date
from issuer.web.staff.mail_notices import issued_notice, mail_notices, smtp_configured
from issuer.wiring import jobs

bp = Blueprint("staff_issuing", __name__, url_prefix="/staff/issue")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return error_page(
        400, _("The form has expired or was not sent from this site. Reload the page and retry.")
    )


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    return error if status >= 500 else error_page(status)


@bp.errorhandler(NotFoundError)
def _not_found(error: NotFoundError) -> ResponseReturnValue:
    return error_page(404)


def _issuable(session: Session, institution: Institution) -> list[tuple[BadgeClass, str]]:
    """(badge class, its name as the choice shows it): a badge class not fully translated
    into every language says which ones it can be issued in (issue 15)."""
    lang = _lang()
    found = []
    for badge_class in badge_classes.list_badge_classes(session):
        if badge_classes.usable_by(badge_class, institution):
            version = badge_classes.current_version(session, badge_class)
            parsed = badge_classes.parsed(version)
            name = parsed.name.get(lang)
            complete = issue_input.complete_languages(parsed)
            if len(complete) < len(issue_input.LANGUAGES):
                name = _(
                    "%(name)s (only in %(languages)s)",
                    name=name,
                    languages=", ".join(LANGUAGE_NAMES[code] for code in complete) or "—",
                )
            found.append((badge_class, name))
    return sorted(found, key=lambda item: item[1].lower())


def _offered_languages(session: Session, badge_class: BadgeClass | None) -> list[str]:
    """The languages the form offers: those ``badge_class`` is fully translated into (all
    of them until one is chosen)."""
    if badge_class is None:
        return list(issue_input.LANGUAGES)
    parsed = badge_classes.parsed(badge_classes.current_version(session, badge_class))
    return issue_input.complete_languages(parsed)


def _missing(session: Session, badge_class: BadgeClass) -> dict[str, list[str]]:
    parsed = badge_classes.parsed(badge_classes.current_version(session, badge_class))
    return issue_input.missing_fields(parsed)


def _lang() -> str:
    return current_language()


# --- issue one -------------------------------------------------------------------------------

_FORM_FIELDS = (
    "badge_class",
    "email",
    "name",
    "lang",
    "evidence_url",
    "evidence_narrative",
    "grade",
    "activity_start_date",
    "activity_end_date",
    "valid_until",
)
#: Passed on as typed: free texts are normalised before they are trimmed (issuer.core.text),
#: and an address is trimmed only as ``issuer.services.emails`` trims it, so that a control or
#: invisible character at either end is refused, not lost unseen.
_AS_TYPED = frozenset({"email", "name", "evidence_narrative", "grade"})


def _form_error(error: FieldError) -> str:
    """A problem as the form shows it next to its field."""
    if error.code == "invalid_date" and error.field == "valid_until":
        return str(
            _(
                "Enter a date as DD.MM.YYYY or YYYY-MM-DD, e.g. 31.12.2030, and if you like a "
                "Finnish time after it: 31.12.2030 klo 16.00."
            )
        )
    if error.code == "invalid_date":
        return str(_("Enter a date as DD.MM.YYYY or YYYY-MM-DD, e.g. 31.12.2030."))
    return error.message


@bp.route("/", methods=["GET", "POST"])
@login_required(Role.ISSUER)
def issue_one() -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.issue_one")
    if not isinstance(institution, Institution):
        return institution
    choices = _issuable(session, institution)
    values = {
        name: (request.form.get(name) or "")
        if name in _AS_TYPED
        else (request.form.get(name) or "").strip()
        for name in _FORM_FIELDS
    }
    values["lang"] = values["lang"] or "fi"
    # A badge class chosen already (``?badge_class=`` or the form sent back) narrows the
    # languages offered to those it is complete in.
    values["badge_class"] = values["badge_class"] or (request.args.get("badge_class") or "")
    chosen = next(
        (found for found, _name in choices if str(found.id) == values["badge_class"]), None
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        badge_class = chosen
        if badge_class is None:
            errors["badge_class"] = _("Choose a badge class.")
        raw = IssueInput(
            email=values["email"],
            name=values["name"],
            lang=values["lang"],
            evidence=issue_input.flat_evidence(
                values["evidence_url"], values["evidence_narrative"]
            ),
            grade=values["grade"] or None,
            activity_start_date=typed_date(values["activity_start_date"]) or None,
            activity_end_date=typed_date(values["activity_end_date"]) or None,
            valid_until=typed_date(values["valid_until"]) or None,
        )
        recipient = None
        try:
            recipient = issue_input.validate(
                raw,
                now=datetime.now(UTC),
                names=issue_input.FLAT_NAMES,
                languages=None if badge_class is None else _offered_languages(session, badge_class),
                badge_class=None if badge_class is None else badge_class.slug,
                missing=None if badge_class is None else _missing(session, badge_class),
            )
        except FieldErrors as error:
            for problem in error.errors:
                errors.setdefault(problem.field, _form_error(problem))
        if badge_class is not None and recipient is not None and not errors:
            try:
                with unit_of_work() as write:
                    issued = issuing.issue(
                        write,
                        issuing_context.for_request(),
                        institution,
                        badge_class,
                        recipient.email,
                        recipient.name,
                        recipient.options,
                        actor=current_actor(),
                        via="staff",
                    )
                    credential_id = issued.credential.id
                    packages = len(issued.packages)
            except FieldErrors as error:
                for problem in error.errors:
                    field = issue_input.FLAT_NAMES.get(problem.field, problem.field)
                    errors.setdefault(field, _form_error(problem))
            else:
                flash(*issued_notice(mail.credential_mail_state(session, credential_id)))
                if packages:
                    flash(_("The badge completed a package, which was issued too."), "success")
                return redirect(
                    institution_url(
                        "staff_issuing.issued", institution, credential_id=credential_id
                    )
                )
    return render(
        "staff_issuing/issue_one.html",
        status=422 if errors else 200,
        institution=institution,
        choices=choices,
        values=values,
        errors=errors,
        offered_languages=_offered_languages(session, chosen),
    )


@bp.get("/issued/<credential_id>")
@login_required(Role.ISSUER)
def issued(credential_id: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.issue_one")
    if not isinstance(institution, Institution):
        return institution
    credential = issuing.get_credential(session, credential_id)
    if credential.institution_id != institution.id:
        raise NotFoundError("not found")
    page = urls.credential_url(get_settings().base_url, credential.id)
    return render(
        "staff_issuing/issued.html",
        institution=institution,
        credential=credential,
        page=page,
        mail_id=mail.credential_mail_id(session, credential.id),
    )


# --- cohort CSV ------------------------------------------------------------------------------


@bp.route("/bulk", methods=["GET", "POST"])
@login_required(Role.ISSUER)
def bulk_upload() -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.bulk_upload")
    if not isinstance(institution, Institution):
        return institution
    choices = _issuable(session, institution)
    values = {
        "badge_class": (
            request.form.get("badge_class") or request.args.get("badge_class") or ""
        ).strip(),
        "lang": (request.form.get("lang") or "fi").strip(),
    }
    chosen = next(
        (found for found, _name in choices if str(found.id) == values["badge_class"]), None
    )
    errors: dict[str, str] = {}
    row_errors: list[bulk_csv.RowError] = []
    total_errors = 0
    if request.method == "POST":
        badge_class = next(
            (found for found, _name in choices if str(found.id) == values["badge_class"]), None
        )
        if badge_class is None:
            errors["badge_class"] = _("Choose a badge class.")
        if values["lang"] not in issue_input.LANGUAGES:
            errors["lang"] = _("Choose a language.")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors["file"] = _("Choose a CSV file.")
        if badge_class is not None and upload is not None and upload.filename and not errors:
            data = upload.stream.read(bulk_csv.MAX_CSV_BYTES + 1)
            parsed_class = badge_classes.parsed(badge_classes.current_version(session, badge_class))
            languages = issue_input.complete_languages(parsed_class)
            try:
                parsed = bulk_csv.parse_csv(
                    data,
                    default_lang=values["lang"],
                    languages=languages,
                    missing=issue_input.missing_fields(parsed_class),
                )
            except bulk_csv.CsvError as error:
                row_errors = error.errors
                total_errors = error.total_errors
            else:
                with unit_of_work() as write:
                    job = bulk.create_job(
                        write,
                        institution,
                        badge_class,
                        parsed,
                        actor=current_actor(),
                        file_name=upload.filename,
                    )
                    job_id = job.id
                jobs.runner(current_app._get_current_object()).submit(job_id)  # type: ignore[attr-defined]
                return redirect(institution_url("staff_issuing.job", institution, job_id=job_id))
    return render(
        "staff_issuing/bulk.html",
        status=422 if errors or row_errors else 200,
        institution=institution,
        choices=choices,
        values=values,
        errors=errors,
        row_errors=row_errors,
        total_errors=total_errors,
        columns=bulk_csv.COLUMNS,
        offered_languages=_offered_languages(session, chosen),
    )


@bp.get("/jobs")
@login_required(Role.ISSUER)
def job_list() -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.job_list")
    if not isinstance(institution, Institution):
        return institution
    found = list(
        session.scalars(
            select(BulkJob)
            .where(BulkJob.institution_id == institution.id)
            .order_by(BulkJob.id.desc())
            .limit(100)
        )
    )
    return render("staff_issuing/jobs.html", institution=institution, jobs=found)


@bp.get("/jobs/<int:job_id>")
@login_required(Role.ISSUER)
def job(job_id: int) -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.job_list")
    if not isinstance(institution, Institution):
        return institution
    found = bulk.get_job(session, job_id, institution)
    processed = found.issued + found.skipped + found.failed
    percent = int(100 * processed / found.total) if found.total else 100
    return render(
        "staff_issuing/job.html",
        institution=institution,
        job=found,
        processed=processed,
        percent=percent,
        running=found.state.value in ("pending", "running"),
        row_errors=bulk.job_errors(session, found),
        mail_notices=mail_notices(cohort.mail_states(session, found)),
        has_learners=found.issued + found.skipped > 0,
    )


def _learners_header() -> list[str]:
    return [_("Name"), _("E-mail"), _("Learner page"), _("Private manage link")]


@bp.get("/jobs/<int:job_id>/learners.csv")
@login_required(Role.ISSUER)
def job_learners(job_id: int) -> ResponseReturnValue:
    """The cohort's names, addresses and links as CSV (``issuer.services.cohort``)."""
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.job_list")
    if not isinstance(institution, Institution):
        return institution
    with unit_of_work() as write:
        found = bulk.get_job(write, job_id, institution)
        data = cohort.export(
            write,
            found,
            get_settings().base_url,
            _learners_header(),
            actor=current_actor(),
        )
    response = Response(data, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="merkki-learners-{institution.slug}-job-{job_id}.csv"'
    )
    # Private links: never kept by a shared cache or the browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- outbox ----------------------------------------------------------------------------------


@bp.get("/outbox")
@login_required(Role.ISSUER)
def outbox() -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.outbox")
    if not isinstance(institution, Institution):
        return institution
    return render(
        "staff_issuing/outbox.html",
        institution=institution,
        mails=mail.list_outbox(session, institution),
        smtp_configured=smtp_configured(),
        masked=mail.masked_address,
    )


def _link_labels() -> dict[str, str]:
    return {
        mail.PAGE: _("Learner page"),
        mail.MANAGE: _("Private manage link"),
        mail.VERIFY: _("Verification page"),
    }


@bp.get("/outbox/<int:mail_id>")
@login_required(Role.ISSUER)
def outbox_mail(mail_id: int) -> ResponseReturnValue:
    """One mail as the learner reads it: address, subject, the body as text, and its links in
    read-only fields to select and copy (a copy button where the browser allows scripts)."""
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.outbox")
    if not isinstance(institution, Institution):
        return institution
    found = mail.get_mail(session, institution, mail_id)
    labels = _link_labels()
    links = [
        (kind, labels[kind], link) for kind, link in mail.mail_links(found, get_settings().base_url)
    ]
    response = Response(
        render_template(
            "staff_issuing/outbox_mail.html",
            institution=institution,
            mail=found,
            links=links,
            smtp_configured=smtp_configured(),
        )
    )
    # The page shows a private link: not for any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/outbox/<int:mail_id>/resend")
@login_required(Role.ISSUER)
def resend(mail_id: int) -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.outbox")
    if not isinstance(institution, Institution):
        return institution
    with unit_of_work() as write:
        found = mail.get_mail(write, institution, mail_id)
        if found.state is MailState.SENDING:
            flash(_("The mail is being sent right now."), "error")
        else:
            mail.resend(write, found, actor=current_actor())
            flash(
                _("The mail will be sent again.")
                if smtp_configured()
                else _(
                    "The mail is queued again. No mail server is configured (ISSUER_SMTP_URL), "
                    "so it waits in the outbox until one is."
                ),
                "success",
            )
    return redirect(institution_url("staff_issuing.outbox", institution))


# --- package approvals -----------------------------------------------------------------------


@bp.get("/approvals")
@login_required(Role.ISSUER)
def approvals() -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.approvals")
    if not isinstance(institution, Institution):
        return institution
    offers = stacking.pending_offers(session, institution)
    lang = _lang()
    names = {
        offer.id: badge_classes.parsed(
            badge_classes.current_version(session, offer.badge_class)
        ).name.get(lang)
        for offer in offers
    }
    return render(
        "staff_issuing/approvals.html", institution=institution, offers=offers, names=names
    )


@bp.post("/approvals/<int:offer_id>/<any(approve, reject):decision>")
@login_required(Role.ISSUER)
def decide(offer_id: int, decision: str) -> ResponseReturnValue:
    session = get_session()
    institution = institution_or_chooser(session, "staff_issuing.approvals")
    if not isinstance(institution, Institution):
        return institution
    try:
        with unit_of_work() as write:
            offer = stacking.get_offer(write, institution, offer_id)
            if decision == "approve":
                stacking.approve(
                    write,
                    issuing_context.for_request(),
                    institution,
                    offer,
                    actor=current_actor(),
                )
            else:
                stacking.reject(write, offer, actor=current_actor())
    except ConflictError:
        flash(_("Someone has already decided on this package."), "error")
    except FieldErrors as error:
        # The problems alone, each in the reader's language (without the API's field keys).
        flash("; ".join(problem.message for problem in error.errors), "error")
    else:
        flash(
            _("The package was issued.") if decision == "approve" else _("The offer was rejected."),
            "success",
        )
    return redirect(institution_url("staff_issuing.approvals", institution))
