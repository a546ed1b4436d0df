"""LTI 1.3 login and launch on PyLTI1p3, with Merkki's registrations and database-held state.

PyLTI1p3 does the protocol (LTI 1.3 Core section 5.1, OIDC third-party initiated login; the
id_token's signature against the platform's key set, the registration by issuer and audience,
the deployment, the message type; pyjwt checks ``exp`` and ``iat``). Merkki supplies:

* ``MerkkiToolConf``: registrations from ``lti_platform`` (``issuer.services.lti``), with the
  tool's sealed key; the institution of the registration found is what the launch acts for.
* ``DatabaseStorage``: the nonce and the launch data in ``lti_state``, so any app server
  answers the next request.
* ``OnceSessionService``: a nonce is deleted when a launch uses it (PyLTI1p3's own check only
  looks it up), so a replayed id_token is refused (OpenID Connect Core 1.0 section 3.2.2.11,
  LTI 1.3 Core section 5.1.3 step 9); concurrent replays race on one DELETE and one wins.
* ``RequestParams`` and ``CookieJar``: the request and the state cookie as plain values, so
  this module needs no web framework; the web layer copies them in and out.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pylti1p3.cookie import CookieService
from pylti1p3.deployment import Deployment
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import delete
from sqlalchemy.orm import Session

from issuer.models.lti import LtiPlatform, LtiState
from issuer.services import lti

#: How long a teacher's page (roster, grade rule) may act on a launch.
LAUNCH_LIFETIME = timedelta(hours=2)
#: How long a platform's key set is reused before it is fetched again.
KEY_SET_LIFETIME = timedelta(minutes=5)
#: How long the platform has between the login redirect and the launch.
NONCE_LIFETIME = timedelta(minutes=10)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
)


class DatabaseStorage(LaunchDataStorage[Any]):
    """PyLTI1p3's launch data storage on ``lti_state``. Keys carry no browser session: a nonce
    and a launch id are random and long, and a launch id is what a teacher's page posts."""

    _session_cookie_name = ""

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        super().__init__()
        self._db = session
        self._now = now

    def moment(self) -> datetime:
        return self._now or datetime.now(UTC)

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_session_cookie_name(self) -> str | None:
        return None

    def get_value(self, key: str) -> Any:
        row = self._db.get(LtiState, self._prepare_key(key))
        if row is None or row.expires_at <= self.moment():
            return None
        return json.loads(row.value)

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        lifetime = timedelta(seconds=exp) if exp else LAUNCH_LIFETIME
        self._db.merge(
            LtiState(
                key=self._prepare_key(key),
                value=json.dumps(value),
                expires_at=self.moment() + lifetime,
            )
        )
        self._db.flush()

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def take(self, key: str) -> bool:
        """Delete ``key`` if it is live; True when this call deleted it."""
        result = self._db.execute(
            delete(LtiState).where(
                LtiState.key == self._prepare_key(key), LtiState.expires_at > self.moment()
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def purge(self) -> int:
        """Drop expired values (the launch flow calls it now and then)."""
        result = self._db.execute(delete(LtiState).where(LtiState.expires_at <= self.moment()))
        return int(getattr(result, "rowcount", 0) or 0)


class OnceSessionService(SessionService):
    """PyLTI1p3's session service on ``DatabaseStorage``, with single-use nonces."""

    def __init__(self, storage: DatabaseStorage) -> None:
        # Not SessionService.__init__: it would bind a framework session store.
        self.data_storage = storage
        self._storage = storage

    def save_nonce(self, nonce: str) -> None:
        self.data_storage.set_value(
            self._get_key("nonce", nonce), True, exp=int(NONCE_LIFETIME.total_seconds())
        )

    def check_nonce(self, nonce: str) -> bool:
        return self._storage.take(self._get_key("nonce", nonce))


class RequestParams(Request):
    """A request's parameters (query or form) and cookies, copied out of the web request."""

    def __init__(
        self, params: Mapping[str, str], cookies: Mapping[str, str], *, secure: bool
    ) -> None:
        self._params = dict(params)
        self._cookies = dict(cookies)
        self._secure = secure

    @property
    def session(self) -> None:
        return None

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str:
        return self._params.get(key, "")

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)


@dataclass
class CookieToSet:
    name: str
    value: str
    max_age: int


class CookieJar(CookieService):
    """The OIDC state cookie: read from the request, written by the web layer's response.
    Under https it is ``SameSite=None; Secure`` (the launch is a cross-site POST from the
    platform); the web layer sets it."""

    def __init__(self, request: RequestParams) -> None:
        self._request = request
        self.to_set: list[CookieToSet] = []

    def _name(self, key: str) -> str:
        return f"{self._cookie_prefix}-{key}"

    def get_cookie(self, name: str) -> str | None:
        return self._request.get_cookie(self._name(name))

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self.to_set.append(CookieToSet(self._name(name), str(value), exp or 3600))


class UrlRedirect(Redirect[str]):
    """Where the login sends the browser; the web layer makes the response."""

    def __init__(self, location: str) -> None:
        self._location = location

    def do_redirect(self) -> str:
        return self._location

    def do_js_redirect(self) -> str:
        return self._location

    def set_redirect_url(self, location: str) -> None:
        self._location = location

    def get_redirect_url(self) -> str:
        return self._location


class MerkkiToolConf(ToolConfAbstract[RequestParams]):
    """Registrations from ``lti_platform``. One issuer may have several client ids (two
    registrations of one Moodle site), so registrations are found by issuer and client id."""

    def __init__(self, session: Session, passphrase: str, previous: Sequence[str] = ()) -> None:
        self._session = session
        self._passphrase = passphrase
        self._previous = tuple(previous)
        #: The registration the last look-up found (the launch's institution).
        self.platform: LtiPlatform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def registration_of(self, platform: LtiPlatform) -> Registration:
        key = lti.tool_key(self._session, self._passphrase, self._previous)
        return (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(key.private_pem)
            .set_tool_public_key(key.public_pem)
        )

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self.find_registration_by_params(iss, "", *args, **kwargs)

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        self.platform = lti.find_platform(self._session, iss or "", client_id or None)
        if self.platform is None:
            # PyLTI1p3 answers a missing registration with its own exception.
            return None  # type: ignore[return-value]
        return self.registration_of(self.platform)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = lti.find_platform(self._session, iss, client_id or None)
        if platform is None or deployment_id not in lti.deployments(platform):
            return None
        return Deployment().set_deployment_id(deployment_id)


class ToolLogin(OIDCLogin[RequestParams, MerkkiToolConf, OnceSessionService, CookieJar, str]):
    def get_redirect(self, url: str) -> Redirect[str]:
        return UrlRedirect(url)


class ToolLaunch(MessageLaunch[RequestParams, MerkkiToolConf, OnceSessionService, CookieJar]):
    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)


@dataclass
class Flow:
    """What one login or launch request uses."""

    request: RequestParams
    conf: MerkkiToolConf
    storage: DatabaseStorage
    sessions: OnceSessionService
    cookies: CookieJar = field(init=False)

    def __post_init__(self) -> None:
        self.cookies = CookieJar(self.request)


def flow(
    session: Session,
    passphrase: str,
    params: Mapping[str, str],
    cookies: Mapping[str, str],
    *,
    secure: bool,
    previous: Sequence[str] = (),
    now: datetime | None = None,
) -> Flow:
    storage = DatabaseStorage(session, now=now)
    return Flow(
        RequestParams(params, cookies, secure=secure),
        MerkkiToolConf(session, passphrase, previous),
        storage,
        OnceSessionService(storage),
    )


def login_redirect(found: Flow, launch_url: str) -> str:
    """The platform's authorization URL to send the browser to (LTI 1.3 Core section 5.1.1);
    ``found.cookies`` holds the state cookie to set."""
    login = ToolLogin(found.request, found.conf, found.sessions, found.cookies)
    return str(login.redirect(launch_url))


def validate_launch(found: Flow) -> ToolLaunch:
    """The validated launch (PyLTI1p3 ``MessageLaunch.validate``: state, nonce, registration,
    signature, expiry, deployment, message), its data stored under a new launch id; PyLTI1p3's
    ``LtiException`` when any check fails."""
    launch = ToolLaunch(
        found.request,
        found.conf,
        session_service=found.sessions,
        cookie_service=found.cookies,
        requests_session=lti.PlatformHttp(),
    )
    # The platform's key set, kept a few minutes: one fetch serves many launches, and a
    # rotated platform key is picked up soon.
    launch.set_public_key_caching(found.storage, int(KEY_SET_LIFETIME.total_seconds()))
    launch.set_launch_id(f"lti1p3-launch-{secrets.token_urlsafe(32)}")
    launch.set_launch_data_lifetime(int(LAUNCH_LIFETIME.total_seconds()))
    launch.validate()
    found.storage.purge()
    return launch


def restore_launch(found: Flow, launch_id: str) -> ToolLaunch:
    """A launch stored by ``validate_launch`` (not expired), for the teacher's later requests;
    PyLTI1p3's ``LtiException`` when it is unknown or expired."""
    if not launch_id.startswith("lti1p3-launch-"):
        launch_id = "lti1p3-launch-invalid"
    restored = ToolLaunch.from_cache(
        launch_id,
        found.request,
        found.conf,
        session_service=found.sessions,
        cookie_service=found.cookies,
        requests_session=lti.PlatformHttp(),
    )
    assert isinstance(restored, ToolLaunch)
    return restored


@dataclass(frozen=True, slots=True)
class LaunchFacts:
    """What Merkki reads from a validated launch."""

    platform: LtiPlatform
    deployment_id: str
    context_id: str
    context_title: str
    user_id: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    message_type: str
    custom: Mapping[str, str]
    locale: str

    @property
    def instructor(self) -> bool:
        return any(role in INSTRUCTOR_ROLES for role in self.roles)


def facts(session: Session, launch: ToolLaunch) -> LaunchFacts:
    body = launch.get_launch_data()
    platform = lti.find_platform(session, str(body.get("iss", "")), launch.get_client_id())
    if platform is None:  # removed since the launch
        raise lti.LtiError("unknown_registration", "the registration was removed")
    context = body.get(CLAIM + "context") or {}
    custom = body.get(CLAIM + "custom") or {}
    presentation = body.get(CLAIM + "launch_presentation") or {}
    roles = body.get(CLAIM + "roles") or []
    name = (
        str(body.get("name") or "").strip()
        or " ".join(str(body.get(part) or "") for part in ("given_name", "family_name")).strip()
    )
    return LaunchFacts(
        platform=platform,
        deployment_id=str(body.get(CLAIM + "deployment_id", "")),
        context_id=str(context.get("id", "")) if isinstance(context, Mapping) else "",
        context_title=str(context.get("title", "")) if isinstance(context, Mapping) else "",
        user_id=str(body.get("sub", "")),
        name=name,
        email=str(body["email"]) if isinstance(body.get("email"), str) else None,
        roles=tuple(str(role) for role in roles) if isinstance(roles, list) else (),
        message_type=str(body.get(CLAIM + "message_type", "")),
        custom=({str(k): str(v) for k, v in custom.items()} if isinstance(custom, Mapping) else {}),
        locale=(str(presentation.get("locale", "")) if isinstance(presentation, Mapping) else ""),
    )
