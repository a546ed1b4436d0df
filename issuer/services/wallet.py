"""Into the learner's wallet (issue 18): offers, their single-use redemption, and holder-bound
copies of a credential.

An offer (``create_offer``) is one random interaction token, shown once (the "Add to wallet" QR
code and link: ``urls.wallet_url``). Everything else an offer needs is derived from the token
with a keyed hash (HMAC-SHA256 under the token, one label per use), so that a wallet that only
knows a derived value cannot go back to the token:

* the OpenID4VCI pre-authorized code (OpenID4VCI 1.0 §4.1.1 grant
  ``urn:ietf:params:oauth:grant-type:pre-authorized_code``), which the credential offer by
  reference (``urls.oid4vci_offer_url``) names and carries, and which the interaction URL's
  answer can therefore point at without the code being stored in clear;
* the VC-API exchange's ``challenge`` for the holder's DID authentication (one per offer; the
  offer is redeemed once, so a presentation cannot be replayed).

Only digests are stored (``issuer.models.wallet``). A transaction code (OpenID4VCI 1.0 §4.1.1
``tx_code``: a PIN shown on the manage page, so that someone who only sees the QR code cannot
redeem it) is stored as HMAC-SHA256 under the pre-authorized code, and a few wrong codes spend
the offer (a six-digit PIN is guessable otherwise).

Redemption (``redeem_interaction``, ``redeem_pre_authorized_code``) is a conditional UPDATE
(``used_at IS NULL AND expires_at > now``): of two concurrent redemptions of one offer the
database lets exactly one change the row, on SQLite (one writer) and PostgreSQL (the second
UPDATE waits for the first transaction, then re-reads the row and finds it used).

A holder-bound copy (``issue_holder_bound_copy``) is the learner's credential with
``credentialSubject.id`` = the holder's DID (VC 2.0 §4.3 "subject" bound to the holder), under a
new id (``urls.holder_bound_copy_id``), signed anew by the institution's active key. It carries
the original's ``credentialStatus`` unchanged: the same status position, so revoking the
original sets the bit every copy points at.

Services never commit: the caller does. After ``WrongTxCodeError`` the caller must commit (the
counted attempt must stick) and then answer the error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.credential import xsd_datetime
from issuer.models import Credential
from issuer.models.wallet import WalletCopy, WalletOffer
from issuer.services import audit
from issuer.services.credential_json import serialize
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError, ServiceError
from issuer.services.issuing_context import IssuingContext
from issuer.services.learner_keys import token_hash

#: ``ISSUER_WALLET_OFFER_TTL``'s default: an offer is for the wallet at hand, not for later.
DEFAULT_OFFER_TTL = timedelta(minutes=15)
#: The transaction code: six digits (OpenID4VCI 1.0 §4.1.1 ``tx_code`` ``input_mode``
#: ``numeric``, ``length`` 6).
TX_CODE_LENGTH = 6
#: Wrong transaction codes an offer survives; the next attempt finds it spent.
MAX_TX_CODE_ATTEMPTS = 5

Via = Literal["vcapi", "oid4vci"]
VIAS: tuple[str, ...] = ("vcapi", "oid4vci")

_PRE_AUTHORIZED_CODE_LABEL = b"merkki wallet offer: OpenID4VCI pre-authorized code"
_CHALLENGE_LABEL = b"merkki wallet offer: VC-API DID authentication challenge"
#: A token or code as we make them: 32 random bytes, base64url without padding.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: DID syntax (DID Core 1.0 §3.1): ``did:<method>:<method-specific-id>``, no path, query or
#: fragment (the subject is the holder, not one of its keys).
_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_DID = re.compile(rf"did:[a-z0-9]+:(?:{_IDCHAR}*:)*{_IDCHAR}+")
MAX_DID_LENGTH = 2048


class OfferUnavailableError(ServiceError):
    """The offer is unknown, expired or already redeemed (``reason`` says which: ``unknown``,
    ``expired``, ``used``). One error for all three, so that an answer need not tell them
    apart (OpenID4VCI: ``invalid_grant`` for each)."""

    code = "offer_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this wallet offer is {reason}; make a new one on the credential's page")
        self.reason = reason


class WrongTxCodeError(ServiceError):
    """The transaction code is missing or wrong (OpenID4VCI 1.0 §6.3: ``invalid_grant``)."""

    code = "wrong_tx_code"

    def __init__(self) -> None:
        super().__init__("the transaction code is missing or wrong")


@dataclass(frozen=True, slots=True)
class OfferSecrets:
    """A new offer's secrets in clear: only here, once (the database keeps digests)."""

    offer_id: int
    credential_id: str
    interaction_token: str
    pre_authorized_code: str
    #: Six digits, or None for an offer without a transaction code.
    tx_code: str | None
    expires_at: datetime


def _derive(token: str, label: bytes) -> str:
    digest = hmac.new(token.encode("utf-8"), label, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pre_authorized_code(interaction_token: str) -> str:
    """The OpenID4VCI pre-authorized code of the offer whose interaction token this is."""
    return _derive(interaction_token, _PRE_AUTHORIZED_CODE_LABEL)


def vcapi_challenge(interaction_token: str) -> str:
    """The VC-API exchange's DID authentication ``challenge`` of this offer."""
    return _derive(interaction_token, _CHALLENGE_LABEL)


def _tx_code_hash(code: str, tx_code: str) -> str:
    return hmac.new(code.encode("utf-8"), tx_code.encode("utf-8"), hashlib.sha256).hexdigest()


def _aware(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone(UTC)


def is_token(value: str) -> bool:
    """Whether ``value`` has the shape of an interaction token or a pre-authorized code (a
    cheap refusal before any lookup)."""
    return _TOKEN.fullmatch(value) is not None


def check_holder_did(holder_did: str) -> str:
    """``holder_did`` when it is a DID without path, query or fragment, else
    ``InvalidInputError``: it becomes ``credentialSubject.id``, an IRI every JSON-LD processor
    must read the same way."""
    if (
        not isinstance(holder_did, str)
        or len(holder_did) > MAX_DID_LENGTH
        or not _DID.fullmatch(holder_did)
    ):
        raise InvalidInputError("the holder must be a DID (did:<method>:<id>) without a fragment")
    return holder_did


def _offerable(credential: Credential) -> None:
    # A withdrawn credential is not handed out again, in any form.
    if credential.revoked_at is not None:
        raise ConflictError(f"credential {credential.id} is revoked")
    if credential.suspended_at is not None:
        raise ConflictError(f"credential {credential.id} is suspended")


def create_offer(
    session: Session,
    credential_id: str,
    *,
    with_tx_code: bool,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_OFFER_TTL,
) -> OfferSecrets:
    """A new offer of credential ``credential_id`` (``NotFoundError`` when there is none,
    ``ConflictError`` when it is revoked or suspended), valid for ``ttl``; its secrets in clear,
    this once."""
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id!r}")
    _offerable(credential)
    moment = _aware(now)
    token = secrets.token_urlsafe(32)
    code = pre_authorized_code(token)
    tx_code = (
        f"{secrets.randbelow(10**TX_CODE_LENGTH):0{TX_CODE_LENGTH}d}" if with_tx_code else None
    )
    offer = WalletOffer(
        credential_id=credential.id,
        interaction_token_hash=token_hash(token),
        pre_authorized_code_hash=token_hash(code),
        tx_code_hash=_tx_code_hash(code, tx_code) if tx_code is not None else None,
        failed_attempts=0,
        created_at=moment,
        expires_at=moment + ttl,
    )
    session.add(offer)
    session.flush()
    return OfferSecrets(
        offer_id=offer.id,
        credential_id=credential.id,
        interaction_token=token,
        pre_authorized_code=code,
        tx_code=tx_code,
        expires_at=offer.expires_at,
    )


def _unavailable(offer: WalletOffer | None, moment: datetime) -> OfferUnavailableError | None:
    if offer is None:
        return OfferUnavailableError("unknown")
    if offer.used_at is not None or offer.failed_attempts >= MAX_TX_CODE_ATTEMPTS:
        return OfferUnavailableError("used")
    if offer.expires_at <= moment:
        return OfferUnavailableError("expired")
    return None


def offer_for_token(
    session: Session, interaction_token: str, *, now: datetime | None = None
) -> WalletOffer:
    """The open offer of ``interaction_token`` (``OfferUnavailableError`` when it is unknown,
    expired or redeemed), without redeeming it."""
    offer = None
    if is_token(interaction_token):
        offer = session.scalar(
            select(WalletOffer).where(
                WalletOffer.interaction_token_hash == token_hash(interaction_token)
            )
        )
    problem = _unavailable(offer, _aware(now))
    if problem is not None:
        raise problem
    assert offer is not None
    return offer


def offer_for_code(session: Session, code: str, *, now: datetime | None = None) -> WalletOffer:
    """The open offer of the pre-authorized ``code`` (``OfferUnavailableError`` otherwise),
    without redeeming it: what the credential offer endpoint shows."""
    offer = None
    if is_token(code):
        offer = session.scalar(
            select(WalletOffer).where(WalletOffer.pre_authorized_code_hash == token_hash(code))
        )
    problem = _unavailable(offer, _aware(now))
    if problem is not None:
        raise problem
    assert offer is not None
    return offer


def _redeem(session: Session, offer: WalletOffer, via: Via, moment: datetime) -> WalletOffer:
    """Mark ``offer`` used, if no one else did first (the conditional UPDATE of the module
    docstring)."""
    result = session.execute(
        update(WalletOffer)
        .where(
            WalletOffer.id == offer.id,
            WalletOffer.used_at.is_(None),
            WalletOffer.expires_at > moment,
            WalletOffer.failed_attempts < MAX_TX_CODE_ATTEMPTS,
        )
        .values(used_at=moment, used_via=via)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        session.expire(offer)
        raise _unavailable(offer, moment) or OfferUnavailableError("used")
    session.refresh(offer)
    return offer


def redeem_interaction(
    session: Session, interaction_token: str, *, now: datetime | None = None
) -> WalletOffer:
    """Redeem the offer of ``interaction_token`` for the VC-API exchange, once
    (``OfferUnavailableError`` when it is unknown, expired or already redeemed)."""
    moment = _aware(now)
    return _redeem(
        session, offer_for_token(session, interaction_token, now=moment), "vcapi", moment
    )


def redeem_pre_authorized_code(
    session: Session, code: str, tx_code: str | None, *, now: datetime | None = None
) -> WalletOffer:
    """Redeem the offer of the pre-authorized ``code`` at the OpenID4VCI token endpoint, once.

    ``OfferUnavailableError`` when the offer is unknown, expired or redeemed; ``WrongTxCodeError``
    when the offer has a transaction code and ``tx_code`` is not it (the attempt is counted: the
    caller commits). A ``tx_code`` sent for an offer without one is ignored (OpenID4VCI 1.0
    §6.1 asks for it only when the offer announced one)."""
    moment = _aware(now)
    offer = offer_for_code(session, code, now=moment)
    if offer.tx_code_hash is not None:
        given = _tx_code_hash(code, tx_code) if isinstance(tx_code, str) else ""
        if not hmac.compare_digest(given, offer.tx_code_hash):
            session.execute(
                update(WalletOffer)
                .where(WalletOffer.id == offer.id)
                .values(failed_attempts=WalletOffer.failed_attempts + 1)
                .execution_options(synchronize_session=False)
            )
            session.expire(offer)
            raise WrongTxCodeError()
    return _redeem(session, offer, "oid4vci", moment)


def issue_holder_bound_copy(
    session: Session,
    ctx: IssuingContext,
    original: Credential,
    holder_did: str,
    *,
    via: Via,
    offer: WalletOffer | None = None,
    actor: audit.AuditActor | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign, record and return a copy of ``original`` bound to ``holder_did`` (module
    docstring). ``InvalidInputError`` for a holder that is not a DID, ``ConflictError`` when
    the original is revoked or suspended. The copy's proof is made now with the institution's
    active key; everything else the original says (validity, achievement, status) is kept."""
    check_holder_did(holder_did)
    if via not in VIAS:
        raise InvalidInputError(f"unknown wallet protocol {via!r}")
    _offerable(original)
    moment = _aware(now)
    document = json.loads(original.signed_json)
    document.pop("proof", None)
    copy_id = uuid.uuid4().hex
    document["id"] = urls.holder_bound_copy_id(copy_id)
    subject = {key: value for key, value in document["credentialSubject"].items() if key != "id"}
    document["credentialSubject"] = {"id": holder_did, **subject}
    method, private_key = ctx.signing_key(session, original.institution)
    signed = ctx.sign(document, private_key, method, xsd_datetime(moment))
    text = serialize(signed)
    session.add(
        WalletCopy(
            id=copy_id,
            credential_id=original.id,
            offer_id=None if offer is None else offer.id,
            holder_did=holder_did,
            signed_json=text,
            via=via,
            created_at=moment,
        )
    )
    audit.record(
        session,
        actor=actor if actor is not None else audit.SystemActor(kind="wallet", label=holder_did),
        action="wallet.copy",
        institution_id=original.institution_id,
        target=original.id,
        details={"copy": copy_id, "via": via},
        now=moment,
    )
    return signed


def copies_of(session: Session, credential_id: str) -> list[WalletCopy]:
    """The holder-bound copies of a credential, oldest first (the manage page lists them)."""
    return list(
        session.scalars(
            select(WalletCopy)
            .where(WalletCopy.credential_id == credential_id)
            .order_by(WalletCopy.created_at, WalletCopy.id)
        )
    )
