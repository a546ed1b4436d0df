"""Staff accounts, passwords, sign-in throttling and API tokens.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106's
second recommended option; OWASP Password Storage Cheat Sheet). API tokens are random 256-bit
secrets shown once; only their SHA-256 is kept, with a short random prefix to find the row.

Sign-in throttling: at most ``MAX_FAILURES`` failed attempts per (client address, e-mail) in a
fixed ``THROTTLE_WINDOW``; further attempts are refused until the window ends, without checking
the password (so guessing gains nothing). A successful sign-in clears the counter. The count
lives in the database so that all worker processes share it.

Like every service, these functions only add and flush; the request or command commits.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.models import Institution
from issuer.models.accounts import ApiToken, LoginThrottle, Role, StaffUser
from issuer.services import emails, institutions, texts
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.images import CleanImage
from issuer.services.institutions import InstitutionDetails

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
TOKEN_SCHEME = "mk"  # noqa: S105 - the visible start of every token, not a secret
MAX_TOKEN_NAME = 100
#: Touch ``last_used_at`` at most this often per token (it costs a write).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
_TOKEN_SHAPE = re.compile(r"mk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_hasher = PasswordHasher()


@functools.cache
def dummy_password_hash() -> str:
    """Verified against when the e-mail address is unknown, so that a wrong address costs as
    much time as a wrong password (no account enumeration by timing). Made on first use, not at
    import: an argon2 hash takes ~0.15 s and 64 MiB, which every CLI command paid before; the
    gunicorn master makes it while warming up (issuer.web.warmup), so workers inherit it."""
    return _hasher.hash(secrets.token_urlsafe(16))


STAFF_ROLES = (Role.INSTITUTION_ADMIN, Role.ISSUER)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """A staff account's address, validated and normalised as every address is
    (``issuer.services.emails``)."""
    return emails.check_email(email)


# --- passwords ---------------------------------------------------------------------------------


def check_password_policy(password: str) -> None:
    """Length is what matters (NIST SP 800-63B §5.1.1.2): at least 12 characters, no
    composition rules; a ceiling keeps hashing cheap to request."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    """A one-time password to hand over once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def session_stamp(user: StaffUser) -> str:
    """Kept in the session and compared on every request: it changes with the password and
    with the session epoch, so either ends every session issued before."""
    material = f"{user.session_epoch or 0}\x00{user.password_hash}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]


def end_sessions(user: StaffUser) -> None:
    """End every session of ``user`` on the server: their cookies no longer match
    ``session_stamp`` (a replayed cookie is sent to the sign-in page). The caller flushes."""
    user.session_epoch = (user.session_epoch or 0) + 1


def sign_out(session: Session, user_id: int, stamp: str) -> None:
    """Signing out of the session with ``stamp`` ends the user's sessions on the server (all of
    them: the stamp is per user, and a copied cookie must not outlive the sign-out). A stamp
    that is already stale changes nothing, so an old cookie cannot sign anyone out."""
    user = session.get(StaffUser, user_id)
    if user is not None and session_stamp(user) == stamp:
        end_sessions(user)
        session.flush()


# --- users -------------------------------------------------------------------------------------


def find_user_by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))


def get_active_user(session: Session, user_id: int) -> StaffUser | None:
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    if user.institution_id is None and user.role is not Role.SERVICE_ADMIN:
        return None
    return user


def get_user(session: Session, institution: Institution | None, user_id: int) -> StaffUser:
    """A staff member of ``institution`` (None: any); other institutions' users are not
    found."""
    user = session.get(StaffUser, user_id)
    if user is None or (institution is not None and user.institution_id != institution.id):
        raise NotFoundError(f"no staff member {user_id}")
    return user


def list_users(session: Session, institution: Institution) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.institution_id == institution.id)
            .order_by(StaffUser.email)
        )
    )


@dataclass(frozen=True, slots=True)
class NewUser:
    """A created user and, when it was generated, the one-time password to show once."""

    user: StaffUser
    one_time_password: str | None


def create_user(
    session: Session,
    *,
    institution: Institution | None,
    email: str,
    role: Role,
    name: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> NewUser:
    """A new staff member. Without ``password`` a one-time password is generated, returned
    once, and must be changed at the first sign-in."""
    email = check_email(email)
    if role is Role.SERVICE_ADMIN:
        if institution is not None:
            raise InvalidInputError("a service admin belongs to no institution")
    elif institution is None:
        raise InvalidInputError("institution staff need an institution")
    if find_user_by_email(session, email) is not None:
        raise ConflictError(f"a staff account for {email} already exists")
    one_time = None
    if password is None:
        password = one_time = generate_password()
    check_password_policy(password)
    clean_name = " ".join((name or "").split())[:255] or None
    user = StaffUser(
        institution_id=institution.id if institution is not None else None,
        email=email,
        name=clean_name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        must_change_password=one_time is not None,
        created_at=_now(now),
    )
    session.add(user)
    session.flush()
    return NewUser(user, one_time)


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """The user's own new password (ends their other sessions)."""
    check_password_policy(password)
    user.password_hash = hash_password(password)
    user.must_change_password = False
    end_sessions(user)
    session.flush()


def change_password(session: Session, user: StaffUser, current: str, new: str) -> None:
    if not _verify(user.password_hash, current):
        raise InvalidInputError("the current password is wrong")
    if current == new:
        raise InvalidInputError("choose a password different from the current one")
    set_password(session, user, new)


def reset_password(session: Session, user: StaffUser) -> str:
    """A new one-time password for ``user`` (an admin hands it over; it must be changed)."""
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_sessions(user)
    session.flush()
    return password


def set_active(
    session: Session,
    user: StaffUser,
    active: bool,
    *,
    by_user_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Deactivate (or reactivate) a staff member; nobody deactivates themselves (so an
    institution cannot lock out its last admin by accident)."""
    if not active and by_user_id is not None and by_user_id == user.id:
        raise InvalidInputError("you cannot deactivate your own account")
    user.active = active
    user.deactivated_at = None if active else _now(now)
    if not active:
        # Reactivation must not bring back the sessions (or stolen cookies) of before.
        end_sessions(user)
    session.flush()


# --- signing in --------------------------------------------------------------------------------


class ThrottledError(InvalidInputError):
    """Too many failed sign-ins from this address for this e-mail address."""

    code = "too_many_attempts"


def throttle_key(client: str, email: str) -> str:
    return hashlib.sha256(f"{client}\x00{normalize_email(email)}".encode()).hexdigest()


def _throttle(session: Session, key: str) -> LoginThrottle | None:
    return session.get(LoginThrottle, key)


def is_throttled(session: Session, key: str, *, now: datetime | None = None) -> bool:
    row = _throttle(session, key)
    moment = _now(now)
    return (
        row is not None
        and row.failures >= MAX_FAILURES
        and moment - row.window_started_at < THROTTLE_WINDOW
    )


def record_failure(session: Session, key: str, *, now: datetime | None = None) -> None:
    moment = _now(now)
    row = _throttle(session, key)
    if row is None:
        try:
            # A savepoint: two first failures at once race on the primary key; the loser
            # counts on the winner's row.
            with session.begin_nested():
                session.add(LoginThrottle(key=key, failures=1, window_started_at=moment))
            return
        except IntegrityError:
            row = _throttle(session, key)
            if row is None:
                return
    if moment - row.window_started_at >= THROTTLE_WINDOW:
        row.failures = 1
        row.window_started_at = moment
    else:
        row.failures += 1
    session.flush()


def clear_failures(session: Session, key: str) -> None:
    row = _throttle(session, key)
    if row is not None:
        session.delete(row)
        session.flush()


def authenticate(
    session: Session, email: str, password: str, *, client: str, now: datetime | None = None
) -> StaffUser | None:
    """The active staff member with these credentials, or None (one answer for every kind of
    failure). ``ThrottledError`` when this client has failed too often for this address."""
    key = throttle_key(client, email)
    if is_throttled(session, key, now=now):
        raise ThrottledError("too many failed sign-ins; try again in 15 minutes")
    user = find_user_by_email(session, email) if len(email) <= 320 else None
    password = password[: MAX_PASSWORD_LENGTH + 1]
    ok = _verify(user.password_hash if user is not None else dummy_password_hash(), password)
    if user is None or not ok or get_active_user(session, user.id) is None:
        record_failure(session, key, now=now)
        return None
    clear_failures(session, key)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = _now(now)
    session.flush()
    return user


# --- API tokens --------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A created token and its secret, which is shown this once and never again."""

    token: ApiToken
    secret: str


def create_token(
    session: Session,
    institution: Institution,
    *,
    name: str,
    role: Role = Role.ISSUER,
    created_by: str,
    now: datetime | None = None,
) -> NewToken:
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("an API token needs a name")
    if len(name) > MAX_TOKEN_NAME:
        raise InvalidInputError(f"a token name may have at most {MAX_TOKEN_NAME} characters")
    if role not in STAFF_ROLES:
        raise InvalidInputError("an API token's role is issuer or institution_admin")
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        institution_id=institution.id,
        name=name,
        role=role,
        prefix=prefix,
        token_hash=token_digest(secret),
        created_by=created_by[:320],
        created_at=_now(now),
    )
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def list_tokens(session: Session, institution: Institution) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.institution_id == institution.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def get_token(session: Session, institution: Institution, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.institution_id != institution.id:
        raise NotFoundError(f"no API token {token_id}")
    return token


def revoke_token(session: Session, token: ApiToken, *, now: datetime | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = _now(now)
        session.flush()


def authenticate_token(
    session: Session, raw: str, *, now: datetime | None = None
) -> ApiToken | None:
    """The live token ``raw`` stands for, or None (malformed, unknown or revoked)."""
    match = _TOKEN_SHAPE.fullmatch(raw)
    if match is None:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == match.group(1)))
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, token_digest(raw)):
        return None
    _touch(session, token, _now(now))
    return token


def _touch(session: Session, token: ApiToken, moment: datetime) -> None:
    """Record use (at most once per ``TOKEN_TOUCH_INTERVAL``, it costs a write). The caller,
    ``issuer.web.auth.api_auth``, commits it at once: a read-only request never commits, and the
    record should not depend on the request succeeding."""
    if token.last_used_at is not None and moment - token.last_used_at < TOKEN_TOUCH_INTERVAL:
        return
    token.last_used_at = moment
    session.flush()


# --- the institution's profile -----------------------------------------------------------------


def update_profile(
    session: Session,
    institution: Institution,
    details: InstitutionDetails,
    descriptions: Mapping[str, str | None],
    *,
    logo: CleanImage | None = None,
    remove_logo: bool = False,
) -> None:
    """Save the institution's profile. The slug never changes (the DID is built from it); the
    other values are checked by the same rules as at creation."""
    if details.slug != institution.slug:
        raise InvalidInputError("the institution's slug cannot change")
    # One set of rules for creating and editing an institution (Y-tunnus check digit, OID arc,
    # e-mail, http(s) URL, country code).
    details = institutions.normalized_details(details)
    institutions._check_details(details)  # the creation rules, reused on purpose
    institution.name_fi = details.name_fi.strip()
    for attribute in (
        "name_sv",
        "name_en",
        "url",
        "email",
        "street_address",
        "postal_code",
        "address_locality",
        "address_country",
        "business_id",
        "oid",
    ):
        value = getattr(details, attribute)
        setattr(institution, attribute, (value or "").strip() or None)
    institution.address_country_code = details.address_country_code
    for lang in ("fi", "sv", "en"):
        # Normalised as every free text (issuer.core.text); the description keeps its lines.
        text = texts.clean(descriptions.get(lang) or "", f"description_{lang}", multiline=True)
        setattr(institution, f"description_{lang}", text or None)
    if logo is not None:
        institution.logo = logo.data
        institution.logo_media_type = logo.media_type
    elif remove_logo:
        institution.logo = None
        institution.logo_media_type = None
    session.flush()


def institution_description(institution: Institution, lang: str) -> str | None:
    """The description in ``lang``, falling back as badge-class texts do (fi, en, sv)."""
    by_lang = {
        "fi": institution.description_fi,
        "sv": institution.description_sv,
        "en": institution.description_en,
    }
    for candidate in (lang, "fi", "en", "sv"):
        if by_lang.get(candidate):
            return by_lang[candidate]
    return None
