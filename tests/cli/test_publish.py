"""merkki publish --to DIR: a static copy of the DID documents and signed status lists
(``issuer.services.static_copy``)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from issuer import paths, urls
from issuer.cli import main
from issuer.db import unit_of_work
from issuer.models.issuing import StatusList
from issuer.services import static_copy, status_publishing
from tests.web.verify.helpers import Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

EXPECTED_DID_DOCUMENTS = {"/issuers/hamk/did.json", "/issuers/oamk/did.json"}


def publish(runner: FlaskCliRunner, folder: Path) -> Result:
    return runner.invoke(main, ["publish", "--to", str(folder)])


def published(runner: FlaskCliRunner, folder: Path) -> dict[str, object]:
    result = publish(runner, folder)
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


def files_under(folder: Path) -> dict[str, Path]:
    """URL path -> file, for every file under ``folder``."""
    return {
        "/" + path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file()
    }


def identity(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_size


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {url: identity(path) for url, path in files_under(folder).items()}


def test_publish_writes_exactly_what_the_app_serves(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    body = published(runner, folder)

    files = files_under(folder)
    status_lists = {url for url in files if url.startswith("/status/")}
    assert set(files) >= EXPECTED_DID_DOCUMENTS
    # HAMK and OAMK: a revocation and a suspension list each.
    assert status_lists == {
        "/status/hamk/revocation/1",
        "/status/hamk/suspension/1",
        "/status/oamk/revocation/1",
        "/status/oamk/suspension/1",
    }
    assert set(files) == EXPECTED_DID_DOCUMENTS | status_lists
    assert sorted(body["written"]) == sorted(files)  # type: ignore[arg-type]
    assert body["unchanged"] == 0
    assert body["skipped"] == []
    client = app.test_client()
    for url, path in files.items():
        # What a did:web resolver or a status-list fetch asks: no Accept header, or JSON.
        for headers in ({}, {"Accept": "application/json, application/ld+json"}):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200, url
            assert path.read_bytes() == answer.get_data(), url
        expected_type = (
            static_copy.STATUS_LIST_MEDIA_TYPE
            if url.startswith("/status/")
            else static_copy.DID_DOCUMENT_MEDIA_TYPE
        )
        assert client.get(url).mimetype == expected_type
        # Readable by a web server running as another user; no temporary file left behind.
        assert stat.S_IMODE(path.stat().st_mode) == static_copy.FILE_MODE
    assert not list(folder.rglob(".*"))


def test_a_second_run_touches_nothing_and_a_change_rewrites_only_its_file(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    published(runner, folder)
    before = snapshot(folder)

    again = published(runner, folder)

    assert again["written"] == []
    assert again["unchanged"] == len(before)
    assert snapshot(folder) == before

    # A revocation changes one bit of one list: that file only is replaced.
    revoked = runner.invoke(main, ["revoke", scenario.credentials["valid"].id, "--reason", "x"])
    assert revoked.exit_code == 0, revoked.output
    after_revocation = published(runner, folder)
    assert after_revocation["written"] == ["/status/hamk/revocation/1"]
    now = snapshot(folder)
    assert {url for url in now if now[url] != before[url]} == {"/status/hamk/revocation/1"}
    assert (
        app.test_client().get("/status/hamk/revocation/1").get_data()
        == (folder / "status/hamk/revocation/1").read_bytes()
    )

    # A rotation changes the DID document (a new active key).
    rotated = runner.invoke(main, ["key", "rotate", "--institution", "hamk"])
    assert rotated.exit_code == 0, rotated.output
    after_rotation = published(runner, folder)
    assert "/issuers/hamk/did.json" in after_rotation["written"]  # type: ignore[operator]
    assert "/issuers/oamk/did.json" not in after_rotation["written"]  # type: ignore[operator]
    assert (folder / "issuers/hamk/did.json").read_bytes() == app.test_client().get(
        "/issuers/hamk/did.json"
    ).get_data()


def test_a_failed_write_leaves_the_previous_file_whole(
    app: Flask,
    runner: FlaskCliRunner,
    scenario: Scenario,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "www"
    published(runner, folder)
    list_file = folder / "status/hamk/revocation/1"
    old = list_file.read_bytes()
    revoked = runner.invoke(main, ["revoke", scenario.credentials["valid"].id, "--reason", "x"])
    assert revoked.exit_code == 0, revoked.output

    def fail(source: str, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(static_copy.os, "replace", fail)
    result = publish(runner, folder)

    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.output
    assert list_file.read_bytes() == old
    assert not list(folder.rglob(".*"))  # the temporary file was removed


def test_a_list_not_signed_yet_is_skipped_and_reported(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    with app.app_context(), unit_of_work() as session:
        row = session.scalars(select(StatusList).order_by(StatusList.id)).first()
        assert row is not None
        row.signed_version = None  # as left by a version of Merkki that signed lazily
        path = f"/status/{row.institution.slug}/{row.purpose}/{row.number}"

    folder = tmp_path / "www"
    result = publish(runner, folder)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == [path]
    assert f"skipped {path}" in result.stderr
    assert not (folder / path.lstrip("/")).exists()
    assert app.test_client().get(path).status_code == 503  # the app does not serve it either


def test_publish_into_a_file_fails_on_one_line(
    app: Flask, runner: FlaskCliRunner, scenario: Scenario, tmp_path: Path
) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")

    result = publish(runner, target)

    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert target.read_text() == "x"


def test_files_follow_the_path_of_the_base_url(tmp_path: Path) -> None:
    """Under a base URL with a path the files sit under that path (DIR is the host's root)."""
    files = [
        static_copy.StaticFile("/merkki/issuers/a/did.json", b"{}", "application/json"),
        static_copy.StaticFile("/merkki/status/a/revocation/1", b"{}", "application/vc+ld+json"),
    ]
    report = static_copy.write_files(tmp_path, files)
    assert report.written == [f.path for f in files]
    assert (tmp_path / "merkki/issuers/a/did.json").read_bytes() == b"{}"
    # A web server decodes the path: a percent-encoded base path is stored decoded.
    encoded = static_copy.StaticFile("/merkki%20v2/issuers/a/did.json", b"{}", "application/json")
    static_copy.write_files(tmp_path, [encoded])
    assert (tmp_path / "merkki v2/issuers/a/did.json").read_bytes() == b"{}"
    for hostile in ("/../x", "/merkki/%2E%2E/%2E%2E/x", "/a%2F..%2F..%2Fx", "/"):
        with pytest.raises(static_copy.PublishError):
            static_copy.write_files(tmp_path, [static_copy.StaticFile(hostile, b"", "x")])
    assert not (tmp_path.parent / "x").exists()
    assert sorted(os.listdir(tmp_path)) == ["merkki", "merkki v2"]


def test_the_documented_schedule_and_fallback_match_the_service() -> None:
    """docs/operations.md: the timer runs this command, and the nginx fallback's location
    matches exactly the published URL paths, with the media type and ttl the app sends."""
    guide = (paths.REPOSITORY_ROOT / "docs" / "operations.md").read_text("utf-8")
    assert "ExecStart=/srv/merkki/.venv/bin/merkki publish --to /srv/merkki-published" in guide
    assert "publish" in main.commands
    assert [p.name for p in main.commands["publish"].params] == ["directory"]
    match = re.search(r"location ~ (\^/\S+\$) \{", guide)
    assert match is not None
    location = re.compile(match.group(1))
    base = "https://merkki.example.fi"
    for url in (
        urls.did_document_url(base, "omnia"),
        urls.status_list_url(base, "omnia", "revocation", 1),
        urls.status_list_url(base, "omnia", "suspension", 12),
    ):
        assert location.fullmatch(urlsplit(url).path), url
    for other in (urls.profile_url(base, "omnia"), urls.credential_url(base, "0" * 32)):
        assert not location.fullmatch(urlsplit(other).path), other
    assert f"default_type {static_copy.STATUS_LIST_MEDIA_TYPE};" in guide
    assert f'"public, max-age={status_publishing.TTL_MS // 1000}"' in guide
