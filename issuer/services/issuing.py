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
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.model import BadgeClassData, missing_translations
from issuer.core.canonical import assert_all_terms_defined, canonize_and_find_undefined_terms
from issuer.core.credential import (
    build_credential,
    evidence_entry,
    identity_hash,
    normalize_email,
    xsd_datetime,
)
from issuer.core.dataintegrity.cryptosuite import hash_data, proof_configuration, serialize_proof
from issuer.core.dataintegrity.signing import create_proof, sign
from issuer.core.did import verification_method_id
from issuer.core.errors import EngineError, UndefinedTermError
from issuer.core.keys import KeyStore
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.models.audit import AuditEvent
from issuer.models.issuing import MailState, OutboxMail
from issuer.services import (
    audit,
    badge_classes,
    emails,
    institutions,
    keys,
    mail,
    status,
    status_publishing,
    texts,
)
from issuer.services.errors import InvalidInputError, NotFoundError

LANGUAGES = institutions.LANGUAGES
SALT_BYTES = 16
MAX_NAME_LENGTH = 255
MAX_EMAIL_LENGTH = emails.MAX_LENGTH
MAX_URL_LENGTH = 2048
MAX_NARRATIVE_LENGTH = 10_000
MAX_GRADE_LENGTH = 255
MAX_EVIDENCE = 20
_LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}
_HTTP_URL = re.compile(r"https?://[^\s/?#<>\"]+[^\s<>\"]*", re.IGNORECASE)


# The public URL scheme lives in ``issuer.urls``; these names stay for the callers that import
# them from here.
credential_url = urls.credential_url
manage_url = urls.manage_url
verify_url = urls.verify_url
achievement_url = urls.achievement_url


def image_url(base_url: str, version: BadgeClassVersion) -> str:
    """The artwork URL of a badge-class version (``urls.artwork_url``)."""
    extension = badge_classes.image_extension(version)
    return urls.artwork_url(base_url, version.badge_class.slug, version.version, extension)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months; the day is clamped to the month's length
    (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def serialize(document: dict[str, Any]) -> str:
    """The text a signed credential is stored and served as (UTF-8 JSON, readable): exactly
    ``json.dumps(document, ensure_ascii=False, indent=2)``.

    Written by a direct walk (``_write``), several times faster than the standard library,
    whose C encoder cannot indent and whose pure-Python one is slow; strings go through the same
    C string encoder ``json.dumps`` uses. A value the walk does not handle (a float, a tuple, a
    key that is not a string) leaves the whole document to ``json.dumps``.
    """
    out: list[str] = []
    try:
        _write(document, out, "\n")
    except _NotPlainJson:
        return json.dumps(document, ensure_ascii=False, indent=2)
    return "".join(out)


#: What ``json.dumps(..., ensure_ascii=False)`` writes strings with (its C version).
_encode_string = json.encoder.encode_basestring


class _NotPlainJson(Exception):
    """A value ``_write`` leaves to the standard library."""


def _write(value: Any, out: list[str], newline: str) -> None:
    """Append ``value`` as ``json.dumps(indent=2)`` writes it at the depth ``newline`` (a line
    break and the current indentation) says."""
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlainJson
            out.append(separator)
            out.append(_encode_string(key))
            out.append(": ")
            _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif type(value) is int:
        out.append(int.__repr__(value))
    else:
        raise _NotPlainJson


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


def _clean_field(
    value: str | None, field: str, errors: dict[str, str], *, multiline: bool
) -> str | None:
    """``value`` normalised (``issuer.services.texts``), or None with ``errors[field]`` set."""
    try:
        return texts.clean_optional(value, field, multiline=multiline)
    except texts.ControlCharacterError as error:
        errors[field] = error.message
        return None


def check_email(email: str) -> str:
    """The validated, normalized address (``issuer.services.emails``: one function for every
    entry point); ``InvalidInputError`` with a translated reason when it is not one."""
    return emails.check_email(email)


def check_name(name: str, field: str = "name") -> str:
    """The recipient's name on one line (``issuer.core.text``; runs of spaces as one)."""
    name = " ".join(texts.clean(name, field, multiline=False).split())
    if not name:
        raise InvalidInputError("the recipient's name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"the recipient's name is longer than {MAX_NAME_LENGTH} characters")
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
        narrative = _clean_field(
            item.narrative, f"evidence.{position}.narrative", errors, multiline=True
        )
        if url is not None:
            try:
                url = check_url(url)
            except InvalidInputError as error:
                errors[f"evidence.{position}.url"] = error.message
        if narrative is not None and len(narrative) > MAX_NARRATIVE_LENGTH:
            errors[f"evidence.{position}.narrative"] = (
                f"longer than {MAX_NARRATIVE_LENGTH} characters"
            )
        if url is None and narrative is None and f"evidence.{position}.narrative" not in errors:
            errors[f"evidence.{position}"] = "an evidence item needs a url or a narrative"
        evidence.append(Evidence(url=url, narrative=narrative))
    grade = _clean_field(options.grade, "grade", errors, multiline=False)
    if grade is not None and len(grade) > MAX_GRADE_LENGTH:
        errors["grade"] = f"at most {MAX_GRADE_LENGTH} characters"
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

#: Stand-ins written where a per-credential value goes, in texts made once per batch (the mail,
#: the signed JSON around the shared achievement and issuer profile). Private-use characters and
#: a random part per process: no input can contain them by accident or design.
_MARK = f"\ue000merkki-{secrets.token_hex(8)}-"
_ID_MARK = f"{_MARK}id\ue000"
_NAME_MARK = f"{_MARK}name\ue000"
_MANAGE_MARK = f"{_MARK}manage\ue000"
#: Proof configurations kept (one per key, ``created`` second and context: a bulk job's batch
#: shares one).
_MAX_PROOF_CONFIGS = 16


def _replace_at(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``document`` (only the dicts on ``path`` are copied) with ``value`` at ``path``."""
    head, rest = path[0], path[1:]
    copy = dict(document)
    copy[head] = _replace_at(document[head], rest, value) if rest else value
    return copy


def serialize_reusing(document: dict[str, Any], texts: dict[tuple[str, ...], str]) -> str:
    """``serialize(document)``, byte for byte, with the values at the given paths (through
    objects only) written as ``texts[path]``, their ``serialize`` text made beforehand.

    ``json.dumps`` (and ``serialize``) writes an indented value nested at depth ``d`` exactly
    as it writes the value alone, with every line after the first indented by ``d`` more
    levels (JSON strings never hold a raw line break), so a text made once per batch (the
    achievement, the issuer profile: most of a credential) is spliced in instead of encoded
    again for every credential. Falls back to plain ``serialize`` if a mark is not found once.
    """
    marked = document
    quoted: list[tuple[str, str]] = []
    for number, (path, text) in enumerate(texts.items()):
        mark = f"{_MARK}{number}\ue000"
        marked = _replace_at(marked, path, mark)
        quoted.append((json.dumps(mark, ensure_ascii=False), text))
    out = serialize(marked)
    spans: list[tuple[int, int, str]] = []
    for mark_text, text in quoted:
        at = out.find(mark_text)
        if at < 0 or out.find(mark_text, at + 1) >= 0:
            return serialize(document)
        line_start = out.rfind("\n", 0, at) + 1
        line = out[line_start:at]
        indent = len(line) - len(line.lstrip(" "))
        spans.append((at, at + len(mark_text), text.replace("\n", "\n" + " " * indent)))
    for start, end, text in sorted(spans, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def _signed_canonical(document: dict[str, Any]) -> str:
    """eddsa-rdfc-2022 §3.3.2 Transformation of a document whose every term must be defined
    (``dataintegrity.signing.create_proof``'s guard: undefined terms would be dropped by
    canonicalization and go out unsigned), in one walk."""
    try:
        canonical, undefined = canonize_and_find_undefined_terms(document)
    except EngineError:
        assert_all_terms_defined(document)  # report undefined terms before anything else
        raise
    if undefined:
        raise UndefinedTermError(undefined)
    return canonical


#: Flask extension key: per-thread status-list knowledge kept across requests.
_KNOWN_LISTS = "issuer.issuing.known_lists"


@dataclass
class IssuingContext:
    """Settings and caches for issuing, within one transaction (or one job's batches).

    Caches what is the same for every credential of a badge class and language: the achievement
    and the issuer profile (and their JSON text), the private key, the proof configuration of
    a key and second (eddsa-rdfc-2022 §3.3.5: it depends on neither the credential nor its
    recipient) and the learner's mail without the learner. Every credential is still checked
    for undefined terms, canonicalized and signed in full.
    """

    base_url: str
    keystore: KeyStore
    secret: str
    _keys: dict[int, tuple[str, Ed25519PrivateKey]] = field(default_factory=dict)
    _achievements: dict[tuple[int, str, int | None], dict[str, Any]] = field(default_factory=dict)
    _profiles: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    #: id of a cached document -> (the document, kept alive; its ``serialize`` text).
    _texts: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)
    _proofs: dict[tuple[Any, ...], tuple[Ed25519PrivateKey, dict[str, Any], str]] = field(
        default_factory=dict
    )
    _mails: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)
    #: Status lists per institution, as the allocators of earlier transactions left them.
    _lists: dict[int, dict[str, status.KnownList]] = field(default_factory=dict)
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

    @classmethod
    def for_request(cls) -> IssuingContext:
        """A fresh context for one web request, which keeps from this worker thread's earlier
        requests only what they learnt about the status lists (``status.KnownList``, made to be
        kept across transactions: it may know too much or too little, never wrongly). The
        request then reads only the allocations added since, not every index of the list: that
        read grew with every credential the institution had issued (about 40 ms per list at
        8,000 credentials on PostgreSQL; lists hold up to 98,304). Per thread, because
        allocators change it in place."""
        from flask import current_app

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        local = app.extensions.setdefault(_KNOWN_LISTS, threading.local())
        if not hasattr(local, "lists"):
            local.lists = {}
        ctx = cls.from_settings()
        ctx._lists = local.lists
        return ctx

    def new_transaction(self) -> None:
        """Forget what belongs to the previous transaction (the allocators, the current
        badge-class versions and signing keys read in it); the status lists are read again,
        from where the previous transaction left off."""
        self._allocators.clear()
        self._transaction.clear()

    def allocator(self, session: Session, institution: Institution) -> status.Allocator:
        allocator = self._allocators.get(institution.id)
        if allocator is None or allocator.session is not session:
            known = self._lists.setdefault(institution.id, {})
            allocator = status.Allocator(session, institution, self.base_url, known)
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

    def text(self, document: dict[str, Any]) -> str:
        """``serialize(document)`` of a cached document (an achievement, a profile), made once."""
        known = self._texts.get(id(document))
        if known is None or known[0] is not document:
            known = (document, serialize(document))
            self._texts[id(document)] = known
        return known[1]

    def sign(
        self, unsigned: dict[str, Any], private_key: Ed25519PrivateKey, method: str, created: str
    ) -> dict[str, Any]:
        """``dataintegrity.signing.sign(unsigned, private_key, method, created=created)``, the
        same result, with the proof configuration made once per key, second and context.

        The first document of a key and ``created`` goes through ``create_proof`` (which also
        checks that ``method`` names ``private_key`` and that the options' terms are defined);
        the rest take the steps of eddsa-rdfc-2022 §3.3.1 with its canonical proof
        configuration: transformation (with the undefined-term guard), hashing, signing.
        """
        context = unsigned.get("@context")
        if "proof" in unsigned or not isinstance(context, list):
            return sign(unsigned, private_key, method, created=created)
        key = (id(private_key), method, created, json.dumps(context))
        known = self._proofs.get(key)
        if known is None or known[0] is not private_key:
            proof = create_proof(unsigned, private_key, method, created=created)
            options = {name: value for name, value in proof.items() if name != "proofValue"}
            if len(self._proofs) >= _MAX_PROOF_CONFIGS:
                self._proofs.clear()
            self._proofs[key] = (private_key, options, proof_configuration(options, context))
            return {**unsigned, "proof": [proof]}
        _, options, configuration = known
        canonical = _signed_canonical(unsigned)
        proof_value = serialize_proof(hash_data(configuration, canonical), private_key)
        return {**unsigned, "proof": [{**options, "proofValue": proof_value}]}

    def mail_template(
        self, institution: Institution, lang: str, badge_name: str
    ) -> tuple[str, str]:
        """(subject, body) of the learner's mail (``mail.queue_credential_mail``), with marks
        where the credential id, the learner's name and the manage link go (``mail_text``)."""
        key = (institution.id, institution.name(lang), lang, badge_name)
        known = self._mails.get(key)
        if known is None:
            probe = Credential(id=_ID_MARK, lang=lang, recipient_name=_NAME_MARK)
            scratch = Session()  # unbound: the probe mail is made, never written
            try:
                made = mail.queue_credential_mail(
                    scratch,
                    credential=probe,
                    email="",
                    badge_name=badge_name,
                    institution=institution,
                    manage_url=_MANAGE_MARK,
                    base_url=self.base_url,
                )
                known = (made.subject, made.body)
            finally:
                scratch.close()
            self._mails[key] = known
        return known


def mail_text(template: str, credential_id: str, name: str, manage_link: str) -> str:
    """``template`` (``IssuingContext.mail_template``) for one credential. The name goes in
    last, so nothing in it is taken for a mark."""
    return (
        template.replace(_MANAGE_MARK, manage_link)
        .replace(_ID_MARK, credential_id)
        .replace(_NAME_MARK, name)
    )


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
    [done] = issue_many(
        session,
        ctx,
        institution,
        badge_class,
        [Recipient(email, name, options)],
        actor=actor,
        now=now,
        via=via,
        check_packages=check_packages,
    )
    credential = session.get(Credential, done.credential_id)
    assert credential is not None  # inserted just now, in this transaction
    return Issued(credential, done.manage_token, done.packages)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One learner of ``issue_many``."""

    email: str
    name: str
    options: IssueOptions = IssueOptions()


@dataclass(frozen=True, slots=True)
class IssuedId:
    """What ``issue_many`` issued to one recipient (the credential row is in the session's
    transaction; load it when needed)."""

    credential_id: str
    manage_token: str
    packages: tuple[Credential, ...] = ()


@dataclass(frozen=True, slots=True)
class _Checked:
    """A recipient whose input passed the checks, with its credential's id and salt."""

    email: str
    name: str
    options: IssueOptions
    credential_id: str
    salt: str


def _check_recipient(recipient: Recipient, valid_from: datetime) -> _Checked:
    errors: dict[str, str] = {}
    email = name = ""
    options = recipient.options
    try:
        email = check_email(recipient.email)
    except InvalidInputError as error:
        errors["recipient.email"] = error.message
    try:
        name = check_name(recipient.name, "recipient.name")
    except InvalidInputError as error:
        errors["recipient.name"] = error.message
    try:
        options = check_options(recipient.options, valid_from)
    except FieldErrors as error:
        errors.update(error.fields)
    if errors:
        raise FieldErrors(errors)
    return _Checked(email, name, options, uuid.uuid4().hex, secrets.token_hex(SALT_BYTES))


def _clip(value: str, limit: int) -> str:
    # As audit.record clips what it stores.
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _actor_columns(actor: audit.AuditActor) -> dict[str, Any]:
    """The actor columns of an ``AuditEvent`` (what ``audit.record`` stores)."""
    actor_id = getattr(actor, "id", None)
    return {
        "actor_kind": _clip(str(actor.kind), 32),
        "actor_id": None if actor_id is None else _clip(str(actor_id), 64),
        "actor_label": _clip(str(actor.label), audit.MAX_LABEL_LENGTH),
    }


def issue_many(
    session: Session,
    ctx: IssuingContext,
    institution: Institution,
    badge_class: BadgeClass,
    recipients: Sequence[Recipient],
    *,
    actor: audit.AuditActor | None = None,
    now: datetime | None = None,
    via: str = "bulk",
    check_packages: bool = True,
) -> list[IssuedId]:
    """Issue ``badge_class`` to every recipient, in ``session``'s transaction (see the module
    docstring): one credential, two status positions, one audit event and one mail each.

    What is the same for every credential (badge-class version, achievement, profile, key,
    proof configuration, mail text) is made once; the status positions of all of them are
    written with one statement per purpose, the credentials, audit events and mails with one
    each. All or nothing: the first invalid recipient raises ``FieldErrors`` before anything is
    written; any later error leaves writes behind that the caller must roll back (a savepoint
    or the transaction).
    """
    if not recipients:
        return []
    valid_from = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    checked = [_check_recipient(recipient, valid_from) for recipient in recipients]
    if not badge_classes.usable_by(badge_class, institution):
        raise NotFoundError(
            f"institution {institution.slug!r} cannot issue badge class {badge_class.slug!r}"
        )
    version, bc, languages = ctx.badge_class_version(session, badge_class)
    for one in checked:
        if one.options.lang not in languages:
            raise FieldErrors(
                {
                    "lang": f"badge class {bc.slug!r} is not fully translated into "
                    f"{_LANGUAGE_NAMES[one.options.lang]}"
                }
            )
    method, private_key = ctx.signing_key(session, institution)
    created = xsd_datetime(valid_from)
    # Who acts is the caller's to say (the web layer passes the signed-in staff member or the
    # API token, the CLI its operator); a service never asks the web layer. Without one, the
    # event names the system (a package issued by a rule, a test).
    actor = actor if actor is not None else audit.SystemActor()
    actor_columns = _actor_columns(actor)
    details = {"badge_class": badge_class.slug, "version": version.version, "via": via}

    # Status positions first: the revocation entry goes into what is signed.
    entries = ctx.allocator(session, institution).allocate_many(
        [one.credential_id for one in checked]
    )
    # A list opened for this batch is published signed in this transaction (``status``), with
    # the key already decrypted for the credentials; a batch opening no list signs nothing.
    status_publishing.sign_changed_lists(
        session, base_url=ctx.base_url, signer=lambda owner: ctx.signing_key(session, owner)
    )
    credentials: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    mails: list[dict[str, Any]] = []
    issued: list[tuple[_Checked, str, str]] = []
    for one in checked:
        options, lang = one.options, one.options.lang
        # VC 2.0 §4.9: validFrom; whole seconds, as the engine writes xsd:dateTime.
        valid_until = options.valid_until
        if valid_until is None and bc.validity_months:
            valid_until = add_months(valid_from, bc.validity_months)
        if valid_until is not None:
            valid_until = valid_until.astimezone(UTC).replace(microsecond=0)
        achievement = _achievement(
            session, ctx, institution, badge_class, version, bc, lang, languages
        )
        profile = ctx.profile(institution, lang)
        unsigned = build_credential(
            credential_id=credential_url(ctx.base_url, one.credential_id),
            issuer=profile,
            achievement=achievement,
            recipient_name=one.name,
            recipient_email=one.email,
            salt=one.salt,
            valid_from=valid_from,
            valid_until=valid_until,
            credential_status=entries[one.credential_id],
            evidence=_evidence(options.evidence),
            results=_results(achievement, options.grade),
            activity_start=options.activity_start_date.isoformat()
            if options.activity_start_date
            else None,
            activity_end=options.activity_end_date.isoformat()
            if options.activity_end_date
            else None,
        )
        signed = ctx.sign(unsigned, private_key, method, created)
        text = serialize_reusing(
            signed,
            {
                ("issuer",): ctx.text(profile),
                ("credentialSubject", "achievement"): ctx.text(achievement),
            },
        )
        manage_token = secrets.token_urlsafe(32)
        key = recipient_key(ctx.secret, one.email)
        credentials.append(
            {
                "id": one.credential_id,
                "institution_id": institution.id,
                "badge_class_version_id": version.id,
                "recipient_name": one.name,
                "recipient_identity_hash": identity_hash(one.email, one.salt),
                "salt": one.salt,
                "lang": lang,
                "signed_json": text,
                "issued_at": valid_from,
                "valid_until": valid_until,
                "recipient_key": key,
                "hidden": False,
                "indexable": False,
                "manage_token_hash": token_hash(manage_token),
            }
        )
        events.append(
            {
                "institution_id": institution.id,
                "occurred_at": valid_from,
                **actor_columns,
                "action": "issue",
                "target": one.credential_id,
                "reason": None,
                "details": details,
            }
        )
        if options.send_mail:
            subject, body = ctx.mail_template(institution, lang, bc.name.get(lang))
            link = manage_url(ctx.base_url, one.credential_id, manage_token)
            mails.append(
                {
                    "institution_id": institution.id,
                    "credential_id": one.credential_id,
                    "to_address": one.email,
                    "lang": lang,
                    "subject": subject,
                    "body": mail_text(body, one.credential_id, one.name, link),
                    "state": MailState.PENDING,
                    "attempts": 0,
                }
            )
        issued.append((one, key, manage_token))

    session.execute(insert(Credential), credentials)
    session.execute(insert(AuditEvent), events)
    if mails:
        session.execute(insert(OutboxMail), mails)
        # What queue_credential_mail marks: the sender delivers them after the commit.
        mail.mark_queued(session)
    results = []
    for one, key, manage_token in issued:
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
                    email=one.email,
                    name=one.name,
                    lang=one.options.lang,
                    actor=actor,
                    now=valid_from,
                )
            )
        results.append(IssuedId(one.credential_id, manage_token, packages))
    return results


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
    actor: audit.AuditActor | None = None,
) -> Credential:
    """Issue ``badge_class`` to the person ``name`` <``email``> in ``lang`` (the contract of
    ``merkki issue``); the stored ``Credential`` holds the signed JSON text. ``actor`` is who
    the audit log names (``merkki issue``: the CLI operator)."""
    if secret is None:
        from flask import has_app_context

        secret = IssuingContext.from_settings().secret if has_app_context() else "merkki"
    ctx = IssuingContext(base_url=base_url, keystore=keystore, secret=secret)
    try:
        return issue(
            session,
            ctx,
            institution,
            badge_class,
            email,
            name,
            IssueOptions(lang=lang),
            now=now,
            actor=actor,
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
