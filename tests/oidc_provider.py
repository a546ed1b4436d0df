"""A real OpenID Provider for the sign-in tests: Authlib's server components (an
``AuthorizationServer`` with the authorization code grant, the ``OpenIDCode`` extension with
nonces required and ``CodeChallenge`` with PKCE required) in a small Flask app, served over TLS
on 127.0.0.1 by werkzeug's ``make_server`` in a thread.

Its certificate names ``op.test``; the Merkki app under test gets the production fetcher
(``issuer.core.safe_fetch.SafeFetcher``) with only the loopback allowance and this certificate
trusted, so discovery, key set and token requests cross a real TLS socket under the same guards
as in production. The "browser" leg (the authorization request) is a plain HTTPS GET that
signs in whoever the test put in ``provider.person``.

Start one per module (``start_provider``), it costs a key pair and a thread.
"""

from __future__ import annotations

import datetime as dt
import http.client
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from issuer.core.safe_fetch import FetchPolicy, SafeFetcher

HOST = "op.test"
CLIENT_ID = "merkki-test-client"
CLIENT_SECRET = "a client secret for the tests"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Any callback of the Merkki app under test (one per institution slug).
        return redirect_uri.startswith("http://127.0.0.1:5000/staff/sign-in/oidc/")

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    person: dict[str, Any]

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(time.time())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class Provider:
    """The running provider: its issuer URL, the person the next authorization signs in, and
    what it saw (``token_requests``: the form fields of each token request)."""

    issuer: str
    port: int
    cert_file: Path
    person: dict[str, Any] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    #: The PKCE challenge of each authorization request, in order.
    challenges: list[str | None] = field(default_factory=list)
    codes: dict[str, Code] = field(default_factory=dict)

    def fetcher(self) -> SafeFetcher:
        """Merkki's production fetcher, with only the loopback allowance and this provider's
        certificate added."""
        return SafeFetcher(
            FetchPolicy(timeout_s=5.0),
            resolver=lambda host, port: ["127.0.0.1"],
            allowed_addresses={"127.0.0.1"},
            ssl_context=ssl.create_default_context(cafile=str(self.cert_file)),
        )

    def authorize(self, url: str) -> str:
        """The browser at the provider: GET the authorization URL, answer the redirect's
        ``Location`` (the callback with code and state, or an error)."""
        parts = urlsplit(url)
        assert parts.hostname == HOST, url
        context = ssl.create_default_context(cafile=str(self.cert_file))
        context.check_hostname = False  # connecting to 127.0.0.1, certified for op.test
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            response.read()
            assert response.status == 302, response.status
            return str(response.getheader("Location"))
        finally:
            connection.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "op-cert.pem", folder / "op-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _op_app(provider: Provider, signing_key: RSAKey) -> Flask:
    app = Flask("test_op")
    client = Client(CLIENT_ID, CLIENT_SECRET)

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

        def save_authorization_code(self, code: str, request: Any) -> None:
            payload = request.payload
            provider.challenges.append(payload.data.get("code_challenge"))
            provider.codes[code] = Code(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=payload.redirect_uri,
                scope=payload.scope,
                nonce=payload.data.get("nonce"),
                code_challenge=payload.data.get("code_challenge"),
                code_challenge_method=payload.data.get("code_challenge_method"),
                person=dict(request.user),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
            return authorization_code.person

    class Identity(OpenIDCode):  # type: ignore[misc]
        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return signing_key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": str(signing_key.kid)}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": provider.issuer, "aud": [client.get_client_id()]}

        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return False

        def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
            return UserInfo(**user)

    def query_client(client_id: str) -> Client | None:
        return client if client_id == CLIENT_ID else None

    server = AuthorizationServer(app, query_client=query_client, save_token=lambda t, r: None)
    server.register_grant(CodeGrant, [Identity(require_nonce=True), CodeChallenge(required=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            {
                "issuer": provider.issuer,
                "authorization_endpoint": provider.issuer + "/authorize",
                "token_endpoint": provider.issuer + "/token",
                "jwks_uri": provider.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify({"keys": [signing_key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize() -> Any:
        # Signed in at the provider already: whoever the test chose.
        who = dict(provider.person)
        grant = server.get_consent_grant(end_user=who)
        return server.create_authorization_response(grant_user=who, grant=grant)

    @app.post("/token")
    def token() -> Any:
        provider.token_requests.append(dict(request.form))
        return server.create_token_response()

    return app


@contextmanager
def start_provider(folder: Path) -> Iterator[Provider]:
    cert_file, key_file = _certificate(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    signing_key = RSAKey.generate_key(2048, parameters={"kid": "op-key-1", "use": "sig"})
    provider = Provider(issuer="", port=0, cert_file=cert_file)
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True, ssl_context=context)
    provider.port = server.socket.getsockname()[1]
    provider.issuer = f"https://{HOST}:{provider.port}"
    server.app = _op_app(provider, signing_key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
