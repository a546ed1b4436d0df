"""What the verification page shows, in the reader's language, built from a verification result.

The verdict comes from the report alone (``VerificationReport.verdict``); this module only puts
it into words and picks the facts a person needs: who holds it, who issued it, when, what was
achieved (with learning outcomes and the EU micro-credential facts for our own badges), and the
checks behind the verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask_babel import get_locale, gettext

from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.core.verifier import STATE_CODES, Check, parse_datetime
from issuer.services.verification import VerificationResult
from issuer.web.i18n import SUPPORTED_LANGUAGES, format_when
from issuer.web.learner.page import country_name


def verdict_texts() -> dict[str, tuple[str, str]]:
    """verdict -> (headline, explanation), in the current language.

    Plain ``gettext`` inside a function rather than module-level ``lazy_gettext``: the
    message extraction (``make translations``, tests/web/test_i18n.py) knows ``gettext`` and ``_``.
    """
    return {
        "valid": (
            gettext("Valid"),
            gettext(
                "This credential is genuine: it was issued by the issuer named below, it has not "
                "been altered, and it is in force."
            ),
        ),
        "revoked": (
            gettext("Revoked"),
            gettext("The issuer has revoked this credential. It is no longer valid."),
        ),
        "suspended": (
            gettext("Suspended"),
            gettext(
                "The issuer has suspended this credential for the time being. It is not valid "
                "while suspended."
            ),
        ),
        "expired": (
            gettext("Expired"),
            gettext("This credential is genuine, but its validity period has ended."),
        ),
        "not_yet_valid": (
            gettext("Not yet valid"),
            gettext("This credential is genuine, but its validity period has not started yet."),
        ),
        "not_genuine": (
            gettext("Not genuine"),
            gettext(
                "This credential's digital signature does not match: it has been altered after "
                "it was issued, or it was not signed with the key it names. Do not rely on "
                "what it says."
            ),
        ),
        "malformed": (
            gettext("Not a valid Open Badges credential"),
            gettext(
                "This credential breaks the rules of the Open Badges 3.0 format, so it cannot be "
                "accepted as valid. The details below say what is wrong and whether its "
                "signature is intact."
            ),
        ),
        "unverifiable": (
            gettext("Could not be verified"),
            gettext(
                "Some checks could not be carried out (for example, the issuer's identity could "
                "not be confirmed, or its key or status list could not be retrieved), so this "
                "credential cannot be confirmed as valid."
            ),
        ),
    }


def reason_texts() -> dict[str, str]:
    """check code -> what it means for the reader, for the verdicts that need a reason
    (``malformed``, ``unverifiable``), in the current language."""
    return {
        "format": gettext(
            "Its structure is not that of an Open Badges 3.0 credential (its contexts, types, "
            "subject or dates)."
        ),
        "jsonld": gettext("It is not valid JSON-LD, so its signed content cannot be read."),
        "schema": gettext("It does not follow the Open Badges 3.0 schema."),
        "undefined_terms": gettext(
            "It uses terms that no context defines; they are not covered by the signature."
        ),
        "unknown_context": gettext(
            "It uses a JSON-LD context that Merkki does not know, so its content cannot be "
            "read. Merkki never fetches contexts from the network."
        ),
        "proof_unchecked": gettext("Its digital signature could not be checked."),
        "issuer_unconfirmed": gettext(
            "The issuer's identity could not be confirmed: the key that signed it is not shown "
            "to belong to the issuer it names."
        ),
        "status_unavailable": gettext(
            "Whether it has been revoked could not be checked: the issuer's status list could "
            "not be retrieved."
        ),
        "status_invalid": gettext(
            "Whether it has been revoked could not be checked: the issuer's status list is not "
            "validly signed."
        ),
        "status_unsupported": gettext("It uses a revocation method that Merkki does not support."),
        "unsupported_format": gettext("It is in a format that Merkki does not verify."),
        "invalid_proof": gettext(
            "Its digital signature does not match its content: the content was changed after "
            "signing, or it was not signed with the key it names."
        ),
        "no_proof": gettext("It carries no digital signature."),
    }


def advice_texts() -> dict[str, str]:
    """verdict -> what it means for an employer and what to do next, in the current language
    (``self_asserted``: a valid credential whose issuer nobody confirms)."""
    return {
        "valid": gettext(
            "You can rely on what this credential says: the issuer named here vouches for it "
            "and it is in force today. To be sure it belongs to the person in front of you, "
            "compare the holder's name with their identity document."
        ),
        "self_asserted": gettext(
            "The credential is intact, but nobody confirms who issued it. Treat the issuer's "
            "name as a claim: find out about the issuer yourself before you rely on it."
        ),
        "revoked": gettext(
            "Do not rely on this credential: the issuer has withdrawn it for good. It no longer "
            "shows that the holder has this competence. If you need to know more, contact the "
            "issuer."
        ),
        "suspended": gettext(
            "Do not rely on this credential for now: the issuer has suspended it, and may lift "
            "the suspension later. Check again later, or ask the issuer."
        ),
        "expired": gettext(
            "The holder did earn this credential, but its validity has ended. Ask the holder "
            "whether they have a renewed one."
        ),
        "not_yet_valid": gettext(
            "The credential is genuine but not in force yet. Check it again once its validity "
            "has started."
        ),
        "not_genuine": gettext(
            "Do not rely on this credential: it has been altered, or it was not issued by the "
            "issuer it names. Ask the holder for the link to the original, or ask the issuer "
            "directly."
        ),
        "malformed": gettext(
            "Do not rely on this credential as it is. Ask the holder for the original, as the "
            "issuer's service gave it to them."
        ),
        "unverifiable": gettext(
            "This does not mean the credential is forged, only that it could not be confirmed "
            "now. Try again later, or ask the issuer to confirm it."
        ),
    }


T = TypeVar("T")

#: The page's fixed texts by (which, locale): the catalogs are loaded once per process, so a
#: text in one locale never changes; translating ~40 of them on every request is not free.
_FIXED_TEXTS: dict[tuple[str, str], Any] = {}
_FIXED_TEXTS_LOCK = threading.Lock()


def _in_locale(which: str, build: Callable[[], T]) -> T:
    key = (which, str(get_locale()))
    found = _FIXED_TEXTS.get(key)
    if found is None:
        found = build()
        with _FIXED_TEXTS_LOCK:
            _FIXED_TEXTS[key] = found
    result: T = found
    return result


def passed_texts() -> dict[str, str]:
    """check name -> what a passed check means, in the current language (the engine's own
    messages are English and technical; issue 15)."""
    return {
        "format": gettext("It has the structure of an Open Badges 3.0 credential."),
        "schema": gettext("It follows the Open Badges 3.0 schema."),
        "terms": gettext(
            "Every term it uses is defined, so all of it is covered by the signature."
        ),
        "proof": gettext("The digital signature matches the content."),
        "issuer": gettext("It was signed with a key that belongs to the issuer."),
        "validity": gettext("It is within its validity period."),
        "status:revocation": gettext("The issuer has not revoked it."),
        "status:suspension": gettext("The issuer has not suspended it."),
    }


def failed_texts() -> dict[str, str]:
    """check code -> what a failed or unchecked check means, for the codes ``reason_texts``
    does not explain, in the current language."""
    return {
        "no_proof": gettext("It has no digital signature."),
        "invalid_proof": gettext("The digital signature does not match the content."),
        "revoked": gettext("The issuer has revoked it."),
        "suspended": gettext("The issuer has suspended it."),
        "expired": gettext("Its validity period has ended."),
        "not_yet_valid": gettext("Its validity period has not started yet."),
        "failed": gettext("This check failed."),
        "unchecked": gettext("This could not be checked."),
    }


def _state_texts() -> dict[bool | None, str]:
    return {True: gettext("passed"), False: gettext("failed"), None: gettext("not checked")}


def check_labels() -> dict[str, str]:
    """check name -> label, in the current language."""
    return {
        "format": gettext("Credential format"),
        "schema": gettext("Open Badges 3.0 structure"),
        "terms": gettext("Defined vocabulary"),
        "proof": gettext("Digital signature"),
        "issuer": gettext("Issuer's key"),
        "validity": gettext("Validity period"),
        "status:revocation": gettext("Revocation status"),
        "status:suspension": gettext("Suspension status"),
    }


@dataclass(frozen=True, slots=True)
class CheckRow:
    label: str
    state: str  # "ok", "fail" or "unknown"
    state_text: str
    message: str
    name: str
    #: The engine's own words for a check that did not pass (English, marked ``lang="en"`` on
    #: the page): what a standard verifier's report would say, for whoever repeats the check.
    technical: str = ""


@dataclass(frozen=True, slots=True)
class IssuerCard:
    """The issuer's confirmed facts from its profile in this service (trust signals), in the
    reader's language: shown only for ``VerificationResult.confirmed_issuer``."""

    slug: str
    name: str
    website: str | None
    business_id: str | None
    oid: str | None
    country: str
    has_logo: bool


@dataclass
class VerificationView:
    """Everything the template needs, already in the reader's language."""

    verdict: str
    headline: str
    explanation: str
    revocation_reason: str | None = None
    revoked_on: str | None = None
    suspended_since: str | None = None
    expired_on: str | None = None
    key_withdrawn: bool = False
    key_withdrawn_on: str | None = None
    holder: str | None = None
    issuer_name: str | None = None
    issuer_id: str | None = None
    issued_on: str | None = None
    valid_until: str | None = None
    achievement_name: str | None = None
    achievement_description: str | None = None
    achievement_type: str | None = None
    criteria: str | None = None
    learning_outcomes: list[str] = field(default_factory=list)
    facts: list[tuple[str, list[str]]] = field(default_factory=list)
    image_url: str | None = None
    credential_id: str | None = None
    credential_url: str | None = None
    own: bool = False
    #: The issuer signed with its own did:key: its name is its own claim, confirmed by nobody.
    self_asserted: bool = False
    issuer_confirmed: bool = False
    signature_intact: bool = False
    #: For ``malformed`` and ``unverifiable``: what is wrong, in plain words.
    reasons: list[str] = field(default_factory=list)
    #: The holder has hidden the credential (``Credential.hidden``): only the verdict shows.
    hidden: bool = False
    checks: list[CheckRow] = field(default_factory=list)
    #: What the verdict means for an employer, and what to do next.
    advice: str = ""
    #: For ``not_genuine`` and ``malformed``: the names of the checks that failed.
    failed_checks: list[str] = field(default_factory=list)
    #: The issuer's facts, when the signature confirmed it is one of our institutions.
    issuer_card: IssuerCard | None = None
    #: The credential was readable but is not verified: the page says its claims are not shown.
    claims_withheld: bool = False


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> str | None:
    """A date of the credential or its status, as a date in Helsinki in the reader's format
    (``issuer.web.i18n.format_when``); a signed date that does not parse is shown as written."""
    if isinstance(value, datetime):
        return format_when(value, "date")
    if not isinstance(value, str):
        return None
    try:
        return format_when(parse_datetime(value), "date")
    except ValueError:
        return value


def _detail(check: Check, self_asserted: bool) -> str:
    """What ``check`` means, in the current language."""
    if check.ok is True:
        if check.name == "issuer" and self_asserted:
            return str(
                gettext(
                    "It was signed with the issuer's own key; nobody else confirms who the "
                    "issuer is."
                )
            )
        passed = _in_locale("passed", passed_texts)
        return passed.get(check.name, "")
    failed = _in_locale("failed", failed_texts)
    known = failed.get(check.code) or _in_locale("reasons", reason_texts).get(check.code)
    if known is not None:
        return known
    return failed["failed" if check.ok is False else "unchecked"]


def check_rows(checks: list[Check], *, self_asserted: bool = False) -> list[CheckRow]:
    labels = _in_locale("labels", check_labels)
    states = _in_locale("states", _state_texts)
    rows = []
    for check in checks:
        state = "ok" if check.ok is True else "fail" if check.ok is False else "unknown"
        state_text = states[check.ok]
        label = labels.get(check.name)
        rows.append(
            CheckRow(
                label=label if label is not None else check.name,
                state=state,
                state_text=state_text,
                message=_detail(check, self_asserted),
                name=check.name,
                technical="" if check.ok is True else check.message,
            )
        )
    return rows


def _expired_on(result: VerificationResult) -> str | None:
    view = result.report.view
    return _date(view.end) if view is not None else None


def verified_but_for_its_state(result: VerificationResult) -> bool:
    """Is the credential verified, or would it be but for its status or validity period
    (``valid``, ``revoked``, ``suspended``, ``expired``, ``not_yet_valid``)? Only then is what
    it says confirmed: its signature matches, its issuer is who it says (or signed with its
    own key, which the page flags), and every other check passed. A state verdict beside a
    check that could not be carried out (expired, but its key or status list could not be
    retrieved) is not: the verdict model names the state first, the page shows no claims."""
    return bool(result.checks) and all(
        check.ok is True or (check.ok is False and check.code in STATE_CODES)
        for check in result.checks
    )


def build_view(result: VerificationResult, lang: str) -> VerificationView:
    """The page's content for ``result`` in ``lang``."""
    verdict = result.verdict
    texts = _in_locale("verdicts", verdict_texts)
    headline, explanation = texts.get(verdict, texts["unverifiable"])
    view = VerificationView(
        verdict=verdict,
        headline=headline,
        explanation=explanation,
        checks=check_rows(result.checks, self_asserted=result.report.issuer_self_asserted),
        signature_intact=result.report.signature_intact,
    )
    advice = _in_locale("advice", advice_texts)
    view.advice = advice.get(verdict, advice["unverifiable"])
    if verdict in ("not_genuine", "malformed"):
        # Why, in words, instead of the claims (which are not shown).
        view.failed_checks = [row.label for row in view.checks if row.state == "fail"]
    if verdict != "valid":
        texts_by_code = _in_locale("reasons", reason_texts)
        # A check that could not be carried out is a reason too, except beside a failed
        # signature or format, which already say all there is to say.
        wanted = (False,) if verdict in ("not_genuine", "malformed") else (False, None)
        for check in result.checks:
            reason = texts_by_code.get(check.code) if check.ok in wanted else None
            if reason is not None and reason not in view.reasons:
                view.reasons.append(reason)
    if verdict == "revoked":
        view.revocation_reason = result.revocation_reason
        view.revoked_on = _date(result.revoked_at) if result.revoked_at else None
    if verdict == "suspended" and result.suspended_at is not None:
        view.suspended_since = _date(result.suspended_at)
    if verdict == "expired":
        view.expired_on = _expired_on(result)
    if verdict == "not_genuine" and result.key_withdrawn:
        view.key_withdrawn = True
        view.key_withdrawn_on = _date(result.key_withdrawn_at) if result.key_withdrawn_at else None
    signed = result.report.view
    if signed is None or signed.problem is not None:
        return view
    if not verified_but_for_its_state(result):
        # Facts only from what the signature covers, and none from a credential that failed
        # it, breaks the format or could not be verified (issue 15): the page gives the
        # verdict, why and what to do, instead of repeating claims nobody has confirmed.
        view.claims_withheld = True
        return view
    subject = signed.subject
    achievement = signed.achievement
    view.holder = _text(subject.name) if subject is not None else None
    view.issuer_name = _text(signed.issuer.name) if signed.issuer is not None else None
    view.issuer_id = signed.issuer_id
    view.self_asserted = result.report.issuer_self_asserted
    if view.self_asserted and verdict == "valid":
        # "Issued by the issuer named below" would vouch for a name nobody confirmed.
        view.explanation = gettext(
            "This credential has not been altered and it is in force, but nobody confirms who "
            "issued it: the issuer signed it with a key of its own."
        )
    view.issuer_confirmed = result.report.issuer_confirmed
    if view.self_asserted and verdict == "valid":
        view.advice = _in_locale("advice", advice_texts)["self_asserted"]
    confirmed = result.confirmed_issuer
    if confirmed is not None:
        # Confirmed by the signature (issuer.services.verification.confirmed_issuer): the
        # official name in the reader's language and the profile's facts.
        view.issuer_name = confirmed.name(lang)
        view.issuer_card = IssuerCard(
            slug=confirmed.slug,
            name=confirmed.name(lang),
            website=confirmed.url,
            business_id=confirmed.business_id,
            oid=confirmed.oid,
            country=country_name(confirmed.country_code, lang),
            has_logo=confirmed.has_logo,
        )
    view.issued_on = _date(signed.start)
    view.valid_until = _date(signed.end)
    if achievement is not None:
        view.achievement_name = _text(achievement.name)
        view.achievement_description = _text(achievement.description)
        view.achievement_type = _text(achievement.achievement_type)
        view.criteria = _text(achievement.criteria)
    view.achievement_name = view.achievement_name or _text(signed.name)
    view.credential_id = signed.id
    stored = result.stored
    view.own = stored is not None
    # Only our own artwork (same origin, allowed by the page's CSP); loading another issuer's
    # image would tell its server who looked at the credential, and when.
    view.image_url = achievement.image if view.own and achievement is not None else None
    if stored is not None:
        # A holder-bound copy's id is a urn:uuid (issue 18): nothing to download there.
        if (view.credential_id or "").startswith(("https://", "http://")):
            view.credential_url = view.credential_id
        view.issuer_name = stored.institution_name(lang)
        badge_class = result.badge_class()
        if badge_class is not None and lang in SUPPORTED_LANGUAGES:
            # Our own badge class holds its texts in fi, sv and en: the reader gets their
            # language, whatever language the credential was issued in.
            view.achievement_name = badge_class.name.get(lang)
            view.achievement_description = badge_class.description.get(lang)
            if badge_class.criteria_narrative is not None:
                view.criteria = badge_class.criteria_narrative.get(lang)
            view.learning_outcomes = [
                outcome.get(lang) for outcome in badge_class.learning_outcomes
            ]
            outcomes = "\n".join(view.learning_outcomes)
            # The learning outcomes get a list of their own on the page.
            view.facts = [
                (label, value.splitlines())
                for label, value in eu_facts(badge_class, lang)
                if not (outcomes and value == outcomes)
            ]
    return view


def private_view(view: VerificationView) -> VerificationView:
    """``view`` for a credential whose holder has hidden it: the verdict, its dates and the
    checks, and the issuer the verdict vouches for ("issued by the issuer named below"), but
    nothing of what was signed about the person (name, achievement, evidence, the download
    link) and not the revocation reason, a free text that may name them. The checks keep
    their names and results but not their messages, which quote from the credential and its
    status (the revocation check quotes the reason)."""
    return VerificationView(
        verdict=view.verdict,
        headline=view.headline,
        explanation=view.explanation,
        revoked_on=view.revoked_on,
        suspended_since=view.suspended_since,
        expired_on=view.expired_on,
        key_withdrawn=view.key_withdrawn,
        key_withdrawn_on=view.key_withdrawn_on,
        issuer_name=view.issuer_name,
        issuer_id=view.issuer_id,
        self_asserted=view.self_asserted,
        issuer_confirmed=view.issuer_confirmed,
        signature_intact=view.signature_intact,
        reasons=view.reasons,
        advice=view.advice,
        failed_checks=view.failed_checks,
        # The institution's facts say nothing about the holder.
        issuer_card=view.issuer_card,
        hidden=True,
        checks=[
            CheckRow(
                label=row.label,
                state=row.state,
                state_text=row.state_text,
                message="",
                name=row.name,
            )
            for row in view.checks
        ],
    )
