"""OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow (issue 18): the
protocol side of a wallet offer (``issuer.services.wallet`` makes offers and signs the
holder-bound copies).

The service is its own credential issuer and authorization server: the credential issuer
identifier is the service's base URL, so a wallet finds the metadata at
``/.well-known/openid-credential-issuer`` (§12.2.2) and, with no ``authorization_servers`` in
it, the token endpoint in ``/.well-known/oauth-authorization-server`` (RFC 8414 §3).

The flow (§3.5 "Pre-Authorized Code Flow"):

1. the wallet reads the credential offer by reference (``/oid4vci/offers/<code>``, §4.1.3) with
   its ``pre-authorized_code`` grant and, when the learner was given a PIN, a ``tx_code``
   object (§4.1.1);
2. it trades the code (and the PIN) at the token endpoint (§6) for a short-lived access token,
   stored hashed; the offer is then redeemed and cannot be traded again;
3. it fetches a ``c_nonce`` from the nonce endpoint (§7), signs a key proof (``jwt``,
   ``issuer.services.oid4vci_proof``) over the nonce and our identifier, and posts it with the
   token to the credential endpoint (§8), which answers the learner's credential bound to the
   wallet's ``did:key`` in ``credentialSubject.id``.

Refusals use the error codes the specification names: RFC 6749 §5.2 at the token endpoint
(with §6.3's clarifications), RFC 6750 §3.1 for the access token, §8.3.1.2 for the credential
request. Nothing of a refused credential request is kept.

This module does not know HTTP: it raises ``Oid4vciError`` with the error code and status, and
the web layer (``issuer.web.oid4vci``) writes them out. Protocol messages are plain JSON and are
never processed as JSON-LD (Appendix A.1.2.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.contexts import OB_V3, VC_V2
from issuer.core.credential import CREDENTIAL_TYPES
from issuer.models.oid4vci import Oid4vciAccessToken, Oid4vciUsedNonce
from issuer.models.wallet import WalletOffer
from issuer.services import wallet
from issuer.services.errors import ConflictError, InvalidInputError
from issuer.services.issuing_context import IssuingContext
from issuer.services.oid4vci_proof import PROOF_ALGORITHMS, ProofError, verify_jwt_proof

CONFIGURATION_ID = "OpenBadgeCredential_ldp_vc"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: The access token lives long enough for a wallet to fetch a nonce and sign a proof, no more.
ACCESS_TOKEN_LIFETIME = timedelta(minutes=5)
#: A c_nonce's life (§13.8 "Proof replay": the issuer decides how long a nonce can be used).
NONCE_LIFETIME = timedelta(minutes=5)
#: Names of the credential in the wallet (credential_metadata.display, §12.2.4).
_DISPLAY = (
    ("fi", "Osaamismerkki (Open Badge)"),
    ("sv", "Kompetensmärke (Open Badge)"),
    ("en", "Open Badge"),
)
_NONCE_PAYLOAD = struct.Struct(">Q16s")
_NONCE_MAC_LENGTH = 16
_MAX_TOKEN_LENGTH = 512


class Oid4vciError(Exception):
    """A refused protocol request: ``error`` is the code the specification names, ``status``
    the HTTP status it is answered with."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- metadata ------------------------------------------------------------------------------


def credential_issuer_metadata(base_url: str) -> dict[str, Any]:
    """The credential issuer metadata (§12.2.4), with the one configuration Merkki issues: an
    OB 3.0 ``OpenBadgeCredential`` as ``ldp_vc`` (Appendix A.1.2) signed with
    ``eddsa-rdfc-2022``, bound to a ``did:key`` or a JWK (turned into its did:key)."""
    return {
        "credential_issuer": base_url,
        "credential_endpoint": urls.oid4vci_credential_url(base_url),
        "nonce_endpoint": urls.oid4vci_nonce_url(base_url),
        "display": [{"name": "Merkki", "locale": lang} for lang, _ in _DISPLAY],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": "ldp_vc",
                "credential_definition": {
                    "@context": [VC_V2, OB_V3],
                    "type": list(CREDENTIAL_TYPES),
                },
                # A.1.2.2: suite identifiers for ldp_vc.
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "cryptographic_binding_methods_supported": ["did:key", "jwk"],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}
                },
                "credential_metadata": {
                    "display": [{"name": name, "locale": lang} for lang, name in _DISPLAY]
                },
            }
        },
    }


def authorization_server_metadata(base_url: str) -> dict[str, Any]:
    """RFC 8414 metadata of the authorization server (the service itself): the pre-authorized
    grant only, anonymous (§12.3), so no authorization endpoint and, as §12.3 allows, no
    ``response_types_supported``."""
    return {
        "issuer": base_url,
        "token_endpoint": urls.oid4vci_token_url(base_url),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


# --- nonces --------------------------------------------------------------------------------


def _nonce_key(secret_key: str) -> bytes:
    # A key of its own for nonces, derived from the app's secret (shared by every app server).
    return hashlib.sha256(b"merkki oid4vci c_nonce\x00" + secret_key.encode("utf-8")).digest()


def new_nonce(secret_key: str, now: datetime) -> str:
    """A fresh, unpredictable ``c_nonce`` (§7.2) that carries its own expiry under a MAC, so
    the public nonce endpoint writes nothing (§13.8: "server-provided nonce values containing
    the time at the server")."""
    expires = int((now + NONCE_LIFETIME).timestamp())
    payload = _NONCE_PAYLOAD.pack(expires, secrets.token_bytes(16))
    mac = hmac.new(_nonce_key(secret_key), payload, hashlib.sha256).digest()[:_NONCE_MAC_LENGTH]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def use_nonce(session: Session, secret_key: str, nonce: str, now: datetime) -> None:
    """Accept ``nonce`` once: it must be ours, unexpired and not used before. Raises
    ``Oid4vciError("invalid_nonce")`` (§8.3.1.2: the wallet should get a new one)."""
    refused = Oid4vciError("invalid_nonce", "the nonce is unknown, expired or used; get a new one")
    if len(nonce) > 64:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except ValueError:
        raise refused from None
    payload, mac = raw[: _NONCE_PAYLOAD.size], raw[_NONCE_PAYLOAD.size :]
    expected = hmac.new(_nonce_key(secret_key), payload, hashlib.sha256).digest()
    if len(payload) != _NONCE_PAYLOAD.size or not hmac.compare_digest(
        mac, expected[:_NONCE_MAC_LENGTH]
    ):
        raise refused
    expires_at = datetime.fromtimestamp(_NONCE_PAYLOAD.unpack(payload)[0], now.tzinfo)
    if expires_at <= now:
        raise refused
    # Expired used nonces need no row: the MAC's expiry refuses them.
    session.execute(delete(Oid4vciUsedNonce).where(Oid4vciUsedNonce.expires_at <= now))
    try:
        with session.begin_nested():
            session.add(Oid4vciUsedNonce(nonce_hash=_digest(nonce), expires_at=expires_at))
    except IntegrityError:
        raise refused from None


# --- access tokens -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


def new_access_token(session: Session, offer_id: int, now: datetime) -> AccessToken:
    """A bearer token for the credential endpoint, valid for ``ACCESS_TOKEN_LIFETIME``."""
    # Expired tokens are refused anyway and name nothing worth keeping: cleared as new ones
    # are made, so the table holds only the last few minutes' tokens.
    session.execute(delete(Oid4vciAccessToken).where(Oid4vciAccessToken.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        Oid4vciAccessToken(
            token_hash=_digest(token),
            offer_id=offer_id,
            created_at=now,
            expires_at=now + ACCESS_TOKEN_LIFETIME,
        )
    )
    session.flush()
    return AccessToken(token, int(ACCESS_TOKEN_LIFETIME.total_seconds()))


def _invalid_token(description: str) -> Oid4vciError:
    return Oid4vciError("invalid_token", description, status=401)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1); ``invalid_token``
    (401) without one."""
    if not authorization:
        raise _invalid_token("send the access token as Authorization: Bearer")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise _invalid_token("send the access token as Authorization: Bearer")
    return token


def find_access_token(session: Session, token: str, now: datetime) -> Oid4vciAccessToken:
    """The live, unspent access token ``token``; ``invalid_token`` (401) otherwise."""
    row = session.get(Oid4vciAccessToken, _digest(token))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise _invalid_token("the access token is unknown, expired or used")
    return row


def spend_access_token(session: Session, row: Oid4vciAccessToken, now: datetime) -> None:
    """Mark the token used, once: of two requests racing with it, one gets ``invalid_token``."""
    result = session.execute(
        update(Oid4vciAccessToken)
        .where(
            Oid4vciAccessToken.token_hash == row.token_hash,
            Oid4vciAccessToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise _invalid_token("the access token is unknown, expired or used")


# --- the credential request ----------------------------------------------------------------


def credential_request_proof(body: object) -> str:
    """The one ``jwt`` key proof of a credential request (§8.2), after checking what it asks
    for. Raises ``Oid4vciError`` with the codes of §8.3.1.2."""
    if not isinstance(body, Mapping):
        raise Oid4vciError("invalid_credential_request", "the request must be a JSON object")
    if "credential_response_encryption" in body:
        raise Oid4vciError(
            "invalid_encryption_parameters", "this issuer does not encrypt credential responses"
        )
    if "credential_identifier" in body:
        raise Oid4vciError(
            "unknown_credential_identifier", "no credential identifiers were handed out"
        )
    configuration = body.get("credential_configuration_id")
    if configuration is None:
        raise Oid4vciError("invalid_credential_request", "credential_configuration_id is missing")
    if configuration != CONFIGURATION_ID:
        raise Oid4vciError(
            "unknown_credential_configuration", f"the configuration is {CONFIGURATION_ID}"
        )
    proofs = body.get("proofs")
    if not isinstance(proofs, Mapping) or not proofs:
        raise Oid4vciError("invalid_proof", "proofs is missing")
    if set(proofs) != {"jwt"}:
        raise Oid4vciError("invalid_proof", "proofs must hold exactly one proof type: jwt")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or not jwts:
        raise Oid4vciError("invalid_proof", "proofs.jwt must be a non-empty array")
    if len(jwts) != 1:
        # No batch_credential_issuance in the metadata (§12.2.4): one key, one credential.
        raise Oid4vciError("invalid_credential_request", "send one key proof: no batch issuance")
    proof = jwts[0]
    if not isinstance(proof, str):
        raise Oid4vciError("invalid_proof", "a jwt proof must be a string")
    return proof


def check_key_proof(
    session: Session, proof: str, *, base_url: str, secret_key: str, now: datetime
) -> str:
    """Verify the key proof and use up its nonce; the holder's DID."""
    try:
        checked = verify_jwt_proof(proof, audience=base_url, now=now)
    except ProofError as error:
        raise Oid4vciError(error.error, error.description) from None
    use_nonce(session, secret_key, checked.nonce, now)
    return checked.holder_did


# --- the flow ------------------------------------------------------------------------------


def credential_offer(
    session: Session, base_url: str, code: str, *, tx_code_description: str, now: datetime
) -> dict[str, Any]:
    """The credential offer object (§4.1.1) that ``/oid4vci/offers/<code>`` serves: the
    learner's credential under our one configuration, with the pre-authorized code and, when
    the learner was given a PIN, the ``tx_code`` object describing it (``tx_code_description``:
    where to find the PIN, in the wallet's language; at most 300 characters).
    ``OfferUnavailableError`` when the offer is unknown, expired or redeemed."""
    offer = wallet.offer_for_code(session, code, now=now)
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if offer.tx_code_hash is not None:
        grant["tx_code"] = {
            "length": wallet.TX_CODE_LENGTH,
            "input_mode": "numeric",
            "description": tx_code_description[:300],
        }
    return {
        "credential_issuer": base_url,
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def _token_error(error: str, description: str) -> Oid4vciError:
    # RFC 6749 §5.2: 400, except invalid_client (401); not used here.
    return Oid4vciError(error, description)


def exchange_pre_authorized_code(
    session: Session, form: Mapping[str, str], *, now: datetime
) -> dict[str, Any]:
    """The token endpoint (§6): a redeemed pre-authorized code for an access token response.

    Refusals (RFC 6749 §5.2 with §6.3's clarifications): ``unsupported_grant_type`` for another
    grant; ``invalid_request`` when the code is missing, or a transaction code is missing where
    the offer has one or sent where it has none; ``invalid_grant`` for an unknown, expired or
    used code and for a wrong transaction code. A wrong transaction code is counted against the
    offer (``wallet.redeem_pre_authorized_code``): the caller commits before answering it."""
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _token_error("invalid_request", "grant_type is missing")
    if grant_type != PRE_AUTHORIZED_GRANT:
        raise _token_error("unsupported_grant_type", f"the only grant is {PRE_AUTHORIZED_GRANT}")
    code = form.get("pre-authorized_code")
    if not code:
        raise _token_error("invalid_request", "pre-authorized_code is missing")
    tx_code = form.get("tx_code")
    try:
        offer = wallet.offer_for_code(session, code, now=now)
        if offer.tx_code_hash is None and tx_code is not None:
            raise _token_error("invalid_request", "this offer has no transaction code")
        if offer.tx_code_hash is not None and not tx_code:
            raise _token_error("invalid_request", "this offer needs its transaction code")
        offer = wallet.redeem_pre_authorized_code(session, code, tx_code, now=now)
    except wallet.OfferUnavailableError as error:
        raise _token_error("invalid_grant", f"the pre-authorized code is {error.reason}") from None
    except wallet.WrongTxCodeError:
        raise _token_error("invalid_grant", "the transaction code is wrong") from None
    token = new_access_token(session, offer.id, now)
    return {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
    }


def issue_credential(
    session: Session,
    ctx: IssuingContext,
    *,
    authorization: str | None,
    body: object,
    secret_key: str,
    now: datetime,
) -> dict[str, Any]:
    """The credential endpoint (§8): the learner's credential bound to the key the proof
    names, as the credential response (§8.3). Checks in the order a wallet can act on: the
    access token (401 ``invalid_token``), the request, the key proof, its nonce; only then is
    anything written (the nonce used, the token spent, the copy signed and recorded). The
    caller rolls back on a refusal, so a refused request leaves nothing behind."""
    token = find_access_token(session, bearer_token(authorization), now)
    proof = credential_request_proof(body)
    holder_did = check_key_proof(
        session, proof, base_url=ctx.base_url, secret_key=secret_key, now=now
    )
    spend_access_token(session, token, now)
    offer = session.get(WalletOffer, token.offer_id)
    if offer is None:  # pragma: no cover - the foreign key keeps it
        raise _invalid_token("the access token's offer is gone")
    try:
        copy = wallet.issue_holder_bound_copy(
            session, ctx, offer.credential, holder_did, via="oid4vci", offer=offer, now=now
        )
    except ConflictError as error:
        # Revoked or suspended since the offer was made: not handed out (§8.3.1.2).
        raise Oid4vciError("credential_request_denied", error.message) from None
    except InvalidInputError as error:
        raise Oid4vciError("invalid_proof", error.message) from None
    return {"credentials": [{"credential": copy}]}
