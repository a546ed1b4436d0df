"""The JSON API (``/api/v1``). A skeleton for now: its errors are JSON (``issuer.web.errors``),
and it describes itself at ``GET /api/v1/``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/")
def index() -> dict[str, str]:
    return {"name": "Merkki", "version": "1"}


import issuer.web.api.badge_classes  # noqa: E402 - routes of issue 3
import issuer.web.api.completions  # noqa: E402 - the completion webhook (issue 17)
import issuer.web.api.credentials  # noqa: E402,F401 - issuing routes (issue 4)
from issuer.web.api import credential_status, verify  # noqa: E402,F401 - routes of issue 5
