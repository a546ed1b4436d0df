"""The LTI 1.3 tool's endpoints (``/lti``; issue 17, LTI part; docs/integrations.md).

* ``GET|POST /lti/login``: OIDC third-party initiated login (LTI 1.3 Core section 5.1.1): sets
  the state cookie and sends the browser to the platform's authorization URL.
* ``POST /lti/launch``: the platform's id_token, validated by PyLTI1p3
  (``issuer.services.lti_launch``). Any failed check (signature, audience, nonce, expiry,
  deployment, state) answers a 4xx page in the reader's language and stores nothing; a good
  launch is stored and the browser goes on to ``GET /lti/course?launch=<id>``.
* ``GET /lti/jwks.json``: the tool's public key set.
* ``GET /lti/register?invite=..&openid_configuration=..&registration_token=..``: LTI Dynamic
  Registration from a one-time invite staff made.

These requests come from the platform or from a page inside it, often in an iframe of another
site, where the session cookie (SameSite=Lax) is not sent: they are exempt from the form CSRF
check. The launch is proven by the platform's signed id_token and its single-use nonce; the
course pages' forms by the launch id in their address, a 256-bit secret only the launched page
holds, which is why those answers are never cached and send no referrer. Their pages may be
framed by the platform (its origin only) and may post the Deep Linking answer back to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse

from issuer import urls
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models.lti import LtiPlatform
from issuer.services import lti, lti_launch
from issuer.services.errors import ConflictError, NotFoundError
from issuer.web.errors import error_page
from issuer.web.i18n import normalize_language

bp = Blueprint("lti", __name__, url_prefix="/lti")


def refusal(code: str) -> str:
    """A failed LTI check, for the person in front of the platform."""
    messages = {
        "signature": gettext("The launch is not signed by the registered platform."),
        "registration": gettext(
            "The launch names a platform or client id that is not registered in Merkki."
        ),
        "nonce": gettext("This launch was used already. Open the link in the course again."),
        "expired": gettext("The launch has expired. Open the link in the course again."),
        "deployment": gettext("This deployment of the tool is not registered in Merkki."),
        "state": gettext(
            "The launch does not belong to this browser session. Open the link in the course "
            "again; if it keeps failing, set the tool to open in a new window."
        ),
        "launch": gettext("The LTI launch could not be verified."),
        "session": gettext(
            "This page has expired or its address is wrong. Open the link in the course again."
        ),
    }
    return str(messages.get(code, messages["launch"]))


def classify(error: Exception) -> str:
    """Which check a PyLTI1p3 exception reports (its messages are the only handle)."""
    text = str(error)
    for needle, code in (
        ("Signature has expired", "expired"),
        ("nonce", "nonce"),
        ("Nonce", "nonce"),
        ("Registration not found", "registration"),
        ("Client id not registered", "registration"),
        ("Could not find registration", "registration"),
        ("deployment", "deployment"),
        ("State not found", "state"),
        ("Missing state", "state"),
        ("Launch data not found", "session"),
    ):
        if needle in text:
            return code
    if "Signature" in text or "public key" in text or "decode" in text:
        return "signature"
    return "launch"


def refused(code: str, status: int = 403) -> Response:
    return error_page(status, refusal(code))


def current_flow(params: Mapping[str, str]) -> lti_launch.Flow:
    settings = get_settings()
    return lti_launch.flow(
        get_session(),
        settings.key_passphrase,
        params,
        request.cookies,
        secure=request.is_secure,
        previous=settings.key_passphrase_previous,
    )


def apply_cookies(response: BaseResponse, found: lti_launch.Flow) -> BaseResponse:
    for cookie in found.cookies.to_set:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path="/lti/",
            httponly=True,
            secure=request.is_secure,
            # The launch is a cross-site POST from the platform: under https the cookie must
            # travel with it (RFC 6265bis SameSite; browsers drop None without Secure).
            samesite="None" if request.is_secure else "Lax",
        )
    return response


_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?")


def origin(url: str) -> str:
    """``url``'s origin for a CSP source list; "'none'" for anything that is not a plain
    host (nothing a header could be bent with)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not _HOST.fullmatch(parts.netloc):
        return "'none'"
    return f"{parts.scheme}://{parts.netloc}"


def frame_for(
    response: BaseResponse, platform: LtiPlatform, *, form_to: str | None = None
) -> BaseResponse:
    """Let ``platform`` frame this page (LTI launches open in an iframe by default in Moodle)
    and, for the Deep Linking answer, post to it; other sites still may not."""
    origins = " ".join(sorted({origin(platform.issuer), origin(platform.auth_login_url)}))
    form_action = "'self'" + (f" {origin(form_to)}" if form_to else "")
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            f"frame-ancestors 'self' {origins}",
        ]
    )
    # X-Frame-Options cannot name an origin; frame-ancestors supersedes it (CSP 3).
    g.framable_by_platform = True
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.after_request
def _frame_headers(response: Response) -> Response:
    if response.status_code >= 400 and response.mimetype == "text/html":
        # A refusal page holds no secret and nothing to click on behalf of anyone: the platform
        # that framed the launch (which one is not known when the launch fails) may show it.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors *"
        )
        g.framable_by_platform = True
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    params = request.form if request.method == "POST" else request.args
    launch_url = urls.lti_launch_url(get_settings().base_url)
    try:
        with unit_of_work():
            found = current_flow(params.to_dict())
            location = lti_launch.login_redirect(found, launch_url)
            found.storage.purge()
    except (LtiException, OIDCException) as error:
        return refused(classify(error), 400)
    response = redirect(location, 302)
    return apply_cookies(response, found)


@bp.post("/launch")
def launch() -> ResponseReturnValue:
    try:
        with unit_of_work() as write:
            found = current_flow(request.form.to_dict())
            validated = lti_launch.validate_launch(found)
            facts = lti_launch.facts(write, validated)
            launch_id = validated.get_launch_id()
    except (LtiException, OIDCException, lti.LtiError) as error:
        code = classify(error)
        return refused(code, 401 if code in ("signature", "expired", "registration") else 403)
    lang = normalize_language(facts.locale.replace("_", "-").split("-")[0].lower())
    address = url_for("lti.course", launch=launch_id, lang=lang) if lang else None
    response = redirect(address or url_for("lti.course", launch=launch_id), 303)
    return frame_for(response, facts.platform)


@bp.get("/jwks.json")
def jwks() -> ResponseReturnValue:
    with unit_of_work() as write:
        # Made on first use, so that the key set is never empty when a platform reads it.
        settings = get_settings()
        lti.tool_key(write, settings.key_passphrase, settings.key_passphrase_previous)
        body = lti.jwks(write)
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/register")
def register() -> ResponseReturnValue:
    invite = request.args.get("invite", "")
    config_url = request.args.get("openid_configuration", "")
    if not invite or not config_url:
        return error_page(400, gettext("This registration link is incomplete."))
    settings = get_settings()
    try:
        with unit_of_work() as write:
            found = lti.open_invite(write, invite)
            platform = lti.register_dynamically(
                write,
                found,
                openid_configuration=config_url,
                registration_token=request.args.get("registration_token"),
                base_url=settings.base_url,
                http=lti.PlatformHttp(),
            )
            name = platform.name
    except NotFoundError:
        return error_page(404, gettext("This registration link is unknown, used or expired."))
    except (ConflictError, IntegrityError):
        return error_page(409, gettext("This platform is registered in Merkki already."))
    except lti.LtiError:
        return error_page(
            502, gettext("The platform's registration details could not be read or used.")
        )
    page = make_response(_registered_page(name))
    page.headers["Cache-Control"] = "no-store"
    # Moodle opens the registration in an iframe of its own admin page.
    page.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors 'self' {origin(config_url)}"
    )
    g.framable_by_platform = True
    return page


def _registered_page(name: str) -> str:
    return render_template("lti/registered.html", platform_name=name)


def init_app(app: Flask) -> None:
    from issuer.web.auth import csrf
    from issuer.web.lti import course  # noqa: F401 - registers the course pages

    app.register_blueprint(bp)
    # Module docstring: the platform's id_token, or the launch id, proves these requests.
    csrf.exempt(bp)
