"""The service's verification: own issuers from the database, other issuers over (guarded) HTTPS,
what people submit (JSON, baked PNG/SVG, VC-JWT, OB 2.0), and the remote-fetch guard."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy.orm import Session

from issuer import urls
from issuer.config import get_settings
from issuer.core import safe_fetch
from issuer.core.baking import bake_png, bake_svg
from issuer.core.credential import build_credential, issuer_profile
from issuer.core.dataintegrity.signing import sign
from issuer.core.did import (
    did_key_for,
    did_key_verification_method,
    did_web_document,
    did_web_for,
    verification_method_id,
)
from issuer.core.keys import KeyStore, generate_private_key
from issuer.core.multikey import encode_public_key
from issuer.core.resolver import ResolutionError
from issuer.core.safe_fetch import SafeFetcher
from issuer.core.status_list import Bitstring, status_entry, status_list_credential
from issuer.services import (
    badge_classes,
    institutions,
    issuing,
    key_resolution,
    learner_keys,
    submissions,
    verification,
)
from issuer.services.errors import NotFoundError
from issuer.services.institutions import InstitutionDetails
from issuer.web import verifying
from tests.conftest import BASE_URL, SVG
from tests.web.verify.helpers import png_image

ACHIEVEMENT = {
    "id": "https://example.fi/achievements/1",
    "type": ["Achievement"],
    "name": "Test",
    "description": "Test.",
    "criteria": {"narrative": "Test."},
}
FOREIGN_DID = "did:web:badges.example.org:issuers:north"
FOREIGN_LIST = "https://badges.example.org/status/1"


def _credential(
    issuer_id: str,
    private_key: Ed25519PrivateKey,
    method: str,
    *,
    status: dict[str, Any] | None = None,
    credential_id: str = "urn:uuid:2b0e8a3c-4bd6-4d5a-8f0e-1f9e7c0b1a2d",
) -> dict[str, Any]:
    unsigned = build_credential(
        credential_id=credential_id,
        issuer=issuer_profile(did=issuer_id, name="Elsewhere"),
        achievement=ACHIEVEMENT,
        recipient_name="Matti",
        recipient_email="matti@example.fi",
        salt="00" * 16,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        credential_status=status,
    )
    return sign(unsigned, private_key, method)


def _signed_by_did_key(issuer_id: str | None = None) -> dict[str, Any]:
    private_key = generate_private_key()
    did = did_key_for(private_key.public_key())
    return _credential(issuer_id or did, private_key, did_key_verification_method(did))


class ForeignIssuer:
    """Another service's did:web issuer: its key, DID document and status list."""

    def __init__(self) -> None:
        self.key = generate_private_key()
        self.multibase = encode_public_key(self.key.public_key())
        self.method = verification_method_id(FOREIGN_DID, self.multibase)
        self.revoked: set[int] = set()
        self.fetched: list[str] = []

    def did_document(self) -> dict[str, Any]:
        return did_web_document(FOREIGN_DID, [self.multibase])

    def status_list(self) -> dict[str, Any]:
        bits = Bitstring()
        for index in self.revoked:
            bits.set(index)
        unsigned = status_list_credential(
            FOREIGN_LIST, FOREIGN_DID, "revocation", bits, datetime(2026, 1, 1, tzinfo=UTC)
        )
        return sign(unsigned, self.key, self.method)

    def credential(self, index: int | None = None) -> dict[str, Any]:
        status = status_entry(FOREIGN_LIST, index, "revocation") if index is not None else None
        return _credential(FOREIGN_DID, self.key, self.method, status=status)

    def fetch(self, url: str) -> Any:
        """What the HTTPS fetcher would return for this issuer's URLs."""
        self.fetched.append(url)
        if url == "https://badges.example.org/issuers/north/did.json":
            return self.did_document()
        if url == FOREIGN_LIST:
            return self.status_list()
        raise ConnectionError(f"no route to {url}")


def _check(result: Any, name: str) -> Any:
    check = result.check(name)
    assert check is not None, result.to_dict()
    return check


def _issue(session: Session, keystore: KeyStore, templates_dir: Path, slug: str = "oamk") -> Any:
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(
        session, InstitutionDetails(slug=slug, name_fi=slug.upper()), keystore
    )
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, "test-badge"),
        "a@b.fi",
        "A B",
        "fi",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )


# --- own issuers --------------------------------------------------------------------------------


def test_own_did_web_is_answered_from_the_database(session: Session, keystore: KeyStore) -> None:
    institution = institutions.create_institution(
        session, InstitutionDetails(slug="jamk", name_fi="JAMK"), keystore
    )
    fetch = key_resolution.database_did_fetcher(session, BASE_URL)

    document = fetch("https://127.0.0.1:5000/issuers/jamk/did.json")

    assert document == institutions.did_document(institution, BASE_URL)
    assert key_resolution.own_issuer_prefix(BASE_URL) == "https://127.0.0.1:5000/issuers/"
    assert key_resolution.own_did_prefix(BASE_URL) == "did:web:127.0.0.1%3A5000:issuers:"
    with pytest.raises(key_resolution.ForeignDidError):
        fetch("https://example.fi/issuers/jamk/did.json")
    with pytest.raises(key_resolution.ForeignDidError):
        fetch("https://127.0.0.1:5000/issuers/jamk/more/did.json")
    with pytest.raises(NotFoundError, match="no issuer 'nobody'"):
        fetch("https://127.0.0.1:5000/issuers/nobody/did.json")


def test_own_credentials_never_leave_for_the_network(
    session: Session, keystore: KeyStore, templates_dir: Path
) -> None:
    stored = _issue(session, keystore, templates_dir)

    def no_network(url: str) -> Any:
        raise AssertionError(f"fetched {url}")

    result = verification.verify(session, stored.signed_json, base_url=BASE_URL, fetch=no_network)

    assert result.verified, result.to_dict()
    assert result.stored is not None
    assert result.stored.id == stored.id
    assert result.stored.signed_json == stored.signed_json
    assert _check(result, "status:suspension").ok is True


def test_an_unknown_own_issuer_is_not_genuine(
    session: Session, keystore: KeyStore, templates_dir: Path
) -> None:
    stored = _issue(session, keystore, templates_dir)
    document = json.loads(stored.signed_json)
    stored.institution.slug = "renamed"
    session.flush()

    result = verification.verify(session, document, base_url=BASE_URL)

    assert result.verdict == "not_genuine"
    assert "no issuer 'oamk'" in _check(result, "proof").message


def test_our_id_in_someone_elses_credential_does_not_make_it_ours(
    session: Session, keystore: KeyStore, templates_dir: Path
) -> None:
    stored = _issue(session, keystore, templates_dir)
    private_key = generate_private_key()
    did = did_key_for(private_key.public_key())
    copy = _credential(
        did,
        private_key,
        did_key_verification_method(did),
        credential_id=urls.credential_url(BASE_URL, stored.id),
    )
    result = verification.verify(session, copy, base_url=BASE_URL)
    assert result.stored is None
    assert result.check("status:suspension") is None


def test_the_resolver_chain(session: Session) -> None:
    resolver = key_resolution.resolver_for(session, BASE_URL)
    assert resolver.supports("did:key:z6Mk")
    assert resolver.supports("https://example.fi/keys#z6Mk")
    assert resolver.supports(did_web_for(BASE_URL, "x") + "#z6Mk")
    assert resolver.supports(FOREIGN_DID + "#z6Mk")
    with pytest.raises(ResolutionError, match="no issuer 'x'"):
        resolver.resolve(did_web_for(BASE_URL, "x") + "#z6Mk")
    # Without a fetcher, another service's did:web cannot be resolved: reported unavailable.
    with pytest.raises(ResolutionError) as raised:
        resolver.resolve(FOREIGN_DID + "#z6Mk")
    assert raised.value.unavailable
    assert "switched off" in raised.value.message


def test_a_did_key_credential_verifies(session: Session) -> None:
    result = verification.verify(session, _signed_by_did_key(), base_url=BASE_URL)
    assert result.verified, result.to_dict()
    assert result.stored is None


# --- other issuers over HTTPS ---------------------------------------------------------------


def test_a_foreign_did_web_credential_verifies_through_the_fetcher(session: Session) -> None:
    issuer = ForeignIssuer()
    result = verification.verify(
        session, issuer.credential(), base_url=BASE_URL, fetch=issuer.fetch
    )
    assert result.verified, result.to_dict()
    assert issuer.fetched == ["https://badges.example.org/issuers/north/did.json"]


def test_a_foreign_did_web_without_fetching_is_unverifiable(session: Session) -> None:
    issuer = ForeignIssuer()
    result = verification.verify(session, issuer.credential(), base_url=BASE_URL, fetch=None)
    assert result.verdict == "unverifiable"
    assert _check(result, "proof").ok is None
    assert "switched off" in _check(result, "proof").message


def test_an_unreachable_foreign_did_is_unverifiable_not_invalid(session: Session) -> None:
    issuer = ForeignIssuer()

    def unreachable(url: str) -> Any:
        raise TimeoutError("timed out")

    result = verification.verify(session, issuer.credential(), base_url=BASE_URL, fetch=unreachable)
    assert result.verdict == "unverifiable"
    assert "timed out" in _check(result, "proof").message


def test_a_key_missing_from_the_foreign_did_document_is_not_genuine(session: Session) -> None:
    issuer = ForeignIssuer()
    credential = issuer.credential()
    other = ForeignIssuer()  # same DID, a document listing some other key
    result = verification.verify(session, credential, base_url=BASE_URL, fetch=other.fetch)
    assert result.verdict == "not_genuine"
    assert "is not in the DID document" in _check(result, "proof").message


def test_foreign_bitstring_status_lists_are_fetched(session: Session) -> None:
    issuer = ForeignIssuer()
    credential = issuer.credential(index=4242)

    valid = verification.verify(session, credential, base_url=BASE_URL, fetch=issuer.fetch)
    assert valid.verified, valid.to_dict()
    assert FOREIGN_LIST in issuer.fetched

    issuer.revoked.add(4242)
    revoked = verification.verify(session, credential, base_url=BASE_URL, fetch=issuer.fetch)
    assert revoked.verdict == "revoked"
    assert _check(revoked, "status:revocation").ok is False


def test_a_foreign_status_list_that_cannot_be_fetched_is_unverifiable(session: Session) -> None:
    issuer = ForeignIssuer()
    credential = issuer.credential(index=7)

    def did_only(url: str) -> Any:
        if url == FOREIGN_LIST:
            raise ConnectionError("refused")
        return issuer.fetch(url)

    result = verification.verify(session, credential, base_url=BASE_URL, fetch=did_only)
    assert result.verdict == "unverifiable"
    assert _check(result, "status:revocation").ok is None


def test_each_verification_has_its_own_cap_on_fetches(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = ForeignIssuer()
    credential = issuer.credential(index=7)
    assert verification.verify(session, credential, base_url=BASE_URL, fetch=issuer.fetch).verified
    # The DID document (asked for twice: for the credential and for its status list, but
    # fetched once per verification) and the status list.
    assert sorted(issuer.fetched) == sorted(
        ["https://badges.example.org/issuers/north/did.json", FOREIGN_LIST]
    )
    needed = 2

    # One fetch fewer than the credential needs: the last document is not fetched, and what it
    # would have decided is reported as not checked, never as passed.
    monkeypatch.setattr(safe_fetch, "MAX_FETCHES_PER_VERIFICATION", needed - 1)
    for _ in range(2):  # the budget is per verification, not per fetcher
        issuer.fetched.clear()
        result = verification.verify(session, credential, base_url=BASE_URL, fetch=issuer.fetch)
        assert len(issuer.fetched) == needed - 1
        assert result.verdict == "unverifiable", result.to_dict()
        assert f"at most {needed - 1} documents" in json.dumps(result.to_dict())


# --- the guard: private and loopback addresses are never contacted --------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[int]]]:
    """A loopback TCP server counting connections: a guard failure would show up here."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join(1)
    server.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.8", "192.168.1.20", "169.254.169.254"])
def test_a_did_url_pointing_at_a_private_address_is_not_fetched(
    session: Session, listener: tuple[int, list[int]], address: str
) -> None:
    port, hits = listener
    issuer = ForeignIssuer()
    did = f"did:web:internal.example%3A{port}:issuers:x"
    method = verification_method_id(did, issuer.multibase)
    credential = _credential(did, issuer.key, method)
    asked: list[tuple[str, int]] = []

    def resolve(host: str, resolve_port: int) -> list[str]:
        asked.append((host, resolve_port))
        return [address]  # the DNS answer an attacker controls

    fetcher = SafeFetcher(resolver=resolve)
    result = verification.verify(session, credential, base_url=BASE_URL, fetch=fetcher)

    assert asked == [("internal.example", port)]  # the name was looked up...
    assert hits == []  # ...and nothing was contacted
    assert result.verdict == "unverifiable"
    message = _check(result, "proof").message
    assert "points to a private or local address" in message
    assert address not in json.dumps(result.to_dict())  # the report does not map the network


def test_the_app_uses_the_guarded_fetcher_for_uploads(
    app: Flask, listener: tuple[int, list[int]]
) -> None:
    port, hits = listener
    issuer = ForeignIssuer()
    did = f"did:web:localhost%3A{port}"
    credential = _credential(did, issuer.key, verification_method_id(did, issuer.multibase))
    with app.app_context():
        fetcher = verifying.remote_fetcher()
        assert isinstance(fetcher, SafeFetcher)
        assert fetcher.enabled
        fetcher.resolver = lambda host, resolve_port: ["127.0.0.1"]
    response = app.test_client().post("/api/v1/verify", json=credential)
    assert response.status_code == 200
    body = response.get_json()
    assert body["verdict"] == "unverifiable"
    assert hits == []


def test_remote_fetching_can_be_switched_off(app_config: dict[str, Any]) -> None:
    from issuer import create_app

    app = create_app({**app_config, "REMOTE_FETCH": "off"})
    with app.app_context():
        fetcher = verifying.remote_fetcher()
        assert isinstance(fetcher, SafeFetcher)
        assert fetcher.enabled is False


# --- what people submit ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "png", "svg"])
def test_submissions_in_every_format(session: Session, kind: str) -> None:
    text = json.dumps(_signed_by_did_key())
    data = {
        "json": text.encode(),
        "png": bake_png(png_image(), text),
        "svg": bake_svg(SVG, text),
    }[kind]
    result = verification.verify_submission(session, data, base_url=BASE_URL)
    assert result.source == kind
    assert result.verified, result.to_dict()


def test_a_baked_vc_jwt_is_reported_not_checked(session: Session) -> None:
    payload = {"vc": {"type": ["VerifiableCredential"], "name": "JWT badge"}}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'EdDSA'})}.{part(payload)}.c2lnbmF0dXJl"
    result = verification.verify_submission(
        session, bake_png(png_image(), token), base_url=BASE_URL
    )
    assert result.verdict == "unverifiable"
    assert not result.verified
    assert "VC-JWT" in _check(result, "format").message
    assert result.credential == payload["vc"]


def test_an_ob2_image_is_reported_not_checked(session: Session) -> None:
    from issuer.core.baking import PngChunk, png_chunks, write_png

    chunks = png_chunks(png_image())
    chunks.insert(-1, PngChunk(b"tEXt", b"openbadges\x00https://example.org/assertion/1"))
    result = verification.verify_submission(session, write_png(chunks), base_url=BASE_URL)
    assert result.verdict == "unverifiable"
    assert "Open Badges 2.0" in _check(result, "format").message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "nothing was submitted"),
        (b"   ", "nothing was submitted"),
        (b"{", "not valid JSON"),
        (b"[]", "not an object"),
        (b"%PDF-1.7", "neither JSON nor a readable badge image"),
        (SVG, "carries no credential"),
    ],
)
def test_unreadable_submissions(session: Session, data: bytes, message: str) -> None:
    with pytest.raises(submissions.UnreadableSubmissionError, match=message):
        verification.verify_submission(session, data, base_url=BASE_URL)


def test_too_large_submissions(session: Session) -> None:
    with pytest.raises(submissions.SubmissionTooLargeError):
        verification.verify_submission(
            session, b" " * (submissions.MAX_SUBMISSION_BYTES + 1), base_url=BASE_URL
        )


# --- other implementations' samples through the service ---------------------------------------


def test_validator_samples_get_the_same_verdicts_through_the_service(session: Session) -> None:
    from tests.core.test_shared_samples_verdicts import did_document_from_method
    from tests.core.test_verifier_samples import EXPECTED, SAMPLES
    from tests.spec_files import load_json, require_spec_dir

    require_spec_dir()
    testlist = load_json(SAMPLES + "bit-string-list/testlist")
    did_web = load_json(SAMPLES + "credential-status-revoked.json")["proof"]["verificationMethod"]

    # The https keys the samples are signed with, by the profile URL that names them.
    profiles: dict[str, list[str]] = {}
    for name in EXPECTED:
        proofs = load_json(SAMPLES + name).get("proof")
        for proof in proofs if isinstance(proofs, list) else [proofs]:
            method = proof.get("verificationMethod") if isinstance(proof, dict) else None
            if isinstance(method, str) and method.startswith("https://") and "#z" in method:
                profiles.setdefault(method.partition("#")[0], []).append(method)

    def profile(url: str) -> dict[str, Any]:
        # The issuer's profile as its server would serve it, listing its keys: what confirms
        # an https key (README "Verdicts").
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": url,
            "type": "Profile",
            "verificationMethod": [
                {
                    "id": method,
                    "type": "Multikey",
                    "controller": url,
                    "publicKeyMultibase": method.partition("#")[2],
                }
                for method in profiles[url]
            ],
        }

    def fetch(url: str, *, with_profiles: bool = True) -> Any:
        # What the issuers' servers would answer: the sample issuer's DID document and the
        # status list that ships beside the samples.
        if url.endswith("/bit-string-list/testlist"):
            return testlist
        if url.startswith("https://dc.1edtech.org/"):
            return did_document_from_method(did_web)
        if with_profiles and url in profiles:
            return profile(url)
        raise ConnectionError(url)

    for name, (verdict, _check_name, _words) in EXPECTED.items():
        data = (require_spec_dir() / SAMPLES / name).read_bytes()
        result = verification.verify_submission(session, data, base_url=BASE_URL, fetch=fetch)
        assert result.verdict == verdict, (name, result.to_dict())
        if verdict == "valid" and not name.startswith("simple-multiple"):
            # Without the profile, nothing confirms an https key: never valid.
            unconfirmed = verification.verify_submission(
                session,
                data,
                base_url=BASE_URL,
                fetch=lambda url: fetch(url, with_profiles=False),
            )
            assert unconfirmed.verdict == "unverifiable", name
            assert unconfirmed.check("proof").ok is True, name
    for name in ("credential-status-revoked.json", "credential-status-revoked-blank-nodes.json"):
        data = (require_spec_dir() / SAMPLES / "bit-string-list" / name).read_bytes()
        result = verification.verify_submission(session, data, base_url=BASE_URL, fetch=fetch)
        assert result.verdict == "revoked", (name, result.to_dict())
