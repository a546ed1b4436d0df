"""The pages a launch opens inside the course (``/lti/course?launch=<id>``).

* A Deep Linking launch by a teacher: choose the badge class to place; Merkki answers the
  platform with a signed LtiDeepLinkingResponse (LTI Deep Linking 2.0 section 4.2) whose
  resource link carries the placement's id as a custom parameter.
* A resource link launch by a teacher: the course roster (Names and Role Provisioning 2.0),
  issuing to the chosen learners through one bulk job, and the grade rule (Assignment and
  Grade Services 2.0: a line item and a threshold) with a button that polls the results.
* A resource link launch by a learner: the badges they hold from this course, with links to
  their pages.

Every form posts to an address holding the launch id (module docstring of ``issuer.web.lti``).
The roster and the grades are read from the platform again on every post: what the form sends
only chooses among them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException
from pylti1p3.lineitem import LineItem
from sqlalchemy.exc import IntegrityError

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.services import lti, lti_awards, lti_launch
from issuer.services.errors import InvalidInputError, NotFoundError
from issuer.web.errors import error_page
from issuer.web.i18n import current_language
from issuer.web.lti import bp, classify, current_flow, frame_for, refused
from issuer.wiring import jobs

PLACEMENT = "merkki_placement"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
#: What a call to the platform's services (roster, grades) raises when it fails.
_PLATFORM_FAILURES = (LtiException, lti.LtiError, OSError)


def _restore() -> tuple[lti_launch.ToolLaunch, lti_launch.LaunchFacts] | str:
    """The launch this page acts on, or the refusal code."""
    launch_id = request.args.get("launch", "")
    try:
        found = current_flow({})
        restored = lti_launch.restore_launch(found, launch_id)
        return restored, lti_launch.facts(get_session(), restored)
    except (LtiException, lti.LtiError) as error:
        return classify(error)


def _status(code: str) -> int:
    # An unknown or expired launch id names nothing (404); any other failed check is 403.
    return 404 if code == "session" else 403


def _members(restored: lti_launch.ToolLaunch) -> list[lti_awards.Member]:
    if not restored.has_nrps():
        return []
    return lti_awards.members_of(restored.get_nrps().get_members())


def _line_items(restored: lti_launch.ToolLaunch) -> list[dict[str, Any]]:
    if not restored.has_ags():
        return []
    ags = restored.get_ags()
    if not ags.can_read_lineitem():
        return []
    return [item for item in ags.get_lineitems() if isinstance(item, dict) and item.get("id")]


def _submit(job_id: int | None) -> None:
    if job_id is not None:
        jobs.runner(current_app._get_current_object()).submit(job_id)  # type: ignore[attr-defined]


def _back(launch_id: str, **counts: int) -> ResponseReturnValue:
    query: dict[str, Any] = {"launch": launch_id, **counts}
    return redirect(url_for("lti.course", **query), 303)


def _counts(result: lti_awards.AwardResult) -> dict[str, int]:
    return {
        "issued": result.job.total if result.job is not None else 0,
        "already": len(result.already),
        "unreachable": len(result.unreachable),
    }


@bp.get("/course")
def course() -> ResponseReturnValue:
    with unit_of_work() as session:
        found = _restore()
        if isinstance(found, str):
            return refused(found, _status(found))
        restored, facts = found
        launch_id = request.args.get("launch", "")
        institution = facts.platform.institution
        context: dict[str, Any] = {
            "facts": facts,
            "launch_id": launch_id,
            "institution": institution,
            "badge_name": lambda found: lti_awards.badge_name(session, found, current_language()),
            "counts": {
                name: request.args.get(name, type=int)
                for name in ("issued", "already", "unreachable")
                if request.args.get(name, type=int) is not None
            },
        }
        if facts.message_type == "LtiDeepLinkingRequest":
            if not facts.instructor:
                return error_page(403, gettext("Only the course's teachers place badges."))
            page = render_template(
                "lti/deep_link.html",
                badge_classes=lti_awards.badge_classes_for(session, institution),
                **context,
            )
            return frame_for(current_app.make_response(page), facts.platform)
        try:
            placement = lti_awards.placement_for(session, facts, facts.custom.get(PLACEMENT, ""))
        except NotFoundError:
            placement = None
        if not facts.instructor:
            page = render_template(
                "lti/learner.html",
                held=lti_awards.held(session, facts),
                credential_url=lambda cid: urls.credential_url(get_settings().base_url, cid),
                **context,
            )
            return frame_for(current_app.make_response(page), facts.platform)
        if placement is None:
            return error_page(404, gettext("This link does not name a badge of Merkki."))
        try:
            members = _members(restored)
            line_items = _line_items(restored)
        except _PLATFORM_FAILURES as error:
            current_app.logger.warning("LTI roster or grades unavailable: %s", error)
            return error_page(502, gettext("The course platform did not give the roster."))
        awarded = lti_awards.awarded_users(session, facts, placement.badge_class)
        page = render_template(
            "lti/teacher.html",
            placement=placement,
            members=[member for member in members if member.learner],
            awarded=awarded,
            line_items=line_items,
            **context,
        )
        return frame_for(current_app.make_response(page), facts.platform)


def _rule_refused() -> str:
    return str(gettext("Choose a grade item and a threshold between 1 and 100."))


class Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _teacher() -> tuple[lti_launch.ToolLaunch, lti_launch.LaunchFacts]:
    """The launch of a teacher's post, or ``Refusal``."""
    found = _restore()
    if isinstance(found, str):
        raise Refusal(refused(found, _status(found)))
    if not found[1].instructor:
        raise Refusal(error_page(403, gettext("Only the course's teachers issue badges here.")))
    return found


def _course_failure(error: Exception, launch_id: str, platform_failure: str) -> ResponseReturnValue:
    """The answer to a teacher's course action (award, grade rule, poll) that ``error`` stopped:
    a refused launch, an unknown placement, a concurrent award that already issued (nothing
    was issued twice: back to the course page), or ``platform_failure`` when the platform
    did not answer."""
    if isinstance(error, Refusal):
        return error.response
    if isinstance(error, NotFoundError):
        return error_page(404, gettext("This link does not name a badge of Merkki."))
    if isinstance(error, IntegrityError):
        return _back(launch_id)
    return error_page(502, platform_failure)


@bp.post("/course/place")
def place() -> ResponseReturnValue:
    try:
        return _place()
    except Refusal as refusal:
        return refusal.response


def _place() -> ResponseReturnValue:
    with unit_of_work() as session:
        _, facts = _teacher()
        if facts.message_type != "LtiDeepLinkingRequest":
            return error_page(400, gettext("This launch cannot place a badge."))
        try:
            badge_class = lti_awards.badge_class_for(
                session, facts.platform.institution, request.form.get("badge_class", type=int) or 0
            )
        except NotFoundError:
            return error_page(422, gettext("Choose one of the badges."))
        placement = lti_awards.create_placement(session, facts, badge_class)
        placement_id = placement.id
    # The answer is a page of its own (GET): its language switcher links work, and showing it
    # again signs the same placement again, never a new one.
    launch_id = request.args.get("launch", "")
    return redirect(url_for("lti.placed", launch=launch_id, placement=placement_id), 303)


@bp.get("/course/placed")
def placed() -> ResponseReturnValue:
    try:
        restored, facts = _teacher()
    except Refusal as refusal:
        return refusal.response
    session = get_session()
    if facts.message_type != "LtiDeepLinkingRequest":
        return error_page(400, gettext("This launch cannot place a badge."))
    try:
        placement = lti_awards.placement_for(session, facts, request.args.get("placement", ""))
    except NotFoundError:
        return error_page(404, gettext("This link does not name a badge of Merkki."))
    name = lti_awards.badge_name(session, placement.badge_class, current_language())
    resource = (
        DeepLinkResource()
        .set_url(urls.lti_launch_url(get_settings().base_url))
        .set_custom_params({PLACEMENT: str(placement.id)})
        .set_title(name)
    )
    deep_link = restored.get_deep_link()
    token = deep_link.get_response_jwt([resource])
    settings = dict(restored.get_launch_data()).get(DEEP_LINKING)
    return_url = str(settings.get("deep_link_return_url", "")) if isinstance(settings, dict) else ""
    page = render_template(
        "lti/placed.html",
        facts=facts,
        return_url=return_url,
        jwt=token,
        badge_name=name,
    )
    return frame_for(current_app.make_response(page), facts.platform, form_to=return_url)


@bp.post("/course/award")
def award() -> ResponseReturnValue:
    launch_id = request.args.get("launch", "")
    try:
        with unit_of_work() as session:
            restored, facts = _teacher()
            placement = lti_awards.placement_for(session, facts, facts.custom.get(PLACEMENT, ""))
            wanted = set(request.form.getlist("user"))
            chosen = [m for m in _members(restored) if m.learner and m.user_id in wanted]
            result = lti_awards.award(
                session,
                facts.platform,
                facts.deployment_id,
                facts.context_id,
                placement.badge_class,
                chosen,
                actor=lti_awards.actor_of(facts),
                lang=current_language(),
            )
            job_id = result.job.id if result.job is not None else None
    except (Refusal, NotFoundError, IntegrityError, *_PLATFORM_FAILURES) as error:
        failure = gettext("The course platform did not give the roster.")
        return _course_failure(error, launch_id, failure)
    _submit(job_id)
    return _back(launch_id, **_counts(result))


@bp.post("/course/grade-rule")
def grade_rule() -> ResponseReturnValue:
    launch_id = request.args.get("launch", "")
    try:
        with unit_of_work() as session:
            restored, facts = _teacher()
            placement = lti_awards.placement_for(session, facts, facts.custom.get(PLACEMENT, ""))
            chosen = request.form.get("line_item", "")
            items = {str(item["id"]) for item in _line_items(restored)}
            percent = request.form.get("threshold", type=float)
            if chosen not in items or percent is None:
                return error_page(422, _rule_refused())
            lti_awards.set_grade_rule(placement, chosen, percent / 100)
    except InvalidInputError:
        return error_page(422, _rule_refused())
    except (Refusal, NotFoundError, *_PLATFORM_FAILURES) as error:
        failure = gettext("The course platform did not give the grades.")
        return _course_failure(error, launch_id, failure)
    return _back(launch_id)


@bp.post("/course/poll")
def poll() -> ResponseReturnValue:
    launch_id = request.args.get("launch", "")
    try:
        with unit_of_work() as session:
            restored, facts = _teacher()
            placement = lti_awards.placement_for(session, facts, facts.custom.get(PLACEMENT, ""))
            if placement.line_item_url is None or not restored.has_ags():
                return error_page(422, gettext("Set the grade rule first."))
            results = restored.get_ags().get_grades(LineItem({"id": placement.line_item_url}))
            result = lti_awards.poll_grades(
                session,
                placement,
                _members(restored),
                results,
                actor=lti_awards.actor_of(facts),
                lang=current_language(),
            )
            job_id = result.job.id if result.job is not None else None
    except (Refusal, NotFoundError, IntegrityError, *_PLATFORM_FAILURES) as error:
        failure = gettext("The course platform did not give the grades.")
        return _course_failure(error, launch_id, failure)
    _submit(job_id)
    return _back(launch_id, **_counts(result))
