"""A static copy of what verifiers fetch from the service: every institution's DID document and
its current signed status lists, written as files laid out by their URL paths
(``merkki publish --to DIR``), so that a plain web server or a CDN can serve them while the app
servers are down.

Why: a verifier or wallet that checks one of our credentials (Learner Credential Wallet, DCC
VerifierPlus, anyone's Digital Bazaar stack) resolves the issuer's ``did:web`` over HTTPS
(did:web §"Read (Resolve)": ``/issuers/<slug>/did.json``) and fetches the credential's status
list ([BSL] §"Bitstring Status List Credential"). Both are public and change only when a key
changes (rotation, withdrawal) or a status bit changes. Without them every credential shows as
"not verified" during an outage. A status list is signed, but a did:web DID document is trusted
for where it is served (the host's TLS certificate, did:web §"Security Considerations"): the
copy must be served under the service's own host name over HTTPS, from a folder only the
publisher can write (docs/operations.md "Publishing for outages").

* The files are byte for byte what the app answers (``issuer.web.public`` serves the DID
  document with ``did_document_text``; ``issuer.web.learner`` the stored signed list text).
* ``DIR`` is the document root of the service's host: a file's path under it is its URL's
  path, including the path of ``ISSUER_BASE_URL`` when the service is mounted under one.
* Only what changed is written, each file atomically (a temporary file in the same folder,
  then ``os.replace``): a web server reading at the same time sees the old file or the new
  one, never half of one, and a run with nothing changed touches nothing (no mtime or inode
  changes, so CDN and ``rsync`` see no change either).
* Reads only: nothing is signed here. A list whose stored signature does not cover its bits
  (left by a version of Merkki that signed lazily, until ``merkki init`` signs it) is skipped
  and reported; the file from an earlier run, if any, stays.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, selectinload

from issuer import urls
from issuer.models import Institution
from issuer.models.issuing import StatusList
from issuer.services import institutions, status_publishing

#: What the app answers a DID document request without an ``Accept`` header (did:web
#: resolvers), and what a static server serves ``.json`` files as.
DID_DOCUMENT_MEDIA_TYPE = "application/json"
#: What the app serves a status list credential as: a static server must be told (the file
#: has no extension; see docs/operations.md "Publishing for outages").
STATUS_LIST_MEDIA_TYPE = "application/vc+ld+json"
#: Permissions of a published file: the web server, running as another user, reads it.
FILE_MODE = 0o644


class PublishError(Exception):
    """The copy could not be written where asked (not a folder, not writable)."""


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One document to publish: its URL path (``/issuers/hamk/did.json``), its exact bytes and
    the media type the app serves it as."""

    path: str
    content: bytes
    media_type: str


@dataclass(slots=True)
class PublishReport:
    """What a run did: URL paths written (new or changed), how many were already current, and
    the status lists skipped because their stored signature is older than their bits."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"written": self.written, "unchanged": self.unchanged, "skipped": self.skipped}


def did_document_text(institution: Institution, base_url: str) -> str:
    """The JSON text of the institution's DID document, exactly as ``/issuers/<slug>/did.json``
    serves it (UTF-8 when encoded; the web layer and this module share it so that they cannot
    differ)."""
    document = institutions.did_document(institution, base_url)
    return json.dumps(document, ensure_ascii=False, indent=2)


def static_files(session: Session, base_url: str) -> tuple[list[StaticFile], list[str]]:
    """Every file of the static copy, and the URL paths of the lists skipped as unsigned."""
    files: list[StaticFile] = []
    skipped: list[str] = []
    rows = session.scalars(
        select(Institution).options(selectinload(Institution.signing_keys)).order_by(Institution.id)
    )
    for institution in rows:
        url = urls.did_document_url(base_url, institution.slug)
        text = did_document_text(institution, base_url)
        files.append(StaticFile(_url_path(url), text.encode("utf-8"), DID_DOCUMENT_MEDIA_TYPE))
    lists = session.scalars(
        select(StatusList)
        # The stored signed text is what is published; the raw bits (16 KiB a list) are not read.
        .options(defer(StatusList.bits), selectinload(StatusList.institution))
        .order_by(StatusList.institution_id, StatusList.purpose, StatusList.number)
    )
    for row in lists:
        url = urls.status_list_url(base_url, row.institution.slug, row.purpose, row.number)
        try:
            text, _etag, _modified = status_publishing.signed_list_credential(row)
        except status_publishing.UnsignedListError:
            skipped.append(_url_path(url))
            continue
        files.append(StaticFile(_url_path(url), text.encode("utf-8"), STATUS_LIST_MEDIA_TYPE))
    return files, skipped


def publish(session: Session, base_url: str, directory: Path) -> PublishReport:
    """Write the static copy under ``directory`` (created when missing); see the module
    docstring. ``PublishError`` when it cannot be written there."""
    files, skipped = static_files(session, base_url)
    report = write_files(directory, files)
    report.skipped = skipped
    return report


def write_files(directory: Path, files: Iterable[StaticFile]) -> PublishReport:
    """Write each file under ``directory`` at its URL path, atomically and only when its
    content differs from what is there."""
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishError(f"cannot create {root}: {error.strerror or error}") from None
    if not root.is_dir():
        raise PublishError(f"{root} is not a folder")
    report = PublishReport()
    for item in files:
        target = _target(root, item.path)
        if _current(target) == item.content:
            report.unchanged += 1
            continue
        try:
            _replace(target, item.content)
        except OSError as error:
            raise PublishError(f"cannot write {target}: {error.strerror or error}") from None
        report.written.append(item.path)
    return report


def _url_path(url: str) -> str:
    return urlsplit(url).path


def _target(root: Path, url_path: str) -> Path:
    """The file for ``url_path`` under ``root``. Every segment comes from our URL scheme
    (slugs, purposes and numbers are validated when stored); refused anyway if one could leave
    the folder."""
    # A web server looks up the percent-decoded path (a base URL's path may be encoded).
    segments = [unquote(segment) for segment in url_path.split("/") if segment]
    if not segments or any(
        segment in (".", "..") or "/" in segment or "\\" in segment or "\x00" in segment
        for segment in segments
    ):
        raise PublishError(f"refusing to write {url_path!r}")
    return root.joinpath(*segments)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _replace(target: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file next to ``target``, flush it to disk, then rename
    it over ``target`` (atomic on POSIX within one file system)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    _sync_folder(target.parent)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a crash after it must not bring the old file back)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename has happened
    finally:
        os.close(descriptor)
