"""The W3C CCG VC-API verifier (``/vc-api``): ``POST /vc-api/credentials/verify`` and
``POST /vc-api/presentations/verify``, public and rate-limited like ``/api/v1/verify``.

The logic is ``issuer.services.vc_api``; this blueprint reads the JSON body and maps the result
to the status codes the VC-API names: 200 only when ``verified`` is true, 422 with
``"verified": false`` and the problems otherwise (a ``verified: false`` with 200 is wrong for this
API); 400 for a body that is not a verification request (a credential sent as a JSON string
included), 413 for one too large, 415 for another media type. Errors are JSON, never 500 for
anything a client sends.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("vcapi", __name__, url_prefix="/vc-api")

from issuer.web.vcapi import verify  # noqa: E402,F401 - the routes
