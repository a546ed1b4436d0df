"""The guarded fetcher never contacts private, loopback or otherwise non-public addresses."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from issuer.core.safe_fetch import FetchFailed, FetchRefused, SafeFetcher


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
    with pytest.raises(FetchRefused, match="non-public"):
        fetcher("https://issuer.example/issuers/x/did.json")


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
