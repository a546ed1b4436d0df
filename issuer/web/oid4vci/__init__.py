"""OpenID for Verifiable Credential Issuance 1.0 (issue 18): the metadata under
``/.well-known/``, the credential offer by reference, and the token, nonce and credential
endpoints under ``/oid4vci/``. The protocol is ``issuer.services.oid4vci``; this blueprint reads
requests and writes the answers the specification asks for.

Every answer is JSON and uncacheable where it carries a secret or a nonce (``Cache-Control:
no-store``: RFC 6749 §5.1, OpenID4VCI §7.2, §8.3). Errors are the specification's
``{"error", "error_description"}``, never the site's own error shape; a missing or bad access
token is 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3).

No CSRF token: a wallet is not a browser session. The token endpoint takes a pre-authorized
code, the credential endpoint a bearer token, neither reads a cookie; the nonce endpoint and the
metadata change nothing (tests/web/test_csrf.py). The metadata and the offer allow any origin,
so web wallets can read them.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("oid4vci", __name__)

from issuer.web.oid4vci import routes  # noqa: E402,F401 - the routes
