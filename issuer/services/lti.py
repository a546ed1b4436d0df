"""The LTI 1.3 tool: platform registrations, the tool's key and Dynamic Registration (issue 17).

A platform registration (``LtiPlatform``) belongs to one institution: launches from it act for
that institution only. Staff add one by hand (the platform's issuer, the client id and
deployment ids it gave Merkki, its OIDC login, token and key set URLs; LTI 1.3 Core section
4.1) or let the platform register itself: staff make a one-time invite URL
(``create_invite``), a Moodle administrator pastes it into Moodle's "Register a tool", and
Moodle opens it with ``openid_configuration`` and ``registration_token``
(``register_dynamically``, LTI Dynamic Registration 1.0 section 3).

The tool's RSA key (``tool_key``) signs Deep Linking responses and the client assertions of
service calls (IMS Security Framework 1.0 section 4.1); its private half is sealed with the
service's key passphrase in the database, so every app server opens the same key and the
public key set (``jwks``) is the same whichever server answers.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core import secret_box
from issuer.models import Institution
from issuer.models.lti import (
    REFERENCE,
    URL,
    LtiAward,
    LtiPlacement,
    LtiPlatform,
    LtiRegistrationInvite,
    LtiToolKey,
)
from issuer.services import audit
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError

MAX_NAME = 100
MAX_DEPLOYMENTS = 50
#: A registration invite is pasted into the platform soon after it is made.
INVITE_LIFETIME = timedelta(days=7)
#: Calls to a platform (key set, token, roster, grades): pylti1p3 sets no timeout of its own.
HTTP_TIMEOUT = 10.0
#: What the platform may send as a Dynamic Registration document (a few kilobytes in Moodle).
MAX_DOCUMENT_BYTES = 256 * 1024
#: Scopes the tool asks for when it registers itself (LTI AGS 2.0 section 3.1, NRPS 2.0
#: section 3.6.1): line items and results are read, scores are never written.
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


class LtiError(InvalidInputError):
    """A registration or a platform's answer that cannot be used; ``code`` names which for
    the web layer's translated message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


class PlatformHttp(requests.Session):
    """A requests session with a deadline on every call (pylti1p3 passes none), no proxies
    from the environment and a cap on what is read."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.headers["User-Agent"] = "Merkki LTI tool"

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


# --- validation ----------------------------------------------------------------------------------


def _url(value: str, field: str, *, development: bool = False) -> str:
    value = value.strip()
    parts = urlsplit(value)
    # https only; plain http for a platform on loopback only when Merkki itself runs on plain
    # http (``development``: a developer's Moodle and Merkki on one machine, the tests), so
    # that a production service is never made to call its own loopback services.
    loopback = development and parts.hostname in ("localhost", "127.0.0.1", "::1")
    if (
        len(value) > URL
        or not parts.netloc
        or parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not loopback)
        or not value.isprintable()
        or any(char.isspace() for char in value)
    ):
        raise LtiError("invalid_url", f"{field} must be an https URL")
    return value


def _reference(value: str, field: str) -> str:
    value = value.strip()
    if not value or len(value) > REFERENCE or not value.isprintable():
        raise LtiError("invalid_reference", f"{field} must be 1-{REFERENCE} printable characters")
    return value


def parse_deployments(raw: str | Sequence[str]) -> list[str]:
    """Deployment ids from a list or from text (one per line, or comma-separated)."""
    items = raw.replace(",", "\n").splitlines() if isinstance(raw, str) else list(raw)
    found: list[str] = []
    for item in items:
        if item.strip() and item.strip() not in found:
            found.append(_reference(item, "deployment id"))
    if not found or len(found) > MAX_DEPLOYMENTS:
        raise LtiError("invalid_deployments", f"give 1-{MAX_DEPLOYMENTS} deployment ids")
    return found


@dataclass(frozen=True, slots=True)
class PlatformDetails:
    name: str
    issuer: str
    client_id: str
    deployment_ids: Sequence[str]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str


# --- registrations -------------------------------------------------------------------------------


def deployments(platform: LtiPlatform) -> list[str]:
    loaded = json.loads(platform.deployment_ids)
    return [str(item) for item in loaded] if isinstance(loaded, list) else []


def register_platform(
    session: Session,
    institution: Institution,
    details: PlatformDetails,
    *,
    actor: audit.AuditActor,
    development: bool = False,
    now: datetime | None = None,
) -> LtiPlatform:
    """Record a platform registration of ``institution`` (checked; audit-logged).
    ``development``: Merkki runs on plain http, and so may a platform on loopback."""
    name = " ".join(details.name.split())[:MAX_NAME] or urlsplit(details.issuer).netloc[:MAX_NAME]
    platform = LtiPlatform(
        institution_id=institution.id,
        name=name or "LTI",
        issuer=_url(details.issuer, "issuer", development=development),
        client_id=_reference(details.client_id, "client id"),
        deployment_ids=json.dumps(parse_deployments(details.deployment_ids)),
        auth_login_url=_url(details.auth_login_url, "OIDC login URL", development=development),
        auth_token_url=_url(details.auth_token_url, "access token URL", development=development),
        key_set_url=_url(details.key_set_url, "key set URL", development=development),
        created_by=str(actor.label)[:320],
        created_at=_now(now),
    )
    taken = session.scalar(
        select(LtiPlatform.id).where(
            LtiPlatform.issuer == platform.issuer, LtiPlatform.client_id == platform.client_id
        )
    )
    if taken is not None:
        # Which institution holds it is not said: that is another institution's business.
        raise ConflictError("this issuer and client id are registered already")
    session.add(platform)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="lti.register",
        institution_id=institution.id,
        target=f"lti_platform:{platform.id}",
        details={"issuer": platform.issuer, "client_id": platform.client_id},
        now=now,
    )
    return platform


def list_platforms(session: Session, institution: Institution) -> list[LtiPlatform]:
    return list(
        session.scalars(
            select(LtiPlatform)
            .where(LtiPlatform.institution_id == institution.id)
            .order_by(LtiPlatform.created_at.desc(), LtiPlatform.id.desc())
        )
    )


def get_platform(session: Session, institution: Institution, platform_id: int) -> LtiPlatform:
    """One of ``institution``'s registrations; another institution's is "not found"."""
    found = session.get(LtiPlatform, platform_id)
    if found is None or found.institution_id != institution.id:
        raise NotFoundError(f"no LTI registration {platform_id}")
    return found


def remove_platform(
    session: Session,
    platform: LtiPlatform,
    *,
    actor: audit.AuditActor,
    now: datetime | None = None,
) -> None:
    """Forget a registration: its launches are refused from now on. Its placements and award
    records go with it; the credentials issued stay (they are the learners')."""
    session.execute(delete(LtiAward).where(LtiAward.platform_id == platform.id))
    session.execute(delete(LtiPlacement).where(LtiPlacement.platform_id == platform.id))
    for invite in session.scalars(
        select(LtiRegistrationInvite).where(LtiRegistrationInvite.platform_id == platform.id)
    ):
        invite.platform_id = None
    audit.record(
        session,
        actor=actor,
        action="lti.remove",
        institution_id=platform.institution_id,
        target=f"lti_platform:{platform.id}",
        details={"issuer": platform.issuer, "client_id": platform.client_id},
        now=now,
    )
    session.delete(platform)
    session.flush()


def platform_json(platform: LtiPlatform) -> dict[str, Any]:
    """What the CLI lists."""
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": deployments(platform),
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "key_set_url": platform.key_set_url,
        "created_at": platform.created_at.isoformat(),
        "created_by": platform.created_by,
    }


def find_platform(session: Session, issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The registration a launch names (issuer, and the client id when the platform sends one:
    an issuer with one registration may leave it out of the login request)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        return session.scalar(query.where(LtiPlatform.client_id == client_id))
    found = list(session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


# --- the tool's key ------------------------------------------------------------------------------


def _key_associated(kid: str) -> str:
    return f"merkki lti tool key {kid}"


@dataclass(frozen=True, slots=True)
class ToolKey:
    kid: str
    public_pem: str
    private_pem: str


def _kid(public_pem: str) -> str:
    # The JWK thumbprint (RFC 7638), as pylti1p3's Registration.get_kid computes it, so that
    # the kid in our JWT headers and in the published key set agree.
    return str(JWK.from_pem(public_pem.encode()).thumbprint())


def _open_key(row: LtiToolKey, opening: Sequence[str]) -> str | None:
    for candidate in opening:
        try:
            return secret_box.open_box(candidate, row.sealed_private_pem, _key_associated(row.kid))
        except secret_box.SecretBoxError:
            continue
    return None


def tool_key(session: Session, passphrase: str, previous: Sequence[str] = ()) -> ToolKey:
    """The tool's signing key: the oldest stored one, made (and sealed) on first use. Two app
    servers making one at once both store theirs; both are published and the older is used.
    ``previous`` (``ISSUER_KEY_PASSPHRASE_PREVIOUS``) also opens it while the passphrase
    changes, until ``merkki key rewrap`` reseals it (``reseal_tool_keys``)."""
    row = session.scalar(select(LtiToolKey).order_by(LtiToolKey.id).limit(1))
    if row is None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        kid = _kid(public_pem)
        row = LtiToolKey(
            kid=kid,
            public_pem=public_pem,
            sealed_private_pem=secret_box.seal(passphrase, private_pem, _key_associated(kid)),
            created_at=_now(None),
        )
        session.add(row)
        session.flush()
        return ToolKey(kid, public_pem, private_pem)
    opened = _open_key(row, (passphrase, *previous))
    if opened is None:
        raise secret_box.SecretBoxError("the LTI tool key does not open with the key passphrase")
    return ToolKey(row.kid, row.public_pem, opened)


def reseal_tool_keys(session: Session, opening: Sequence[str], new_passphrase: str) -> int:
    """Seal the tool's keys under ``new_passphrase`` (in the caller's transaction, with the
    signing keys: ``merkki key rewrap``); how many. One that opens with none of ``opening``
    stops the change rather than be left under a passphrase about to be forgotten."""
    rows = list(session.scalars(select(LtiToolKey).order_by(LtiToolKey.id)))
    for row in rows:
        private_pem = _open_key(row, opening)
        if private_pem is None:
            raise ConflictError(f"the LTI tool key {row.kid} does not open with the key passphrase")
        row.sealed_private_pem = secret_box.seal(
            new_passphrase, private_pem, _key_associated(row.kid)
        )
    session.flush()
    return len(rows)


def public_jwk(public_pem: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(JWK.from_pem(public_pem.encode()).export_public())
    found["kid"] = _kid(public_pem)
    found["alg"] = "RS256"
    found["use"] = "sig"
    return found


def jwks(session: Session) -> dict[str, Any]:
    """The tool's public key set (RFC 7517), published at ``/lti/jwks.json``."""
    rows = session.scalars(select(LtiToolKey).order_by(LtiToolKey.id))
    return {"keys": [public_jwk(row.public_pem) for row in rows]}


# --- Dynamic Registration ------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(
    session: Session,
    institution: Institution,
    *,
    actor: audit.AuditActor,
    now: datetime | None = None,
) -> str:
    """A one-time invite token for ``/lti/register?invite=...``; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    moment = _now(now)
    session.add(
        LtiRegistrationInvite(
            institution_id=institution.id,
            token_hash=_digest(token),
            created_by=str(actor.label)[:320],
            created_at=moment,
            expires_at=moment + INVITE_LIFETIME,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="lti.invite",
        institution_id=institution.id,
        target=f"institution:{institution.id}",
        details={"expires_at": (moment + INVITE_LIFETIME).isoformat()},
        now=now,
    )
    return token


def open_invite(
    session: Session, token: str, *, now: datetime | None = None
) -> LtiRegistrationInvite:
    """The unused, unexpired invite ``token`` names (row-locked where the database can), or
    ``NotFoundError``: used, expired and unknown read alike."""
    found = session.scalar(
        select(LtiRegistrationInvite)
        .where(LtiRegistrationInvite.token_hash == _digest(token))
        .with_for_update()
    )
    if found is None or found.used_at is not None or found.expires_at <= _now(now):
        raise NotFoundError("this registration link is unknown, used or expired")
    return found


def _get_json(http: requests.Session, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer = http.get(url, **kwargs)
    except requests.RequestException as error:
        raise LtiError("platform_unreachable", f"the platform did not answer: {error}") from None
    return _json_of(answer)


def _json_of(answer: requests.Response) -> dict[str, Any]:
    if not answer.ok or len(answer.content) > MAX_DOCUMENT_BYTES:
        raise LtiError("platform_refused", f"the platform answered {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        raise LtiError("platform_refused", "the platform's answer is not JSON") from None
    if not isinstance(body, dict):
        raise LtiError("platform_refused", "the platform's answer is not a JSON object")
    return body


def tool_configuration(base_url: str, name: str) -> dict[str, Any]:
    """The client registration Merkki sends (LTI Dynamic Registration 1.0 section 3.4)."""
    launch = urls.lti_launch_url(base_url)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.lti_login_url(base_url),
        "redirect_uris": [launch],
        "client_name": name,
        "jwks_uri": urls.lti_jwks_url(base_url),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": urlsplit(base_url).netloc,
            "target_link_uri": launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": "LtiDeepLinkingRequest", "target_link_uri": launch},
                {"type": "LtiResourceLinkRequest", "target_link_uri": launch},
            ],
        },
    }


def development_mode(base_url: str) -> bool:
    """Merkki runs on plain http: a developer's set-up or the tests."""
    return base_url.startswith("http://")


def register_dynamically(
    session: Session,
    invite: LtiRegistrationInvite,
    *,
    openid_configuration: str,
    registration_token: str | None,
    base_url: str,
    http: requests.Session,
    now: datetime | None = None,
) -> LtiPlatform:
    development = development_mode(base_url)
    """Fetch the platform's configuration, register Merkki with it and record the platform for
    the invite's institution; the invite is used up (LTI Dynamic Registration 1.0 sections
    3.3-3.6)."""
    config_url = _url(openid_configuration, "openid_configuration", development=development)
    config = _get_json(http, config_url)
    issuer = str(config.get("issuer") or "")
    # Section 3.5.1: the issuer must be a prefix of the configuration URL, so that a platform
    # cannot register itself under another platform's issuer.
    if not issuer or not config_url.startswith(issuer.rstrip("/")):
        raise LtiError("issuer_mismatch", "the configuration's issuer does not match its URL")
    endpoints = {
        name: str(config.get(name) or "")
        for name in (
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "registration_endpoint",
        )
    }
    registration_url = _url(
        endpoints["registration_endpoint"], "registration_endpoint", development=development
    )
    headers = {"Content-Type": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    name = f"Merkki ({invite.institution.name('en')})"
    try:
        answer = http.post(
            registration_url,
            data=json.dumps(tool_configuration(base_url, name)),
            headers=headers,
        )
    except requests.RequestException as error:
        raise LtiError("platform_unreachable", f"the platform did not answer: {error}") from None
    registered = _json_of(answer)
    tool_conf = registered.get("https://purl.imsglobal.org/spec/lti-tool-configuration")
    deployment = tool_conf.get("deployment_id") if isinstance(tool_conf, Mapping) else None
    platform = register_platform(
        session,
        invite.institution,
        PlatformDetails(
            name=urlsplit(issuer).netloc,
            issuer=issuer,
            client_id=str(registered.get("client_id") or ""),
            deployment_ids=[str(deployment or "1")],
            auth_login_url=endpoints["authorization_endpoint"],
            auth_token_url=endpoints["token_endpoint"],
            key_set_url=endpoints["jwks_uri"],
        ),
        actor=_InviteActor(invite.created_by),
        development=development,
        now=now,
    )
    invite.used_at = _now(now)
    invite.platform_id = platform.id
    session.flush()
    return platform


@dataclass(frozen=True, slots=True)
class _InviteActor:
    """The audit log names the staff member who made the invite, through the platform."""

    created_by: str
    kind: str = "lti"
    id: int | None = None

    @property
    def label(self) -> str:
        return f"lti-invite:{self.created_by}"[:320]
