"""Issue 16 acceptance: ``merkki publish`` output, served by a plain static file server while no
app server runs, lets the Digital Bazaar stack verify a credential (the issuer's did:web resolved
over HTTP, the status list fetched, its signature checked and its bit read with
``@digitalbazaar/vc-bitstring-status-list``) and shows a revocation made before the publish.

The static server is Python's ``http.server`` on a loopback port, serving the published folder;
the only configuration it gets is what docs/operations.md tells an operator to give nginx: the
extension-less status list files are ``application/vc+ld+json``. The JavaScript loader maps the
service's public origin (``ISSUER_BASE_URL``, also the https origin its did:web resolves to) to
that server (``dbvc.mjs`` "web")."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer.cli import main
from issuer.db import dispose
from issuer.services import static_copy
from tests.conftest import BASE_URL
from tests.interop.dbvc import RunJs, error_text
from tests.web.verify.helpers import Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below


class StaticFiles(SimpleHTTPRequestHandler):
    """A plain static file server; extension-less files (the status lists) get the media type
    the operations guide configures."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        "": static_copy.STATUS_LIST_MEDIA_TYPE,
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(folder served, its http://127.0.0.1:PORT origin)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(StaticFiles, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _web_map(origin: str) -> dict[str, str]:
    """The service's public origin, and the https origin its did:web DIDs resolve to."""
    host = urlsplit(BASE_URL).netloc
    return {f"http://{host}": origin, f"https://{host}": origin}


def test_published_copy_verifies_in_the_digital_bazaar_stack_and_shows_the_revocation(
    app: Flask,
    runner: FlaskCliRunner,
    scenario: Scenario,
    static_server: tuple[Path, str],
    dbvc: RunJs,
) -> None:
    folder, origin = static_server
    # "revoked" was revoked when the scenario was made; this one is revoked now, before the
    # publish, through the command line.
    late = scenario.credentials["other"]
    revoked_now = runner.invoke(main, ["revoke", late.id, "--reason", "väärä henkilö"])
    assert revoked_now.exit_code == 0, revoked_now.output
    published = runner.invoke(main, ["publish", "--to", str(folder)])
    assert published.exit_code == 0, published.output
    dispose(app)  # the app is gone: only the static files answer from here on

    def verify(name: str, web: dict[str, str]) -> dict[str, Any]:
        credential = json.loads(scenario.credentials[name].text)
        return dbvc({"op": "verify", "credential": credential, "web": web, "bitstringStatus": True})

    valid = verify("valid", _web_map(origin))
    assert valid["verified"] is True, error_text(valid)
    assert valid["statuses"] == [
        {"purpose": "revocation", "index": valid["statuses"][0]["index"], "set": False}
    ]

    for name in ("revoked", "other"):
        answer = verify(name, _web_map(origin))
        assert answer["verified"] is False, name
        assert answer["statuses"][0] == {
            "purpose": "revocation",
            "index": answer["statuses"][0]["index"],
            "set": True,
        }, name
        assert "status set: revocation" in error_text(answer), name

    # The verdicts come from the published files: without them nothing verifies.
    for path in folder.rglob("did.json"):
        path.unlink()
    gone = verify("valid", _web_map(origin))
    assert gone["verified"] is False
    assert "HTTP 404" in error_text(gone)
