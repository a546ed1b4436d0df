"""OpenID Connect sign-in, the relying party's protocol steps (no Flask, no database).

Staff sign in with their institution's provider (MPASSid, Haka, Microsoft Entra ID) by the
Authorization Code flow (OpenID Connect Core 1.0 section 3.1) with PKCE (RFC 7636, method S256).
Each step here is one function; ``issuer.web.staff.oidc`` keeps ``state``, ``nonce`` and the
code verifier in the signed session between them and ``issuer.services.oidc`` turns the verified
claims into a staff account.

* ``discover``: the provider's metadata from ``<issuer>/.well-known/openid-configuration``; the
  document must name exactly the configured issuer (OpenID Connect Discovery 1.0 section 4.3),
  else another issuer's tokens could be passed off as this one's.
* ``authorization_request``: the URL the browser is sent to, with fresh random ``state``
  (CSRF on the redirect, RFC 6749 section 10.12), ``nonce`` (replay of an ID token, Core
  section 3.1.2.1) and a code verifier whose S256 challenge goes along (Authlib's
  ``create_s256_code_challenge``).
* ``redeem_code``: the token request with the code and the verifier (RFC 7636 section 4.5); the
  client authenticates with ``client_secret_basic`` unless the provider only offers
  ``client_secret_post`` (Core section 9), or as a public client with no secret.
* ``verify_id_token``: the ID token's signature against the provider's key set (``jwks_uri``,
  fetched again once if the token names a key the cached set lacks: the provider rotated keys),
  then its claims by Authlib's ``CodeIDToken`` rules (Core section 3.1.3.7): ``iss`` is the
  issuer, ``aud`` holds the client id (and ``azp`` is it when there are several), ``exp`` has not
  passed, ``nonce`` is the one sent, ``at_hash`` matches the access token when present.
  Only asymmetric signature algorithms are accepted: never ``none``, never an HMAC keyed with the
  client secret.

Every fetch goes through the guarded fetcher (``issuer.core.safe_fetch``): https only, public
addresses only, one deadline per fetch. Failures raise ``OidcError`` with a ``code`` the web
layer turns into a readable page; messages name no secret.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from issuer.core.errors import EngineError
from issuer.core.safe_fetch import FetchFailed, FetchRefused

#: Signature algorithms an ID token may use (RFC 7518 section 3, RFC 8037): asymmetric only.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: What Core section 3.1.3.7 item 7 assumes when the provider lists none.
DEFAULT_ALGORITHMS = ("RS256",)
SCOPE = "openid email profile"
#: Seconds of clock difference tolerated on ``exp`` and ``iat``.
LEEWAY_S = 60
MAX_ISSUER_LENGTH = 512


class OidcError(EngineError):
    """One step of a sign-in failed. ``code`` says which (the web layer's page):
    ``discovery_failed``, ``token_failed``, ``invalid_id_token``, ``nonce_mismatch``,
    ``expired``, ``wrong_issuer``, ``wrong_audience``."""

    code = "oidc"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Fetcher(Protocol):
    """What ``issuer.core.safe_fetch.SafeFetcher`` offers and these steps use."""

    def fetch_json(
        self, url: str, *, timeout_s: float | None = None, fresh: bool = False
    ) -> Any: ...

    def post_form(
        self,
        url: str,
        fields: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        ok_statuses: Collection[int] = (200,),
    ) -> tuple[int, Any]: ...


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of a discovery document that sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]


def check_issuer(issuer: str) -> str:
    """An issuer identifier as Discovery section 2 requires it: an https URL with no query or
    fragment. Returned unchanged (it is compared character for character)."""
    parts = urlsplit(issuer)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
        or len(issuer) > MAX_ISSUER_LENGTH
        or not issuer.isprintable()
        or " " in issuer
    ):
        raise OidcError(
            "invalid_issuer", "the issuer must be an https URL without query or fragment"
        )
    return issuer


def discovery_url(issuer: str) -> str:
    """Discovery section 4: the issuer with any trailing slash removed, then the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _string_list(document: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def parse_metadata(document: Any, issuer: str) -> ProviderMetadata:
    """The metadata in ``document`` if it belongs to ``issuer``, else ``OidcError``."""
    if not isinstance(document, dict):
        raise OidcError("discovery_failed", "the discovery document is not a JSON object")
    if document.get("issuer") != issuer:
        raise OidcError(
            "discovery_failed", "the discovery document names another issuer than the one set"
        )
    endpoints: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme != "https":
            raise OidcError("discovery_failed", f"the discovery document has no https {name}")
        endpoints[name] = value
    offered = _string_list(document, "id_token_signing_alg_values_supported")
    algorithms = tuple(alg for alg in offered or DEFAULT_ALGORITHMS if alg in ASYMMETRIC_ALGORITHMS)
    if not algorithms:
        raise OidcError(
            "discovery_failed", "the provider signs ID tokens with no asymmetric algorithm"
        )
    methods = _string_list(document, "code_challenge_methods_supported")
    if methods and "S256" not in methods:
        raise OidcError("discovery_failed", "the provider does not support PKCE with S256")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        algorithms=algorithms,
        # Core section 9: client_secret_basic is the default when none is listed.
        token_auth_methods=_string_list(document, "token_endpoint_auth_methods_supported")
        or ("client_secret_basic",),
    )


def _reason(error: Exception) -> str:
    """A fetch failure in words: the guarded fetcher's message, or (a host name the resolver
    cannot encode, say) the kind of error."""
    if isinstance(error, FetchRefused | FetchFailed):
        return error.message
    return f"the address cannot be used ({type(error).__name__})"


def discover(fetcher: Fetcher, issuer: str) -> ProviderMetadata:
    """The provider's metadata, fetched through the guarded fetcher (cached there)."""
    try:
        document = fetcher.fetch_json(discovery_url(check_issuer(issuer)))
    except (FetchRefused, FetchFailed, ValueError) as error:
        raise OidcError("discovery_failed", f"the provider's metadata: {_reason(error)}") from None
    return parse_metadata(document, issuer)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization_request(
    metadata: ProviderMetadata, *, client_id: str, redirect_uri: str, scope: str = SCOPE
) -> AuthorizationRequest:
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    # 64 characters of the unreserved alphabet (RFC 7636 section 4.1: 43 to 128).
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = metadata.authorization_endpoint
    separator = "&" if urlsplit(endpoint).query else "?"
    return AuthorizationRequest(f"{endpoint}{separator}{query}", state, nonce, verifier)


def _basic(client_id: str, client_secret: str) -> str:
    # RFC 6749 section 2.3.1: both form-urlencoded before they are joined.
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def redeem_code(
    fetcher: Fetcher,
    metadata: ProviderMetadata,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str | None,
    code_verifier: str,
) -> dict[str, Any]:
    """The token response for ``code`` (it holds ``id_token``), or ``OidcError``."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    headers: dict[str, str] = {}
    if client_secret is None:
        fields["client_id"] = client_id
    elif (
        "client_secret_basic" not in metadata.token_auth_methods
        and "client_secret_post" in metadata.token_auth_methods
    ):
        fields["client_id"] = client_id
        fields["client_secret"] = client_secret
    else:
        headers["Authorization"] = _basic(client_id, client_secret)
    try:
        status, answer = fetcher.post_form(
            metadata.token_endpoint, fields, headers=headers, ok_statuses=(200, 400, 401)
        )
    except (FetchRefused, FetchFailed, ValueError) as error:
        raise OidcError("token_failed", f"the token request: {_reason(error)}") from None
    if status != 200 or not isinstance(answer, dict):
        # RFC 6749 section 5.2: the error code is ASCII; anything else is not repeated.
        reason = answer.get("error") if isinstance(answer, dict) else None
        shown = (
            reason
            if isinstance(reason, str)
            and reason.isascii()
            and reason.isprintable()
            and len(reason) < 64
            else "?"
        )
        raise OidcError("token_failed", f"the provider refused the code ({shown})")
    if not isinstance(answer.get("id_token"), str):
        raise OidcError("token_failed", "the provider's answer has no ID token")
    return answer


def check_id_token(
    id_token: str,
    key_set: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    access_token: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once signature and claims are checked (see the module
    docstring); ``OidcError`` otherwise. ``InvalidKeyIdError`` passes through: the caller may
    fetch the key set again."""
    allowed = [alg for alg in algorithms if alg in ASYMMETRIC_ALGORITHMS]
    try:
        keys = KeySet.import_key_set(dict(key_set))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError("invalid_id_token", "the provider's key set cannot be read") from None
    try:
        token = jwt.decode(
            id_token,
            keys,
            algorithms=allowed,
            registry=JWSRegistry(algorithms=allowed, strict_check_header=False),
        )
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise OidcError(
            "invalid_id_token", f"the ID token's signature does not verify ({type(error).__name__})"
        ) from None
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": issuer},
            "sub": {"essential": True},
            "aud": {"essential": True, "value": client_id},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True},
        },
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(time.time()) if now is None else now, leeway=LEEWAY_S)
    except ExpiredTokenError:
        raise OidcError("expired", "the ID token has expired") from None
    except ClaimError as error:
        raise OidcError(
            _CLAIM_CODES.get(error.claim, "invalid_id_token"), _message(error)
        ) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise OidcError("invalid_id_token", "the ID token's subject is not a usable identifier")
    return dict(claims)


_CLAIM_CODES = {
    "nonce": "nonce_mismatch",
    "iss": "wrong_issuer",
    "aud": "wrong_audience",
    "azp": "wrong_audience",
}


def _message(error: ClaimError) -> str:
    return f"the ID token's {error.claim!r} claim is missing or wrong"


def verify_id_token(
    fetcher: Fetcher,
    metadata: ProviderMetadata,
    id_token: str,
    *,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """``check_id_token`` against the provider's key set, fetched through the guarded fetcher
    (cached there), and once more without the cache if the token names a key it lacks."""
    for fresh in (False, True):
        try:
            key_set = fetcher.fetch_json(metadata.jwks_uri, fresh=fresh)
        except (FetchRefused, FetchFailed, ValueError) as error:
            raise OidcError(
                "invalid_id_token", f"the provider's key set: {_reason(error)}"
            ) from None
        if not isinstance(key_set, dict):
            raise OidcError("invalid_id_token", "the provider's key set is not a JSON object")
        try:
            return check_id_token(
                id_token,
                key_set,
                issuer=metadata.issuer,
                client_id=client_id,
                nonce=nonce,
                algorithms=metadata.algorithms,
                access_token=access_token,
                now=now,
            )
        except InvalidKeyIdError:
            continue
    raise OidcError(
        "invalid_id_token", "the ID token is signed with a key the provider does not list"
    )
