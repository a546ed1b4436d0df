"""The staff UI (``/staff``): sign-in, badge classes, the institution's profile, staff, API
tokens, the integrations that report completions and the institution's sign-in provider (OpenID
Connect). Server-rendered, in Finnish, Swedish and English, every form CSRF-protected
(``issuer.web.auth.csrf``), no inline script or style (a strict CSP is planned).

Who may do what (``issuer.web.auth``): issuers define, copy and publish their institution's badge
classes; institution admins also manage the profile, the staff and the API tokens; service
admins do everything, including the national badge classes, which are read-only to the rest.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

# The views register themselves on ``bp``.
from issuer.web.staff import account, admin, badges, integrations, lti, oidc  # noqa: E402,F401
