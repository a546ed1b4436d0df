"""A process that issues one credential through the service layer, for the crash-safety tests.

``python -m tests.deployment.hold_issue MODE INSTITUTION BADGE TAG`` with the deployment's
``ISSUER_*`` environment, from the repository root. It opens the issuing transaction the way
the API does (``unit_of_work`` around ``issuing.issue``) and, depending on MODE:

* ``hold-after-allocation``: stops right after the credential's status positions were
  allocated and written (flushed), before the credential is signed or its row exists;
* ``hold-before-commit``: stops after ``issue`` wrote everything (allocations, credential,
  audit event, queued mail), just before the commit;
* ``issue-at INDEX``: issues and commits, with the first revocation draw forced to INDEX
  (shows that a position a killed transaction had drawn is free again).

It prints one line of JSON to stdout (``{"event": "holding" | "issued", "credential_id",
"index", "pid"}``) and, when holding, waits for stdin to close (the test kills it with SIGKILL
before that). Only the test drives it; a hook in this file, not in the service, does the
pausing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from issuer import create_app
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.services import badge_classes, issuing, status
from issuer.services.audit import SystemActor
from issuer.services.issuing_context import IssuingContext

HOLD_AFTER_ALLOCATION = "hold-after-allocation"
HOLD_BEFORE_COMMIT = "hold-before-commit"
ISSUE_AT = "issue-at"
_DRAW = "random_free_index"
_ALLOCATOR = "allocator"


def _announce(event: str, **values: Any) -> None:
    print(json.dumps({"event": event, "pid": os.getpid(), **values}), flush=True)


def _hold(event: str, **values: Any) -> None:
    """Announce, then wait inside the open transaction until stdin closes (or SIGKILL)."""
    _announce(event, **values)
    sys.stdin.read()
    raise SystemExit("stdin closed while holding the transaction: rolled back")


class _HoldingAllocator:
    """Stands in for the context's ``status.Allocator``: passes every call through, and after
    the first allocation (``allocate`` or ``allocate_many``) writes it and holds."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not (name.startswith("allocate") and callable(found)):
            return found

        def allocate_then_hold(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            self._inner.session.flush()
            # allocate -> one entry; allocate_many -> credential id -> entry.
            entry = result if "statusListIndex" in result else next(iter(result.values()))
            ids = args[0] if not isinstance(args[0], str) else [args[0]]
            _hold(HOLD_AFTER_ALLOCATION, credential_id=ids[0], index=entry["statusListIndex"])
            return result  # pragma: no cover - _hold does not return

        return allocate_then_hold


def main(argv: list[str]) -> None:
    mode, institution_slug, badge, tag = argv[:4]
    forced_index = int(argv[4]) if mode == ISSUE_AT else None
    app = create_app()
    with app.app_context():
        session = get_session()
        institution = session.query(Institution).filter_by(slug=institution_slug).one()
        badge_class = badge_classes.get_badge_class(session, badge)
        ctx = IssuingContext.from_settings(get_settings())
        # status.py draws through its module global; replaced here, in this process only.
        draw = getattr(status, _DRAW)

        def forced_draw(*args: Any, **kwargs: Any) -> int:
            setattr(status, _DRAW, draw)  # only the first draw (revocation) is forced
            assert forced_index is not None
            return forced_index

        if mode == HOLD_AFTER_ALLOCATION:
            allocator = ctx.allocator
            setattr(ctx, _ALLOCATOR, lambda *a: _HoldingAllocator(allocator(*a)))
        elif mode == ISSUE_AT:
            setattr(status, _DRAW, forced_draw)
        with unit_of_work():
            issued = issuing.issue(
                session,
                ctx,
                institution,
                badge_class,
                f"learner-{tag}@example.fi",
                f"Oppija {tag}",
                actor=SystemActor(),
            )
            entry = json.loads(issued.credential.signed_json)["credentialStatus"]
            values = {"credential_id": issued.credential.id, "index": entry["statusListIndex"]}
            if mode == HOLD_BEFORE_COMMIT:
                session.flush()
                _hold(HOLD_BEFORE_COMMIT, **values)
        _announce("issued", **values)


if __name__ == "__main__":
    main(sys.argv[1:])
