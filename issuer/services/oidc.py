"""Staff sign-in with an institution's OpenID Connect provider: the settings, and the account a
verified ID token stands for (issue 17).

Settings (``ProviderSettings``) are one institution's: the issuer, the client id and secret
(sealed with the key passphrase, ``issuer.core.secret_box``, as an integration's HMAC secret is),
the e-mail domains whose people may sign in, the claim holding the address, an optional role
mapping (a claim and value -> role) and the role a first sign-in gets otherwise. Institution
admins set them in the staff UI, the operator with ``merkki oidc``; both are audited.

``sign_in`` turns the claims of an ID token that ``issuer.core.oidc`` has verified into the
staff account to sign in:

* an account already linked to (``iss``, ``sub``) (OpenID Connect Core 1.0 section 5.7: the
  only pair that identifies a person for good) is that account;
* otherwise the address in the e-mail claim must be in an allowed domain; an existing account
  with that address is linked, unless it belongs to another institution (or to nobody: a
  service admin) or is already linked to another person at this provider; with no account, one
  is provisioned with the mapped role or the default role, and no password (it signs in through
  the provider only, until an admin hands it a one-time password);
* with ``update_role`` the mapping sets the role again at each sign-in;
* a deactivated account stays out.

Refusals are ``SignInRefused`` with a ``code`` the web layer words; ``record_refusal`` puts one
in the audit log (in its own transaction, since the refused one is rolled back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.core import secret_box
from issuer.core.oidc import OidcError, check_issuer
from issuer.models import Institution
from issuer.models.accounts import Role, StaffUser
from issuer.models.oidc import OidcProvider, StaffOidcLink
from issuer.services import audit, emails
from issuer.services.accounts import STAFF_ROLES, find_user_by_email
from issuer.services.errors import ConflictError, NotFoundError, ServiceError
from issuer.services.issue_input import FieldError, FieldErrors

MAX_DISPLAY_NAME = 100
MAX_CLIENT_ID = 255
MAX_SECRET = 1024
MAX_CLAIM_NAME = 100
MAX_CLAIM_VALUE = 255
MAX_DOMAINS = 50
MAX_ROLE_MAP = 50
#: The ``password_hash`` of an account made by a sign-in: no argon2 hash, so no password ever
#: matches it (``accounts._verify`` answers False for what it cannot parse).
NO_PASSWORD = "!oidc"  # noqa: S105 - a marker that is no hash, not a secret
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CLAIM = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
#: Most powerful first: several mapped values give the strongest role.
_ROLE_ORDER = (Role.INSTITUTION_ADMIN, Role.ISSUER)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What an admin sets. ``client_secret`` None keeps the stored one; "" removes it (a public
    client). ``allowed_domains`` and ``role_map`` as typed (``parse_domains``,
    ``parse_role_map``)."""

    display_name: str
    issuer: str
    client_id: str
    client_secret: str | None
    allowed_domains: str
    default_role: Role = Role.ISSUER
    email_claim: str = "email"
    role_claim: str = ""
    role_map: str = ""
    update_role: bool = False
    enabled: bool = True


def parse_domains(text: str) -> list[str]:
    """E-mail domains separated by spaces, commas or lines, lower-cased, ``@`` dropped;
    ``FieldErrors`` on ``allowed_domains`` for none or a malformed one."""
    domains: list[str] = []
    for raw in re.split(r"[\s,;]+", text.strip().lower()):
        domain = raw.removeprefix("@").rstrip(".")
        if not domain:
            continue
        if not _DOMAIN.fullmatch(domain):
            raise FieldErrors(
                [FieldError("allowed_domains", "invalid_domain", f"not a domain: {domain[:60]!r}")]
            )
        if domain not in domains:
            domains.append(domain)
    if not domains:
        raise FieldErrors([FieldError("allowed_domains", "required", "name at least one domain")])
    if len(domains) > MAX_DOMAINS:
        raise FieldErrors([FieldError("allowed_domains", "too_many", "too many domains")])
    return domains


def parse_role_map(text: str) -> dict[str, str]:
    """Lines ``value = role`` (``role``: ``issuer`` or ``institution_admin``) -> {value: role};
    ``FieldErrors`` on ``role_map`` otherwise."""
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        value, separator, role = line.rpartition("=")
        value, role = value.strip(), role.strip().lower()
        if (
            not separator
            or not value
            or len(value) > MAX_CLAIM_VALUE
            or not value.isprintable()
            or role not in {r.value for r in STAFF_ROLES}
        ):
            raise FieldErrors(
                [FieldError("role_map", "invalid_role_map", f"not 'value = role': {line[:80]!r}")]
            )
        mapping[value] = role
    if len(mapping) > MAX_ROLE_MAP:
        raise FieldErrors([FieldError("role_map", "too_many", "too many role mappings")])
    return mapping


def role_map_text(provider: OidcProvider) -> str:
    """The mapping as the form shows it (``parse_role_map`` reads it back)."""
    return "\n".join(f"{value} = {role}" for value, role in (provider.role_map or {}).items())


def _checked(settings: ProviderSettings) -> tuple[list[str], dict[str, str]]:
    problems: list[FieldError] = []

    def text(field: str, value: str, limit: int, *, required: bool = True) -> None:
        if required and not value.strip():
            problems.append(FieldError(field, "required", "required"))
        elif len(value) > limit or not value.isprintable():
            problems.append(FieldError(field, "invalid", f"1-{limit} printable characters"))

    text("display_name", settings.display_name, MAX_DISPLAY_NAME)
    try:
        check_issuer(settings.issuer)
    except OidcError:
        problems.append(FieldError("issuer", "invalid_issuer", "an https URL"))
    text("client_id", settings.client_id, MAX_CLIENT_ID)
    if settings.client_secret:
        text("client_secret", settings.client_secret, MAX_SECRET)
    for field, value, required in (
        ("email_claim", settings.email_claim, True),
        ("role_claim", settings.role_claim, False),
    ):
        if (value or required) and not _CLAIM.fullmatch(value):
            problems.append(FieldError(field, "invalid_claim", "a claim name"))
    if settings.default_role not in STAFF_ROLES:
        problems.append(FieldError("default_role", "invalid", "issuer or institution_admin"))
    domains: list[str] = []
    mapping: dict[str, str] = {}
    for parse in ("domains", "roles"):
        try:
            if parse == "domains":
                domains = parse_domains(settings.allowed_domains)
            else:
                mapping = parse_role_map(settings.role_map)
        except FieldErrors as error:
            problems.extend(error.errors)
    if mapping and not settings.role_claim:
        problems.append(FieldError("role_claim", "required", "the mapping needs a claim"))
    if problems:
        raise FieldErrors(problems)
    return domains, mapping


def _associated(institution_id: int) -> str:
    # The sealed secret opens only on its own institution's row (secret_box: ``associated``).
    return f"merkki oidc client secret {institution_id}"


def get_provider(session: Session, institution: Institution) -> OidcProvider | None:
    return session.scalar(select(OidcProvider).where(OidcProvider.institution_id == institution.id))


def set_provider(
    session: Session,
    institution: Institution,
    settings: ProviderSettings,
    *,
    actor: audit.AuditActor,
    passphrase: str,
    now: datetime | None = None,
) -> OidcProvider:
    """Create or change ``institution``'s provider settings (``FieldErrors`` naming every bad
    field), recorded in the audit log without the secret."""
    domains, mapping = _checked(settings)
    provider = get_provider(session, institution)
    if provider is None:
        provider = OidcProvider(institution_id=institution.id)
        session.add(provider)
    provider.display_name = " ".join(settings.display_name.split())
    provider.issuer = settings.issuer
    provider.client_id = settings.client_id.strip()
    if settings.client_secret is not None:
        provider.client_secret_sealed = (
            secret_box.seal(passphrase, settings.client_secret, _associated(institution.id))
            if settings.client_secret
            else None
        )
    provider.allowed_domains = " ".join(domains)
    provider.email_claim = settings.email_claim
    provider.role_claim = settings.role_claim or None
    provider.role_map = mapping or None
    provider.default_role = settings.default_role
    provider.update_role = settings.update_role
    provider.enabled = settings.enabled
    provider.updated_by = str(actor.label)[:320]
    provider.updated_at = _now(now)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="oidc.configure",
        institution_id=institution.id,
        target=f"oidc:{provider.issuer}",
        details={
            key: value
            for key, value in provider_json(provider).items()
            if key not in ("institution", "updated_at", "updated_by")
        },
        now=now,
    )
    return provider


def disable_provider(
    session: Session,
    institution: Institution,
    *,
    actor: audit.AuditActor,
    now: datetime | None = None,
) -> OidcProvider:
    """Switch sign-in through the provider off (the settings stay)."""
    provider = get_provider(session, institution)
    if provider is None:
        raise NotFoundError(f"{institution.slug} has no sign-in provider")
    if provider.enabled:
        provider.enabled = False
        provider.updated_by = str(actor.label)[:320]
        provider.updated_at = _now(now)
        audit.record(
            session,
            actor=actor,
            action="oidc.disable",
            institution_id=institution.id,
            target=f"oidc:{provider.issuer}",
            now=now,
        )
    session.flush()
    return provider


def provider_json(provider: OidcProvider) -> dict[str, Any]:
    """What the CLI shows and the audit log keeps: never the secret, only whether one is set."""
    return {
        "institution": provider.institution.slug,
        "display_name": provider.display_name,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": "set" if provider.client_secret_sealed else None,
        "allowed_domains": provider.allowed_domains.split(),
        "email_claim": provider.email_claim,
        "role_claim": provider.role_claim,
        "role_map": dict(provider.role_map or {}),
        "default_role": provider.default_role.value,
        "update_role": provider.update_role,
        "enabled": provider.enabled,
        "updated_by": provider.updated_by,
        "updated_at": provider.updated_at.isoformat(),
    }


class SecretUnreadableError(ServiceError):
    """The client secret does not open: the key passphrase changed since it was set."""

    code = "secret_unreadable"


def client_secret(
    provider: OidcProvider, passphrase: str, previous: Sequence[str] = ()
) -> str | None:
    """The provider's client secret, opened with the key passphrase or, between a passphrase
    change and ``merkki key rewrap``, with a previous one (``ISSUER_KEY_PASSPHRASE_PREVIOUS``)."""
    if provider.client_secret_sealed is None:
        return None
    for candidate in (passphrase, *previous):
        try:
            return secret_box.open_box(
                candidate, provider.client_secret_sealed, _associated(provider.institution_id)
            )
        except secret_box.SecretBoxError:
            continue
    raise SecretUnreadableError(
        "the client secret does not open with the key passphrase; set it again"
    )


def reseal_secrets(session: Session, opening: Sequence[str], new_passphrase: str) -> int:
    """Seal every provider's client secret under ``new_passphrase``, in the caller's one
    transaction with the signing keys and the integrations' secrets (``merkki key rewrap``);
    return how many. One that opens with none of ``opening`` stops the change, naming the
    institution whose secret must be set again, rather than being stranded under a passphrase
    that is about to be forgotten."""
    providers = list(
        session.scalars(
            select(OidcProvider)
            .where(OidcProvider.client_secret_sealed.is_not(None))
            .order_by(OidcProvider.institution_id)
        )
    )
    for provider in providers:
        try:
            secret = client_secret(provider, opening[0], opening[1:])
        except SecretUnreadableError:
            raise ConflictError(
                f"the sign-in provider's client secret of institution {provider.institution_id} "
                "does not open with the key passphrase; set it again (merkki oidc set "
                "--client-secret-stdin), then re-wrap"
            ) from None
        assert secret is not None
        provider.client_secret_sealed = secret_box.seal(
            new_passphrase, secret, _associated(provider.institution_id)
        )
    session.flush()
    return len(providers)


def sign_in_choices(session: Session) -> list[tuple[Institution, OidcProvider]]:
    """Every institution whose staff may sign in through its provider (the sign-in page)."""
    rows = session.execute(
        select(Institution, OidcProvider)
        .join(OidcProvider, OidcProvider.institution_id == Institution.id)
        .where(OidcProvider.enabled.is_(True))
        .order_by(Institution.name_fi)
    )
    return [(institution, provider) for institution, provider in rows]


def provider_for_sign_in(session: Session, slug: str) -> tuple[Institution, OidcProvider]:
    """The institution ``slug`` and its enabled provider; ``NotFoundError`` when either is
    missing (one answer: which institutions exist is public, their settings are not)."""
    institution = session.scalar(select(Institution).where(Institution.slug == slug))
    provider = get_provider(session, institution) if institution is not None else None
    if institution is None or provider is None or not provider.enabled:
        raise NotFoundError(f"no sign-in provider for {slug!r}")
    return institution, provider


# --- signing in --------------------------------------------------------------------------------


class SignInRefused(ServiceError):
    """A verified person may not sign in as any account here. ``code``: ``no_email`` (the claim
    is missing or not an address), ``email_unverified``, ``domain_not_allowed``,
    ``other_institution`` (the address belongs to another institution's or a service admin's
    account), ``other_person`` (the account is linked to someone else at this provider),
    ``deactivated``."""

    def __init__(self, code: str, message: str, *, email: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.email = email


@dataclass(frozen=True, slots=True)
class _Person:
    """The audit log's actor for a sign-in: who the provider says signed in."""

    id: str
    label: str
    kind: str = "oidc"


def _claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    values: Iterable[Any] = value if isinstance(value, list) else [value]
    return [
        str(item).strip()
        for item in values
        if isinstance(item, str | int) and not isinstance(item, bool)
    ]


def mapped_role(provider: OidcProvider, claims: Mapping[str, Any]) -> Role | None:
    """The strongest role the mapping gives for the claim's values (a string or a list, such
    as Entra ID's ``groups`` or ``roles``), or None."""
    if not provider.role_claim or not provider.role_map:
        return None
    found = {
        Role(provider.role_map[value])
        for value in _claim_values(claims, provider.role_claim)
        if value in provider.role_map
    }
    return next((role for role in _ROLE_ORDER if role in found), None)


def _email(provider: OidcProvider, claims: Mapping[str, Any]) -> str:
    raw = claims.get(provider.email_claim)
    if not isinstance(raw, str):
        raise SignInRefused("no_email", f"the provider sent no {provider.email_claim!r} claim")
    try:
        email = emails.check_email(raw)
    except ServiceError:
        raise SignInRefused("no_email", "the provider's e-mail claim is not an address") from None
    if claims.get("email_verified") is False and provider.email_claim == "email":
        raise SignInRefused(
            "email_unverified", "the provider has not verified the address", email=email
        )
    domain = email.rpartition("@")[2]
    if domain not in provider.allowed_domains.split():
        raise SignInRefused(
            "domain_not_allowed", f"addresses at {domain} may not sign in here", email=email
        )
    return email


def _name(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(part for part in parts if isinstance(part, str))
    cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    return cleaned[:255] or None


def _link(session: Session, issuer: str, subject: str) -> StaffOidcLink | None:
    return session.scalar(
        select(StaffOidcLink).where(
            StaffOidcLink.issuer == issuer, StaffOidcLink.subject == subject
        )
    )


def _refuse_other_institution(user: StaffUser, institution: Institution, email: str) -> None:
    if user.institution_id != institution.id:
        raise SignInRefused(
            "other_institution", "the account belongs to another institution", email=email
        )


def sign_in(
    session: Session,
    institution: Institution,
    provider: OidcProvider,
    claims: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> StaffUser:
    """The staff account the verified ``claims`` stand for (see the module docstring),
    provisioned or linked if need be and recorded in the audit log; ``SignInRefused``
    otherwise. ``claims["iss"]`` must be the provider's issuer (``issuer.core.oidc`` checked)."""
    moment = _now(now)
    issuer = provider.issuer
    subject = str(claims["sub"])
    if claims.get("iss") != issuer:
        raise SignInRefused("other_person", "the token is not from this institution's provider")
    link = _link(session, issuer, subject)
    provisioned = False
    if link is not None:
        user = link.user
        _refuse_other_institution(user, institution, user.email)
    else:
        email = _email(provider, claims)
        existing = find_user_by_email(session, email)
        if existing is not None:
            _refuse_other_institution(existing, institution, email)
            other = session.scalar(
                select(StaffOidcLink).where(
                    StaffOidcLink.staff_user_id == existing.id, StaffOidcLink.issuer == issuer
                )
            )
            if other is not None:
                # The address now names another person at the provider (reassigned).
                raise SignInRefused(
                    "other_person",
                    "the account is linked to another person at this provider",
                    email=email,
                )
            user = existing
        else:
            user = StaffUser(
                institution_id=institution.id,
                email=email,
                name=_name(claims),
                password_hash=NO_PASSWORD,
                role=mapped_role(provider, claims) or provider.default_role,
                active=True,
                must_change_password=False,
                created_at=moment,
            )
            session.add(user)
            session.flush()
            provisioned = True
        link = StaffOidcLink(
            staff_user_id=user.id, issuer=issuer, subject=subject, created_at=moment
        )
        session.add(link)
    if not user.active:
        raise SignInRefused("deactivated", "the account is deactivated", email=user.email)
    details: dict[str, Any] = {"issuer": issuer, "sub": subject, "provisioned": provisioned}
    if provider.update_role and provider.role_claim and not provisioned:
        role = mapped_role(provider, claims) or provider.default_role
        if role is not user.role:
            details["role_changed"] = [user.role.value, role.value]
            user.role = role
    details["role"] = user.role.value
    link.last_used_at = moment
    user.last_login_at = moment
    session.flush()
    audit.record(
        session,
        actor=_Person(id=str(user.id), label=user.email, kind="user"),
        action="oidc.sign_in",
        institution_id=institution.id,
        target=f"staff:{user.id}",
        details=details,
        now=moment,
    )
    return user


def record_refusal(
    session: Session,
    institution: Institution,
    provider: OidcProvider,
    claims: Mapping[str, Any],
    refused: SignInRefused,
    *,
    now: datetime | None = None,
) -> None:
    """The refusal in the audit log, so that an admin can tell a person why (only refusals of
    verified tokens are recorded: anyone can send a broken callback)."""
    subject = str(claims.get("sub", ""))[:255]
    audit.record(
        session,
        actor=_Person(id=subject[:64], label=refused.email or f"sub:{subject}"),
        action="oidc.refused",
        institution_id=institution.id,
        target=f"oidc:{provider.issuer}",
        reason=refused.code,
        details={"sub": subject, "email": refused.email},
        now=now,
    )
