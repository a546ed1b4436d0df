"""Issuing credentials, and finding issued ones.

``issue`` builds the OB 3.0 credential in the recipient's language, gives it its status list
positions (``issuer.services.status``), signs it with the institution's active key
(``eddsa-rdfc-2022``, verification method ``DID#multibase``) and stores the exact signed JSON
text: that text is what the recipient holds, and the public route serves it unchanged. In the
same transaction (the caller's unit of work) it records the audit event, queues the learner's
e-mail (sent after the commit, ``issuer.services.mail``) and checks whether the credential
completes a package (``issuer.services.stacking``).

Learners are recognised by ``recipient_key``, an HMAC-SHA256 of the normalized e-mail address
keyed with the service secret: stable across credentials (for re-run CSV files and packages),
useless without the secret, and the address itself is not stored with the credential.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.core.badgeclass import BadgeClassData, achievement_json, missing_translations
from issuer.core.credential import (
    build_credential,
    evidence_entry,
    identity_hash,
    normalize_email,
    xsd_datetime,
)
from issuer.core.dataintegrity import sign
from issuer.core.did import verification_method_id
from issuer.core.keys import KeyStore
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.services import audit, badge_classes, institutions, keys, mail, status
from issuer.services.errors import InvalidInputError, NotFoundError

LANGUAGES = institutions.LANGUAGES
SALT_BYTES = 16
MAX_NAME_LENGTH = 255
MAX_EMAIL_LENGTH = 320
MAX_URL_LENGTH = 2048
MAX_NARRATIVE_LENGTH = 10_000
MAX_GRADE_LENGTH = 255
MAX_EVIDENCE = 20
_LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}
_HTTP_URL = re.compile(r"https?://[^\s/?#<>\"]+[^\s<>\"]*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def credential_url(base_url: str, credential_id: str) -> str:
    return f"{base_url}/credentials/{credential_id}"


def manage_url(base_url: str, credential_id: str, token: str) -> str:
    return f"{base_url}/credentials/{credential_id}/manage/{token}"


def verify_url(base_url: str, credential_id: str) -> str:
    """The employer verification page (issue 5); the QR code encodes it."""
    return f"{base_url}/verify/{credential_id}"


def achievement_url(base_url: str, slug: str, version: int, lang: str) -> str:
    return f"{base_url}/badges/{slug}/v{version}/{lang}"


def image_url(base_url: str, version: BadgeClassVersion) -> str:
    slug = version.badge_class.slug
    extension = badge_classes.image_extension(version)
    return f"{base_url}/badges/{slug}/v{version.version}/image.{extension}"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months; the day is clamped to the month's length
    (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def serialize(document: dict[str, Any]) -> str:
    """The text a signed credential is stored and served as (UTF-8 JSON, readable)."""
    return json.dumps(document, ensure_ascii=False, indent=2)


def token_hash(token: str) -> str:
    """SHA-256 of a manage-link token (256 random bits: a fast hash is enough)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def recipient_key(secret: str, email: str) -> str:
    """HMAC-SHA256 of the normalized e-mail address under ``secret`` (module docstring)."""
    message = normalize_email(email).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


# --- the request -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """OB 3.0 ``Evidence``: a URL (http/https) and/or a narrative (markdown)."""

    url: str | None = None
    narrative: str | None = None


@dataclass(frozen=True, kw_only=True)
class IssueOptions:
    """What an issuance may add besides the recipient."""

    lang: str = "fi"
    evidence: Sequence[Evidence] = ()
    #: A grade or score; becomes a ``Result`` (linked to the achievement's result description
    #: when it has one).
    grade: str | None = None
    activity_start_date: date | None = None
    activity_end_date: date | None = None
    #: Overrides the badge class's validity period.
    valid_until: datetime | None = None
    #: Queue the learner's e-mail (packages and tests may turn it off).
    send_mail: bool = True


class FieldErrors(InvalidInputError):
    """Several fields are invalid; ``fields`` maps each to its message (API: 422 listing them)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


def _clean_text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_email(email: str) -> str:
    """The normalized address; ``InvalidInputError`` when it is not one."""
    normalized = normalize_email(email)
    if len(normalized) > MAX_EMAIL_LENGTH or not institutions.EMAIL_PATTERN.fullmatch(normalized):
        raise InvalidInputError(f"{email.strip()!r} is not an e-mail address")
    return normalized


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("the recipient's name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"the recipient's name is longer than {MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
        raise InvalidInputError("the recipient's name contains control characters")
    return name


def check_url(url: str) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or not _HTTP_URL.fullmatch(url):
        raise InvalidInputError(f"{url[:80]!r} is not an http(s) URL")
    return url


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidInputError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def parse_valid_until(value: str) -> datetime:
    """``YYYY-MM-DD`` (valid to the end of that day, UTC) or an ISO date-time with an offset."""
    text = value.strip()
    if len(text) == 10:
        day = parse_date(text, "valid_until")
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"valid_until must be a date YYYY-MM-DD or a date-time with a time zone, not {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInputError("valid_until needs a time zone (e.g. 2027-06-30T23:59:59Z)")
    return moment.astimezone(UTC)


def check_options(options: IssueOptions, now: datetime) -> IssueOptions:
    """``options`` with texts trimmed; ``FieldErrors`` naming every bad field."""
    errors: dict[str, str] = {}
    try:
        check_lang(options.lang)
    except InvalidInputError as error:
        errors["lang"] = error.message
    evidence: list[Evidence] = []
    if len(options.evidence) > MAX_EVIDENCE:
        errors["evidence"] = f"at most {MAX_EVIDENCE} evidence items"
    for position, item in enumerate(options.evidence[:MAX_EVIDENCE]):
        url = _clean_text(item.url, MAX_URL_LENGTH)
        narrative = _clean_text(item.narrative, MAX_NARRATIVE_LENGTH)
        if url is not None:
            try:
                url = check_url(url)
            except InvalidInputError as error:
                errors[f"evidence.{position}.url"] = error.message
        if narrative is not None and len(narrative) > MAX_NARRATIVE_LENGTH:
            errors[f"evidence.{position}.narrative"] = (
                f"longer than {MAX_NARRATIVE_LENGTH} characters"
            )
        if url is None and narrative is None:
            errors[f"evidence.{position}"] = "an evidence item needs a url or a narrative"
        evidence.append(Evidence(url=url, narrative=narrative))
    grade = _clean_text(options.grade, MAX_GRADE_LENGTH)
    if grade is not None and (len(grade) > MAX_GRADE_LENGTH or _CONTROL.search(grade)):
        errors["grade"] = f"at most {MAX_GRADE_LENGTH} characters, no control characters"
    start, end = options.activity_start_date, options.activity_end_date
    if start is not None and end is not None and end < start:
        errors["activity_end_date"] = "is before activity_start_date"
    if options.valid_until is not None and options.valid_until <= now:
        errors["valid_until"] = "must be in the future"
    if errors:
        raise FieldErrors(errors)
    return IssueOptions(
        lang=options.lang,
        evidence=tuple(evidence),
        grade=grade,
        activity_start_date=start,
        activity_end_date=end,
        valid_until=options.valid_until,
        send_mail=options.send_mail,
    )


# --- context: what stays the same across many issuances --------------------------------------


def _shape(value: Any, prefix: str = "") -> Iterator[str]:
    """The property paths of a JSON document (array positions collapsed)."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}/{key}"
            yield path
            yield from _shape(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from _shape(item, prefix + "[]")


@dataclass
class IssuingContext:
    """Settings and caches for issuing, within one transaction (or one job's batches).

    Caches what is the same for every credential of a badge class and language (the achievement,
    the issuer profile, the private key) and which document shapes have already passed the
    undefined-term check: every credential is still signed and canonicalized in full, but a
    shape whose every property the contexts define needs no second check (``sign``'s
    ``check_terms``), which saves a JSON-LD expansion per credential in bulk runs.
    """

    base_url: str
    keystore: KeyStore
    secret: str
    _keys: dict[int, tuple[str, Ed25519PrivateKey]] = field(default_factory=dict)
    _achievements: dict[tuple[int, str, int | None], dict[str, Any]] = field(default_factory=dict)
    _profiles: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _checked_shapes: set[frozenset[str]] = field(default_factory=set)
    _allocators: dict[int, status.Allocator] = field(default_factory=dict)
    #: Other services' per-context caches (e.g. which packages require a badge class).
    cache: dict[Any, Any] = field(default_factory=dict)
    _transaction: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> IssuingContext:
        """A context from the current app's settings."""
        from issuer.config import get_settings

        settings = get_settings()
        return cls(
            base_url=settings.base_url,
            keystore=keys.keystore_for(settings),
            secret=recipient_secret(
                settings.secret_key, settings.secret_key_is_random, settings.key_passphrase
            ),
        )

    def new_transaction(self) -> None:
        """Forget what belongs to the previous transaction (status list allocations, the
        current badge-class versions and signing keys read in it)."""
        self._allocators.clear()
        self._transaction.clear()

    def allocator(self, session: Session, institution: Institution) -> status.Allocator:
        allocator = self._allocators.get(institution.id)
        if allocator is None or allocator.session is not session:
            allocator = status.Allocator(session, institution, self.base_url)
            self._allocators[institution.id] = allocator
        return allocator

    def signing_key(
        self, session: Session, institution: Institution
    ) -> tuple[str, Ed25519PrivateKey]:
        """(verification method, private key) of the institution's active key (read once per
        transaction; the decrypted key is kept while the active key stays the same)."""
        known = self._transaction.get(("key", institution.id))
        if known is not None:
            return known  # type: ignore[no-any-return]
        signing_key = keys.active_key(session, institution)
        cached = self._keys.get(institution.id)
        method = verification_method_id(
            institutions.institution_did(institution, self.base_url),
            signing_key.public_key_multibase,
        )
        if cached is None or cached[0] != method:
            cached = (method, keys.load_private_key(self.keystore, signing_key))
            self._keys[institution.id] = cached
        self._transaction[("key", institution.id)] = cached
        return cached

    def badge_class_version(
        self, session: Session, badge_class: BadgeClass
    ) -> tuple[BadgeClassVersion, BadgeClassData, list[str]]:
        """The current version, its parsed data and its complete languages (once per
        transaction)."""
        key = ("version", badge_class.id)
        known = self._transaction.get(key)
        if known is None:
            version = badge_classes.current_version(session, badge_class)
            bc = badge_classes.parsed(version)
            known = (version, bc, complete_languages(bc))
            self._transaction[key] = known
        return known

    def profile(self, institution: Institution, lang: str) -> dict[str, Any]:
        key = (institution.id, lang)
        if key not in self._profiles:
            self._profiles[key] = institutions.profile(institution, self.base_url, lang)
        return self._profiles[key]

    def sign(
        self, unsigned: dict[str, Any], private_key: Ed25519PrivateKey, method: str, created: str
    ) -> dict[str, Any]:
        shape = frozenset(_shape(unsigned))
        check = shape not in self._checked_shapes
        signed: dict[str, Any] = sign(
            unsigned, private_key, method, created=created, check_terms=check
        )
        self._checked_shapes.add(shape)
        return signed


def recipient_secret(secret_key: str, secret_key_is_random: bool, key_passphrase: str) -> str:
    """The HMAC key of ``recipient_key``: the service secret key. Without a configured one (a
    development set-up with a random key per process) the key passphrase stands in, so that
    learners are still recognised after a restart."""
    return f"merkki-recipient:{key_passphrase if secret_key_is_random else secret_key}"


# --- issuing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    credential: Credential
    #: The private manage link's token (only here and in the learner's e-mail).
    manage_token: str
    #: Packages issued automatically because this credential completed them.
    packages: tuple[Credential, ...] = ()


def complete_languages(bc: BadgeClassData) -> list[str]:
    """Languages in which every text of the badge class exists."""
    return [lang for lang in LANGUAGES if not missing_translations(bc, [lang])]


def _components(
    session: Session, bc: BadgeClassData, base_url: str, lang: str
) -> list[tuple[str, str]]:
    """(name, achievement id) of the badge classes a package requires, at their current
    versions."""
    components = []
    for slug in bc.requires:
        required = badge_classes.find_badge_class(session, slug)
        if required is None:
            raise NotFoundError(f"badge class {bc.slug!r} requires {slug!r}, which does not exist")
        version = badge_classes.current_version(session, required)
        name = badge_classes.parsed(version).name.get(lang)
        components.append((name, achievement_url(base_url, slug, version.version, lang)))
    return components


def _achievement(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    badge_class: BadgeClass,
    version: BadgeClassVersion,
    bc: BadgeClassData,
    lang: str,
    languages: list[str],
) -> dict[str, Any]:
    # A badge class of the institution's own was defined by the institution; a national one
    # names its creator in the template (achievement_json's default).
    own = badge_class.institution_id is not None and bc.creator is None
    key = (version.id, lang, institution.id if own else None)
    cached = ctx._achievements.get(key)
    if cached is None:
        base_url = ctx.base_url
        cached = achievement_json(
            bc,
            lang=lang,
            achievement_id=achievement_url(base_url, bc.slug, version.version, lang),
            image_url=image_url(base_url, version),
            related=[
                (other, achievement_url(base_url, bc.slug, version.version, other))
                for other in languages
                if other != lang
            ],
            creator_profile=ctx.profile(institution, lang) if own else None,
            components=_components(session, bc, base_url, lang),
        )
        ctx._achievements[key] = cached
    return cached


def _results(achievement: dict[str, Any], grade: str | None) -> list[dict[str, Any]] | None:
    """OB 3.0 ``Result``: linked to the achievement's first ``resultDescription`` when it has
    one (OB 3.0 §"Result": ``resultDescription`` is the id of one in the same achievement)."""
    if grade is None:
        return None
    result: dict[str, Any] = {"type": ["Result"], "value": grade}
    descriptions = achievement.get("resultDescription")
    if isinstance(descriptions, list) and descriptions and isinstance(descriptions[0], dict):
        description_id = descriptions[0].get("id")
        if isinstance(description_id, str):
            result["resultDescription"] = description_id
    return [result]


def _evidence(items: Sequence[Evidence]) -> list[dict[str, Any]] | None:
    entries = [evidence_entry(url=item.url, narrative=item.narrative) for item in items]
    return entries or None


def _default_actor() -> audit.AuditActor:
    from issuer.auth import NotAuthenticatedError, current_actor

    try:
        return current_actor()
    except NotAuthenticatedError:
        return audit.SystemActor()


def issue(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    badge_class: BadgeClass,
    email: str,
    name: str,
    options: IssueOptions = IssueOptions(),
    *,
    actor: audit.AuditActor | None = None,
    now: datetime | None = None,
    via: str = "single",
    check_packages: bool = True,
) -> Issued:
    """Issue ``badge_class`` to ``name`` <``email``> (see the module docstring). Everything is
    added to ``session``'s transaction; nothing is committed."""
    valid_from = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    errors: dict[str, str] = {}
    try:
        email = check_email(email)
    except InvalidInputError as error:
        errors["recipient.email"] = error.message
    try:
        name = check_name(name)
    except InvalidInputError as error:
        errors["recipient.name"] = error.message
    try:
        options = check_options(options, valid_from)
    except FieldErrors as error:
        errors.update(error.fields)
    if errors:
        raise FieldErrors(errors)
    lang = options.lang
    if not badge_classes.usable_by(badge_class, institution):
        raise NotFoundError(
            f"institution {institution.slug!r} cannot issue badge class {badge_class.slug!r}"
        )
    version, bc, languages = ctx.badge_class_version(session, badge_class)
    if lang not in languages:
        raise FieldErrors(
            {
                "lang": f"badge class {bc.slug!r} is not fully translated into "
                f"{_LANGUAGE_NAMES[lang]}"
            }
        )

    # VC 2.0 §4.9: validFrom; whole seconds, as the engine writes xsd:dateTime.
    valid_until = options.valid_until
    if valid_until is None and bc.validity_months:
        valid_until = add_months(valid_from, bc.validity_months)
    if valid_until is not None:
        valid_until = valid_until.astimezone(UTC).replace(microsecond=0)
    credential_id = uuid.uuid4().hex
    salt = secrets.token_hex(SALT_BYTES)
    achievement = _achievement(session, ctx, institution, badge_class, version, bc, lang, languages)
    # Status positions first: the revocation entry goes into what is signed.
    status_entry = ctx.allocator(session, institution).allocate(credential_id)
    unsigned = build_credential(
        credential_id=credential_url(ctx.base_url, credential_id),
        issuer=ctx.profile(institution, lang),
        achievement=achievement,
        recipient_name=name,
        recipient_email=email,
        salt=salt,
        valid_from=valid_from,
        valid_until=valid_until,
        credential_status=status_entry,
        evidence=_evidence(options.evidence),
        results=_results(achievement, options.grade),
        activity_start=options.activity_start_date.isoformat()
        if options.activity_start_date
        else None,
        activity_end=options.activity_end_date.isoformat() if options.activity_end_date else None,
    )
    method, private_key = ctx.signing_key(session, institution)
    signed = ctx.sign(unsigned, private_key, method, xsd_datetime(valid_from))

    manage_token = secrets.token_urlsafe(32)
    key = recipient_key(ctx.secret, email)
    credential = Credential(
        id=credential_id,
        institution=institution,
        badge_class_version=version,
        recipient_name=name,
        recipient_identity_hash=identity_hash(email, salt),
        salt=salt,
        lang=lang,
        signed_json=serialize(signed),
        issued_at=valid_from,
        valid_until=valid_until,
        recipient_key=key,
        hidden=False,
        indexable=False,
        manage_token_hash=token_hash(manage_token),
    )
    session.add(credential)
    session.flush()
    audit.record(
        session,
        actor=actor if actor is not None else _default_actor(),
        action="issue",
        institution_id=institution.id,
        target=credential_id,
        details={"badge_class": badge_class.slug, "version": version.version, "via": via},
        now=valid_from,
    )
    if options.send_mail:
        mail.queue_credential_mail(
            session,
            credential=credential,
            email=email,
            badge_name=bc.name.get(lang),
            institution=institution,
            manage_url=manage_url(ctx.base_url, credential_id, manage_token),
            base_url=ctx.base_url,
        )
    packages: tuple[Credential, ...] = ()
    if check_packages:
        from issuer.services import stacking

        packages = tuple(
            stacking.after_issue(
                session,
                ctx,
                institution,
                badge_class,
                recipient_key=key,
                email=email,
                name=name,
                lang=lang,
                actor=actor,
                now=valid_from,
            )
        )
    return Issued(credential, manage_token, packages)


def issue_credential(
    session: Session,
    institution: Institution,
    badge_class: BadgeClass,
    email: str,
    name: str,
    lang: str,
    *,
    base_url: str,
    keystore: KeyStore,
    now: datetime | None = None,
    secret: str | None = None,
) -> Credential:
    """Issue ``badge_class`` to the person ``name`` <``email``> in ``lang`` (the contract of
    ``merkki issue``); the stored ``Credential`` holds the signed JSON text."""
    if secret is None:
        from flask import has_app_context

        secret = IssuingContext.from_settings().secret if has_app_context() else "merkki"
    ctx = IssuingContext(base_url=base_url, keystore=keystore, secret=secret)
    try:
        return issue(
            session, ctx, institution, badge_class, email, name, IssueOptions(lang=lang), now=now
        ).credential
    except FieldErrors as error:
        # One message per field, as the CLI has always reported them.
        raise InvalidInputError(next(iter(error.fields.values()))) from None


def get_credential(session: Session, credential_id: str) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id!r}")
    return credential


def find_credentials(
    session: Session, institution: Institution, badge_class: BadgeClass, keys_: Sequence[str]
) -> dict[str, str]:
    """recipient_key -> id of an existing credential of ``badge_class`` (any version) from
    ``institution``, for the given keys."""
    if not keys_:
        return {}
    rows = session.execute(
        select(Credential.recipient_key, Credential.id)
        .join(BadgeClassVersion, BadgeClassVersion.id == Credential.badge_class_version_id)
        .where(
            Credential.institution_id == institution.id,
            BadgeClassVersion.badge_class_id == badge_class.id,
            Credential.recipient_key.in_(list(keys_)),
        )
    )
    return {key: credential_id for key, credential_id in rows if key is not None}
