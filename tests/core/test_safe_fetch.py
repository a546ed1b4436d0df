"""The guarded fetcher never contacts private, loopback or otherwise non-public addresses."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer.core.safe_fetch import (
    FetchBudget,
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    SafeFetcher,
)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, list[int]]]:
    """A loopback TCP server that counts connections: a guard failure would show up here."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server, hits
    stop.set()
    thread.join(1)
    server.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "::1",
        "fc00::1",
        "fe80::1",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    fetcher = SafeFetcher(resolver=lambda host, port: [address])
    with pytest.raises(FetchRefused, match="points to a private or local address") as caught:
        fetcher("https://issuer.example/issuers/x/did.json")
    # The message reaches reports and pages: it must not map the network for whoever asked.
    assert address not in str(caught.value)
    assert address not in caught.value.message


def test_loopback_server_is_never_contacted(listener: tuple[socket.socket, list[int]]) -> None:
    server, hits = listener
    port = server.getsockname()[1]
    # A DID whose host resolves to loopback: a naive resolver would connect to our listener.
    fetcher = SafeFetcher(resolver=lambda host, p: ["127.0.0.1"])
    with pytest.raises(FetchRefused):
        fetcher(f"https://localhost:{port}/issuers/x/did.json")
    with pytest.raises(FetchRefused):
        SafeFetcher()(f"https://127.0.0.1:{port}/did.json")  # literal IP, real resolver
    assert hits == []


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    fetcher = SafeFetcher(resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"])
    with pytest.raises(FetchRefused):
        fetcher("https://mixed.example/did.json")


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example/did.json",
        "ftp://issuer.example/x",
        "file:///etc/passwd",
        "https://user:pw@issuer.example/did.json",
        "https:///nohost",
        "https://issuer.example:99999/x",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused):
        SafeFetcher(resolver=lambda host, port: ["93.184.216.34"])(url)


def test_switched_off_fetches_nothing() -> None:
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["93.184.216.34"]

    with pytest.raises(FetchRefused, match="switched off"):
        SafeFetcher(resolver=resolver, enabled=False)("https://issuer.example/did.json")
    assert calls == []


def test_unresolvable_host_is_a_fetch_failure() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror("no such host")

    with pytest.raises(FetchFailed, match="cannot resolve"):
        SafeFetcher(resolver=resolver)("https://nowhere.invalid/did.json")


def test_private_address_among_public_ones_is_not_named_either() -> None:
    fetcher = SafeFetcher(resolver=lambda host, port: ["93.184.216.34", "10.9.8.7"])
    with pytest.raises(FetchRefused) as caught:
        fetcher("https://mixed.example/did.json")
    assert "mixed.example" in str(caught.value)
    assert "10.9.8.7" not in str(caught.value)
    assert "93.184.216.34" not in str(caught.value)


# --- one deadline per fetch: a TLS server on the loopback interface ------------------------------

HOST = "slow.example"
DOCUMENT = json.dumps({"id": "did:web:slow.example"}).encode()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``slow.example`` and its key (PEM files)."""
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
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


Dribble = Callable[[ssl.SSLSocket], None]


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[Callable[[Dribble], int]]:
    """``start(answer) -> port``: a TLS server on 127.0.0.1 that reads one request and then
    lets ``answer`` write to the connection (as slowly as it likes)."""
    cert_file, key_file = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(answer: Dribble) -> int:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        servers.append(server)

        def serve() -> None:
            while not stop.is_set():
                try:
                    raw, _ = server.accept()
                except OSError:
                    continue
                try:
                    with context.wrap_socket(raw, server_side=True) as conn:
                        conn.recv(65536)  # the request (small; one read is enough)
                        answer(conn)
                except OSError:
                    pass  # the client hung up: the point of the slow tests

        threading.Thread(target=serve, daemon=True).start()
        return int(server.getsockname()[1])

    yield start
    stop.set()
    for server in servers:
        server.close()


def _response(body: bytes = DOCUMENT) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )


def _one_byte_a_second(data: bytes, stop_after_s: float = 12.0) -> Dribble:
    def answer(conn: ssl.SSLSocket) -> None:
        started = time.monotonic()
        for index in range(len(data)):
            if time.monotonic() - started > stop_after_s:
                return
            conn.sendall(data[index : index + 1])
            time.sleep(1.0)

    return answer


def _loopback_fetcher(tls_files: tuple[Path, Path], timeout_s: float = 2.0) -> SafeFetcher:
    """The real fetcher, with the guard loosened for 127.0.0.1 and our test certificate
    trusted: nothing else differs from production."""
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    return SafeFetcher(
        FetchPolicy(timeout_s=timeout_s),
        resolver=lambda host, port: ["127.0.0.1"],
        allowed_addresses={"127.0.0.1"},
        ssl_context=context,
    )


def test_a_prompt_server_is_fetched(
    tls_server: Callable[[Dribble], int], tls_files: tuple[Path, Path]
) -> None:
    # The control for the slow tests below: the same set-up answers when the server is prompt.
    port = tls_server(lambda conn: conn.sendall(_response()))
    fetched = _loopback_fetcher(tls_files)(f"https://{HOST}:{port}/did.json")
    assert fetched == {"id": "did:web:slow.example"}


def test_the_loopback_allowance_is_per_address(tls_files: tuple[Path, Path]) -> None:
    fetcher = SafeFetcher(
        resolver=lambda host, port: ["127.0.0.2"], allowed_addresses={"127.0.0.1"}
    )
    with pytest.raises(FetchRefused, match="private or local"):
        fetcher(f"https://{HOST}/did.json")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_one_byte_a_second(_response()), id="headers-one-byte-a-second"),
        pytest.param(
            lambda conn: (
                conn.sendall(
                    _response(b"")[:-4].replace(b"Content-Length: 0", b"Content-Length: 400")
                    + b"\r\n\r\n"
                ),
                _one_byte_a_second(b" " * 400)(conn),
            ),
            id="body-one-byte-a-second",
        ),
    ],
)
def test_a_server_sending_one_byte_a_second_is_cut_off_at_the_deadline(
    answer: Dribble, tls_server: Callable[[Dribble], int], tls_files: tuple[Path, Path]
) -> None:
    port = tls_server(answer)
    fetcher = _loopback_fetcher(tls_files, timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="within 2 seconds") as caught:
        fetcher(f"https://{HOST}:{port}/did.json")
    elapsed = time.monotonic() - started
    # Per-operation timeouts would wait for ever: each byte arrives within a second.
    assert 1.9 <= elapsed < 3.0
    assert "127.0.0.1" not in str(caught.value)


def test_the_budget_shortens_a_fetch_to_what_is_left_of_its_total(
    tls_server: Callable[[Dribble], int], tls_files: tuple[Path, Path]
) -> None:
    port = tls_server(_one_byte_a_second(_response()))
    budget = FetchBudget(_loopback_fetcher(tls_files, timeout_s=5.0), total_deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="within 1 seconds"):
        budget(f"https://{HOST}:{port}/did.json")
    assert time.monotonic() - started < 2.0
    with pytest.raises(FetchFailed, match="have run out"):
        budget(f"https://{HOST}:{port}/other.json")


# --- the per-verification budget -----------------------------------------------------------------


def test_the_budget_caps_the_number_of_fetches() -> None:
    calls: list[str] = []

    def fetcher(url: str) -> Any:
        calls.append(url)
        return {"n": len(calls)}

    budget = FetchBudget(fetcher, max_fetches=8)
    for index in range(8):
        assert budget(f"https://issuer.example/{index}") == {"n": index + 1}
    with pytest.raises(FetchRefused, match="at most 8 documents"):
        budget("https://issuer.example/9")
    assert len(calls) == 8


def test_the_budget_has_one_total_deadline() -> None:
    now = [0.0]
    calls: list[str] = []

    def fetcher(url: str) -> Any:
        calls.append(url)
        now[0] += 4.0  # each fetch takes four seconds
        return {}

    budget = FetchBudget(fetcher, max_fetches=8, total_deadline_s=10.0, clock=lambda: now[0])
    budget("https://a.example/1")
    budget("https://a.example/2")
    budget("https://a.example/3")  # starts at 8 s, within the total
    with pytest.raises(FetchFailed, match="have run out"):
        budget("https://a.example/4")
    assert len(calls) == 3


def test_no_fetcher_stays_no_fetcher() -> None:
    assert FetchBudget.wrap(None) is None
    assert isinstance(FetchBudget.wrap(lambda url: {}), FetchBudget)


def test_a_document_asked_for_twice_in_one_verification_counts_once() -> None:
    calls: list[str] = []

    def fetcher(url: str) -> Any:
        calls.append(url)
        return {"url": url}

    budget = FetchBudget(fetcher, max_fetches=2)
    for _ in range(5):
        assert budget("https://a.example/did.json") == {"url": "https://a.example/did.json"}
    budget("https://a.example/status/1")
    with pytest.raises(FetchRefused, match="at most 2 documents"):
        budget("https://a.example/status/2")
    assert calls == ["https://a.example/did.json", "https://a.example/status/1"]
