"""Guarded HTTPS GET for documents named inside credentials (did:web DID documents, status lists).

Such URLs come from whoever made the credential, so fetching them naively would let anyone make
the service probe its own network (SSRF). Guards:

* ``https`` only, default port or an explicit one, no credentials in the URL;
* the host name is resolved once and EVERY address must be public (``ipaddress.is_global``):
  loopback, private, link-local, multicast, reserved and unspecified ranges are refused;
* the connection goes to the vetted address itself (TLS still verifies the host name through
  SNI), so a second DNS answer cannot swap in a private address (DNS rebinding);
* no redirects; short connect/read timeouts; the body is read up to a size cap;
* successful answers are cached for a short time, bounded in entries.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from issuer.core.errors import EngineError

AddressResolver = Callable[[str, int], list[str]]


class FetchRefused(EngineError):
    """The URL was not fetched because a guard refused it."""

    code = "fetch_refused"


class FetchFailed(EngineError):
    """The URL was allowed but could not be retrieved or parsed."""

    code = "fetch_failed"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout_s: float = 3.0
    max_bytes: int = 512 * 1024
    cache_ttl_s: float = 300.0
    cache_entries: int = 256
    user_agent: str = "Merkki-verifier/1.0"


def _vet_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise FetchRefused(f"only https URLs are fetched: {url}")
    if parts.username or parts.password:
        raise FetchRefused(f"URLs with credentials are not fetched: {url}")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"URL has no host: {url}")
    try:
        port = parts.port or 443
    except ValueError as error:
        raise FetchRefused(f"invalid port in {url}") from error
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port, path


def _vet_addresses(host: str, addresses: list[str]) -> str:
    if not addresses:
        raise FetchRefused(f"{host} does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise FetchRefused(f"{host} resolves to a non-public address ({ip}); not fetched")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a fixed, already vetted IP address while verifying TLS for ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class SafeFetcher:
    """``fetcher(url) -> parsed JSON``, with the guards above. ``enabled=False`` refuses all."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: AddressResolver = system_resolver,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self.resolver = resolver
        self.enabled = enabled
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> Any:
        return self.fetch_json(url)

    def _cached(self, url: str) -> Any | None:
        with self._lock:
            hit = self._cache.get(url)
            if hit is None:
                return None
            expires, value = hit
            if expires < self._clock():
                del self._cache[url]
                return None
            self._cache.move_to_end(url)
            return value

    def _store(self, url: str, value: Any) -> None:
        with self._lock:
            self._cache[url] = (self._clock() + self.policy.cache_ttl_s, value)
            self._cache.move_to_end(url)
            while len(self._cache) > self.policy.cache_entries:
                self._cache.popitem(last=False)

    def fetch_json(self, url: str) -> Any:
        if not self.enabled:
            raise FetchRefused("fetching remote documents is switched off")
        cached = self._cached(url)
        if cached is not None:
            return cached
        host, port, path = _vet_url(url)
        try:
            addresses = self.resolver(host, port)
        except OSError as error:
            raise FetchFailed(f"cannot resolve {host}: {error}") from error
        address = _vet_addresses(host, addresses)
        body = self._get(host, port, address, path)
        try:
            value = json.loads(body)
        except ValueError as error:
            raise FetchFailed(f"{url} did not return JSON") from error
        self._store(url, value)
        return value

    def _get(self, host: str, port: int, address: str, path: str) -> bytes:
        connection = _PinnedHTTPSConnection(host, port, address, self.policy.timeout_s)
        try:
            connection.request(
                "GET",
                path,
                headers={
                    "Accept": "application/did+json, application/json, application/ld+json",
                    "User-Agent": self.policy.user_agent,
                },
            )
            response = connection.getresponse()
            if response.status != 200:
                raise FetchFailed(f"https://{host}{path} answered HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchFailed(
                    f"https://{host}{path} is larger than {self.policy.max_bytes} bytes"
                )
            body = response.read(self.policy.max_bytes + 1)
            if len(body) > self.policy.max_bytes:
                raise FetchFailed(
                    f"https://{host}{path} is larger than {self.policy.max_bytes} bytes"
                )
            return body
        except (OSError, http.client.HTTPException) as error:
            raise FetchFailed(f"https://{host}{path} could not be retrieved: {error}") from error
        finally:
            connection.close()
