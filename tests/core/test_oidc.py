"""The relying party's protocol steps (``issuer.core.oidc``) on tokens made here: what the ID
token checks refuse. The whole flow against a real provider is in tests/web/staff/test_oidc.py."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from issuer.core import oidc
from issuer.core.safe_fetch import FetchRefused

ISSUER = "https://op.example"
CLIENT = "merkki"
NONCE = "the-nonce"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
METADATA = oidc.ProviderMetadata(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/authorize?tenant=x",
    token_endpoint=f"{ISSUER}/token",
    jwks_uri=f"{ISSUER}/jwks",
    algorithms=("RS256",),
    token_auth_methods=("client_secret_basic",),
)


def _token(key: Any = KEY, alg: str = "RS256", kid: str = "k1", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "person-1",
        "aud": CLIENT,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        **changes,
    }
    return jwt.encode({"alg": alg, "kid": kid}, claims, key, algorithms=[alg])


def _check(token: str, key_set: dict[str, Any] | None = None) -> dict[str, Any]:
    return oidc.check_id_token(
        token,
        key_set or {"keys": [KEY.as_dict(private=False)]},
        issuer=ISSUER,
        client_id=CLIENT,
        nonce=NONCE,
    )


def test_a_good_token_gives_its_claims() -> None:
    assert _check(_token())["sub"] == "person-1"
    assert _check(_token(aud=[CLIENT, "other"], azp=CLIENT))["sub"] == "person-1"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"nonce": "another"}, "nonce_mismatch"),
        ({"iss": "https://evil.example"}, "wrong_issuer"),
        ({"aud": "another-client"}, "wrong_audience"),
        ({"aud": [CLIENT, "other"], "azp": "other"}, "wrong_audience"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"sub": "x" * 256}, "invalid_id_token"),
    ],
)
def test_claims_that_do_not_fit_are_refused(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(oidc.OidcError) as refused:
        _check(_token(**changes))
    assert refused.value.code == code


def test_a_token_not_signed_by_the_providers_key_is_refused() -> None:
    with pytest.raises(oidc.OidcError, match="signature"):
        _check(_token(key=OTHER_KEY))
    # An HMAC keyed with something the client knows, and no signature at all, are refused
    # even when the key set offers a symmetric key.
    secret = OctKey.import_key("a shared secret that is long enough!!")
    with pytest.raises(oidc.OidcError):
        _check(_token(key=secret, alg="HS256"), {"keys": [secret.as_dict()]})
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    unsigned = header + "." + _token().split(".")[1] + "."
    with pytest.raises(oidc.OidcError):
        _check(unsigned)


class _Fetcher:
    """Answers from a dict; counts fetches, and whether they bypassed the cache."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.fetched: list[tuple[str, bool]] = []
        self.posted: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def fetch_json(self, url: str, *, timeout_s: float | None = None, fresh: bool = False) -> Any:
        self.fetched.append((url, fresh))
        if url not in self.documents:
            raise FetchRefused(f"not here: {url}")
        found = self.documents[url]
        return found(fresh) if callable(found) else found

    def post_form(
        self,
        url: str,
        fields: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        ok_statuses: Collection[int] = (200,),
    ) -> tuple[int, Any]:
        self.posted.append((url, fields, headers or {}))
        return 200, {"id_token": "x.y.z", "access_token": "at"}


def test_a_rotated_key_is_fetched_again_once() -> None:
    new_key = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    fetcher = _Fetcher(
        {
            METADATA.jwks_uri: lambda fresh: {
                "keys": [(new_key if fresh else KEY).as_dict(private=False)]
            }
        }
    )
    claims = oidc.verify_id_token(
        fetcher, METADATA, _token(key=new_key, kid="k2"), client_id=CLIENT, nonce=NONCE
    )
    assert claims["sub"] == "person-1"
    assert fetcher.fetched == [(METADATA.jwks_uri, False), (METADATA.jwks_uri, True)]


def _unencodable(fresh: bool) -> Any:
    raise UnicodeError("label too long")


def test_discovery_must_name_the_configured_issuer() -> None:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/a",
        "token_endpoint": f"{ISSUER}/t",
        "jwks_uri": f"{ISSUER}/k",
        "id_token_signing_alg_values_supported": ["HS256", "RS256"],
    }
    fetcher = _Fetcher({f"{ISSUER}/.well-known/openid-configuration": document})
    assert oidc.discover(fetcher, ISSUER).algorithms == ("RS256",)
    with pytest.raises(oidc.OidcError, match="another issuer"):
        oidc.parse_metadata({**document, "issuer": "https://evil.example"}, ISSUER)
    with pytest.raises(oidc.OidcError, match="asymmetric"):
        oidc.parse_metadata({**document, "id_token_signing_alg_values_supported": ["none"]}, ISSUER)
    with pytest.raises(oidc.OidcError, match="PKCE"):
        oidc.parse_metadata({**document, "code_challenge_methods_supported": ["plain"]}, ISSUER)
    with pytest.raises(oidc.OidcError) as unreachable:
        oidc.discover(_Fetcher({}), ISSUER)
    assert unreachable.value.code == "discovery_failed"
    # A host name the resolver cannot even encode is a failed discovery, not a crash.
    unencodable = _Fetcher({f"{ISSUER}/.well-known/openid-configuration": _unencodable})
    with pytest.raises(oidc.OidcError) as odd:
        oidc.discover(unencodable, ISSUER)
    assert odd.value.code == "discovery_failed"
    for bad in ("http://op.example", "https://op.example/?a=1", "https://op.example/#x", "op"):
        with pytest.raises(oidc.OidcError):
            oidc.check_issuer(bad)


def test_the_authorization_request_and_the_token_request_carry_pkce() -> None:
    started = oidc.authorization_request(
        METADATA, client_id=CLIENT, redirect_uri="https://merkki.example/cb"
    )
    parts = urlsplit(started.url)
    query = parse_qs(parts.query)
    assert query["tenant"] == ["x"]  # the endpoint's own query is kept
    assert query["code_challenge"] == [create_s256_code_challenge(started.code_verifier)]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [started.state]
    assert query["nonce"] == [started.nonce]
    assert query["scope"] == ["openid email profile"]
    fetcher = _Fetcher({})
    oidc.redeem_code(
        fetcher,
        METADATA,
        code="c",
        redirect_uri="https://merkki.example/cb",
        client_id=CLIENT,
        client_secret="s:cret",
        code_verifier=started.code_verifier,
    )
    [(url, fields, headers)] = fetcher.posted
    assert url == METADATA.token_endpoint
    assert fields["code_verifier"] == started.code_verifier
    assert "client_secret" not in fields
    assert headers["Authorization"] == "Basic bWVya2tpOnMlM0FjcmV0"  # merkki:s%3Acret
